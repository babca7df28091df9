"""The runner across whole campaigns, with an injected clock: what each platform got, and when."""

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import parse_config
from bot.content import Site
from bot.status import build_status
from bot.errors import AuthFailed, Duplicate, RateLimited, Unavailable
from bot.ledger import Ledger
from bot.lifecycle import State
from bot.model import Event, Limits, OutgoingPost, PostKey, Problem, Published
from bot.platforms.recording import RecordingPublisher
from bot.runner import Runner

ZONE = ZoneInfo("Europe/Stockholm")
MASTODON = Limits("mastodon", 500, "mastodon", url_weight=23, edits=True)
BLUESKY = Limits("bluesky", 300, "graphemes", max_bytes=3000)
X = Limits("x", 280, "twitter", url_weight=23)


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, second, tzinfo=ZONE)


def event(ref: str, lang: str, title: str, start: datetime, **more) -> Event:
    return Event(ref, lang, title, start, f"https://civictech.se/{lang}/{ref}/",
                 f"_events/{ref}-{lang}.md", excerpt="Välkomna!" if lang == "sv" else "Welcome!",
                 place="Goto 10, Stockholm", **more)


def site(*events: Event, drafts=(), problems=()) -> Site:
    return Site(tuple(sorted(events, key=lambda e: (e.start, e.ref, e.lang))), tuple(drafts),
                tuple(problems))


@dataclass
class Clock:
    now: datetime


@dataclass
class Platform(RecordingPublisher):
    """A platform that notes when each post arrived, can be down, and can edit (if asked)."""

    clock: Clock | None = None
    received: list = field(default_factory=list)
    down: tuple[datetime, datetime] | None = None
    failure: Exception | None = None

    def publish(self, post: OutgoingPost) -> Published:
        if self.failure is not None:
            raise self.failure
        if self.down is not None and self.down[0] <= self.clock.now < self.down[1]:
            raise Unavailable("HTTP 503 Service Unavailable", account=self.account)
        before = len(self.sent)
        published = super().publish(post)
        if len(self.sent) > before:
            self.received.append((self.clock.now, post.text.splitlines()[0], post.reply_to,
                                  published.id))
        return published


@dataclass
class EditablePlatform(Platform):
    def edit(self, status_id: str, text: str) -> Published:
        self.received.append((self.clock.now, "EDIT " + text.splitlines()[2], status_id,
                              status_id))
        return Published(status_id, f"dry-run://{self.account}/{status_id.split('-')[1]}")


@dataclass
class DeletingPlatform(Platform):
    deleted: list = field(default_factory=list)

    def delete(self, status_id: str) -> None:
        self.deleted.append((self.clock.now, status_id))


CONFIG = {
    "grace": "2h",
    "site": {"path": ".", "timezone": "Europe/Stockholm"},
    "accounts": {
        "masto": {"platform": "mastodon", "languages": ["sv", "en"],
                  "instance": "https://social.example", "quiet_hours": "22:00-08:00",
                  "min_gap": "10m"},
        "bsky": {"platform": "bluesky", "languages": ["sv", "en"]},
        "x": {"platform": "x", "languages": ["sv"]},
    },
}


class World:
    """Herald's runner with its platforms, its ledger and a clock the test moves."""

    def __init__(self, tmp_path: Path, start: datetime, *, config=CONFIG, catch_up=True,
                 edits=True, delete=False):
        self.clock = Clock(start)
        self.config = parse_config(config, base=tmp_path)
        kinds = {"masto": (EditablePlatform if edits else Platform, MASTODON),
                 "bsky": (DeletingPlatform if delete else Platform, BLUESKY), "x": (Platform, X)}
        self.platforms = {a.name: kinds[a.name][0](a.name, kinds[a.name][1], clock=self.clock)
                          for a in self.config.accounts}
        self.ledger = Ledger.open(tmp_path / "ledger.sqlite3")
        self.site = site()
        self.runner = Runner(self.config, self.ledger, self.platforms, random=lambda: 0.5,
                             catch_up=catch_up, clock=lambda: self.clock.now)

    def run_until(self, end: datetime) -> None:
        """Tick whenever the runner asks to be woken, up to `end`."""
        for _ in range(5000):
            report = self.runner.tick(self.site, self.clock.now)
            wake = report.next_wake
            if wake is None or wake > end:
                self.clock.now = end
                return
            self.clock.now = max(wake, self.clock.now)
        raise AssertionError("the runner kept asking to be woken without going idle")

    def got(self, account: str) -> list[tuple[str, str, str | None]]:
        """What one platform received: local time, first line, and which post it replies to."""
        return [(f"{when.astimezone(ZONE):%m-%d %H:%M %Z}", line, reply)
                for when, line, reply, _ in self.platforms[account].received]


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


VARMOTE = [event("varmote", "sv", "Vårmöte", at(3, 28, 18)),
           event("varmote", "en", "Spring meetup", at(3, 28, 18))]
HACKATHON = event("hackathon", "sv", "Hackathon", at(4, 10, 10))
VARMOTE_LATER = [replace(e, start=at(4, 15, 18)) for e in VARMOTE]


