"""`herald preview` says what `herald run` will do: the same posts at the same times, or why not."""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.daemon import run_once
from bot.ledger import Ledger
from tests.conftest import add_event

ZONE = ZoneInfo("Europe/Stockholm")
RULES = {"mastodon": 'quiet_hours = "22:00-08:00"\n',
         "x": "daily_cap = 2\n",
         "bluesky": 'min_gap = "30m"\n'}


def herald(platforms, *args):
    return CliRunner().invoke(main, [*args[:1], "--config", str(platforms.config), *args[1:]],
                              catch_exceptions=False)


def with_rules(platforms) -> None:
    """Give each account of the platforms' config one timing rule."""
    text = platforms.config.read_text(encoding="utf-8")
    for name, rule in RULES.items():
        text = text.replace(f'[accounts.{name}]\nplatform = "{name}"\n',
                            f'[accounts.{name}]\nplatform = "{name}"\n{rule}')
    platforms.config.write_text(text, encoding="utf-8")


def previewed(platforms, now: datetime) -> dict:
    result = herald(platforms, "preview", "--now", now.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def key(post: dict) -> tuple[str, str, str, str]:
    return (post["ref"], post["stage"], post["account"], post["lang"])


def ledger_rows(platforms) -> dict:
    with Ledger.open(platforms.ledger) as ledger:
        return {(e.key.ref, e.key.stage, e.key.account, e.key.lang): e
                for e in ledger.history()}


def run_and_compare(platforms, now: datetime, until: datetime) -> dict:
    """Preview at `now`, then run --once at `now` and at every time preview named up to `until`:
    every post goes out at the time preview said, every dropped post is recorded with its reason,
    and `status` names the same next times."""
    shown = previewed(platforms, now)
    going = [p for p in shown["posts"] if p["goes"] and
             datetime.fromisoformat(p["at"]) <= until]
    status = json.loads(herald(platforms, "status", "--now", now.isoformat(), "--json").output)
    named = {(n["ref"], n["stage"], a["name"], n["lang"]): n["at"]
             for a in status["accounts"] for n in a["next"]}
    predicted = {key(p): p["at"] for p in shown["posts"] if p["goes"]}
    assert named and all(predicted[k] == at for k, at in named.items()), (named, predicted)

    before = {k for k, e in ledger_rows(platforms).items() if e.state == "posted"}
    for moment in sorted({now} | {datetime.fromisoformat(p["at"]) for p in going}):
        outcomes = run_once(platforms.config, clock=lambda moment=moment: moment).outcomes
        assert all(o.ok for o in outcomes), outcomes
    rows = ledger_rows(platforms)
    posted = {k: e.posted_at.astimezone(ZONE).isoformat() for k, e in rows.items()
              if e.state == "posted" and k not in before}
    assert posted == {key(p): p["at"] for p in going}
    for post in shown["posts"]:
        if post["state"] == "skipped":
            row = rows[key(post)]
            assert (row.state, row.reason) == ("skipped", post["reason"]), key(post)
    return shown


def test_preview_and_run_once_make_the_same_posts_at_the_same_times(platforms):
    with_rules(platforms)
    start = platforms.start                              # the spring meetup, 60 days ahead
    first = (start - timedelta(days=20)).replace(hour=12, minute=0)

    # A new ledger's first run posts no backlog: the meetup's announcement is dropped.
    shown = run_and_compare(platforms, first, first)
    dropped = {(p["ref"], p["stage"]) for p in shown["posts"] if p["state"] == "skipped"}
    assert ("varmote-2027", "announcement") in dropped
    assert "already on the site when Herald first ran" in next(
        p["reason"] for p in shown["posts"] if p["state"] == "skipped")
    assert platforms.mastodon.status_list() == [] and platforms.x.posts == []

    # Two events appear in the night: quiet hours, the gap and the daily cap place them.
    night = (first + timedelta(days=1)).replace(hour=1, minute=23)
    autumn, winter = night.replace(hour=18, minute=0) + timedelta(days=10), \
        night.replace(hour=18, minute=0) + timedelta(days=12)
    add_event(platforms.site, "autumn", autumn)
    add_event(platforms.site, "winter", winter)
    shown = run_and_compare(platforms, night, night + timedelta(hours=25))
    at = {key(p): p["at"] for p in shown["posts"] if p["goes"]}
    later = night.replace(hour=8, minute=0)
    assert at[("autumn", "announcement", "mastodon", "sv")] == later.isoformat()  # quiet hours
    assert at[("autumn", "announcement", "mastodon", "en")] == later.isoformat()
    assert at[("winter", "announcement", "mastodon", "sv")] == \
        (later + timedelta(minutes=5)).isoformat()                                 # the gap
    assert at[("autumn", "announcement", "x", "sv")] == night.isoformat()          # now
    assert at[("winter", "announcement", "x", "en")] == \
        (night + timedelta(hours=24)).isoformat()                                   # the cap
    assert at[("winter", "announcement", "bluesky", "sv")] == \
        (night + timedelta(minutes=30)).isoformat()                                 # min_gap
    reasons = {key(p): p["reason"] for p in shown["posts"]}
    assert reasons[("autumn", "announcement", "mastodon", "sv")] == "quiet hours 22:00-08:00"
    assert "daily cap of 2 posts" in reasons[("winter", "announcement", "x", "sv")]
    assert len(platforms.mastodon.status_list()) == 4 and len(platforms.x.posts) == 4

    # Herald was not running when autumn's 1-day reminder was due; an event appears that
    # starts in 90 minutes, so its 2-hour reminder is superseded by its announcement.
    evening = autumn - timedelta(hours=21)
    add_event(platforms.site, "late", evening + timedelta(minutes=90))
    shown = run_and_compare(platforms, evening, evening + timedelta(days=1))
    reasons = {key(p): p["reason"] for p in shown["posts"] if p["state"] == "skipped"}
    assert reasons[("autumn", "reminder-1d", "x", "sv")].startswith("missed: was due")
    assert reasons[("late", "reminder-2h", "bluesky", "en")] == "superseded by announcement"
    assert any(p["ref"] == "autumn" and p["stage"] == "reminder-2h" and p["goes"]
               for p in shown["posts"])


# --- the ledger as it is, read only ------------------------------------------------------------

import hashlib  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from bot.config import parse_config  # noqa: E402
from bot.content import load_site  # noqa: E402
from bot.errors import AuthFailed, RateLimited  # noqa: E402
from bot.ledger.schema import MIGRATIONS, migrate  # noqa: E402
from bot.model import Limits, PostKey  # noqa: E402
from bot.service import forecast  # noqa: E402
from bot.status import build_status, reading  # noqa: E402
from bot.survey import survey_ledger  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
NOW = datetime(2027, 3, 1, 12, tzinfo=ZONE)
MASTODON = Limits("mastodon", 500, "mastodon", url_weight=23)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def cli(*args, **kwargs):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kwargs)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_preview_and_status_create_no_ledger_and_read_a_missing_one_as_new(isolated):
    ledger = isolated / "data" / "herald" / "ledger.sqlite3"
    shown = json.loads(cli("preview", "--config", str(EXAMPLE), "--now", NOW.isoformat(),
                           "--json").output)
    assert shown["ledger"] == str(ledger) and not ledger.parent.exists()
    first = [p for p in shown["posts"] if p["stage"] == "announcement"]
    assert first and all(p["state"] == "skipped" and "first ran" in p["reason"] for p in first)
    caught_up = json.loads(cli("preview", "--config", str(EXAMPLE), "--now", NOW.isoformat(),
                               "--catch-up", "--json").output)
    assert all(p["goes"] for p in caught_up["posts"] if p["stage"] == "announcement")
    cli("status", "--config", str(EXAMPLE), "--now", NOW.isoformat())
    assert not ledger.parent.exists()


