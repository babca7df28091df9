"""Loading and planning cost grows with the number of event files, not with its square.

Not a timed test: it compares two sizes measured in the same run, with a bound between linear
growth (10 times the files, about 10 times the CPU time) and what a quadratic index cost here
(about 40 times).
`bench/bench_content.py` measures the real figures.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from bench.synthetic_site import build_site
from bot.config import load_config
from bot.content import ParseCache, load_site
from bot.planner import plan

NOW = datetime(2026, 3, 1, 12, tzinfo=ZoneInfo("Europe/Stockholm"))
SMALL, LARGE = 300, 3000


def cpu_seconds_to_load_and_plan(root) -> float:
    config = load_config(None, site=root)
    for path in (root / "_events").iterdir():
        os.utime(path, ns=(time.time_ns() - 3600 * 10**9,) * 2)
    cache = ParseCache()
    load_site(config.site, cache=cache)
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        site = load_site(config.site, cache=cache)
        for ref in site.refs():
            site.versions(ref)
        plan([site.versions(ref) for ref in site.refs()], config.stages, config.accounts,
             now=NOW, grace=config.grace, zone=config.site.timezone)
        best = min(best, time.process_time() - started)
    return best


def test_loading_and_planning_ten_times_the_files_costs_about_ten_times_as_much(tmp_path,
                                                                                monkeypatch):
    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    small = cpu_seconds_to_load_and_plan(build_site(tmp_path / "small", SMALL))
    large = cpu_seconds_to_load_and_plan(build_site(tmp_path / "large", LARGE))
    assert large / max(small, 1e-3) < 20, (small, large)


def _tagged(item: int) -> tuple[int, int]:
    return item, os.getpid()


def test_many_uncached_files_are_parsed_half_in_a_helper_process_in_the_same_order(
        monkeypatch):
    from bot.content import parallel

    monkeypatch.setattr(parallel, "_can_fork", lambda: True)
    results = parallel.parse_all(list(range(2000)), _tagged)
    assert [item for item, _ in results] == list(range(2000))
    assert {pid for _, pid in results[:1000]} == {os.getpid()}
    assert os.getpid() not in {pid for _, pid in results[1000:]}


def test_a_site_parsed_on_two_cores_is_the_site_parsed_on_one(tmp_path, monkeypatch):
    from bot.content import parallel

    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    config = load_config(None, site=build_site(tmp_path / "site", 1200))
    monkeypatch.setattr(parallel, "_can_fork", lambda: False)
    one = load_site(config.site)
    monkeypatch.setattr(parallel, "_can_fork", lambda: True)
    two = load_site(config.site)
    assert (one.events, one.drafts, one.problems) == (two.events, two.drafts, two.problems)
