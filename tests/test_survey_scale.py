"""What a tick computes grows with the number of posts, not with its square.

Not a timed test: it compares two sizes measured in the same run, with a bound far above
linear growth (ten times the events, about ten times the CPU time) and far below what timing
each post against every earlier one cost (about sixty times at these sizes).
`bench/bench_scale.py` measures the real figures.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import parse_config
from bot.content import Site
from bot.model import Event
from bot.survey import survey

ZONE = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 3, 1, 12, tzinfo=ZONE)
SMALL, LARGE = 200, 2000


def campaign(events: int, root: Path) -> tuple:
    """A site of `events` upcoming events in two languages, and an account with every rule."""
    config = parse_config({
        "site": {"path": ".", "timezone": "Europe/Stockholm"},
        "accounts": {"masto": {"platform": "mastodon", "languages": ["sv", "en"],
                               "instance": "https://social.example", "min_gap": "2m",
                               "daily_cap": 40, "quiet_hours": "22:00-07:00"}}}, base=root)
    found = []
    for n in range(events):
        start = NOW + timedelta(days=2 + n % 365, hours=n % 9)
        for lang in ("sv", "en"):
            found.append(Event(f"event-{n:05d}", lang, f"Event {n}", start,
                               f"https://example.org/{lang}/{n}/", f"_events/{n}-{lang}.md"))
    found.sort(key=lambda e: (e.start, e.ref, e.lang))
    return config, Site(tuple(found), (), ())


def cpu_seconds_to_survey(events: int, root: Path) -> float:
    config, site = campaign(events, root)
    seen = {ref: NOW for ref in site.refs()}
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        found = survey(config, site, (), now=NOW, seen=seen)
        best = min(best, time.process_time() - started)
    assert len(found.arrangement.slots) + len(found.arrangement.skipped) == events * 6
    return best


def test_surveying_ten_times_the_events_costs_about_ten_times_as_much(tmp_path):
    small = cpu_seconds_to_survey(SMALL, tmp_path)
    large = cpu_seconds_to_survey(LARGE, tmp_path)
    assert large / max(small, 1e-3) < 25, (small, large)


# --- a survey that looks only as far ahead as it must ----------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bot.model import PostKey  # noqa: E402

STAGES = [{"name": "announcement", "kind": "announcement"},
          {"name": "early", "kind": "announcement", "before": "7d"},
          {"name": "reminder-1d", "kind": "reminder", "before": "1d"},
          {"name": "reminder-2h", "kind": "reminder", "before": "2h"}]


@st.composite
def campaigns(draw):
    """A small campaign around NOW: events, when each was seen, what is done, what was posted."""
    accounts = {}
    for name in draw(st.lists(st.sampled_from(["masto", "other"]), min_size=1, max_size=2,
                              unique=True)):
        rules = {"min_gap": draw(st.sampled_from(["0s", "5m", "3h"]))}
        if draw(st.booleans()):
            rules["daily_cap"] = draw(st.integers(1, 4))
        if draw(st.booleans()):
            rules["quiet_hours"] = draw(st.sampled_from(["22:00-08:00", "12:00-13:00"]))
        accounts[name] = {"platform": "mastodon", "instance": "https://social.example",
                          "languages": draw(st.sampled_from([["sv"], ["sv", "en"]])), **rules}
    stages = draw(st.lists(st.sampled_from(STAGES), min_size=1, max_size=4, unique_by=str))
    raw = {"site": {"path": ".", "timezone": "Europe/Stockholm"}, "accounts": accounts,
           "stages": stages, "grace": draw(st.sampled_from(["0s", "2h", "1d"]))}
    events, seen = [], {}
    for n in range(draw(st.integers(1, 14))):
        start = NOW + timedelta(minutes=draw(st.integers(-2 * 24 * 60, 40 * 24 * 60)))
        date_only = draw(st.booleans())         # a date alone: upcoming until its day ends
        if date_only:
            start = datetime.combine(start.date(), dt_time(), tzinfo=ZONE)
        ref = f"event-{n}"
        for lang in draw(st.sampled_from([["sv"], ["en"], ["sv", "en"]])):
            events.append(Event(ref, lang, f"Event {n}", start, f"https://example.org/{n}/",
                                f"_events/{n}-{lang}.md", date_only=date_only))
        seen[ref] = NOW - timedelta(minutes=draw(st.integers(0, 20 * 24 * 60)))
    events.sort(key=lambda e: (e.start, e.ref, e.lang))
    keys = [PostKey(e.ref, s["name"], a, e.lang) for e in events for s in stages
            for a in accounts]
    done = set(draw(st.lists(st.sampled_from(keys), max_size=len(keys) // 2)))
    history = {a: sorted(NOW - timedelta(minutes=m) for m in draw(
        st.lists(st.integers(1, 3 * 24 * 60), max_size=6))) for a in accounts}
    safe_since = draw(st.sampled_from([None, NOW, NOW - timedelta(days=3)]))
    return raw, events, seen, done, history, safe_since, draw(st.integers(1, 12))


def _unit_due(posts) -> dict:
    found: dict = {}
    for post in posts:
        unit = (post.key.ref, post.key.stage, post.key.account)
        found[unit] = min(post.due, found.get(unit, post.due))
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(campaigns())
def test_a_survey_that_looks_ahead_a_little_times_every_post_due_by_its_horizon_exactly(
        tmp_path_factory, campaign):
    raw, events, seen, done, history, safe_since, lookahead = campaign
    config = parse_config(raw, base=tmp_path_factory.getbasetemp())
    site = Site(tuple(events), (), ())
    common = dict(now=NOW, seen=seen, safe_since=safe_since, latest={}, history=history,
                  done=done)
    whole = survey(config, site, (), **common)
    part = survey(config, site, (), lookahead=lookahead, **common)
    slots = lambda found: [(s.post.key, s.at, s.why) for s in found]  # noqa: E731
    if part.horizon is None:
        assert slots(part.arrangement.slots) == slots(whole.arrangement.slots)
        assert set(part.arrangement.skipped) == set(whole.arrangement.skipped)
        assert set(part.plan.skipped) == set(whole.plan.skipped)
        return
    horizon = part.horizon
    due = _unit_due(whole.plan.posts)
    near = lambda key: due[(key.ref, key.stage, key.account)] <= horizon  # noqa: E731
    assert slots(part.arrangement.slots) == slots(
        s for s in whole.arrangement.slots if near(s.post.key))
    assert set(part.arrangement.skipped) == {s for s in whole.arrangement.skipped
                                             if near(s.key)}
    assert set(part.plan.skipped) <= set(whole.plan.skipped)
    assert {s for s in whole.plan.skipped if s.due <= horizon} <= set(part.plan.skipped)
    wake = part.next_after(NOW)
    if wake is not None:
        assert wake == whole.next_after(NOW)