def test_preview_and_status_leave_an_existing_ledger_byte_for_byte_as_it_was(isolated):
    path = isolated / "data" / "herald" / "ledger.sqlite3"
    path.parent.mkdir(parents=True)
    with Ledger.open(path) as ledger:
        ledger.first_run(NOW - timedelta(days=30))
        ledger.first_seen("varmote-2027", NOW - timedelta(days=30))
    before = digest(path)
    cli("preview", "--config", str(EXAMPLE), "--now", NOW.isoformat(), "--json")
    cli("status", "--config", str(EXAMPLE), "--now", NOW.isoformat(), "--json")
    assert digest(path) == before
    wal = path.with_name(path.name + "-wal")            # SQLite's own log: nothing in it
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_ledger_an_older_herald_wrote_is_read_without_migrating_it(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, MIGRATIONS[:2])                  # before events and first runs
    conn.close()
    before = digest(path)
    with reading(path) as ledger:
        assert ledger.history() == [] and ledger.first_run(NOW, record=False) == NOW
    assert digest(path) == before


def write_site(root: Path, *events: tuple[str, datetime]) -> Path:
    for ref, start in events:
        add_event(root, ref, start)
    return root


def config_for(root: Path, **options):
    return parse_config({"site": {"path": str(root), "timezone": "Europe/Stockholm"},
                         "accounts": {"masto": {"platform": "mastodon", "languages": ["sv"],
                                                "instance": "https://social.example",
                                                **options}}}, base=root)


