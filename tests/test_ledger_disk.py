"""The real `herald` on a ledger it cannot use: a full disk, a read-only folder, a file that is no
ledger. One line naming the path and what is wrong, exit code 5, nothing posted, nothing lost."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot
from tests.conftest import NO_NETWORK
from tests.disk import (as_user, fill, give_to_user, inside, limit_file_size,
                        other_user_missing, small_disk, small_disk_missing)
from tests.fakes.mastodon import FakeMastodon

ZONE = ZoneInfo("Europe/Stockholm")
PROJECT = str(Path(bot.__file__).resolve().parents[1])
KEY = "meetup/announcement/masto/sv"


class Herald:
    """A site with one upcoming event, a config that posts it to a fake Mastodon, the real CLI.

    Everything lives in a folder any user may enter, so a command can run as another user.
    """

    def __init__(self, base: Path, mastodon: FakeMastodon, *, ledger_dir: Path | None = None):
        self.base = base
        self.mastodon = mastodon
        self.state = ledger_dir or base / "state"
        self.ledger = self.state / "ledger.sqlite3"
        self.site = base / "site"
        self.empty_site = base / "empty"
        start = datetime.now(ZONE) + timedelta(days=30)
        (self.site / "_events").mkdir(parents=True)
        (self.empty_site / "_events").mkdir(parents=True)
        (self.site / "_events" / "meetup.md").write_text(
            f"---\ntitle: Meetup\nref: meetup\nlang: sv\n"
            f"event-date: {start:%Y-%m-%d %H:%M:%S}\nplace: Goto 10\n---\nVälkomna!\n",
            encoding="utf-8")
        self.config = base / "herald.toml"
        self.config.write_text(f"""
ledger = "{self.ledger}"
secrets = "{base / 'secrets.toml'}"

[site]
path = "{self.site}"
timezone = "Europe/Stockholm"

[[stages]]
name = "announcement"
kind = "announcement"

[images]
cards = false
cache_dir = "{base / 'cache'}"

[accounts.masto]
platform = "mastodon"
languages = ["sv"]
instance = "{mastodon.url}"
min_gap = "0s"
""", encoding="utf-8")
        self.env = {**os.environ, **NO_NETWORK, "PYTHONPATH": PROJECT, "HOME": str(base),
                    "HERALD_MASTO_ACCESS_TOKEN": mastodon.token}
        self.env.pop("HERALD_CONFIG", None)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "bot", *args, "--config", str(self.config)]

    def run(self, *args: str, user: bool = False, **popen) -> subprocess.CompletedProcess:
        if user and other_user_missing():
            pytest.skip(other_user_missing())
        prefix = as_user() if user else []
        return subprocess.run([*prefix, *self.argv(*args)], env=self.env, cwd=self.base,
                              capture_output=True, text=True, timeout=90, **popen)

    def posted(self) -> list[str]:
        return [s["text"].splitlines()[0] for s in self.mastodon.status_list()]

    def only_url(self) -> str:
        """The address of the one status on the fake Mastodon."""
        (status,) = self.mastodon.status_list()
        return f"{self.mastodon.url}/@{self.mastodon.username}/{status['id']}"


@pytest.fixture
def base():
    """A scratch folder every user may enter (as pytest's own may not be)."""
    folder = Path(tempfile.mkdtemp(prefix="herald-disk-"))
    folder.chmod(0o755)
    yield folder
    for path, dirs, _ in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(path, name), 0o755)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def herald(base):
    with FakeMastodon() as mastodon:
        yield Herald(base, mastodon)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The command's error: one line, the last on stderr, and no traceback anywhere."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0]
    return errors[0]


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file in `folder` with its content's hash and mode."""
    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        found[str(path.relative_to(folder))] = (digest, stat.S_IMODE(info.st_mode))
    return found


def foreign_database(path: Path, journal: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal}")
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.close()


# --- a file that is no ledger ----------------------------------------------------------------

UNUSABLE = {
    "text": "not an SQLite database",
    "folder": "is a folder, not a ledger file",
    "unreadable": "permission denied",
    "another program's database": "an SQLite database but not a Herald ledger",
    "another program's database in WAL mode": "an SQLite database but not a Herald ledger",
}


def make_unusable(herald: Herald, kind: str) -> None:
    herald.state.mkdir()
    if kind == "text":
        herald.ledger.write_text("posts.csv,2024\n" * 50, encoding="utf-8")
    elif kind == "folder":
        herald.ledger.mkdir()
        (herald.ledger / "keep.txt").write_text("mine", encoding="utf-8")
    elif kind == "unreadable":
        assert herald.run("run", "--once").returncode == 0      # a real ledger...
        herald.ledger.chmod(0)                                   # ...that cannot be read
    else:
        foreign_database(herald.ledger, "wal" if "WAL" in kind else "delete")
    give_to_user(herald.base)


