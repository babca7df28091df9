"""Output people can read and scripts can trust: flags, colour, wording and exit codes."""

import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import EXIT_CODES, main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "content"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "civictech"
README = (ROOT / "README.md").read_text(encoding="utf-8")
NOW = "2027-03-01T12:00+01:00"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def herald(*args, **kwargs):
    return CliRunner().invoke(main, list(args), **kwargs)


def write_config(tmp_path: Path, text: str = "", site: Path = SAMPLE) -> Path:
    path = tmp_path / "herald.toml"
    path.write_text(f'ledger = "{tmp_path / "ledger.sqlite3"}"\n'
                    f'secrets = "{tmp_path / "secrets.toml"}"\n{text}\n'
                    f'[site]\npath = "{site}"\n', encoding="utf-8")
    return path


def one_event_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "_events").mkdir(parents=True)
    shutil.copy(SAMPLE / "_events" / "demodag-2029.md", site / "_events")
    return site


# --- --verbose -----------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_shows_the_traceback_before_or_after_the_command(tmp_path, where):
    bad = tmp_path / "bad.toml"
    bad.write_text('grace = "soon"\n', encoding="utf-8")
    args = ["validate", "--config", str(bad)]
    result = herald(*(["--verbose", *args] if where == "before" else [*args, "--verbose"]))
    assert result.exit_code == 3
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")


def test_without_verbose_an_error_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('grace = "soon"\n', encoding="utf-8")
    result = herald("validate", "--config", str(bad))
    assert result.exit_code == 3 and result.stderr.count("\n") == 1


# --- colour --------------------------------------------------------------------------------------

def test_preview_is_bold_on_a_colour_terminal_and_plain_with_no_color():
    args = ["preview", "--site", str(SAMPLE), "--now", NOW, "--event", "demodag-2029"]
    assert "\x1b[" in herald(*args, color=True).output
    assert "\x1b[" not in herald(*args, color=True, env={"NO_COLOR": "1"}).output


