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
        outcomes = run_once(platforms.config, clock=lambda moment=moment: moment)
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