def test_a_whole_campaign_reaches_every_platform_at_the_right_times(tmp):
    world = World(tmp, at(3, 20, 23, 30))
    world.site = site(*VARMOTE, HACKATHON)
    world.platforms["bsky"].down = (at(3, 27, 17, 50), at(3, 27, 18, 20))   # over a reminder
    world.run_until(at(3, 27, 17, 55))
    assert world.platforms["bsky"].received[-1][0] < at(3, 27, 17, 55)
    world.run_until(at(4, 1, 12))
    world.site = site(*VARMOTE, replace(HACKATHON, start=at(4, 17, 10)))   # a new date
    world.run_until(at(4, 30, 0))

    assert world.got("masto") == [
        # quiet hours until 08:00; the English version replies to the Swedish one
        ("03-21 08:00 CET", "Vårmöte", None),
        ("03-21 08:00 CET", "Spring meetup", "dry-1"),
        ("03-21 08:10 CET", "Hackathon", None),                   # ten minutes' gap
        # the day before at 18:00 on the wall clock, across the DST change, in a thread
        ("03-27 18:00 CET", "⏰ Vårmöte", "dry-1"),
        ("03-27 18:00 CET", "⏰ Spring meetup", "dry-4"),
        ("03-28 16:00 CEST", "⏰ Vårmöte", "dry-1"),
        ("03-28 16:00 CEST", "⏰ Spring meetup", "dry-6"),
        # the date changed: the announcement is edited, the reminders follow the new date
        ("04-01 12:00 CEST", "EDIT Hackathon", "dry-3"),
        ("04-16 10:00 CEST", "⏰ Hackathon", "dry-3"),
        ("04-17 08:00 CEST", "⏰ Hackathon", "dry-3"),
    ]
    bsky = world.got("bsky")
    assert bsky[:3] == [("03-20 23:30 CET", "Vårmöte", None),
                        ("03-20 23:30 CET", "Spring meetup", "dry-1"),
                        ("03-20 23:35 CET", "Hackathon", None)]
    # the outage delays Bluesky's reminder by its retries, and nothing else
    when, line, reply = bsky[3]
    assert line == "⏰ Vårmöte" and reply == "dry-1"
    assert "03-27 18:20 CET" <= when <= "03-27 18:30 CET"
    assert bsky[4][1:] == ("⏰ Spring meetup", "dry-4") and bsky[4][0] == when
    assert bsky[5:] == [
        ("03-28 16:00 CEST", "⏰ Vårmöte", "dry-1"),
        ("03-28 16:00 CEST", "⏰ Spring meetup", "dry-6"),
        ("04-01 12:00 CEST", "✏\ufe0f Nytt datum för Hackathon", "dry-3"),     # a reply with the news
        ("04-16 10:00 CEST", "⏰ Hackathon", "dry-3"),
        ("04-17 08:00 CEST", "⏰ Hackathon", "dry-3"),
    ]
    assert world.got("x") == [
        ("03-20 23:30 CET", "Vårmöte", None),
        ("03-20 23:35 CET", "Hackathon", None),
        ("03-27 18:00 CET", "⏰ Vårmöte", "dry-1"),
        ("03-28 16:00 CEST", "⏰ Vårmöte", "dry-1"),
        ("04-01 12:00 CEST", "✏\ufe0f Nytt datum för Hackathon", "dry-2"),
        ("04-16 10:00 CEST", "⏰ Hackathon", "dry-2"),
        ("04-17 08:00 CEST", "⏰ Hackathon", "dry-2"),
    ]


def test_a_first_run_on_a_new_ledger_posts_no_backlog_unless_told_to_catch_up(tmp):
    meetup = event("meetup", "sv", "Vårmöte", at(4, 15, 18))
    quiet = World(tmp / "safe", at(4, 1, 12), catch_up=False)
    quiet.site = site(meetup)
    quiet.run_until(at(4, 1, 13))
    assert quiet.got("x") == []
    assert "already on the site" in quiet.ledger.entry(
        PostKey("meetup", "announcement", "x", "sv")).reason
    quiet.site = site(meetup, event("later", "sv", "Nytt", at(4, 20, 18)))  # added afterwards
    quiet.run_until(at(4, 14, 19))
    assert quiet.got("x") == [("04-01 13:00 CEST", "Nytt", None),
                              ("04-14 18:00 CEST", "⏰ Vårmöte", None)]
    eager = World(tmp / "catch-up", at(4, 1, 12), catch_up=True)
    eager.site = site(meetup)
    eager.run_until(at(4, 1, 13))
    assert eager.got("x") == [("04-01 12:00 CEST", "Vårmöte", None)]


def test_a_first_run_calls_a_reminder_already_due_backlog_not_superseded_by_a_skipped_post(tmp):
    from bot.survey import fates, survey_ledger

    meetup = event("meetup", "sv", "Vårmöte", at(4, 15, 18))    # reminder-1d due an hour ago
    world = World(tmp / "safe", at(4, 14, 19), catch_up=False)
    world.site = site(meetup)
    reminder = PostKey("meetup", "reminder-1d", "x", "sv")
    previewed = {f.key: f for f in fates(survey_ledger(world.config, world.site, world.ledger,
                                                       now=world.clock.now),
                                         now=world.clock.now)}
    assert previewed[reminder].state == "skipped"
    assert "first ran on this ledger" in previewed[reminder].reason
    assert "superseded" not in previewed[reminder].reason
    world.run_until(at(4, 14, 19, 1))
    assert world.got("x") == []
    assert world.ledger.entry(reminder).reason == previewed[reminder].reason
    eager = World(tmp / "catch-up", at(4, 14, 19), catch_up=True)    # the announcement goes
    eager.site = site(meetup)
    eager.run_until(at(4, 14, 19, 1))
    assert [line for _, line, _ in eager.got("x")] == ["Vårmöte"]
    assert eager.ledger.entry(reminder).reason == "superseded by announcement"


def test_a_reminder_that_would_fall_in_quiet_hours_until_the_event_starts_is_skipped(tmp):
    world = World(tmp, at(4, 1, 12))
    world.site = site(event("breakfast", "sv", "Frukostmöte", at(4, 10, 7, 30)))
    world.run_until(at(4, 11, 0))
    assert [line for _, line, _ in world.got("masto")] == ["Frukostmöte",
                                                          "⏰ Frukostmöte"]
    assert world.got("masto")[1][0] == "04-09 08:00 CEST"     # the 1-day reminder, after quiet
    skipped = world.ledger.entry(PostKey("breakfast", "reminder-2h", "masto", "sv"))
    assert skipped.state == "skipped" and "after the event started" in skipped.reason
    assert [line for _, line, _ in world.got("x")] == [          # no quiet hours on x
        "Frukostmöte", "⏰ Frukostmöte", "⏰ Frukostmöte"]


