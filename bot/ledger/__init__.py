"""Record what Herald has posted, in SQLite, so that every post goes out exactly once.

A post is reserved before it is sent and recorded after the platform answers. A reservation that
was never recorded (the process died, or the platform timed out) comes back as uncertain: the
caller must ask the platform for the post before sending it again (see `bot.lifecycle`).

    schema.py     the tables and their named migrations, transactions, time stamps
    entries.py    a row as Herald reads it (Entry), a reservation, the ledger's refusals
    posts.py      the rows of posts: reserve, record, fail, settle, skip, delete, read
    sightings.py  when each event was first seen or went missing, and the first run
    lock.py       the process lock that keeps two posting commands off one ledger

All times are passed in as aware datetimes and stored as UTC text; the ledger never reads the
clock.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

from .lock import LockHandle, acquire_lock, lock_path
from .entries import AlreadyPosted, Entry, LedgerConflict, Reservation, idempotency_key
from .posts import PostRows
from .schema import MIGRATIONS, connect, default_ledger_path, transaction
from .sightings import Sightings

__all__ = ["MIGRATIONS", "AlreadyPosted", "Entry", "Ledger", "LedgerConflict", "LockHandle",
           "Reservation", "acquire_lock", "default_ledger_path", "idempotency_key", "lock_path"]


class Ledger(PostRows, Sightings):
    """The SQLite ledger of posts and first sightings. Open it with `Ledger.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Open (creating if needed) the ledger at `path` and bring its schema up to date."""
        path = Path(path)
        return cls(connect(path), path)

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def applied_migrations(self) -> list[str]:
        """Return the names of the migrations applied to this file, in the order applied."""
        rows = self._conn.execute("SELECT name FROM migrations ORDER BY rowid")
        return [name for (name,) in rows]

    def _write(self) -> AbstractContextManager[None]:
        return transaction(self._conn, self.path)
