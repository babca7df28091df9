"""Record what Herald has posted, in SQLite, so that every post goes out exactly once.

A post is reserved before it is sent and recorded after the platform answers. A reservation that
was never recorded (the process died, or the platform timed out) comes back as *uncertain*: the
caller must ask the platform for the post by its idempotency key before sending it again.

All times are passed in as aware datetimes and stored as UTC ISO 8601 text; the ledger never reads
the clock. One post identity is (ref, stage, account, lang, generation); generation 0 is the
normal post and `again=True` deliberately makes the next one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import platformdirs

from .errors import HeraldError, LedgerError, PublishError, Unavailable
from .model import PostKey, Published

State = Literal["reserved", "posted", "failed", "skipped"]

BUSY_TIMEOUT_MS = 10_000


def default_ledger_path() -> Path:
    """Return the ledger's default location in the user's data directory."""
    return Path(platformdirs.user_data_dir()) / "herald" / "ledger.sqlite3"


def idempotency_key(key: PostKey, generation: int = 0) -> str:
    """Return the stable idempotency key of one generation of one post (32 hex characters)."""
    identity = f"{key.ref}/{key.stage}/{key.account}/{key.lang}/{generation}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


# --- schema ---------------------------------------------------------------------------------

Migration = tuple[str, tuple[str, ...]]

MIGRATIONS: tuple[Migration, ...] = (
    ("create_posts", (
        """CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            ref TEXT NOT NULL,
            stage TEXT NOT NULL,
            account TEXT NOT NULL,
            lang TEXT NOT NULL,
            generation INTEGER NOT NULL DEFAULT 0,
            idempotency_key TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL CHECK (state IN ('reserved', 'posted', 'failed', 'skipped')),
            text TEXT,
            platform_id TEXT,
            url TEXT,
            reply_to TEXT,
            error TEXT,
            error_kind TEXT,
            outcome_unknown INTEGER NOT NULL DEFAULT 0,
            reason TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            reserved_at TEXT,
            posted_at TEXT,
            next_attempt_at TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (ref, stage, account, lang, generation)
        )""",
        "CREATE INDEX posts_state ON posts (state)",
        "CREATE INDEX posts_updated ON posts (updated_at, id)",
    )),
    ("create_seen", (
        "CREATE TABLE seen (ref TEXT PRIMARY KEY, first_seen_at TEXT NOT NULL)",
    )),
    ("add_event_details", (
        # The event as a post described it (JSON: title, start, place, url, source, lang), so a
        # later change of date, time or place can be noticed and corrected.
        "ALTER TABLE posts ADD COLUMN event TEXT",
        "ALTER TABLE seen ADD COLUMN missing_since TEXT",
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )),
)

_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS migrations (
    name TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)"""


# --- data -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One row of the ledger: one generation of one post and what became of it."""

    key: PostKey
    generation: int
    idempotency_key: str
    state: State
    text: str | None
    platform_id: str | None
    url: str | None
    reply_to: str | None
    error: str | None
    error_kind: str | None
    outcome_unknown: bool
    reason: str | None
    attempts: int
    created_at: datetime
    reserved_at: datetime | None
    posted_at: datetime | None
    next_attempt_at: datetime | None
    updated_at: datetime
    event: str | None = None

    @property
    def done(self) -> bool:
        """True when nothing more should be sent for this generation (posted or skipped)."""
        return self.state in ("posted", "skipped")

    @property
    def uncertain(self) -> bool:
        """True when the post may exist on the platform although it was never recorded."""
        return self.state == "reserved" or (self.state == "failed" and self.outcome_unknown)


@dataclass(frozen=True)
class Reservation:
    """The right to send one post; `uncertain` means: look the post up before sending it."""

    key: PostKey
    generation: int
    idempotency_key: str
    attempts: int
    uncertain: bool
    reply_to: str | None = None


class LedgerConflict(HeraldError):
    """The ledger refuses a change that would contradict what it already knows."""

    def __init__(self, message: str, entry: Entry):
        self.entry = entry
        super().__init__(message)


class AlreadyPosted(LedgerConflict):
    """This post is already on the platform; `entry.url` says where."""

    def __init__(self, entry: Entry):
        super().__init__(f"{entry.key} was already posted: {entry.url or entry.platform_id}", entry)


# --- the ledger -----------------------------------------------------------------------------

