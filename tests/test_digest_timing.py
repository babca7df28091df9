"""Digests obey the same timing as every post: quiet hours, the daily cap, the first-run rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import parse_config
from bot.content import load_site
from bot.ledger import Ledger
from bot.model import OutgoingPost, Published
from bot.platforms.bluesky import LIMITS as BLUESKY
from bot.platforms.mastodon import LIMITS as MASTODON
from bot.platforms.recording import RecordingPublisher
from bot.platforms.x import LIMITS as X
from bot.runner import Runner

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "civictech"
ZONE = ZoneInfo("Europe/Stockholm")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2020, month, day, hour, minute, tzinfo=ZONE)


@dataclass
class Platform(RecordingPublisher):
    """Records what it got and when, by the test's clock."""

    clock: list = field(default_factory=list)
    received: list = field(default_factory=list)

    def publish(self, post: OutgoingPost) -> Published:
        published = super().publish(post)
        self.received.append((self.clock[0], post.text.splitlines()[0], post.lang))
        return published


def config(**accounts) -> dict:
    base = {"masto": {"platform": "mastodon", "instance": "https://social.example"},
            "x": {"platform": "x"}, "bsky": {"platform": "bluesky"}}
    for name, options in accounts.items():
        base[name] = {**base[name], **options}
    return {"site": {"path": str(FIXTURES), "hashtags": ["civictech"]},
            "stages": [{"name": "announcement", "kind": "announcement"}],
            "digests": [{"name": "weekly", "every": "monday 09:00", "window": "7d"},
                        {"name": "monthly", "every": "day 1 08:00"}],
            "accounts": base}


class World:
    def __init__(self, tmp_path: Path, start: datetime, data: dict, *, catch_up=False):
        self.clock = [start]
        self.config = parse_config(data, base=tmp_path)
        self.site = load_site(self.config.site)
        limits = {"masto": MASTODON, "x": X, "bsky": BLUESKY}
        self.platforms = {name: Platform(name, limits[name], clock=self.clock)
                          for name in limits}
        self.ledger = Ledger.open(tmp_path / "ledger.sqlite3")
        self.runner = Runner(self.config, self.ledger, self.platforms, random=lambda: 0.5,
                             catch_up=catch_up, clock=lambda: self.clock[0], parallel=False)

    def run_until(self, end: datetime) -> None:
        for _ in range(500):
            report = self.runner.tick(self.site, self.clock[0])
            if report.next_wake is None or report.next_wake > end:
                self.clock[0] = end
                return
            self.clock[0] = max(report.next_wake, self.clock[0])
        raise AssertionError("the runner kept asking to be woken")

    def got(self, account: str) -> list[tuple[str, str, str]]:
        return [(f"{when:%m-%d %H:%M}", line, lang)
                for when, line, lang in self.platforms[account].received]


def test_a_digest_due_in_quiet_hours_waits_for_their_end_with_both_languages(tmp_path):
    world = World(tmp_path, at(10, 17, 12), config(masto={"quiet_hours": "22:00-10:00"}))
    world.run_until(at(10, 19, 12))
    assert world.got("masto") == [("10-19 10:00", "Kommande evenemang 19–25 okt.", "sv"),
                                  ("10-19 10:00", "Upcoming events 19\u2009–\u200925 Oct", "en")]
    assert [when for when, _, _ in world.got("bsky")] == ["10-19 09:00"] * 2


def test_a_digest_over_the_daily_cap_waits_until_the_cap_allows_it(tmp_path):
    # The weekly digest goes out on Monday 30 November at 09:00 (two posts); the monthly one
    # is due on Tuesday at 08:00, less than 24 hours later: with a cap of 2 it waits till 09:00.
    world = World(tmp_path, at(11, 29, 12), config(x={"daily_cap": 2}))
    world.run_until(at(12, 1, 12))
    assert world.got("x") == [
        ("11-30 09:00", "Kommande evenemang 30 nov.–6 dec.", "sv"),
        ("11-30 09:00", "Upcoming events 30 Nov\u2009–\u20096 Dec", "en"),
        ("12-01 09:00", "Kommande evenemang 1–31 dec.", "sv"),
        ("12-01 09:00", "Upcoming events 1\u2009–\u200931 Dec", "en")]
    assert [when for when, _, _ in world.got("masto")] == ["11-30 09:00"] * 2 + \
        ["12-01 08:00"] * 2


def test_a_digest_due_before_a_new_ledgers_first_run_is_not_posted_as_a_backlog(tmp_path):
    world = World(tmp_path, at(10, 19, 9, 30), config())
    world.run_until(at(10, 19, 12))
    assert world.got("masto") == []
    skipped = {e.reason for e in world.ledger.history() if e.key.ref == "digest:weekly"}
    assert skipped == {"was due 2020-10-19 09:00, when or before Herald first ran on this "
                       "ledger (use --catch-up to post it)"}


def test_catch_up_posts_the_digest_due_before_the_first_run(tmp_path):
    world = World(tmp_path, at(10, 19, 9, 30), config(), catch_up=True)
    world.run_until(at(10, 19, 12))
    digests = [line for _, line, _ in world.got("masto")
               if line.startswith(("Kommande", "Upcoming"))]      # the events' backlog too
    assert digests == ["Kommande evenemang 19–25 okt.", "Upcoming events 19\u2009–\u200925 Oct"]