def test_a_rejected_token_stops_that_account_and_the_others_go_on(tmp):
    world = World(tmp, at(4, 1, 12))
    world.platforms["x"].failure = AuthFailed("the access token was rejected", account="x")
    world.site = site(*[event(f"e{n}", "sv", f"Event {n}", at(4, 10 + n, 18)) for n in range(3)])
    world.run_until(at(4, 1, 13))
    assert len(world.got("bsky")) == 3 and world.got("x") == []
    assert len(world.ledger.failures()) == 1                  # one attempt, then it stopped
    report = build_status(world.config, world.site, world.ledger, now=world.clock.now)
    text = report.format()
    assert "x\n  STOPPED by e0/announcement/x/sv: x: the access token was rejected" in text
    assert "fix it, then restart herald run or send it SIGHUP" in text
    world.platforms["x"].failure = None                       # fixed; Herald is reloaded
    world.runner = Runner(world.config, world.ledger, world.platforms, random=lambda: 0.5)
    world.run_until(at(4, 1, 14))
    assert [line for _, line, _ in world.got("x")] == ["Event 0", "Event 1", "Event 2"]


def test_an_account_with_a_short_request_timeout_retries_sooner_after_a_failure(tmp):
    """The back-off starts at the request timeout when that is shorter than 30 s."""
    accounts = {**CONFIG["accounts"],
                "bsky": {**CONFIG["accounts"]["bsky"], "request_timeout": "4s"}}
    world = World(tmp, at(4, 1, 12), config={**CONFIG, "accounts": accounts})
    world.platforms["bsky"].down = (at(4, 1, 12), at(4, 1, 12, 0, 2))
    world.site = site(event("meetup", "sv", "Vårmöte", at(4, 15, 18)))
    world.run_until(at(4, 1, 13))
    assert world.platforms["bsky"].received[0][0] == at(4, 1, 12, 0, 3)   # 4 s, half jittered
    assert world.platforms["x"].received[0][0] == at(4, 1, 12)


def test_a_rate_limited_account_retries_at_the_platforms_reset_time(tmp):
    world = World(tmp, at(4, 1, 12))
    world.platforms["x"].failure = RateLimited("429 Too Many Requests", account="x",
                                               retry_after=at(4, 1, 12, 40))
    world.site = site(event("meetup", "sv", "Vårmöte", at(4, 15, 18)))
    world.run_until(at(4, 1, 12, 39))
    report = build_status(world.config, world.site, world.ledger, now=world.clock.now)
    assert "  backing off until 2027-04-01 12:40:00 CEST" in report.format()
    assert "failed meetup/announcement/x/sv: x: 429 Too Many Requests (attempt 0); " \
           "retrying at 2027-04-01 12:40:00" in report.format()       # a 429 is no attempt
    world.platforms["x"].failure = None
    world.run_until(at(4, 1, 13))
    assert world.got("x") == [("04-01 12:40 CEST", "Vårmöte", None)]
    assert world.platforms["x"].received[0][0] == at(4, 1, 12, 40)     # exactly the reset


def test_a_post_is_reserved_at_the_moment_it_is_sent_not_when_its_round_began(tmp):
    """A crash's lookup is timed from the reservation: a slow first post must not age it."""
    @dataclass
    class Slow(Platform):
        def publish(self, post):
            self.clock.now += timedelta(seconds=20)          # the answer takes 20 s
            return super().publish(post)

    world = World(tmp, at(4, 1, 12))
    world.platforms["bsky"] = Slow("bsky", BLUESKY, clock=world.clock)
    world.runner = Runner(world.config, world.ledger, world.platforms, random=lambda: 0.5,
                          catch_up=True, clock=lambda: world.clock.now)
    world.site = site(*VARMOTE_LATER)
    world.run_until(at(4, 1, 12, 1))
    english = world.ledger.entry(PostKey("varmote", "announcement", "bsky", "en"))
    assert english.reserved_at == at(4, 1, 12, 0, 20)


def test_a_rate_limit_holds_its_account_until_the_reset_even_when_its_post_is_dropped(tmp):
    """The reset outlives the post that met it: a restarted Herald reads it from the ledger."""
    world = World(tmp, at(4, 9, 17, 59))
    reset = at(4, 10, 16, 30)
    world.site = site(event("meetup", "sv", "Vårmöte", at(4, 10, 18)))
    world.run_until(at(4, 9, 17, 59, 30))                        # the announcement
    world.platforms["x"].failure = RateLimited("429 Too Many Requests", account="x",
                                               retry_after=reset)
    world.run_until(at(4, 9, 18, 5))                  # reminder-1d (after the gap) meets a 429
    world.platforms["x"].failure = None
    world.runner = Runner(world.config, world.ledger, world.platforms, random=lambda: 0.5,
                          catch_up=True, clock=lambda: world.clock.now)     # a restart
    world.run_until(at(4, 10, 17))
    assert world.got("x") == [("04-09 17:59 CEST", "Vårmöte", None),
                              ("04-10 16:30 CEST", "⏰ Vårmöte", "dry-1")]
    dropped = world.ledger.entry(PostKey("meetup", "reminder-1d", "x", "sv"))
    assert dropped.state == "skipped"


def test_a_platform_that_hangs_until_its_timeout_does_not_delay_the_others(tmp):
    @dataclass
    class Hangs(Platform):
        def publish(self, post):
            time.sleep(0.6)
            raise Unavailable("read timed out after 30 s", account=self.account)

    @dataclass
    class Stamps(Platform):
        stamps: list = field(default_factory=list)

        def publish(self, post):
            self.stamps.append(time.monotonic())
            return super().publish(post)

    world = World(tmp, at(4, 1, 12))
    world.platforms = {"masto": Hangs("masto", MASTODON, clock=world.clock),
                       "bsky": Stamps("bsky", BLUESKY, clock=world.clock),
                       "x": Stamps("x", X, clock=world.clock)}
    world.runner = Runner(world.config, world.ledger, world.platforms, random=lambda: 0.5,
                          catch_up=True)
    world.site = site(*VARMOTE_LATER)
    began = time.monotonic()
    report = world.runner.tick(world.site, world.clock.now)
    stamps = world.platforms["bsky"].stamps + world.platforms["x"].stamps
    assert len(stamps) == 3 and max(stamps) - began < 0.4
    assert [o.status for o in report.outcomes if o.key.account == "masto"] == ["failed"]