class Ledger:
    """The SQLite ledger of posts and first sightings. Open it with `Ledger.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Open (creating if needed) the ledger at `path` and bring its schema up to date."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            message = f"{path}: cannot create the ledger's folder ({exc.strerror})"
            raise LedgerError(message) from None
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"{path}: cannot open the ledger ({exc})") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")  # a reservation must survive power loss
            _migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(f"{path}: not a usable Herald ledger ({exc})") from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

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

    # -- posting ---------------------------------------------------------------------------

    def reserve(self, key: PostKey, *, text: str, now: datetime, again: bool = False,
                reply_to: str | None = None) -> Reservation:
        """Reserve the latest generation of `key` for sending, or a new one with `again=True`.

        Raises AlreadyPosted when that generation is posted and `again` is false, and
        LedgerConflict when it was skipped. A row that is still reserved, or failed with an
        unknown outcome, is handed out again as `uncertain`.
        """
        stamp = _stamp(now)
        with self._write():
            row = self._latest(key)
            if row is None or (row.done and again):
                generation = 0 if row is None else self._next_generation(key)
                ikey = idempotency_key(key, generation)
                self._conn.execute(
                    "INSERT INTO posts (ref, stage, account, lang, generation, idempotency_key,"
                    " state, text, reply_to, attempts, created_at, reserved_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'reserved', ?, ?, 1, ?, ?, ?)",
                    (*_key_tuple(key), generation, ikey, text, reply_to, stamp, stamp, stamp))
                return Reservation(key, generation, ikey, 1, False, reply_to)
            if row.state == "posted":
                raise AlreadyPosted(row)
            if row.state == "skipped":
                raise LedgerConflict(f"{key} was skipped ({row.reason}); "
                                     f"post it deliberately (herald announce --again) to send it",
                                     row)
            reply = reply_to if reply_to is not None else row.reply_to
            self._conn.execute(
                "UPDATE posts SET state = 'reserved', text = ?, reply_to = ?,"
                " attempts = attempts + 1, reserved_at = ?, next_attempt_at = NULL,"
                " updated_at = ? WHERE idempotency_key = ?",
                (text, reply, stamp, stamp, row.idempotency_key))
            return Reservation(key, row.generation, row.idempotency_key, row.attempts + 1,
                               row.uncertain, reply)

    def record(self, reservation: Reservation, published: Published, now: datetime) -> Entry:
        """Mark a reserved post as posted with the platform's id and URL.

        Recording is idempotent for the same platform id; a different id for a post already
        recorded raises AlreadyPosted (the platform now holds two copies).
        """
        stamp = _stamp(now)
        with self._write():
            row = self._by_idempotency_key(reservation.idempotency_key)
            if row.state == "posted":
                if row.platform_id == published.id:
                    return row
                raise AlreadyPosted(row)
            self._conn.execute(
                "UPDATE posts SET state = 'posted', platform_id = ?, url = ?, error = NULL,"
                " error_kind = NULL, outcome_unknown = 0, reason = NULL, posted_at = ?,"
                " next_attempt_at = NULL, updated_at = ? WHERE idempotency_key = ?",
                (published.id, published.url, stamp, stamp, reservation.idempotency_key))
            return self._by_idempotency_key(reservation.idempotency_key)

    def fail(self, reservation: Reservation, error: PublishError, now: datetime,
             retry_at: datetime | None = None, *, unknown: bool | None = None) -> Entry:
        """Mark a reserved post as failed; `retry_at` None means: do not retry by itself.

        An `Unavailable` error, or `unknown=True` (the post may be out and could not be looked
        up), leaves the outcome unknown, so the next reservation of this post is uncertain and
        must be reconciled with the platform first; `unknown=False` says nothing was sent.
        """
        stamp = _stamp(now)
        with self._write():
            row = self._by_idempotency_key(reservation.idempotency_key)
            if row.state == "posted":
                raise AlreadyPosted(row)
            self._conn.execute(
                "UPDATE posts SET state = 'failed', error = ?, error_kind = ?,"
                " outcome_unknown = ?, next_attempt_at = ?, updated_at = ?"
                " WHERE idempotency_key = ?",
                (str(error), type(error).__name__, int(isinstance(error, Unavailable) if unknown is None else unknown),
                 _stamp(retry_at) if retry_at else None, stamp, reservation.idempotency_key))
            return self._by_idempotency_key(reservation.idempotency_key)

    def skip(self, key: PostKey, reason: str, now: datetime) -> Entry:
        """Mark the latest generation of `key` as skipped, so it is never sent.

        Raises AlreadyPosted for a posted post and LedgerConflict for an uncertain one (it may
        already be out). Skipping a skipped post changes nothing.
        """
        stamp = _stamp(now)
        with self._write():
            row = self._latest(key)
            if row is None:
                self._conn.execute(
                    "INSERT INTO posts (ref, stage, account, lang, generation, idempotency_key,"
                    " state, reason, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, 0, ?, 'skipped', ?, ?, ?)",
                    (*_key_tuple(key), idempotency_key(key, 0), reason, stamp, stamp))
                return self._by_idempotency_key(idempotency_key(key, 0))
            if row.state == "posted":
                raise AlreadyPosted(row)
            if row.state == "skipped":
                return row
            if row.uncertain:
                raise LedgerConflict(f"{key} may already be posted; reconcile it before skipping",
                                     row)
            self._conn.execute(
                "UPDATE posts SET state = 'skipped', reason = ?, next_attempt_at = NULL,"
                " updated_at = ? WHERE idempotency_key = ?",
                (reason, stamp, row.idempotency_key))
            return self._by_idempotency_key(row.idempotency_key)

    # -- reading ---------------------------------------------------------------------------

    def posted_keys(self) -> set[PostKey]:
        """Return the identities whose normal post is done: posted or skipped (generation 0)."""
        rows = self._conn.execute(
            "SELECT ref, stage, account, lang FROM posts"
            " WHERE generation = 0 AND state IN ('posted', 'skipped')")
        return {PostKey(*row) for row in rows}

    def entry(self, key: PostKey, generation: int | None = None) -> Entry | None:
        """Return one generation of `key` (the latest when None), or None if never seen."""
        if generation is None:
            return self._latest(key)
        return self._one("WHERE ref = ? AND stage = ? AND account = ? AND lang = ?"
                         " AND generation = ?", (*_key_tuple(key), generation))

    def history(self, ref: str | None = None) -> list[Entry]:
        """Return every entry (of one event when `ref` is given), oldest change first."""
        if ref is None:
            return self._many("ORDER BY updated_at, id", ())
        return self._many("WHERE ref = ? ORDER BY updated_at, id", (ref,))

    def uncertain(self) -> list[Entry]:
        """Return the entries that may be on a platform without being recorded."""
        return self._many("WHERE state = 'reserved' OR (state = 'failed' AND outcome_unknown)"
                          " ORDER BY updated_at, id", ())

    def failures(self) -> list[Entry]:
        """Return the entries whose last attempt failed, oldest first."""
        return self._many("WHERE state = 'failed' ORDER BY updated_at, id", ())

    def is_new(self) -> bool:
        """True when this ledger has never reserved, posted or skipped anything."""
        return self._conn.execute("SELECT 1 FROM posts LIMIT 1").fetchone() is None

    def first_seen(self, ref: str, now: datetime) -> datetime:
        """Return when Herald first saw event `ref`, recording `now` if this is the first time."""
        with self._write():
            self._conn.execute("INSERT OR IGNORE INTO seen (ref, first_seen_at) VALUES (?, ?)",
                               (ref, _stamp(now)))
            (stored,) = self._conn.execute("SELECT first_seen_at FROM seen WHERE ref = ?",
                                           (ref,)).fetchone()
        return _parse(stored)

    # -- running as a service --------------------------------------------------------------

    def describe(self, key: PostKey, event: str) -> None:
        """Store what the latest generation of `key` said about its event (a JSON text)."""
        with self._write():
            self._conn.execute(
                "UPDATE posts SET event = ? WHERE ref = ? AND stage = ? AND account = ?"
                " AND lang = ? AND generation = (SELECT MAX(generation) FROM posts"
                " WHERE ref = ? AND stage = ? AND account = ? AND lang = ?)",
                (event, *_key_tuple(key), *_key_tuple(key)))

    def skip_generation(self, key: PostKey, reason: str, now: datetime, *,
                        event: str | None = None) -> Entry:
        """Mark `key` as skipped; when its latest generation is done, skip a new generation.

        This is how a post that belongs to an event's new date (a reminder re-planned after the
        date changed) is skipped without touching the post made for the old date. Raises
        LedgerConflict for an uncertain post, which may already be out.
        """
        stamp = _stamp(now)
        with self._write():
            row = self._latest(key)
            if row is None or row.done:
                generation = 0 if row is None else self._next_generation(key)
                ikey = idempotency_key(key, generation)
                self._conn.execute(
                    "INSERT INTO posts (ref, stage, account, lang, generation, idempotency_key,"
                    " state, reason, created_at, updated_at, event)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'skipped', ?, ?, ?, ?)",
                    (*_key_tuple(key), generation, ikey, reason, stamp, stamp, event))
                return self._by_idempotency_key(ikey)
            if row.uncertain:
                raise LedgerConflict(f"{key} may already be posted; reconcile it before skipping",
                                     row)
            self._conn.execute(
                "UPDATE posts SET state = 'skipped', reason = ?, next_attempt_at = NULL,"
                " event = COALESCE(?, event), updated_at = ? WHERE idempotency_key = ?",
                (reason, event, stamp, row.idempotency_key))
            return self._by_idempotency_key(row.idempotency_key)

    def schedule_retry(self, key: PostKey, at: datetime) -> None:
        """Set when the failed latest generation of `key` is tried again."""
        with self._write():
            self._conn.execute(
                "UPDATE posts SET next_attempt_at = ? WHERE state = 'failed' AND ref = ?"
                " AND stage = ? AND account = ? AND lang = ? AND generation = (SELECT"
                " MAX(generation) FROM posts WHERE ref = ? AND stage = ? AND account = ?"
                " AND lang = ?)", (_stamp(at), *_key_tuple(key), *_key_tuple(key)))

    def first_run(self, now: datetime, *, record: bool = True,
                  safe: bool = True) -> datetime | None:
        """Return when Herald first ran on this ledger while it was new, or None if never.

        The first call stores `now` when the ledger has no posts yet; on a ledger that already
        had posts (from `herald announce`, say), or with `safe=False` (a first run told to
        catch up), it stores that there was no such first run. With `record=False` nothing is
        stored: the answer is what a first run now would store.
        """
        if not record:
            found = self._conn.execute("SELECT value FROM meta WHERE name = 'first_run'"
                                       ).fetchone()
            if found is None:
                return now if self.is_new() else None
            return _parse(found[0]) if found[0] else None
        with self._write():
            found = self._conn.execute("SELECT value FROM meta WHERE name = 'first_run'"
                                       ).fetchone()
            if found is None:
                empty = self._conn.execute("SELECT 1 FROM posts LIMIT 1").fetchone() is None
                value = _stamp(now) if empty and safe else ""
                self._conn.execute("INSERT INTO meta (name, value) VALUES ('first_run', ?)",
                                   (value,))
            else:
                (value,) = found
        return _parse(value) if value else None

    def seen(self) -> dict[str, datetime]:
        """Return when each event was first seen, without recording anything."""
        rows = self._conn.execute("SELECT ref, first_seen_at FROM seen")
        return {ref: _parse(stamp) for ref, stamp in rows}

    def missing(self) -> dict[str, datetime]:
        """Return the events noticed missing from the site, and since when."""
        rows = self._conn.execute(
            "SELECT ref, missing_since FROM seen WHERE missing_since IS NOT NULL")
        return {ref: _parse(stamp) for ref, stamp in rows}

    def mark_missing(self, ref: str, now: datetime) -> datetime:
        """Note that event `ref` is missing from the site; return since when it has been."""
        stamp = _stamp(now)
        with self._write():
            self._conn.execute("INSERT OR IGNORE INTO seen (ref, first_seen_at) VALUES (?, ?)",
                               (ref, stamp))
            self._conn.execute("UPDATE seen SET missing_since = ? WHERE ref = ?"
                               " AND missing_since IS NULL", (stamp, ref))
            (since,) = self._conn.execute("SELECT missing_since FROM seen WHERE ref = ?",
                                          (ref,)).fetchone()
        return _parse(since)

    def mark_present(self, ref: str) -> None:
        """Forget that event `ref` was missing (its file is back)."""
        with self._write():
            self._conn.execute("UPDATE seen SET missing_since = NULL WHERE ref = ?", (ref,))

    # -- internals -------------------------------------------------------------------------

    def _write(self) -> AbstractContextManager[None]:
        return _transaction(self._conn, self.path)

    def _latest(self, key: PostKey) -> Entry | None:
        return self._one("WHERE ref = ? AND stage = ? AND account = ? AND lang = ?"
                         " ORDER BY generation DESC LIMIT 1", _key_tuple(key))

    def _next_generation(self, key: PostKey) -> int:
        (top,) = self._conn.execute(
            "SELECT MAX(generation) FROM posts WHERE ref = ? AND stage = ? AND account = ?"
            " AND lang = ?", _key_tuple(key)).fetchone()
        return 0 if top is None else top + 1

    def _by_idempotency_key(self, ikey: str) -> Entry:
        entry = self._one("WHERE idempotency_key = ?", (ikey,))
        if entry is None:
            raise LedgerError(f"{self.path}: no reservation with idempotency key {ikey}")
        return entry

    def _one(self, where: str, params: tuple) -> Entry | None:
        found = self._many(where, params)
        return found[0] if found else None

    def _many(self, where: str, params: tuple) -> list[Entry]:
        cursor = self._conn.execute(f"SELECT {_COLUMNS} FROM posts {where}", params)
        return [_entry(row) for row in cursor]


_COLUMNS = ("ref, stage, account, lang, generation, idempotency_key, state, text, platform_id,"
            " url, reply_to, error, error_kind, outcome_unknown, reason, attempts, created_at,"
            " reserved_at, posted_at, next_attempt_at, updated_at, event")


def _entry(row: tuple) -> Entry:
    (ref, stage, account, lang, generation, ikey, state, text, platform_id, url, reply_to,
     error, error_kind, outcome_unknown, reason, attempts, created_at, reserved_at, posted_at,
     next_attempt_at, updated_at, event) = row
    return Entry(PostKey(ref, stage, account, lang), generation, ikey, state, text, platform_id,
                 url, reply_to, error, error_kind, bool(outcome_unknown), reason, attempts,
                 _parse(created_at), _parse_opt(reserved_at), _parse_opt(posted_at),
                 _parse_opt(next_attempt_at), _parse(updated_at), event)


def _key_tuple(key: PostKey) -> tuple[str, str, str, str]:
    return (key.ref, key.stage, key.account, key.lang)


def _stamp(moment: datetime) -> str:
    """Return `moment` as sortable UTC text; a naive datetime is a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the ledger needs an aware datetime, got {moment!r}")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _parse_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# --- migrations -----------------------------------------------------------------------------