@pytest.mark.parametrize("command", [("announce", "meetup", "--dry-run"), ("run", "--once")],
                         ids=" ".join)
@pytest.mark.parametrize("kind", list(UNUSABLE))
def test_a_file_that_is_no_usable_ledger_is_refused_in_one_line_and_left_as_it_was(
        herald, kind, command):
    make_unusable(herald, kind)
    before = snapshot(herald.state)
    result = herald.run(*command, user=True)
    assert result.returncode == 5, result.stderr
    line = one_error_line(result)
    assert line.startswith(f"Error: {herald.ledger}: ") and UNUSABLE[kind] in line
    assert snapshot(herald.state) == before      # same bytes, same mode; no journal, no lock
    assert herald.posted() == []


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_another_programs_database_keeps_its_journal_mode_when_herald_refuses_it(herald,
                                                                                  journal):
    herald.state.mkdir()
    foreign_database(herald.ledger, journal)
    for command in (("run", "--once"), ("history",), ("announce", "meetup", "--dry-run")):
        assert herald.run(*command).returncode == 5
    assert sorted(p.name for p in herald.state.iterdir()) == ["ledger.sqlite3"]
    reader = sqlite3.connect(herald.ledger)
    (mode,) = reader.execute("PRAGMA journal_mode").fetchone()
    reader.close()
    assert mode == journal


# --- a read-only folder ----------------------------------------------------------------------

@pytest.mark.parametrize("command", [("run", "--once"), ("announce", "meetup"),
                                     ("announce", "meetup", "--dry-run"), ("history",)],
                         ids=" ".join)
def test_a_read_only_ledger_folder_is_one_line_naming_it_and_nothing_is_posted(herald,
                                                                               command):
    give_to_user(herald.base)
    assert herald.run("run", "--once", "--site", str(herald.empty_site),
                      user=True).returncode == 0
    herald.state.chmod(0o555)
    before = snapshot(herald.state)
    result = herald.run(*command, user=True)
    assert result.returncode == 5, result.stderr
    line = one_error_line(result)
    assert line.startswith(f"Error: {herald.state}: the ledger's folder is read-only")
    assert snapshot(herald.state) == before
    assert herald.posted() == []


# --- a full disk -----------------------------------------------------------------------------