def test_a_post_whose_answer_was_lost_is_found_and_never_sent_twice(tmp):
    @dataclass
    class LosesAnswers(Platform):
        lose: int = 1

        def publish(self, post):
            published = super().publish(post)
            if self.lose:
                self.lose -= 1
                raise Unavailable("read timed out", account=self.account)
            return published

    world = World(tmp, at(4, 1, 12))
    world.platforms["x"] = LosesAnswers("x", X, clock=world.clock)
    world.runner = Runner(world.config, world.ledger, world.platforms, random=lambda: 0.5,
                          catch_up=True)
    world.site = site(event("meetup", "sv", "Vårmöte", at(4, 15, 18)))
    world.run_until(at(4, 1, 13))
    assert world.got("x") == [("04-01 12:00 CEST", "Vårmöte", None)]
    assert world.ledger.entry(PostKey("meetup", "announcement", "x", "sv")).state == "posted"


def test_a_removed_event_gets_a_cancellation_reply_and_no_more_reminders(tmp):
    world = World(tmp, at(4, 1, 12))
    world.site = site(*VARMOTE_LATER)
    world.run_until(at(4, 2, 12))
    world.site = site()                                        # the files are deleted
    world.run_until(at(4, 30, 0))
    assert world.got("bsky") == [
        ("04-01 12:00 CEST", "Vårmöte", None),
        ("04-01 12:00 CEST", "Spring meetup", "dry-1"),
        ("04-02 12:10 CEST", "❌ Vårmöte (torsdag 15 april kl. 18:00) har ställts in.",
         "dry-1"),
        ("04-02 12:10 CEST", "❌ Spring meetup (Thursday 15 April at 18:00) has been cancelled.",
         "dry-2"),
    ]
    assert [line for _, line, _ in world.got("masto")][-2:] == [
        "❌ Vårmöte (torsdag 15 april kl. 18:00) har ställts in.",
        "❌ Spring meetup (Thursday 15 April at 18:00) has been cancelled."]


def test_an_unreadable_event_file_is_not_taken_for_a_cancellation(tmp):
    world = World(tmp, at(4, 1, 12))
    world.site = site(*VARMOTE_LATER)
    world.run_until(at(4, 2, 12))
    broken = [Problem("_events/varmote-sv.md", None, "invalid YAML", "error"),
              Problem("_events/varmote-en.md", None, "invalid YAML", "error")]
    world.site = site(problems=broken)
    world.run_until(at(4, 3, 12))
    assert len(world.got("bsky")) == 2
    report = build_status(world.config, world.site, world.ledger, now=at(4, 3, 12))
    assert ("not cancelling varmote yet: _events/varmote-sv.md cannot be read; not taken for a "
            "cancellation") in report.format()
    assert not any(f.key.stage == "cancellation" for a in report.accounts for f in a.upcoming)


def test_cancelling_can_delete_the_posts_instead_where_the_platform_can(tmp, caplog):
    caplog.set_level(logging.INFO, logger="herald")
    config = {**CONFIG, "accounts": {**CONFIG["accounts"], "bsky": {
        "platform": "bluesky", "languages": ["sv", "en"], "on_cancel": "delete"}}}
    world = World(tmp, at(4, 1, 12), config=config, delete=True)
    world.site = site(*VARMOTE_LATER)
    world.run_until(at(4, 2, 12))
    world.site = site(drafts=VARMOTE_LATER)                    # unpublished
    world.run_until(at(4, 30, 0))
    deleted = world.platforms["bsky"].deleted
    assert [(f"{when.astimezone(ZONE):%m-%d %H:%M}", pid) for when, pid in deleted] == [
        ("04-02 12:10", "dry-1"), ("04-02 12:10", "dry-2")]
    assert len(world.got("bsky")) == 2                         # no reply, no reminders
    # the ledger says what the platform holds: the posts are deleted, not "posted"
    on_bsky = [(e.key.stage, e.key.lang, e.state, e.reason) for e in world.ledger.history()
               if e.key.account == "bsky"]
    assert sorted(on_bsky) == [
        ("announcement", "en", "deleted", None), ("announcement", "sv", "deleted", None),
        ("cancellation", "en", "deleted", "unpublished: deleted 1 post"),
        ("cancellation", "sv", "deleted", "unpublished: deleted 1 post")]
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cancelled ")]
    assert "cancelled varmote/cancellation/bsky/sv (unpublished): deleted 1 post" in said
    world.run_until(at(4, 30, 0))
    assert len(world.platforms["bsky"].deleted) == 2           # nothing deleted twice


def test_a_typo_fix_in_an_announced_event_posts_nothing(tmp):
    world = World(tmp, at(4, 1, 12))
    world.site = site(*VARMOTE_LATER)
    world.run_until(at(4, 2, 12))
    fixed = [replace(e, title=e.title + "!", excerpt="Rättat.") for e in VARMOTE_LATER]
    world.site = site(*fixed)
    world.run_until(at(4, 3, 12))
    assert len(world.got("bsky")) == 2 and len(world.got("masto")) == 2


def test_a_post_too_long_for_its_platform_is_reported_once_and_holds_nothing_up(tmp, caplog):
    world = World(tmp, at(4, 1, 12))
    world.site = site(event("long", "sv", "Ord " * 120, at(4, 10, 18)),
                      event("short", "sv", "Kort", at(4, 11, 18)))
    world.run_until(at(4, 1, 13))
    assert [line for _, line, _ in world.got("x")] == ["Kort"]
    too_long = [r.message for r in caplog.records if "long/announcement/x/sv" in r.message]
    assert len(too_long) == 1 and "over the 280 limit" in too_long[0]


