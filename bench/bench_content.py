"""Time loading and planning synthetic sites of 2,000 to 20,000 event files against the naive loop.

    python bench/bench_content.py [--sizes 2000,5000,10000,20000] [--runs 5] [--keep DIR]

For each size it builds a site from the real civictech.se front matter (`synthetic_site.py`)
and measures, each run in a fresh process and all measures interleaved run by run (so a busy
machine slows them alike), the median of `--runs` runs of:

in process (the clock starts after the imports):
- naive loop: `frontmatter.load` on every file, as a user would write it;
- read: reading every file's bytes (the floor for anything that parses);
- Herald load + plan, cold: `load_site` without a cache, then the planner's `plan` over every event, on two
  cores as Herald does for many uncached files, and on one core;
- Herald load + plan, disk cache: the same with the parse cache of an earlier process;
- Herald load + plan, memory cache: the daemon's case, the second load in one process;

whole processes:
- `herald validate`, cold (empty cache folder) and warm (the cache of an earlier run), and
  `herald --version`, the cost of starting Python and the command alone;
- the naive loop as a script (`python -c`, importing python-frontmatter);
- `cat` of every file (`find -print0 | xargs -0 cat`).

It prints one table per size with ratios to the naive loop and to reading the files, peak
memory of the whole processes, and how each measure grows from the smallest to the largest
size (linear growth is the ratio of the sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-03-01T12:00:00+01:00"
NAIVE = ("import glob, frontmatter\n"
         "for path in sorted(glob.glob({events!r} + '/*.md')):\n"
         "    frontmatter.load(path)\n")


# --- measured in a child process -------------------------------------------------------------

def child(measure: str, site: str, cache: str) -> None:
    """Run one in-process measure and print its seconds as JSON (the imports are not timed)."""
    import frontmatter  # noqa: F401 - imported before the clock starts, like Herald's modules

    from bot.config import load_config
    from bot.content import ParseCache, load_site
    from bot.planner import plan

    config = load_config(None, site=site)
    now = datetime.fromisoformat(NOW).astimezone(config.site.timezone)
    files = sorted(str(p) for p in (Path(site) / "_events").glob("*.md"))
    result: dict[str, float] = {}
    if measure == "naive":
        started = time.perf_counter()
        for path in files:
            frontmatter.load(path)
        result["total"] = time.perf_counter() - started
    elif measure == "read":
        started = time.perf_counter()
        for path in files:
            with open(path, "rb") as stream:
                stream.read()
        result["total"] = time.perf_counter() - started
    else:
        if measure == "cold1":
            from bot.content import parallel

            parallel.MIN_FILES = len(files) + 1  # one core
        cache_object = {"cold": None, "cold1": None,
                        "disk": ParseCache.for_site(config.site, cache),
                        "memory": ParseCache()}[measure]
        if measure == "memory":
            load_site(config.site, cache=cache_object)
        started = time.perf_counter()
        loaded = load_site(config.site, cache=cache_object)
        middle = time.perf_counter()
        plan([loaded.versions(ref) for ref in loaded.refs()], config.stages, config.accounts,
             now=now, grace=config.grace, zone=config.site.timezone)
        ended = time.perf_counter()
        result = {"total": ended - started, "load": middle - started, "plan": ended - middle}
        if measure == "disk":
            cache_object.save()  # for the next run (the first run prepares it)
    print(json.dumps(result))


# --- the harness ------------------------------------------------------------------------------

def timed(args: list[str], env: dict[str, str], shell: bool = False) -> tuple[float, float, str]:
    """Run a whole process; return (wall seconds, peak resident MB, its stdout)."""
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=env["BENCH_CWD"], env=env, shell=shell,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, out.decode("utf-8", "replace")


def measure_size(files: int, runs: int, folder: Path) -> dict[str, dict]:
    from synthetic_site import build_site

    site = build_site(folder / f"site-{files}", files)
    hour_ago = time.time_ns() - 3600 * 10**9
    for path in (site / "_events").iterdir():
        os.utime(path, ns=(hour_ago, hour_ago))
    events = str(site / "_events")
    warm_cache, cwd = folder / f"cache-{files}", folder / f"cwd-{files}"
    cwd.mkdir()
    env = {**os.environ, "BENCH_CWD": str(cwd), "XDG_CACHE_HOME": str(warm_cache),
           "PYTHONPATH": str(ROOT)}
    env.pop("HERALD_CONFIG", None)
    herald = [sys.executable, "-m", "bot"]
    script = [sys.executable, str(Path(__file__).resolve()), "--child"]
    disk_cache = folder / f"disk-{files}"
    subprocess.run(script + ["disk", str(site), str(disk_cache)], env=env, cwd=cwd,
                   check=True, capture_output=True)
    subprocess.run(herald + ["validate", "--site", str(site)], env=env, cwd=cwd,
                   capture_output=True)
    samples: dict[str, list] = {}

    def add(name: str, value) -> None:
        samples.setdefault(name, []).append(value)

    for _ in range(runs):
        for measure in ("naive", "read", "cold", "cold1", "disk", "memory"):
            _, _, out = timed(script + [measure, str(site), str(disk_cache)], env)
            add(measure, json.loads(out))
        cold_env = {**env, "XDG_CACHE_HOME": str(folder / "empty-cache")}
        shutil.rmtree(folder / "empty-cache", ignore_errors=True)
        add("validate cold", timed(herald + ["validate", "--site", str(site)], cold_env)[:2])
        add("validate warm", timed(herald + ["validate", "--site", str(site)], env)[:2])
        add("start-up", timed(herald + ["--version"], env)[:2])
        add("naive process", timed([sys.executable, "-c", NAIVE.format(events=events)],
                                   env)[:2])
        add("cat", timed(f"find {events} -name '*.md' -print0 | xargs -0 cat > /dev/null",
                         env, shell=True)[:2])
    summary = {}
    for name, values in samples.items():
        if isinstance(values[0], dict):
            summary[name] = {key: statistics.median(v[key] for v in values)
                             for key in values[0]}
        else:
            summary[name] = {"total": statistics.median(v[0] for v in values),
                             "peak_mb": statistics.median(v[1] for v in values)}
    return summary


LABELS = {
    "naive": "naive loop (in process)",
    "read": "read every file (in process)",
    "cold": "Herald load + plan, no cache",
    "cold1": "the same on one core",
    "disk": "Herald load + plan, disk cache",
    "memory": "Herald load + plan, memory cache",
    "validate cold": "herald validate, cold",
    "validate warm": "herald validate, warm",
    "start-up": "herald --version (start-up alone)",
    "naive process": "naive loop (whole process)",
    "cat": "cat of every file",
}


def report(results: dict[int, dict[str, dict]]) -> None:
    for files, summary in results.items():
        print(f"\n{files:,} files")
        print("| measure | median s | vs naive | vs read/cat | load s | plan s | peak MB |")
        print("|---|---|---|---|---|---|---|")
        for name, label in LABELS.items():
            row = summary[name]
            whole = name in ("validate cold", "validate warm", "start-up", "naive process", "cat")
            naive = summary["naive process" if whole else "naive"]["total"]
            floor = summary["cat" if whole else "read"]["total"]
            print(f"| {label} | {row['total']:.3f} | {_ratio(row['total'], naive)} | "
                  f"{row['total'] / floor:.1f}x | {_maybe(row, 'load')} | "
                  f"{_maybe(row, 'plan')} | {_maybe(row, 'peak_mb', '.0f')} |")
    sizes = sorted(results)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\ngrowth from {small:,} to {large:,} files (linear: {large / small:.1f}x)")
        print("| measure | growth | µs per file at each size |")
        print("|---|---|---|")
        for name, label in LABELS.items():
            times = [results[size][name]["total"] for size in sizes]
            per_file = ", ".join(f"{1e6 * t / size:.0f}" for t, size in zip(times, sizes))
            print(f"| {label} | {times[-1] / times[0]:.1f}x | {per_file} |")


def _ratio(value: float, naive: float) -> str:
    return f"{naive / value:.1f}x faster" if value <= naive else f"{value / naive:.1f}x slower"


def _maybe(row: dict, key: str, spec: str = ".3f") -> str:
    return format(row[key], spec) if key in row else ""


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,5000,10000,20000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="Build the sites here and keep them.")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sizes = [int(size) for size in args.sizes.split(",")]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="herald-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.runs} runs, "
          f"sites in {folder}", flush=True)
    try:
        results = {}
        for size in sizes:
            results[size] = measure_size(size, args.runs, folder)
            print(f"measured {size:,} files", file=sys.stderr, flush=True)
        report(results)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
