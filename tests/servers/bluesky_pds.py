"""The real Bluesky PDS (the reference @atproto/pds) in ../shared/servers/bluesky-pds/.

`start()` runs its start.sh, which prints the account as one JSON line, and `stop()` its
stop.sh. The PDS binds fixed ports on 127.0.0.1 (2583, and 2582 for its PLC directory), so one
test session runs one. Every start is a fresh network: one account, no records.

It is used only where it is installed (setup.sh, 3-6 minutes from npm; CI does it first) or
where HERALD_REQUIRE_PDS=1 says it must be there: then start.sh installs it if needed, and a
PDS that cannot start fails the tests instead of skipping them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[3] / "shared" / "servers" / "bluesky-pds"
REQUIRE = "HERALD_REQUIRE_PDS"


class Unavailable(Exception):
    """The real PDS cannot run here; the message says why in one line."""


@dataclass(frozen=True)
class RealPDS:
    """A running PDS: where it is and the account start.sh made."""

    url: str
    handle: str
    did: str
    password: str
    app_password: str
    blob_upload_limit: int


def required() -> bool:
    return os.environ.get(REQUIRE, "") not in ("", "0")


def work_folder() -> Path:
    return Path(os.environ.get("HERALD_PDS_DIR")
                or Path(os.environ.get("TMPDIR") or "/tmp") / "herald-pds")


def installed() -> bool:
    """Whether setup.sh has installed this lock file's packages (as setup.sh itself checks)."""
    lock = SCRIPTS / "package-lock.json"
    if not lock.is_file():
        return False
    stamp = hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    return (work_folder() / f".installed-{stamp}").exists()


def why_not_installed() -> str:
    if not (SCRIPTS / "start.sh").is_file():
        return f"{SCRIPTS} not found"
    return (f"not installed in {work_folder()}; run {SCRIPTS / 'setup.sh'} (3-6 minutes) or set "
            f"{REQUIRE}=1")


def start(timeout: float = 900.0) -> RealPDS:
    """Start the PDS (installing it first only when required); raise Unavailable if it can't."""
    if not (SCRIPTS / "start.sh").is_file():
        raise Unavailable(f"{SCRIPTS} not found")
    if not installed() and not required():
        raise Unavailable(why_not_installed())
    done = _run_start(timeout)
    if done.returncode != 0 and "already running" in done.stderr:
        stop()                      # left running by a session that was killed: start afresh
        done = _run_start(timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise Unavailable(f"start.sh failed: {why}")
    account = json.loads(lines[-1])
    return RealPDS(account["base_url"], account["handle"], account["did"], account["password"],
                   account["app_password"], int(account["blob_upload_limit"]))


def _run_start(timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([str(SCRIPTS / "start.sh")], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        stop()
        raise Unavailable(f"start.sh did not finish within {timeout:g} s") from None


def stop() -> None:
    subprocess.run([str(SCRIPTS / "stop.sh")], capture_output=True, timeout=60,
                   stdin=subprocess.DEVNULL)