def test_preview_composes_each_post_only_when_it_is_asked_for(tmp_path):
    root = tmp_path / "site"
    (root / "_events").mkdir(parents=True)
    write_site(root, *[(f"e{n}", NOW + timedelta(days=10 + n)) for n in range(5)])
    config = config_for(root)
    site = load_site(config.site)
    asked = []

    def limits_for(account):
        asked.append(account.name)
        if len(asked) > 1:
            raise AssertionError("the second post was composed before the first was shown")
        return MASTODON

    with reading(tmp_path / "none.sqlite3") as ledger:
        found = survey_ledger(config, site, ledger, now=NOW, catch_up=True)
    first = next(forecast(site, config, found, now=NOW, limits_for=limits_for))
    assert first.post is not None and first.key.ref == "e0" and asked == ["masto"]


def test_a_stopped_account_and_a_long_back_off_say_why_in_preview_and_status(tmp_path):
    root = tmp_path / "site"
    (root / "_events").mkdir(parents=True)
    write_site(root, ("soon", NOW + timedelta(hours=3)), ("later", NOW + timedelta(days=9)))
    site = load_site(config_for(root).site)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        ledger.first_run(NOW - timedelta(days=1))
        for ref in ("soon", "later"):
            ledger.first_seen(ref, NOW)
        limited = ledger.reserve(PostKey("soon", "announcement", "masto", "sv"), text="x",
                                 now=NOW)
        until = NOW + timedelta(hours=5)
        ledger.fail(limited, RateLimited("429", account="masto", retry_after=until), NOW, until)
        config = config_for(root)
        found = survey_ledger(config, site, ledger, now=NOW)
        items = {(i.key.ref, i.key.stage): i for i in forecast(
            site, config, found, now=NOW, limits_for=lambda a: MASTODON)}
        waiting = items[("soon", "announcement")]
        assert (waiting.state, waiting.at) == ("waiting", None)
        assert "backing off until 2027-03-01 17:00 CET, after the event starts" in waiting.reason
        report = build_status(config, site, ledger, now=NOW)
        assert "  waiting soon/announcement/masto/sv: masto is backing off until" in \
            report.format()

        refused = ledger.reserve(PostKey("later", "announcement", "masto", "sv"), text="x",
                                 now=NOW + timedelta(hours=6))
        ledger.fail(refused, AuthFailed("the access token was rejected", account="masto"),
                    NOW + timedelta(hours=6))
        later = NOW + timedelta(hours=7)
        found = survey_ledger(config, site, ledger, now=later)
        item = next(i for i in forecast(site, config, found, now=later,
                                        limits_for=lambda a: MASTODON)
                    if i.key.ref == "later" and i.key.stage == "reminder-1d")
        assert (item.state, item.at) == ("stopped", None)
        assert item.reason.startswith("masto is stopped by later/announcement/masto/sv: masto: "
                                      "the access token was rejected")
        text = build_status(config, site, ledger, now=later).format()
        assert "STOPPED by later/announcement/masto/sv" in text
        assert "2 posts wait for it" in text


# --- announce --dry-run shows a post as preview does --------------------------------------------

def one_post(lines: list[str]) -> list[str]:
    """The lines of the post shown first: up to a blank line before an unindented one."""
    for n in range(1, len(lines) - 1):
        if lines[n] == "" and lines[n + 1] and not lines[n + 1].startswith(" "):
            return lines[:n]
    return lines


