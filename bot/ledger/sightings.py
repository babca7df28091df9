"""What the ledger keeps about events rather than posts: first sightings, absences, first run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime

from .schema import parse, stamp


class Sightings:
    """The `seen` and `meta` tables (a part of `Ledger`)."""

    _conn: sqlite3.Connection

    def _write(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def first_seen(self, ref: str, now: datetime) -> datetime:
        """Return when Herald first saw event `ref`, recording `now` if this is the first time."""
        with self._write():
            self._conn.execute("INSERT OR IGNORE INTO seen (ref, first_seen_at) VALUES (?, ?)",
                               (ref, stamp(now)))
            (stored,) = self._conn.execute("SELECT first_seen_at FROM seen WHERE ref = ?",
                                           (ref,)).fetchone()
        return parse(stored)

    def first_seen_all(self, refs: Iterable[str], now: datetime) -> dict[str, datetime]:
        """`first_seen` for many events at once, in one transaction; return when each was."""
        refs = list(refs)
        if not refs:
            return {}
        with self._write():
            self._conn.executemany(
                "INSERT OR IGNORE INTO seen (ref, first_seen_at) VALUES (?, ?)",
                [(ref, stamp(now)) for ref in refs])
        seen = self.seen()
        return {ref: seen[ref] for ref in refs}

    def has_run(self) -> bool:
        """True when `herald run` has run on this ledger; one-off posts do not count.

        Only `herald run` stores the first run and notes first sightings (`seen`), and it does
        both on its first round; a ledger an earlier Herald's `run` posted through without a
        stored first run still has its sightings. `herald announce` and `herald post` write
        neither, so a ledger holding only their posts has not had its first run.
        """
        return (self._conn.execute("SELECT 1 FROM meta WHERE name = 'first_run'").fetchone()
                is not None
                or self._conn.execute("SELECT 1 FROM seen LIMIT 1").fetchone() is not None)

    def first_run(self, now: datetime, *, record: bool = True,
                  safe: bool = True) -> datetime | None:
        """Return when `herald run` first ran on this ledger (skipping the backlog), or None.

        The first call stores `now`, unless `herald run` had already run on this ledger (a
        ledger of an earlier Herald, see `has_run`) or with `safe=False` (a first run told to
        catch up): then it stores that there was no such first run. Posts made before by
        `herald announce` or `herald post` do not matter. With `record=False` nothing is
        stored: the answer is what a first run now would store.
        """
        if not record:
            found = self._conn.execute("SELECT value FROM meta WHERE name = 'first_run'"
                                       ).fetchone()
            if found is None:
                return None if self.has_run() else now
            return parse(found[0]) if found[0] else None
        with self._write():
            found = self._conn.execute("SELECT value FROM meta WHERE name = 'first_run'"
                                       ).fetchone()
            if found is None:
                value = "" if self.has_run() or not safe else stamp(now)
                self._conn.execute("INSERT INTO meta (name, value) VALUES ('first_run', ?)",
                                   (value,))
            else:
                (value,) = found
        return parse(value) if value else None

    def seen(self) -> dict[str, datetime]:
        """Return when each event was first seen, without recording anything."""
        rows = self._conn.execute("SELECT ref, first_seen_at FROM seen")
        return {ref: parse(moment) for ref, moment in rows}

    def missing(self) -> dict[str, datetime]:
        """Return the events noticed missing from the site, and since when."""
        rows = self._conn.execute(
            "SELECT ref, missing_since FROM seen WHERE missing_since IS NOT NULL")
        return {ref: parse(moment) for ref, moment in rows}

    def mark_missing(self, ref: str, now: datetime) -> datetime:
        """Note that event `ref` is missing from the site; return since when it has been."""
        moment = stamp(now)
        with self._write():
            self._conn.execute("INSERT OR IGNORE INTO seen (ref, first_seen_at) VALUES (?, ?)",
                               (ref, moment))
            self._conn.execute("UPDATE seen SET missing_since = ? WHERE ref = ?"
                               " AND missing_since IS NULL", (moment, ref))
            (since,) = self._conn.execute("SELECT missing_since FROM seen WHERE ref = ?",
                                          (ref,)).fetchone()
        return parse(since)

    def mark_present(self, ref: str) -> None:
        """Forget that event `ref` was missing (its file is back)."""
        with self._write():
            self._conn.execute("UPDATE seen SET missing_since = NULL WHERE ref = ?", (ref,))
