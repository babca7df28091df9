"""Time how soon `herald preview` starts printing on the bundled sample, and how long it runs.

    python bench/bench_preview.py [--runs N]

Each run starts a fresh process (as a user would) and notes when the first line of output
arrives and when the process ends. The baseline is `herald --version`: the cost of starting
Python and the command itself. Prints medians and ratios to that baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Return (seconds to the first line of output, seconds to exit) for one run."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    process.stdout.readline()
    first = time.perf_counter() - start
    process.stdout.read()
    process.wait()
    return first, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    import os

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        cases = {
            "baseline: herald --version": ["--version"],
            "herald preview (sample site)": ["preview", "--config", "config.example.toml",
                                             "--now", "2027-01-01T09:00"],
            "herald preview --platform mastodon": ["preview", "--config", "config.example.toml",
                                                   "--now", "2027-01-01T09:00",
                                                   "--platform", "mastodon"],
        }
        timed(cases["herald preview (sample site)"], env)  # warm the image cache once
        results = {name: [timed(args, env) for _ in range(runs)] for name, args in cases.items()}
    base = statistics.median(first for first, _ in results["baseline: herald --version"])
    print(f"{'case':<38} {'first line ms':>14} {'ratio':>7} {'total ms':>10}")
    for name, samples in results.items():
        first = statistics.median(s[0] for s in samples)
        total = statistics.median(s[1] for s in samples)
        print(f"{name:<38} {first * 1000:>14.0f} {first / base:>6.2f}x {total * 1000:>10.0f}")


if __name__ == "__main__":
    main()