def test_a_stop_request_ends_the_tick_after_the_posts_in_flight(tmp):
    world = World(tmp, at(4, 1, 12))
    stop = threading.Event()

    @dataclass
    class StopsHerald(Platform):
        def publish(self, post):
            published = super().publish(post)
            stop.set()                                  # SIGTERM arrives while posting
            return published

    world.platforms = {name: StopsHerald(name, p.platform_limits, clock=world.clock)
                       for name, p in world.platforms.items()}
    world.runner = Runner(world.config, world.ledger, world.platforms, catch_up=True,
                          should_stop=stop.is_set)
    world.site = site(*[event(f"e{n}", "sv", f"Event {n}", at(4, 10 + n, 18)) for n in range(3)])
    report = world.runner.tick(world.site, world.clock.now)
    assert report.interrupted
    assert all(len(p.received) <= 1 for p in world.platforms.values())     # one in flight each
    assert sum(len(p.received) for p in world.platforms.values()) == len(report.outcomes) >= 1


def test_status_shows_what_is_due_next_per_account(tmp):
    world = World(tmp, at(4, 1, 12))
    world.site = site(*VARMOTE_LATER)
    world.run_until(at(4, 1, 12, 30))
    text = build_status(world.config, world.site, world.ledger, now=world.clock.now).format()
    assert text.splitlines()[0].startswith("Herald status at 2027-04-01 12:30 CEST · 1 event")
    assert "masto (mastodon)\n  next 2027-04-14 18:00 CEST: varmote reminder-1d (sv, en)\n" \
           "  next 2027-04-15 16:00 CEST: varmote reminder-2h (sv, en)\n" in text
    assert "x\n  next 2027-04-14 18:00 CEST: varmote reminder-1d (sv)" in text
    data = build_status(world.config, world.site, world.ledger, now=world.clock.now).as_dict()
    assert [(n["stage"], n["lang"]) for n in data["accounts"][0]["next"][:2]] == [
        ("reminder-1d", "sv"), ("reminder-1d", "en")]


# --- the same campaign against the local fake platform servers ------------------------------

def test_a_campaign_against_the_fake_servers_delivers_each_post_once_in_threads(tmp):
    from bot.platforms.bluesky import BlueskyPublisher
    from bot.platforms.mastodon import MastodonPublisher
    from bot.platforms.x import XPublisher
    from tests.fakes.bluesky import FakePDS
    from tests.fakes.mastodon import FakeMastodon
    from tests.fakes.x import FakeX

    with FakeMastodon() as masto, FakePDS() as pds, FakeX() as x:
        config = {**CONFIG, "accounts": {
            "masto": {**CONFIG["accounts"]["masto"], "instance": masto.url},
            "bsky": {"platform": "bluesky", "languages": ["sv", "en"], "service": pds.url},
            "x": {"platform": "x", "languages": ["sv"]}}}
        world = World(tmp, at(4, 1, 12), config=config)
        accounts = {a.name: a for a in world.config.accounts}
        world.platforms = {
            "masto": MastodonPublisher(accounts["masto"], {"access_token": masto.token},
                                       timeout=5),
            "bsky": BlueskyPublisher(accounts["bsky"], {"handle": pds.handle,
                                                        "app_password": pds.app_password},
                                     timeout=5),
            "x": XPublisher(accounts["x"], x.credentials(), session=x.session(), timeout=5)}
        world.runner = Runner(world.config, world.ledger, world.platforms, random=lambda: 0.5,
                              catch_up=True)
        world.site = site(*VARMOTE_LATER)
        world.run_until(at(4, 5, 12))
        world.site = site(*[replace(e, start=at(4, 22, 18)) for e in VARMOTE_LATER])
        world.run_until(at(4, 21, 17, 55))
        masto.outage = 503                                    # Mastodon is down at 18:00
        world.run_until(at(4, 21, 18, 3))
        masto.outage = None
        world.run_until(at(4, 30, 0))

        sent = {}
        for entry in world.ledger.history():
            if entry.state == "posted":
                sent.setdefault(entry.platform_id, entry)     # an edit keeps the first post's id

        def when(platform_id):
            entry = sent[platform_id]
            return f"{entry.posted_at.astimezone(ZONE):%m-%d %H:%M}", entry.key.stage

        statuses = masto.status_list()
        index = {s["id"]: n for n, s in enumerate(statuses)}
        assert [(when(s["id"]), s["text"].splitlines()[0], s["language"],
                 index.get(s["in_reply_to_id"]), s["edited_at"] is not None)
                for s in statuses] == [
            (("04-01 12:00", "announcement"), "✏\ufe0f Nytt datum", "sv", None, True),
            (("04-01 12:00", "announcement"), "✏\ufe0f New date", "en", 0, True),
            # down 18:00-18:03: a failed lookup is no failed attempt, so the back-off stays
            # short and the reminder goes out within half a minute of the server's return
            (("04-21 18:03", "reminder-1d"), "⏰ Vårmöte", "sv", 0, False),
            (("04-21 18:03", "reminder-1d"), "⏰ Spring meetup", "en", 2, False),
            (("04-22 16:00", "reminder-2h"), "⏰ Vårmöte", "sv", 0, False),
            (("04-22 16:00", "reminder-2h"), "⏰ Spring meetup", "en", 4, False),
        ]
        assert "torsdag 22 april kl. 18:00" in statuses[0]["text"]

        records = sorted(pds.records.values(), key=lambda r: sent[r.uri].posted_at)
        uris = {r.uri: n for n, r in enumerate(records)}
        assert [(when(r.uri), r.value["text"].splitlines()[0], r.value["langs"],
                 uris.get(r.value.get("reply", {}).get("parent", {}).get("uri")))
                for r in records] == [
            (("04-01 12:00", "announcement"), "Vårmöte", ["sv"], None),
            (("04-01 12:00", "announcement"), "Spring meetup", ["en"], 0),
            (("04-05 12:00", "correction"), "✏\ufe0f Nytt datum för Vårmöte", ["sv"], 0),
            (("04-05 12:00", "correction"), "✏\ufe0f New date for Spring meetup", ["en"], 1),
            (("04-21 18:00", "reminder-1d"), "⏰ Vårmöte", ["sv"], 0),
            (("04-21 18:00", "reminder-1d"), "⏰ Spring meetup", ["en"], 4),
            (("04-22 16:00", "reminder-2h"), "⏰ Vårmöte", ["sv"], 0),
            (("04-22 16:00", "reminder-2h"), "⏰ Spring meetup", ["en"], 6),
        ]
        ids = {p.id: n for n, p in enumerate(x.posts)}
        assert [(when(p.id), p.text.splitlines()[0], ids.get(p.reply_to)) for p in x.posts] == [
            (("04-01 12:00", "announcement"), "Vårmöte", None),
            (("04-05 12:00", "correction"), "✏\ufe0f Nytt datum för Vårmöte", 0),
            (("04-21 18:00", "reminder-1d"), "⏰ Vårmöte", 0),
            (("04-22 16:00", "reminder-2h"), "⏰ Vårmöte", 0),
        ]
        assert not masto.violations and not x.violations


