"""Time starting Herald's commands and `herald validate`, side by side with another checkout.

    python bench/bench_startup.py [--baseline DIR] [--sizes 2000,20000] [--runs 5] [--keep DIR]

Every measure runs as a fresh process, `--runs` times, interleaved run by run (this working
copy, the baseline, the naive loop, ...) so that a busy machine slows them alike; the table
gives the median wall and CPU time (CPU from `/usr/bin/time`) and the ratios. The baseline is
another checkout of Herald, such as one made by `git worktree add /tmp/base main`; each
checkout runs from its own folder (PYTHONPATH), with its own caches, from compiled bytecode.

- `herald --version`, `import bot.cli`, and `herald preview` of the bundled sample;
- `herald validate` on synthetic sites (see `synthetic_site.py`; files written an hour ago)
  whose caches an earlier run filled, against the naive loop (`frontmatter.load` on every file,
  as a `python -c` process) of the same run; and, for this working copy, the same with the parse
  cache warm but validate's remembered answers removed before each run (what a first run after
  an upgrade, or a site whose every file changed, costs beyond parsing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_scale import NAIVE, environment, timed  # noqa: E402

ROOT = HERE.parent
NOW = "2027-01-01T09:00"


def commands(tree: Path, sites: dict[int, Path]) -> dict[str, list[str]]:
    herald = [sys.executable, "-m", "bot"]
    found = {
        "herald --version": herald + ["--version"],
        "import bot.cli": [sys.executable, "-c", "import bot.cli"],
        "preview of the sample": herald + ["preview", "--config",
                                           str(tree / "config.example.toml"), "--now", NOW],
    }
    for size, site in sites.items():
        found[f"validate {size:,} files"] = herald + ["validate", "--site", str(site)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="Another checkout of Herald to compare.")
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="Build the sites here and keep them.")
    args = parser.parse_args()
    from synthetic_site import build_site

    folder = args.keep or Path(tempfile.mkdtemp(prefix="herald-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.runs} runs, load "
          f"average {os.getloadavg()[0]:.1f} at the start", flush=True)
    try:
        sites = {}
        hour_ago = time.time_ns() - 3600 * 10**9
        for size in map(int, args.sizes.split(",")):
            sites[size] = folder / f"site-{size}"
            if not (sites[size] / "_events").exists():    # kept from an earlier run: reused
                build_site(sites[size], size)
            for path in (sites[size] / "_events").iterdir():
                os.utime(path, ns=(hour_ago, hour_ago))
        trees = {"this": ROOT}
        if args.baseline is not None:
            trees["baseline"] = args.baseline.resolve()
        envs = {}       # each checkout, and each site, with caches of its own
        for name, tree in trees.items():
            for measure, argv in commands(tree, sites).items():
                slug = "-".join("".join(c if c.isalnum() else " " for c in measure).split())
                envs[name, measure] = environment(folder, f"home-{name}-{slug}")
                envs[name, measure]["PYTHONPATH"] = str(tree)
                subprocess.run(argv, env=envs[name, measure], cwd=tree,     # fill the caches
                               capture_output=True)
        samples: dict[tuple[str, str], list[dict]] = {}
        for _ in range(args.runs):
            for size, site in sites.items():
                naive = [sys.executable, "-c", NAIVE.format(events=str(site / "_events"))]
                samples.setdefault(("naive loop", f"validate {size:,} files"), []).append(
                    timed(naive, envs["this", "herald --version"]))
            for name, tree in trees.items():
                for measure, argv in commands(tree, sites).items():
                    samples.setdefault((name, measure), []).append(
                        timed(argv, envs[name, measure], cwd=tree))
            for size in sites:
                measure = f"validate {size:,} files"
                answers = Path(envs["this", measure]["XDG_CACHE_HOME"]) / "herald" / "content"
                for path in answers.glob("*.verdicts.json"):
                    path.unlink()
                samples.setdefault(("answers removed", measure), []).append(
                    timed(commands(ROOT, sites)[measure], envs["this", measure], cwd=ROOT))
                timed(commands(ROOT, sites)[measure], envs["this", measure], cwd=ROOT)  # again
            print(".", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        report(samples, trees)
        print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def report(samples: dict[tuple[str, str], list[dict]], trees: dict[str, Path]) -> None:
    def median(who: str, measure: str, key: str) -> float | None:
        found = samples.get((who, measure))
        return statistics.median(s[key] for s in found) if found else None

    measures = list(dict.fromkeys(measure for _, measure in samples))
    print("| measure | " + " | ".join(f"{who} wall s | {who} CPU s" for who in trees)
          + (" | this / baseline (CPU) |" if "baseline" in trees else " |")
          + " answers removed: wall, CPU s | naive loop: wall, CPU s | this vs naive (CPU) |")
    print("|---" * (4 + 2 * len(trees) + ("baseline" in trees)) + "|")
    for measure in measures:
        cells = [f"{median(who, measure, 'total'):.3f} | {median(who, measure, 'cpu'):.3f}"
                 for who in trees]
        if "baseline" in trees:
            cells.append(_ratio(median("this", measure, "cpu"),
                                median("baseline", measure, "cpu")))
        cold, naive = median("answers removed", measure, "cpu"), median("naive loop", measure,
                                                                         "cpu")
        cells.append(f"{median('answers removed', measure, 'total'):.3f}, {cold:.3f}"
                     if cold is not None else "")
        cells.append(f"{median('naive loop', measure, 'total'):.3f}, {naive:.3f}"
                     if naive is not None else "")
        cells.append(_ratio(median("this", measure, "cpu"), naive) if naive else "")
        print(f"| {measure} | " + " | ".join(cells) + " |")


def _ratio(value: float, base: float) -> str:
    if value <= base:
        return f"{base / value:.2f}x faster"
    return f"{value / base:.2f}x slower"


if __name__ == "__main__":
    main()
