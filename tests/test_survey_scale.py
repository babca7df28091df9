"""What a tick computes grows with the number of posts, not with its square.

Not a timed test: it compares two sizes measured in the same run, with a bound far above
linear growth (ten times the events, about ten times the CPU time) and far below what timing
each post against every earlier one cost (about sixty times at these sizes).
`bench/bench_scale.py` measures the real figures.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
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