def test_a_moved_event_on_a_capped_account_waits_for_its_24_hours_without_busy_ticks(tmp_path):
    config = {"grace": "2h", "site": {"path": ".", "timezone": "Europe/Stockholm"},
              "accounts": {"x": {"platform": "x", "languages": ["sv"], "daily_cap": 3}}}
    world = World(tmp_path, at(4, 1, 12), config=config)
    meetup = event("ev", "sv", "Vårmöte", at(4, 10, 18))
    world.site = site(meetup)
    world.run_until(at(4, 10, 16, 30))
    moved = replace(meetup, start=at(4, 11, 10))
    world.site = site(moved)
    world.run_until(at(4, 10, 20))
    world.site = site(moved, event("bb", "sv", "Annat", at(4, 30, 18)))
    world.run_until(at(4, 11, 12))
    assert [(when, text) for when, text, _ in world.got("x")] == [
        ("04-01 12:00 CEST", "Vårmöte"), ("04-09 18:00 CEST", "⏰ Vårmöte"),
        ("04-10 16:00 CEST", "⏰ Vårmöte"), ("04-10 16:30 CEST", "✏\ufe0f Nytt datum och ny tid för Vårmöte"),
        ("04-10 20:00 CEST", "Annat")]
    # three posts since 04-10 08:00: the new 2-hour reminder (04-11 08:00) could go only at
    # 16:00, after the start; it is dropped, and says why
    dropped = world.ledger.entry(PostKey("ev", "reminder-2h", "x", "sv"))
    assert dropped.state == "skipped"
    assert "daily cap of 3 posts in 24 hours reached" in dropped.reason
    ticks_at_noon = [world.runner.tick(world.site, at(4, 11, 12)) for _ in range(3)]
    assert all(not t.outcomes for t in ticks_at_noon)


# --- delivery under faults -----------------------------------------------------------------------

X_UNKEYED = Limits("x", 280, "twitter", url_weight=23, idempotent=False, request_timeout=30)
GOTOSOCIAL = Limits("mastodon", 500, "mastodon", url_weight=23, idempotent=False,
                    request_timeout=30)


@dataclass
class Unkeyed(Platform):
    """A platform that cannot recognise a repeated post (X; GoToSocial ignores Idempotency-Key).

    Each publish call takes the next `script` step: "ok", "lose" (made, answer lost), "stall"
    (the clock moves 35 s, the client gives up, and the post lands 4 s later), or an exception
    to raise. With `x_like` the same text twice is refused as X's duplicate content. A lookup
    lists the recent posts and matches the text, unless `blind` (as X's adapter was) or the
    next `lookups` step is an exception, or the post is not listed yet (`unlisted` lookups).
    Every call is noted in `calls` with the clock's time.
    """

    x_like: bool = False
    blind: bool = False
    script: list = field(default_factory=list)
    lookups: list = field(default_factory=list)
    unlisted: int = 0
    calls: list = field(default_factory=list)
    landing: list = field(default_factory=list)

    def limits(self):
        self.calls.append((self.clock.now, "limits"))
        return self.platform_limits

    def publish(self, post):
        self._land()
        self.calls.append((self.clock.now, "publish"))
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, Exception):
            raise step
        if self.x_like and any(p.text == post.text for p in self.sent):
            raise Duplicate("You are not allowed to create a Tweet with duplicate content.",
                            account=self.account)
        if step == "stall":
            self.clock.now += timedelta(seconds=35)
            self.landing.append((self.clock.now + timedelta(seconds=4), post))
            raise Unavailable("read timed out after 30 s", account=self.account)
        published = self._made(post)
        if step == "lose":
            raise Unavailable("the connection dropped after sending", account=self.account)
        return published

    def find(self, post):
        self._land()
        self.calls.append((self.clock.now, "find"))
        step = self.lookups.pop(0) if self.lookups else "ok"
        if isinstance(step, Exception):
            raise step
        if self.blind:
            return None
        if self.unlisted:
            self.unlisted -= 1
            return None
        for number, earlier in enumerate(self.sent, start=1):
            if earlier.text == post.text and earlier.reply_to == post.reply_to:
                return self._published(number)
        return None

    def _made(self, post):
        self.sent.append(post)
        published = self._published(len(self.sent))
        self.received.append((self.clock.now, post.text.splitlines()[0], post.reply_to,
                              published.id))
        return published

    def _land(self):
        for landing in [entry for entry in self.landing if entry[0] <= self.clock.now]:
            self.landing.remove(landing)
            self._made(landing[1])


def bilingual_x(**more):
    return {**CONFIG, "accounts": {**CONFIG["accounts"], "x": {
        "platform": "x", "languages": ["sv", "en"], **more}}}


