"""Where the ledger lives on disk: its folder, private files, and why a file cannot be used.

The ledger, its journal (`-wal`, `-shm`) and its lock file hold what Herald posted and when; like
the secrets file they are created readable by their owner only (0600), in a folder Herald
creates 0700. Every problem becomes one line naming the path and what is wrong with it
(`LedgerError`, exit code 5), before anything is written.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from pathlib import Path

from ..errors import LedgerError

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
SQLITE_HEADER_SIZE = 100
"""Every SQLite database that holds anything starts with a header this long."""


def prepare(path: Path, *, create: bool = True) -> bool:
    """Check that the ledger at `path` can be opened for writing; True when the file exists.

    With `create`, a missing folder is created (0700). A missing file is not created here
    (see `create_private`). Raises LedgerError naming what is wrong: a folder where the file
    should be, a file that is not an SQLite database, one that cannot be read or written, a
    read-only folder (SQLite writes its journal beside the ledger, and Herald its lock).
    """
    folder = path.parent
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
        info = os.stat(path)
    except FileNotFoundError:
        if not create:
            return False
        info = None
    except NotADirectoryError:
        raise LedgerError(f"{folder}: the ledger's folder is not a folder") from None
    except FileExistsError:
        raise LedgerError(f"{folder}: the ledger's folder is a file, not a folder") from None
    except OSError as exc:
        raise LedgerError(f"{path}: cannot reach the ledger ({os_problem(exc)})") from None
    if info is not None:
        _check_file(path, info)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LedgerError(f"{folder}: the ledger's folder is read-only; Herald must create "
                          f"files there (the ledger's journal {path.name}-wal and -shm, and "
                          f"its lock file)")
    return info is not None


def _check_file(path: Path, info: os.stat_result) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise LedgerError(f"{path}: is a folder, not a ledger file (`ledger` in the config "
                          f"names the file)")
    if not stat.S_ISREG(info.st_mode):
        raise LedgerError(f"{path}: not a regular file, so not a ledger")
    # The file is not opened here: closing any descriptor of it would drop the locks SQLite
    # holds on it in this process (POSIX locks are per process), and another process closing
    # the ledger would then delete the journal the daemon still writes to. SQLite itself
    # refuses a longer file that is not a database (see `not_a_database`).
    if not os.access(path, os.R_OK | os.W_OK):
        raise LedgerError(f"{path}: cannot open the ledger for reading and writing "
                          f"(permission denied)")
    if 0 < info.st_size < SQLITE_HEADER_SIZE:
        raise not_a_database(path)


def not_a_database(path: Path) -> LedgerError:
    """The error for a file that is not an SQLite database (SQLite says SQLITE_NOTADB)."""
    return LedgerError(f"{path}: not an SQLite database, so not a Herald ledger; left as it is")


def create_private(path: Path) -> None:
    """Create an empty ledger file readable by its owner only, unless it exists.

    SQLite gives the ledger's `-wal` and `-shm` files the ledger's own permissions.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    except OSError as exc:
        raise LedgerError(f"{path}: cannot create the ledger ({os_problem(exc)})") from None


def os_problem(exc: OSError) -> str:
    """What an operating-system error means for a file, in a few words."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full" if exc.errno == errno.ENOSPC else "the disk quota is used up"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EFBIG:
        return "the file is too large (a file size limit)"
    return exc.strerror or str(exc)


def sqlite_problem(exc: sqlite3.Error, path: Path | None = None) -> str:
    """What an SQLite error means for the ledger at `path`, in a few words, with SQLite's own.

    SQLite reports some writes that found no room as I/O errors; when the ledger's disk has
    no room left, that is what is said.
    """
    name = getattr(exc, "sqlite_errorname", "") or ""
    kind = next((k for k in _PLAIN if name == k or name.startswith(k + "_")), None)
    if kind in ("SQLITE_FULL", "SQLITE_IOERR") and path is not None and _no_room(path.parent):
        kind = "SQLITE_FULL"
    if kind is None:
        return str(exc)
    words = _PLAIN[kind]
    return f"{words} ({exc})" if str(exc) != words else words


_PLAIN = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the ledger or its folder is read-only",
    "SQLITE_NOTADB": "not an SQLite database",
    "SQLITE_CORRUPT": "the database is damaged",
    "SQLITE_CANTOPEN": "cannot open the ledger or its journal",
    "SQLITE_IOERR": "the disk could not be read or written",
    "SQLITE_BUSY": "another process kept the ledger busy",
    "SQLITE_LOCKED": "another process kept the ledger busy",
    "SQLITE_PERM": "permission denied",
    "SQLITE_AUTH": "permission denied",
}


def _no_room(folder: Path) -> bool:
    """True when the disk holding `folder` has no block left for this user."""
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False