def _migrate(conn: sqlite3.Connection, path: Path,
             migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
    """Apply each pending migration in the same transaction as the row that records it."""
    with _transaction(conn, path):
        _check_schema(conn, path, [name for name, _ in migrations])
    for name, statements in migrations:
        with _transaction(conn, path):
            if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                continue  # applied already, perhaps by another process while we waited
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO migrations (name) VALUES (?)", (name,))


def _check_schema(conn: sqlite3.Connection, path: Path, known: list[str]) -> None:
    tables = {name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    if tables and "migrations" not in tables:
        raise LedgerError(f"{path}: an SQLite database but not a Herald ledger "
                          f"(tables: {', '.join(sorted(tables))})")
    conn.execute(_MIGRATIONS_TABLE)
    applied = [name for (name,) in conn.execute("SELECT name FROM migrations ORDER BY rowid")]
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise LedgerError(f"{path}: written by a newer Herald (unknown migration "
                          f"{unknown[0]!r}); upgrade Herald to use this ledger")


@contextmanager
def _transaction(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    """Run the block in one write transaction, taken before any read (BEGIN IMMEDIATE).

    SQLite errors become LedgerError; Herald's own exceptions pass through after the rollback.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise LedgerError(f"{path}: cannot write to the ledger ({exc})") from exc
    try:
        yield
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise LedgerError(f"{path}: ledger update failed ({exc})") from exc
        raise


# --- process lock ---------------------------------------------------------------------------

class LockHandle:
    """An exclusive lock on a ledger, held until `release()` or the process ends."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        """Give up the lock; the lock file stays in place for the next run."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LockHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def lock_path(ledger_path: Path) -> Path:
    """Return the lock file that guards `ledger_path`: `<ledger>.lock` beside it."""
    ledger_path = Path(ledger_path)
    return ledger_path.with_name(ledger_path.name + ".lock")


def acquire_lock(ledger_path: Path) -> LockHandle:
    """Take the ledger's process lock or raise LedgerError naming the process that holds it.

    The operating system releases the lock when the holding process dies, however it dies.
    """
    ledger_path = Path(ledger_path)
    path = lock_path(ledger_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LedgerError(f"{path}: cannot create the lock file ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise LedgerError(f"another herald run is using {ledger_path} (pid {holder})") from None
    except OSError as exc:
        os.close(fd)
        raise LedgerError(f"{path}: cannot lock ({exc.strerror})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return LockHandle(path, fd)
