"""The ledger's SQLite schema: named migrations, each applied in the transaction that records it.

Times are stored as UTC ISO 8601 text (sortable); the ledger never reads the clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import platformdirs

from ..errors import LedgerError
from . import place

BUSY_TIMEOUT_MS = 10_000


def default_ledger_path() -> Path:
    """Return the ledger's default location in the user's data directory."""
    return Path(platformdirs.user_data_dir()) / "herald" / "ledger.sqlite3"


Migration = tuple[str, tuple[str, ...]]

_POSTS_COLUMNS = """
    id INTEGER PRIMARY KEY,
    ref TEXT NOT NULL,
    stage TEXT NOT NULL,
    account TEXT NOT NULL,
    lang TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ({states})),
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
    {more}UNIQUE (ref, stage, account, lang, generation)"""

_OLD_COLUMNS = ("id, ref, stage, account, lang, generation, idempotency_key, state, text,"
                " platform_id, url, reply_to, error, error_kind, outcome_unknown, reason,"
                " attempts, created_at, reserved_at, posted_at, next_attempt_at, updated_at, event")

MIGRATIONS: tuple[Migration, ...] = (
    ("create_posts", (
        "CREATE TABLE posts (" + _POSTS_COLUMNS.format(
            states="'reserved', 'posted', 'failed', 'skipped'", more="") + ")",
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
    ("add_deleted_requested_gave_up", (
        # A post taken down again is 'deleted'; a deliberate repeat or one-off post is
        # `requested` (the daemon never completes it); a failure retrying cannot cure `gave_up`.
        # SQLite cannot change a CHECK constraint in place: the table is rebuilt.
        "CREATE TABLE posts_next (" + _POSTS_COLUMNS.format(
            states="'reserved', 'posted', 'failed', 'skipped', 'deleted'",
            more="event TEXT,\n    requested INTEGER NOT NULL DEFAULT 0,\n"
                 "    gave_up INTEGER NOT NULL DEFAULT 0,\n    ") + ")",
        f"INSERT INTO posts_next ({_OLD_COLUMNS}, gave_up) SELECT {_OLD_COLUMNS},"
        " state = 'failed' AND NOT outcome_unknown"
        " AND COALESCE(error_kind, '') NOT IN ('Unavailable', 'RateLimited') FROM posts",
        "DROP TABLE posts",
        "ALTER TABLE posts_next RENAME TO posts",
        "CREATE INDEX posts_state ON posts (state)",
        "CREATE INDEX posts_updated ON posts (updated_at, id)",
    )),
    ("add_revisions", (
        # Each change of a row takes the next revision number (triggers, so that every writer
        # numbers its changes), so `herald run` reads only the rows changed since its last
        # tick; and an index for the posting times of one account within the daily cap.
        "ALTER TABLE posts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
        "UPDATE posts SET revision = id",
        "CREATE INDEX posts_revision ON posts (revision)",
        "CREATE INDEX posts_posted ON posts (account, posted_at) WHERE posted_at IS NOT NULL",
        "CREATE INDEX posts_platform_id ON posts (account, platform_id)"
        " WHERE platform_id IS NOT NULL",
        "CREATE TRIGGER posts_revision_insert AFTER INSERT ON posts WHEN NEW.revision = 0 BEGIN"
        " UPDATE posts SET revision = (SELECT MAX(revision) FROM posts) + 1"
        " WHERE id = NEW.id; END",
        "CREATE TRIGGER posts_revision_update AFTER UPDATE ON posts"
        " WHEN NEW.revision = OLD.revision BEGIN"
        " UPDATE posts SET revision = (SELECT MAX(revision) FROM posts) + 1"
        " WHERE id = NEW.id; END",
    )),
)

_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS migrations (
    name TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)"""


def open_checked(path: Path, *, create: bool = True) -> sqlite3.Connection | None:
    """Connect to the ledger at `path` once it is known to be Herald's (or new); None if absent.

    Nothing is written before that is known: a file Herald refuses (not SQLite, another
    program's database, a newer Herald's ledger) is left exactly as it was, its journal mode
    included. A new ledger is created readable by its owner only (with `create`).
    """
    if not place.prepare(path, create=create):
        if not create:
            return None
        place.create_private(path)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise LedgerError(f"{path}: cannot open the ledger: "
                          f"{place.sqlite_problem(exc, path)}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _check_schema(conn, path, [name for name, _ in MIGRATIONS])
    except sqlite3.Error as exc:
        conn.close()
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
            raise place.not_a_database(path) from None
        raise LedgerError(f"{path}: cannot read the ledger: {place.sqlite_problem(exc, path)}; "
                          f"left as it is") from None
    except BaseException:
        conn.close()
        raise
    return conn


def upgrade(conn: sqlite3.Connection, path: Path) -> None:
    """Switch a checked ledger to write-ahead logging and apply the pending migrations."""
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # a reservation must survive power loss
    except sqlite3.Error as exc:
        raise LedgerError(f"{path}: cannot write to the ledger: "
                          f"{place.sqlite_problem(exc, path)}") from None
    migrate(conn, path)


def connect(path: Path) -> sqlite3.Connection:
    """Open the SQLite file at `path` and bring its schema up to date; LedgerError if not."""
    conn = open_checked(path)
    assert conn is not None
    try:
        upgrade(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, path: Path,
            migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
    """Apply each pending migration in the same transaction as the row that records it."""
    with transaction(conn, path):
        _check_schema(conn, path, [name for name, _ in migrations])
        conn.execute(_MIGRATIONS_TABLE)
    for name, statements in migrations:
        with transaction(conn, path):
            if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                continue  # applied already, perhaps by another process while we waited
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO migrations (name) VALUES (?)", (name,))


def _check_schema(conn: sqlite3.Connection, path: Path, known: list[str]) -> None:
    """Refuse another program's database or a newer Herald's ledger; only reads."""
    tables = {name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    if tables and "migrations" not in tables:
        raise LedgerError(f"{path}: an SQLite database but not a Herald ledger "
                          f"(tables: {', '.join(sorted(tables))}); left as it is")
    if not tables:
        return
    applied = [name for (name,) in conn.execute("SELECT name FROM migrations ORDER BY rowid")]
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise LedgerError(f"{path}: written by a newer Herald (unknown migration "
                          f"{unknown[0]!r}); upgrade Herald to use this ledger")


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    """Run the block in one write transaction, taken before any read (BEGIN IMMEDIATE).

    SQLite errors become LedgerError; Herald's own exceptions pass through after the rollback.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise LedgerError(f"{path}: cannot write to the ledger: "
                          f"{place.sqlite_problem(exc, path)}") from exc
    try:
        yield
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass    # SQLite has rolled back already (a full disk, an I/O error)
        if isinstance(exc, sqlite3.Error):
            raise LedgerError(f"{path}: could not write to the ledger: "
                              f"{place.sqlite_problem(exc, path)}") from exc
        raise


def stamp(moment: datetime) -> str:
    """Return `moment` as sortable UTC text; a naive datetime is a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the ledger needs an aware datetime, got {moment!r}")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def parse_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
