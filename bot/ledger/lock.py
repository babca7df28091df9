"""The ledger's process lock: one command at a time may post through a ledger.

`herald run`, `announce` and `post` take it; `status`, `history` and dry runs only read and do
not. The operating system releases the lock when the holding process dies, however it dies.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from ..errors import LedgerError
from .place import PRIVATE_FILE, os_problem, prepare


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


def acquire_lock(ledger_path: Path, command: str = "herald run") -> LockHandle:
    """Take the ledger's process lock or raise LedgerError naming the command that holds it.

    `command` is written into the lock file, so the next one can say who is posting. The
    ledger's place is checked first (`place.prepare`), so nothing is created beside a file
    Herald cannot use; the lock file is created readable by its owner only.
    """
    ledger_path = Path(ledger_path)
    path = lock_path(ledger_path)
    prepare(ledger_path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    except OSError as exc:
        raise LedgerError(f"{path}: cannot create the lock file ({os_problem(exc)})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid, holder = _holder(os.pread(fd, 128, 0).decode("utf-8", "replace"))
        os.close(fd)
        raise LedgerError(f"another {holder} is using {ledger_path} (pid {pid})") from None
    except OSError as exc:
        os.close(fd)
        raise LedgerError(f"{path}: cannot lock ({os_problem(exc)})") from None
    handle = LockHandle(path, fd)
    try:
        os.ftruncate(fd, 0)
        holder = f"{os.getpid()}\n{command}\n".encode("utf-8")
        if os.pwrite(fd, holder, 0) != len(holder):
            raise OSError(errno.EIO, "the lock file could not be written whole")
    except OSError as exc:
        handle.release()
        raise LedgerError(f"{path}: cannot write the lock file ({os_problem(exc)}); "
                          f"nothing was posted") from None
    return handle


def _holder(text: str) -> tuple[str, str]:
    lines = text.splitlines()
    pid = lines[0].strip() if lines and lines[0].strip() else "unknown"
    command = lines[1].strip() if len(lines) > 1 and lines[1].strip() else "herald run"
    return pid, command