def unkeyed(world, name, limits, **behaviour) -> Unkeyed:
    platform = Unkeyed(name, limits, clock=world.clock, **behaviour)
    world.platforms[name] = platform
    world.runner = Runner(world.config, world.ledger, world.platforms, random=lambda: 0.5,
                          catch_up=True, clock=lambda: world.clock.now)
    return platform


def test_a_rate_limit_after_a_lost_answer_does_not_make_x_refuse_its_own_post_for_good(tmp):
    world = World(tmp, at(4, 1, 12))
    x = unkeyed(world, "x", X_UNKEYED, x_like=True, blind=True,
                script=["lose", RateLimited("429", account="x", retry_after=at(4, 1, 12, 10))])
    world.site = site(event("meetup", "sv", "Vårmöte", at(4, 15, 18)))
    world.run_until(at(4, 1, 13))
    assert [line for _, line, _ in world.got("x")] == ["Vårmöte"]       # one post, never two
    assert "x" not in world.runner.halted
    assert world.ledger.entry(PostKey("meetup", "announcement", "x", "sv")).state == "posted"
    assert "STOPPED" not in build_status(world.config, world.site, world.ledger,
                                         now=world.clock.now).format()


def test_a_post_x_calls_a_duplicate_is_found_and_the_english_version_replies_to_it(tmp):
    world = World(tmp, at(4, 1, 12), config=bilingual_x())
    x = unkeyed(world, "x", X_UNKEYED, x_like=True, script=["lose"], unlisted=1)
    world.site = site(*VARMOTE_LATER)
    world.run_until(at(4, 1, 13))
    assert world.got("x") == [("04-01 12:00 CEST", "Vårmöte", None),
                              ("04-01 12:00 CEST", "Spring meetup", "dry-1")]
    swedish = world.ledger.entry(PostKey("varmote", "announcement", "x", "sv"))
    assert (swedish.platform_id, swedish.url) == ("dry-1", "dry-run://x/1")
    assert len(x.received) == 2


def test_a_stalled_request_that_lands_late_is_found_not_sent_again_on_a_server_without_keys(tmp):
    world = World(tmp, at(4, 1, 12))
    masto = unkeyed(world, "masto", GOTOSOCIAL, script=["stall"])
    world.site = site(event("meetup", "sv", "Vårmöte", at(4, 15, 18)))
    world.run_until(at(4, 1, 12, 5))
    masto._land()                                      # whatever was still on its way
    assert [line for _, line, _ in world.got("masto")] == ["Vårmöte"]    # landed once, late
    finds = [when for when, call in masto.calls if call == "find"]
    # the request gave up at 12:00:35; the lookup waits past the 30 s request timeout
    assert finds and min(finds) >= at(4, 1, 12, 1, 5)
    assert world.ledger.entry(PostKey("meetup", "announcement", "masto", "sv")).state == "posted"


def test_after_an_outage_the_reminder_that_came_due_meanwhile_follows_the_announcement(tmp):
    world = World(tmp, at(4, 15, 11))
    world.platforms["bsky"].down = (at(4, 15, 12), at(4, 15, 13, 30))
    world.run_until(at(4, 15, 12))
    world.site = site(event("talk", "sv", "Föredrag", at(4, 15, 15)))    # added at noon
    world.run_until(at(4, 15, 15))
    got = world.got("bsky")
    # the 2-hour reminder came due at 13:00, while the announcement waited out the outage
    assert [line for _, line, _ in got] == ["Föredrag", "⏰ Föredrag"]
    assert "04-15 13:30 CEST" <= got[0][0] <= "04-15 13:36 CEST"        # back-off of minutes
    assert got[1][2] == "dry-1"                                         # a reply, after it
    assert world.platforms["bsky"].received[1][0] >= world.platforms["bsky"].received[0][0]
    text = build_status(world.config, world.site, world.ledger, now=world.clock.now).format()
    # first seen after its 1-day reminder was due: the announcement makes that reminder moot
    assert "  dropped talk/reminder-1d/bsky/sv: superseded by announcement" in text


def test_no_request_reaches_an_account_before_its_rate_limit_resets_not_even_a_lookup(tmp):
    world = World(tmp, at(4, 1, 12))
    x = unkeyed(world, "x", X_UNKEYED, script=["ok", "lose"],
                lookups=[RateLimited("429", account="x", retry_after=at(4, 9, 22))])
    meetup = event("meetup", "sv", "Vårmöte", at(4, 10, 18))
    world.site = site(meetup)
    world.run_until(at(4, 9, 20, 30))      # the reminder's answer was lost at 18:00
    world.site = site(meetup, event("talk", "sv", "Föredrag", at(4, 20, 18)))   # others post
    world.clock.now = at(4, 9, 21)
    world.run_until(at(4, 9, 23))
    limited = next(when for when, call in x.calls if call == "find")
    assert limited == at(4, 9, 18, 0, 30)                # the lookup that met the 429
    assert not [c for c in x.calls if limited < c[0] < at(4, 9, 22)]
    assert [line for _, line, _ in world.got("bsky")][-1] == "Föredrag"
    reminder = world.ledger.entry(PostKey("meetup", "reminder-1d", "x", "sv"))
    assert reminder.state == "posted"             # looked up after the reset, and found


def test_the_daily_cap_never_splits_a_language_pair_on_the_platform(tmp):
    world = World(tmp, at(4, 1, 12), config=bilingual_x(daily_cap=1))
    world.site = site(*VARMOTE_LATER)
    world.run_until(at(4, 1, 13))
    assert world.got("x") == [("04-01 12:00 CEST", "Vårmöte", None),
                              ("04-01 12:00 CEST", "Spring meetup", "dry-1")]