def test_announce_dry_run_shows_each_post_exactly_as_preview_shows_it(isolated):
    args = ["--config", str(EXAMPLE), "--account", "x", "--lang", "sv"]
    dry = cli("announce", "hackathon-2028", *args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    shown = cli("preview", "--event", "hackathon-2028", "--catch-up", *args)
    lines = shown.output.splitlines()
    start = next(n for n, line in enumerate(lines) if " · announcement · hackathon-2028 · " in line)
    block = one_post(lines[start:])
    block = [line for line in block if not line.startswith("  later than due")]   # spaced
    told = one_post(dry.output.splitlines())
    assert told[0].endswith(" (now) · x · sv · announcement · hackathon-2028 · 277/280")
    assert told[0].split(" · ", 1)[1] == block[0].split(" · ", 1)[1]
    assert told[1:] == block[1:]
    assert "  image: drawn card → 1200x675 PNG" in told[-3] and told[-1] == "  cost: about $0.205"


# --- progress on a terminal, and nothing else anywhere else ------------------------------------

def test_preview_shows_progress_on_a_terminal_and_never_in_its_output(tmp_path):
    import pty

    leader, follower = pty.openpty()
    out = tmp_path / "out.json"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with open(out, "wb") as stdout:
        done = subprocess.run([sys.executable, "-m", "bot", "preview", "--config",
                               str(EXAMPLE), "--now", NOW.isoformat(), "--json"],
                              stdout=stdout, stderr=follower, cwd=ROOT, env=env, timeout=120)
    os.close(follower)
    said = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        said += chunk
    os.close(leader)
    assert done.returncode == 0
    assert b"planning 4 events ..." in said and b"\r" in said and b"\x1b" not in said
    assert said.endswith(b"\r")                                   # cleared at the end
    assert json.loads(out.read_text(encoding="utf-8"))["schema"] == "herald.preview/1"


def test_preview_shows_the_corrections_and_cancellations_run_then_sends_at_those_times(platforms):
    with_rules(platforms)
    day = (platforms.start - timedelta(days=20)).replace(hour=12, minute=0)
    run_and_compare(platforms, day, day)                        # the first run: no backlog
    autumn = (day + timedelta(days=10)).replace(hour=18)
    add_event(platforms.site, "autumn", autumn)
    run_and_compare(platforms, day + timedelta(hours=1), day + timedelta(hours=3))
    assert len(platforms.x.posts) == 2

    # Late in the evening its editor moves it a day: X and Bluesky reply at once, Mastodon
    # edits its announcement when its quiet hours end.
    night = (day + timedelta(days=1)).replace(hour=23)
    add_event(platforms.site, "autumn", autumn + timedelta(days=1))
    shown = run_and_compare(platforms, night, night + timedelta(hours=10))
    changes = {key(p): p for p in shown["posts"] if p["kind"] == "correction"}
    morning = (night + timedelta(days=1)).replace(hour=8)
    assert {k: (p["at"], p["change"]["action"]) for k, p in changes.items()} == {
        ("autumn", "correction", "mastodon", "sv"): (morning.isoformat(), "edit"),
        ("autumn", "correction", "mastodon", "en"): (morning.isoformat(), "edit"),
        ("autumn", "correction", "x", "sv"): (night.isoformat(), "reply"),
        ("autumn", "correction", "x", "en"): (night.isoformat(), "reply"),
        ("autumn", "correction", "bluesky", "sv"): (night.isoformat(), "reply"),
        ("autumn", "correction", "bluesky", "en"): (night.isoformat(), "reply")}
    assert all(p["change"]["changed"] == ["date"] for p in changes.values())
    assert changes[("autumn", "correction", "mastodon", "sv")]["reason"] == \
        "quiet hours 22:00-08:00"
    assert "Nytt datum" in changes[("autumn", "correction", "x", "sv")]["text"]
    assert all(p["kind"] == "post" and p["change"] is None
               for p in shown["posts"] if p["stage"] != "correction")
    rows = ledger_rows(platforms)
    assert rows[("autumn", "correction", "mastodon", "sv")].posted_at == morning
    text = herald(platforms, "preview", "--now", night.isoformat()).output
    assert "correction" not in text          # everything was sent: nothing left to show

    # The file is deleted at noon: the cancellation waits ten minutes, in case the file is
    # only being renamed, then goes out at the time preview named.
    noon = morning.replace(hour=12)
    for lang in ("sv", "en"):
        (platforms.site / "_events" / f"autumn-{lang}.md").unlink()
    text = herald(platforms, "preview", "--now", noon.isoformat()).output
    assert "removed from the site since it was announced (taken as cancelled if still so at " \
           f"{noon + timedelta(minutes=10):%Y-%m-%d %H:%M %Z})" in text
    shown = run_and_compare(platforms, noon, noon + timedelta(hours=1))
    cancelled = {key(p): p["at"] for p in shown["posts"] if p["kind"] == "cancellation"}
    assert set(cancelled.values()) == {(noon + timedelta(minutes=10)).isoformat()}
    assert len(cancelled) == 6
    assert "ställts in" in platforms.x.posts[-2].text
