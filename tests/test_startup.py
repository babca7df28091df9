"""Each command imports only what it uses, when it uses it: starting `herald` stays cheap.

Every module of the command line is imported to build the `herald` group, so anything one
of them imports at the top is paid by every command, `herald --version` included. These tests
run a command in a fresh Python and look at `sys.modules` afterwards. (How long a start takes
is measured in bench/bench_startup.py, never here.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SDKS = ("atproto", "atproto_client", "atproto_core", "tweepy", "mastodon", "requests",
        "requests_oauthlib", "httpx", "schedule")
HEAVY = (*SDKS, "PIL", "sqlite3", "yaml", "babel", "grapheme", "tomllib")
"""What `herald --version` and `--help` must not load."""
PROGRAM = """\
import sys
from bot.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("MODULES", " ".join(sorted(sys.modules)))
"""


def imported(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded after running `herald ARGS` in a fresh Python."""
    environment = {k: v for k, v in os.environ.items() if k != "HERALD_CONFIG"}
    out = subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**environment, **(env or {})}).stdout
    line = next(line for line in out.splitlines() if line.startswith("MODULES "))
    return set(line.split()[1:])


def loaded(modules: set[str], names) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names or m in names)


def test_herald_version_loads_only_the_command_line():
    modules = imported("--version")
    assert loaded(modules, HEAVY) == []
    herald = {m for m in modules if m == "bot" or m.startswith("bot.")}
    assert herald <= {"bot", "bot.errors"} | {m for m in herald if m.startswith("bot.cli")}, \
        sorted(herald)


@pytest.mark.parametrize("command", ["preview", "validate", "run", "announce", "post", "status",
                                     "history", "check", "auth"])
def test_a_commands_help_loads_nothing_heavy(command):
    assert loaded(imported(command, "--help"), HEAVY) == []


def test_validate_of_an_unchanged_site_loads_no_pillow_ledger_sdk_or_x_grammar(tmp_path):
    events = tmp_path / "site" / "_events"
    events.mkdir(parents=True)
    an_hour_ago = time.time_ns() - 3600 * 10**9
    for number in range(3):
        path = events / f"hackdag-{number}.md"
        path.write_text(f"---\ntitle: Hackdag {number}\nref: hackdag-{number}\n"
                        f"image: /uploads/missing.png\n"
                        f"event-date: 2027-0{number + 1}-01 18:00:00 +01:00\n---\n")
        os.utime(path, ns=(an_hour_ago, an_hour_ago))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ("validate", "--site", str(tmp_path / "site"), "--now", "2026-12-01T12:00+01:00")
    imported(*args, env=env)                 # the first run fills the caches
    modules = imported(*args, env=env)
    assert loaded(modules, (*SDKS, "PIL", "sqlite3")) == []
    assert loaded(modules, ("bot.images", "bot.card", "bot.ledger", "bot.service",
                            "bot.delivery", "bot.digest", "bot.counting.tlds")) == []
