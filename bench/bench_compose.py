"""Time where `herald preview --json` spends its time, stage by stage, in one process.

    python bench/bench_compose.py SITE [--runs N] [--now 2026-03-01T12:00+01:00] [--profile]

Loads SITE (through the parse cache on disk, as `herald preview` does), surveys it on a new
ledger, then times, N times each (default 5), interleaved: composing every post
(`service.forecast`, without images, as `preview --json` does), writing each post's JSON
(`showing_json.item_text`, the exact text `preview --json` prints), and the
two together. Prints the median of each, per post. `--profile [tottime|cumulative]` prints a
cProfile summary of one compose + JSON pass instead.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--now", default="2026-03-01T12:00+01:00")
    parser.add_argument("--profile", nargs="?", const="tottime", choices=("tottime", "cumulative"))
    args = parser.parse_args()

    from bot import app
    from bot.cli.showing_json import item_text
    from bot.config import load_config
    from bot.service import forecast
    from bot.survey import survey

    config = load_config(None, site=args.site)
    now = datetime.fromisoformat(args.now).astimezone(config.site.timezone)
    started = time.perf_counter()
    loaded = app.read_site(config)
    load_s = time.perf_counter() - started
    limits = {a.name: app.declared_limits(a, config) for a in config.accounts}
    started = time.perf_counter()
    found = survey(config, loaded, (), now=now, seen={ref: now for ref in loaded.refs()})
    survey_s = time.perf_counter() - started

    def items() -> list:
        return list(forecast(loaded, config, found, now=now,
                             limits_for=lambda a: limits[a.name]))

    composed = items()

    def write(done: list) -> int:
        return sum(len(item_text(item, [], config)) for item in done)

    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        write(items())
        profile.disable()
        pstats.Stats(profile).sort_stats(args.profile).print_stats(45)
        return

    times: dict[str, list[float]] = {"compose": [], "json": [], "both": []}
    for _ in range(args.runs):
        for name, work in (("compose", items), ("json", lambda: write(composed)),
                           ("both", lambda: write(items()))):
            gc.collect()
            started = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - started)
    posts = len(composed)
    print(f"{args.site}: {len(loaded.events)} files, {posts} posts; load {load_s:.3f} s, "
          f"survey {survey_s:.3f} s")
    print(f"{'stage':<10} {'median s':>9} {'µs/post':>9}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<10} {median:>9.3f} {median / posts * 1e6:>9.1f}")


if __name__ == "__main__":
    main()
