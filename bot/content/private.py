"""Read and write a cache file that only its owner may have written.

Herald's caches (parsed files, validate's answers) live in the user's cache folder. A file is
written atomically (a temporary file, 0600, then renamed over the old one) and read only when
it is a regular file owned by this user and not writable by others, and not larger than the
caller allows; a link is not followed. Anything else is refused with `ValueError`, so that the
caller ignores the file and rewrites it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def read_private(path: Path, max_bytes: int) -> bytes | None:
    """Return the bytes of the cache file at `path`, or None when there is none.

    Raises OSError when it cannot be read, ValueError when it must not be trusted.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
            raise ValueError("not a cache file")
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
            raise ValueError("written by another user, or writable by others")
        with os.fdopen(os.dup(fd), "rb") as stream:
            return stream.read()
    finally:
        os.close(fd)


def write_private(path: Path, *chunks: bytes, prefix: str) -> None:
    """Replace the file at `path` with `chunks`, atomically, readable by its owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
