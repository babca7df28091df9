"""Record what Herald has posted, in SQLite, so that every post goes out exactly once.

A post is reserved before it is sent and recorded after the platform answers. A reservation that
was never recorded (the process died, or the platform timed out) comes back as uncertain: the
caller must ask the platform for the post before sending it again (see `bot.lifecycle`).

    schema.py     the tables and their named migrations, transactions, time stamps
    entries.py    a row as Herald reads it (Entry), a reservation, the ledger's refusals
    posts.py      the rows of posts: reserve, record, fail, settle, skip, delete, read
    sightings.py  when each event was first seen or went missing, and the first run
    lock.py       the process lock that keeps two posting commands off one ledger
    place.py      the ledger's folder and private files, and why a file cannot be used

All times are passed in as aware datetimes and stored as UTC text; the ledger never reads the
clock. A file Herald refuses is left exactly as it was; every problem with the file or the disk
is a LedgerError naming the path (exit code 5).
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

from ..errors import LedgerError
from . import place, schema

from .lock import LockHandle, acquire_lock, lock_path
from .entries import AlreadyPosted, Entry, LedgerConflict, Reservation, idempotency_key
from .posts import PostRows
from .schema import MIGRATIONS, default_ledger_path, transaction
from .sightings import Sightings

__all__ = ["MIGRATIONS", "AlreadyPosted", "Entry", "Ledger", "LedgerConflict", "LockHandle",
           "Reservation", "acquire_lock", "default_ledger_path", "idempotency_key", "lock_path"]


class Ledger(PostRows, Sightings):
    """The SQLite ledger of posts and first sightings. Open it with `Ledger.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, lock: LockHandle | None = None):
        self._conn = conn
        self.path = path
        self._lock = lock

    @classmethod
    def open(cls, path: Path, *, lock: str | None = None) -> Ledger:
        """Open (creating if needed) the ledger at `path` and bring its schema up to date.

        With `lock` (the command, say "herald run"), also take the ledger's process lock,
        held until `close()`. The file is checked before the lock file is made beside it or
        anything is written: a file Herald refuses is left as it was.
        """
        path = Path(path)
        conn = schema.open_checked(path)
        assert conn is not None
        handle = None
        try:
            if lock is not None:
                handle = acquire_lock(path, lock)
            schema.upgrade(conn, path)
        except BaseException:
            conn.close()
            if handle is not None:
                handle.release()
            raise
        return cls(conn, path, handle)

    @classmethod
    def open_copy(cls, path: Path, copy: Path) -> Ledger:
        """Open a throw-away copy (at `copy`) of the ledger at `path`, for a dry run.

        `path` is checked as `open` checks it, and only read; without a ledger there yet,
        the copy starts empty and nothing is created at `path`.
        """
        path = Path(path)
        source = schema.open_checked(path, create=False)
        if source is not None:
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            except sqlite3.Error as exc:
                raise LedgerError(f"{path}: cannot read the ledger: "
                                  f"{place.sqlite_problem(exc, path)}") from None
            finally:
                target.close()
                source.close()
        return cls.open(copy)

    def close(self) -> None:
        """Close the database connection, and give up the lock if this ledger holds it."""
        self._conn.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

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
