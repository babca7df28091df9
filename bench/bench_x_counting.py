"""Time X's weighted-length counting: Herald's counter against twitter-text-parser.

    python bench/bench_x_counting.py [--runs N] [--site DIR]

The texts are what the composer measures: every text field of the site's events and every X
post Herald composes for them (default site: ../shared/fixtures/civictech). Each run counts
all texts once; the first run of Herald's counter compiles its URL pattern. Also times importing
each counter in a fresh process. Prints medians of N runs and the ratio of twitter-text-parser
(the baseline, needs the test extra) to Herald's counter. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import app  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.content import load_site  # noqa: E402
from bot.counting.twitter import weighted_length  # noqa: E402
from bot.service import Selection, preview  # noqa: E402


def texts(site_dir: Path) -> list[str]:
    config = load_config(None, site=site_dir)
    site = load_site(config.site)
    found = []
    for event in site.events:
        found += [event.title, event.excerpt, event.place, f"{event.title} {event.url}"]
    for ref in site.refs():
        start = next(iter(site.versions(ref).values())).start
        found += [post.text for post in preview(
            site, config, now=start - timedelta(days=7),
            selection=Selection(event=ref, platform="x"),
            limits_for=lambda a: app.declared_limits(a, config))]
    return [t for t in found if t]


def timed(count, corpus: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for text in corpus:
            count(text)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def import_time(statement: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--site", type=Path,
                        default=ROOT.parent / "shared" / "fixtures" / "civictech")
    args = parser.parse_args()
    corpus = texts(args.site)
    ours = timed(weighted_length, corpus, args.runs)
    ours_import = import_time("import bot.counting.twitter as t; t.weighted_length('a.se')",
                              args.runs)
    print(f"{len(corpus)} texts, median of {args.runs} runs")
    print(f"{'Herald counter':<22} {ours * 1000:8.1f} ms  start {ours_import * 1000:6.0f} ms")
    try:
        from twitter_text import parse_tweet
    except ImportError:
        print("twitter-text-parser is not installed (pip install -e '.[test]'): no baseline")
        return
    theirs = timed(parse_tweet, corpus, args.runs)
    theirs_import = import_time("from twitter_text import parse_tweet; parse_tweet('a.se')",
                                args.runs)
    print(f"{'twitter-text-parser':<22} {theirs * 1000:8.1f} ms  start "
          f"{theirs_import * 1000:6.0f} ms")
    print(f"ratio: Herald's counter is {theirs / ours:.0f}x faster; "
          f"starts {theirs_import / ours_import:.1f}x faster")


if __name__ == "__main__":
    main()