def test_a_lost_answer_on_the_fake_x_is_found_among_recent_posts_and_keeps_its_thread(tmp):
    from bot.platforms.x import XPublisher
    from tests.fakes.x import FakeX

    now = datetime.now(ZONE).replace(microsecond=0)          # X's fake keeps real times
    with FakeX() as fake:
        world = World(tmp, now, config=bilingual_x())
        account = next(a for a in world.config.accounts if a.name == "x")
        world.platforms["x"] = XPublisher(account, fake.credentials(), session=fake.session(),
                                          timeout=2)
        world.runner = Runner(world.config, world.ledger, world.platforms, random=lambda: 0.5,
                              catch_up=True, clock=lambda: world.clock.now)
        world.site = site(*[replace(e, start=now + timedelta(days=20)) for e in VARMOTE])
        fake.fail_next("/2/tweets", 503, after_commit=True)  # made, but the answer is lost
        world.run_until(now + timedelta(minutes=1))
        assert [p.text.splitlines()[0] for p in fake.posts] == ["Vårmöte", "Spring meetup"]
        swedish, english = fake.posts
        assert english.reply_to == swedish.id
        entry = world.ledger.entry(PostKey("varmote", "announcement", "x", "sv"))
        assert entry.platform_id == swedish.id and entry.url.endswith(swedish.id)
        assert not fake.violations


# --- an account that fails before anything is reserved ---------------------------------------

def tokenless(platform: str, account):
    """The real adapter of `account` without any credentials (it reaches no server)."""
    from bot.platforms.bluesky import BlueskyPublisher
    from bot.platforms.mastodon import MastodonPublisher
    from bot.platforms.x import XPublisher

    return {"mastodon": MastodonPublisher, "x": XPublisher,
            "bluesky": BlueskyPublisher}[platform](account, {})


ONE_ACCOUNT = {
    "mastodon": {"platform": "mastodon", "languages": ["sv"], "instance": "https://a.example"},
    "x": {"platform": "x", "languages": ["sv"]},
    "bluesky": {"platform": "bluesky", "languages": ["sv"]},
}


@pytest.mark.parametrize("platform", ["mastodon", "x", "bluesky"])
def test_an_account_without_credentials_is_recorded_and_shown_stopped_on_every_platform(
        tmp, platform):
    config = parse_config({"site": {"path": ".", "timezone": "Europe/Stockholm"},
                           "accounts": {"acct": ONE_ACCOUNT[platform]}}, base=tmp)
    ledger = Ledger.open(tmp / "ledger.sqlite3")
    runner = Runner(config, ledger, {"acct": tokenless(platform, config.account("acct"))},
                    catch_up=True)
    world_site = site(event("meetup", "sv", "Vårmöte", at(4, 15, 18)))
    report = runner.tick(world_site, at(4, 1, 12))
    (entry,) = ledger.history()                            # in history, like any failure
    assert (entry.key, entry.state, entry.error_kind, entry.attempts) == (
        PostKey("meetup", "announcement", "acct", "sv"), "failed", "AuthFailed", 1)
    assert entry.life is State.GIVEN_UP and entry.error.startswith("acct: ")
    status = build_status(config, world_site, ledger, now=at(4, 1, 12, 5))
    assert status.accounts[0].stopped == entry and status.exit_code == 6
    assert report.exit_code == 6 and [o.status for o in report.outcomes] == ["failed"]


def test_a_correction_that_fails_before_it_is_composed_is_recorded_too(tmp):
    world = World(tmp, at(4, 1, 12))
    world.site = site(*VARMOTE_LATER)
    world.run_until(at(4, 1, 13))
    world.platforms["masto"] = tokenless("mastodon", world.config.account("masto"))
    world.runner = Runner(world.config, world.ledger, world.platforms, random=lambda: 0.5)
    world.site = site(*[replace(e, start=at(4, 16, 18)) for e in VARMOTE_LATER])   # moved
    report = world.runner.tick(world.site, world.clock.now)
    failed = [e for e in world.ledger.failures() if e.key.account == "masto"]
    assert [(e.key.stage, e.key.lang, e.error_kind) for e in failed] == [
        ("correction", "sv", "AuthFailed")]
    assert report.exit_code == 6


def test_a_digest_that_fails_before_it_is_composed_is_recorded_too(tmp):
    config = parse_config({"site": {"path": ".", "timezone": "Europe/Stockholm"},
                           "stages": [{"name": "reminder", "kind": "reminder", "before": "1d"}],
                           "digests": [{"name": "weekly", "every": "monday 09:00",
                                        "window": "7d"}],
                           "accounts": {"acct": ONE_ACCOUNT["mastodon"]}}, base=tmp)
    ledger = Ledger.open(tmp / "ledger.sqlite3")
    runner = Runner(config, ledger, {"acct": tokenless("mastodon", config.account("acct"))},
                    catch_up=True)
    monday = at(4, 5, 9)
    assert monday.weekday() == 0
    report = runner.tick(site(event("meetup", "sv", "Vårmöte", at(4, 8, 18))), monday)
    digests = [e for e in ledger.history() if e.key.ref.startswith("digest:")]
    assert [(e.state, e.error_kind) for e in digests] == [("failed", "AuthFailed")]
    assert report.exit_code == 6


def test_news_of_an_event_without_a_time_waits_out_quiet_hours_that_end_before_its_morning(tmp):
    # An event on a date alone starts, for Herald, at the morning hour its reminders go (09:00),
    # not at midnight: a correction noticed late the evening before is not urgent enough to
    # break the quiet hours (22:00-08:00), which end before it.
    day = datetime(2027, 4, 15, tzinfo=ZONE)
    fair = [event("fair", "sv", "Mässa", day, date_only=True),
            event("fair", "en", "Fair", day, date_only=True)]
    world = World(tmp, at(4, 1, 12))
    world.site = site(*fair)
    world.run_until(at(4, 14, 23))
    world.site = site(*[replace(e, place="Kulturhuset, Stockholm") for e in fair])
    world.run_until(at(4, 15, 12))
    edits = [(when, line) for when, line, _ in world.got("masto") if line.startswith("EDIT")]
    assert [when for when, _ in edits] == ["04-15 08:00 CEST", "04-15 08:00 CEST"]
    bsky = [when for when, line, _ in world.got("bsky") if line.startswith("✏")]
    assert bsky == ["04-14 23:00 CEST", "04-14 23:00 CEST"]        # no quiet hours there
