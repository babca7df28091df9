"""Disks that fill up and folders Herald may not write, made for real, for the ledger's tests.

- `small_disk(...)`: a command line that runs a shell script with a small tmpfs mounted on a
  folder, in a mount namespace of its own (`unshare -m` as root, `unshare -Urm` otherwise), so
  nothing stays mounted whatever happens to the test. Files written into that tmpfs from
  outside (to fill it at a chosen moment) go through `/proc/<pid>/root`.
- `limit_file_size(pid)`: lower RLIMIT_FSIZE of a running process, so each of its further
  writes to a file fails as on a disk with no room left (EFBIG); a process's own limit can
  always be lowered, so this works everywhere.
- `as_user()`: the command prefix that runs a command as an unprivileged user (`setpriv` as
  `nobody` when the tests run as root, for whom file permissions are no obstacle).
"""

from __future__ import annotations

import errno
import functools
import os
import pwd
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path


@functools.cache
def _unshare() -> tuple[list[str] | None, str]:
    """The unshare command that may mount a tmpfs here, or None and why not."""
    if shutil.which("unshare") is None:
        return None, "unshare(1) is not installed"
    command = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-Urm"]
    with tempfile.TemporaryDirectory() as probe:
        found = subprocess.run([*command, "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1"',
                                "sh", probe], capture_output=True, text=True, timeout=30)
    if found.returncode != 0:
        return None, (f"cannot mount a tmpfs in a private mount namespace here "
                      f"({' '.join(command)}: {found.stderr.strip() or found.returncode})")
    return command, ""


def small_disk_missing() -> str | None:
    """Why a small tmpfs cannot be mounted here, or None when it can."""
    command, why = _unshare()
    return None if command else why


def small_disk(mount_point: Path, size_kib: int, script: str, *args: str) -> list[str]:
    """The command that runs the shell `script` (with `args` as $1...) on a fresh tmpfs of
    `size_kib` KiB mounted on `mount_point`, in its own mount namespace."""
    command, why = _unshare()
    assert command is not None, why
    wrapper = ('mount -t tmpfs -o "size=$1k,mode=0777" tmpfs "$2" || exit 99\n'
               'shift 2\n' + script)
    return [*command, "sh", "-c", wrapper, "sh", str(size_kib), str(mount_point), *args]


def inside(pid: int, path: Path) -> Path:
    """`path` as the process `pid` sees it (in its mount namespace)."""
    return Path(f"/proc/{pid}/root") / Path(path).relative_to("/")


def fill(folder: Path) -> int:
    """Write zeros into `folder`/filler until its disk is full; return the bytes written."""
    written = 0
    chunk = bytes(64 * 1024)
    with open(folder / "filler", "ab", buffering=0) as out:
        while True:
            try:
                written += out.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        while True:            # the last few bytes too
            try:
                written += out.write(b"\0" * 512)
            except OSError:
                return written


def limit_file_size(pid: int, size: int = 1) -> None:
    """From now on, no write of process `pid` may reach past `size` bytes of any file."""
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (size, size))


NOBODY = "nobody"


def other_user_missing() -> str | None:
    """Why no command can run here as a user that file permissions apply to, or None."""
    if os.geteuid() != 0:
        return None
    if shutil.which("setpriv") is None:
        return "the tests run as root and setpriv(1) is not installed"
    try:
        pwd.getpwnam(NOBODY)
    except KeyError:
        return f"the tests run as root and there is no user {NOBODY!r}"
    return None


def as_user() -> list[str]:
    """The prefix that runs a command as a user that file permissions apply to."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam(NOBODY)
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]


def give_to_user(path: Path) -> None:
    """Make `path` (and what it holds) belong to the user `as_user()` runs as."""
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam(NOBODY)
    for folder, dirs, files in os.walk(path):
        os.chown(folder, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), user.pw_uid, user.pw_gid)