def test_a_dry_run_prints_no_escapes_with_no_color(tmp_path):
    config = write_config(tmp_path)
    result = herald("post", "Hej", "--config", str(config), "--account", "mastodon",
                    "--dry-run", color=True, env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "mastodon · sv" in result.output and "\x1b[" not in result.output


def test_output_to_a_pipe_has_no_escapes():
    done = subprocess.run([sys.executable, "-m", "bot", "preview", "--site", str(SAMPLE),
                           "--now", NOW, "--event", "demodag-2029"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "Demodag" in done.stdout
    assert "\x1b[" not in done.stdout + done.stderr


# --- wording ------------------------------------------------------------------------------------

def test_validate_counts_read_naturally():
    result = herald("validate", "--site", str(SAMPLE))
    assert result.output.strip().splitlines()[-1] == (
        "7 event files (4 events), 1 draft, 0 errors, 1 warning")


def test_one_event_is_one_event_in_preview_and_status(tmp_path):
    site = one_event_site(tmp_path)
    config = write_config(tmp_path, site=site)
    preview = herald("preview", "--config", str(config), "--now", NOW)
    assert preview.output.splitlines()[0].endswith(" · 1 event")
    status = herald("status", "--config", str(config))
    assert " · 1 event · " in status.output.splitlines()[0]


def test_an_account_named_like_its_platform_is_named_once():
    result = herald("preview", "--site", str(SAMPLE), "--now", NOW, "--event", "demodag-2029",
                    "--platform", "mastodon")
    assert "mastodon (mastodon)" not in result.output
    assert " · mastodon · sv · announcement · demodag-2029 · " in result.output


def test_an_account_named_otherwise_shows_its_platform(tmp_path):
    config = write_config(tmp_path, '[accounts.kansli]\nplatform = "mastodon"\n'
                                    'instance = "https://social.example"\n')
    result = herald("preview", "--config", str(config), "--now", NOW, "--event", "demodag-2029")
    assert " · kansli (mastodon) · sv · " in result.output


@pytest.mark.parametrize("count, noun, expected", [
    (0, "warning", "0 warnings"), (1, "warning", "1 warning"), (2, "draft", "2 drafts"),
    (1, "event file", "1 event file"), (1, "entry", "1 entry"), (3, "entry", "3 entries"),
    (1, "post", "1 post"), (1_000, "post", "1,000 posts"),
])
def test_counted_nouns_are_singular_for_one(count, noun, expected):
    from bot.localize import plural

    assert plural(count, noun) == expected


# --- exit codes ---------------------------------------------------------------------------------

def test_output_closed_early_stops_quietly_with_the_sigpipe_code():
    proc = subprocess.Popen([sys.executable, "-m", "bot", "validate", "--refs", "--site",
                             str(FIXTURES)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT)
    proc.stdout.close()                               # like `| head` that has seen enough
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert stderr == b""


def test_the_broken_pipe_code_is_documented():
    assert "141" in EXIT_CODES and "| 141 |" in README


def test_a_free_text_post_too_long_for_the_platform_is_exit_2_not_4(tmp_path):
    config = write_config(tmp_path)
    result = herald("post", "x " * 200, "--config", str(config), "--account", "x",
                    "--dry-run")
    assert result.exit_code == 2
    assert "the text does not fit x: 120 characters over the 280 limit" in result.output


def test_an_announcement_too_long_for_the_platform_is_exit_2_not_4(tmp_path):
    config = write_config(tmp_path, '[templates.announcement]\nsv = "{title} ' + "x" * 300
                          + '"\n')
    result = herald("announce", "demodag-2029", "--config", str(config), "--account", "x",
                    "--lang", "sv", "--dry-run")
    assert result.exit_code == 2, result.output
    assert "over the 280 limit" in result.output


def test_the_readme_and_help_say_what_exit_codes_2_and_4_mean():
    row = next(line for line in README.splitlines() if line.startswith("| 2 |"))
    assert "too long" in row and "too long" in EXIT_CODES
    row = next(line for line in README.splitlines() if line.startswith("| 4 |"))
    assert row.startswith("| 4 | a platform did not take a post in this run, or a post due now "
                          "still waits after an earlier failure")
    assert "waits after an" in EXIT_CODES and "earlier failure" in EXIT_CODES


def test_a_post_left_waiting_for_a_lookup_exits_4_and_one_held_by_the_daily_cap_0():
    from datetime import timedelta

    from bot.cli.common import _report
    from bot.delivery import Outcome
    from bot.model import PostKey

    key = PostKey("demodag-2029", "announcement", "x", "sv")
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    waiting = Outcome(key, "waiting", until=later, note="an earlier attempt may have reached x")
    held = Outcome(key, "held", until=later, note="daily cap of 1 post in 24 hours reached")
    assert (_report([waiting], False), _report([held], False)) == (4, 0)


def _stop_an_account(tmp_path, error):
    from bot.ledger import Ledger
    from bot.model import PostKey

    now = datetime.now(timezone.utc)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        reservation = ledger.reserve(PostKey("demodag-2029", "announcement", "x", "sv"),
                                     text="Demodag", now=now)
        ledger.fail(reservation, error, now)


@pytest.mark.parametrize("error, code", [("Rejected", 4), ("AuthFailed", 6)])
def test_status_exits_non_zero_while_an_account_is_stopped(tmp_path, error, code):
    from bot import errors

    config = write_config(tmp_path)
    assert herald("status", "--config", str(config)).exit_code == 0
    _stop_an_account(tmp_path, getattr(errors, error)("refused", account="x"))
    result = herald("status", "--config", str(config))
    assert "STOPPED" in result.output
    assert result.exit_code == code


def test_the_readme_says_what_status_exits_with():
    assert "`herald status` exits 4" in README


def test_history_of_an_unknown_event_is_a_usage_error(tmp_path):
    config = write_config(tmp_path)
    result = herald("history", "--config", str(config), "--event", "demodag-2092")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: unknown event ref 'demodag-2092'; "
                                     "did you mean 'demodag-2029'?")


def test_history_of_a_known_event_not_posted_yet_is_fine(tmp_path):
    config = write_config(tmp_path)
    result = herald("history", "--config", str(config), "--event", "demodag-2029")
    assert result.exit_code == 0
    assert "Nothing posted yet" in result.output


def test_preview_in_a_language_the_site_does_not_have_is_a_usage_error():
    result = herald("preview", "--site", str(SAMPLE), "--now", NOW, "--lang", "de")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: unknown language 'de'; the site's languages "
                                     "are sv, en")


def test_an_unknown_account_on_the_command_line_is_a_usage_error():
    result = herald("preview", "--site", str(SAMPLE), "--now", NOW, "--account", "mastadon")
    assert result.exit_code == 2
    assert "did you mean 'mastodon'?" in result.stderr