class FillsUp(FakeMastodon):
    """A fake Mastodon that fills Herald's disk when asked for its limits (before a post is
    reserved) or once it has made the first status (after the post went out)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.when_asked = None
        self.when_posted = None

    def _instance(self, request, params):
        if self.when_asked is not None:
            self.when_asked()
            self.when_asked = None
        return super()._instance(request, params)

    def _post_status(self, request, params):
        answer = super()._post_status(request, params)
        if self.when_posted is not None:
            self.when_posted()
            self.when_posted = None
        return answer


def start(herald: Herald, *args: str) -> subprocess.Popen:
    return subprocess.Popen(herald.argv(*args), env=herald.env, cwd=herald.base,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=90)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


FILL_THEN_RUN = """
out=$1; shift
"$@" run --once --catch-up --site "$EMPTY" >/dev/null 2>"$out/first.err" || exit 98
head -c 100000000 /dev/zero > "$DISK/filler" 2>/dev/null
"$@" run --once --catch-up 2>"$out/err"
echo $? > "$out/rc"
"""


def on_small_disk(herald: Herald, size_kib: int, script: str) -> subprocess.Popen:
    """Start `script` with the ledger's folder on a fresh tmpfs; "$@" in it runs herald, and
    its files go to $1 (the folder `out`), $EMPTY is a site without events, $DISK the tmpfs."""
    out = herald.base / "out"
    out.mkdir()
    env = {**herald.env, "EMPTY": str(herald.empty_site), "DISK": str(herald.state),
           "HERALD_CONFIG": str(herald.config)}
    command = small_disk(herald.state, size_kib, script, str(out), sys.executable, "-m", "bot")
    return subprocess.Popen(command, env=env, cwd=herald.base)


@pytest.fixture
def disk(base):
    """The folder a small tmpfs is mounted on (where one can be mounted)."""
    missing = small_disk_missing()
    if missing:
        pytest.skip(missing)
    (base / "disk").mkdir()
    return base / "disk"


def test_run_once_on_a_full_disk_is_one_line_exit_5_and_posts_nothing(base, disk):
    out = base / "out"
    with FakeMastodon() as mastodon:
        herald = Herald(base, mastodon, ledger_dir=disk)
        on_small_disk(herald, 256, FILL_THEN_RUN).wait(timeout=120)
        assert (out / "first.err").exists(), "the first run did not start"
        rc = int((out / "rc").read_text())
        err = (out / "err").read_text()
        result = subprocess.CompletedProcess([], rc, "", err)
        assert rc == 5, err
        line = one_error_line(result)
        assert line.startswith(f"Error: {herald.ledger}") and "the disk is full" in line
        assert herald.posted() == []


def test_run_once_that_finds_no_room_while_it_holds_the_ledger_says_so_and_posts_nothing(base):
    with FillsUp() as mastodon:
        herald = Herald(base, mastodon)
        assert herald.run("run", "--once", "--catch-up", "--site",
                          str(herald.empty_site)).returncode == 0
        process = start(herald, "run", "--once")
        mastodon.when_asked = lambda: limit_file_size(process.pid)    # the lock is held
        result = finish(process)
        assert result.returncode == 5, result.stderr
        line = one_error_line(result)
        assert line.startswith(f"Error: {herald.ledger}: could not write to the ledger: ")
        assert herald.posted() == []


# --- a post that went out but could not be recorded ------------------------------------------

def assert_reported_then_settled(herald: Herald, first: subprocess.CompletedProcess,
                                 second: subprocess.CompletedProcess) -> None:
    url = herald.only_url()
    assert first.returncode == 5, first.stderr
    line = one_error_line(first)
    assert line.startswith(f"Error: {KEY} went out ({url}) but could not be "
                           f"recorded: {herald.ledger}: ")
    assert line.endswith("The next run finds it on the platform and records it, without "
                         "posting it again")
    assert second.returncode == 0, second.stderr
    assert len(herald.mastodon.status_list()) == 1                  # not posted twice
    history = json.loads(herald.run("history", "--json").stdout)["entries"]
    assert [(h["state"], h["url"]) for h in history if h["stage"] == "announcement"] == [
        ("posted", url)]


@pytest.mark.parametrize("command", [("run", "--once", "--catch-up"), ("announce", "meetup")],
                         ids=" ".join)
def test_a_post_that_went_out_when_the_disk_filled_up_is_named_with_its_url_and_settled_later(
        base, command):
    with FillsUp() as mastodon:
        herald = Herald(base, mastodon)
        assert herald.run("run", "--once", "--catch-up", "--site",
                          str(herald.empty_site)).returncode == 0
        process = start(herald, *command)
        mastodon.when_posted = lambda: limit_file_size(process.pid)
        first = finish(process)
        second = herald.run(*command)
        assert_reported_then_settled(herald, first, second)
        if command[0] == "run":
            assert f"posted {KEY} {herald.only_url()} (found after an uncertain attempt)" \
                in second.stderr
        else:
            assert second.stdout == f"recovered: masto sv announcement: {herald.only_url()}\n"


SETTLE_ON_SMALL_DISK = """
out=$1; shift
"$@" run --once --catch-up --site "$EMPTY" >/dev/null 2>&1 || exit 98
"$@" run --once --catch-up >"$out/1.out" 2>"$out/1.err"; echo $? > "$out/1.rc"
rm -f "$DISK/filler"
"$@" run --once >"$out/2.out" 2>"$out/2.err"; echo $? > "$out/2.rc"
"$@" history --json >"$out/history.json" 2>&1
"""


def test_a_post_that_went_out_when_a_real_disk_filled_up_is_settled_by_the_next_run(base,
                                                                                   disk):
    out = base / "out"
    with FillsUp() as mastodon:
        herald = Herald(base, mastodon, ledger_dir=disk)
        process = on_small_disk(herald, 1024, SETTLE_ON_SMALL_DISK)
        mastodon.when_posted = lambda: fill(inside(process.pid, disk))
        assert process.wait(timeout=180) == 0

        def result(n: int) -> subprocess.CompletedProcess:
            return subprocess.CompletedProcess([], int((out / f"{n}.rc").read_text()),
                                               (out / f"{n}.out").read_text(),
                                               (out / f"{n}.err").read_text())

        first, second = result(1), result(2)
        url = herald.only_url()
        assert first.returncode == 5, first.stderr
        line = one_error_line(first)
        assert line.startswith(f"Error: {KEY} went out ({url}) but could not be "
                               f"recorded: {herald.ledger}: could not write to the ledger: "
                               f"the disk is full")
        assert second.returncode == 0, second.stderr
        assert f"posted {KEY} {url} (found after an uncertain attempt)" in second.stderr
        assert len(mastodon.status_list()) == 1
        history = json.loads((out / "history.json").read_text())["entries"]
        assert [(h["state"], h["url"]) for h in history] == [("posted", url)]


@pytest.mark.parametrize("command", [("status",), ("preview",)], ids=" ".join)
@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_status_and_preview_refuse_another_programs_database_by_its_own_name_untouched(
        herald, journal, command):
    herald.state.mkdir()
    foreign_database(herald.ledger, journal)
    before = snapshot(herald.state)
    result = herald.run(*command)
    assert result.returncode == 5, result.stderr
    line = one_error_line(result)
    assert line.startswith(f"Error: {herald.ledger}: an SQLite database but not a Herald ledger")
    assert snapshot(herald.state) == before      # no -wal, no -shm, the same journal mode
