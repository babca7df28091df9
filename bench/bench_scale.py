"""Measure every row of Herald's scale goals on synthetic sites of 2,000 to 20,000 event files.

    python bench/bench_scale.py [--sizes 2000,5000,10000,20000] [--runs 3] [--keep DIR]
                                [--skip due,preview20k]

Each site is built by `synthetic_site.py` from the real civictech.se front matter (a Swedish
and an English file per event, starts between 2020 and 2030, one event in three with a real
image). Every measure runs in a fresh process, `--runs` times, interleaved run by run so that
a busy machine slows them alike; the tables give medians, the ratio to the naive loop
(`frontmatter.load` on every file) and to `cat` of every file, measured in the same runs, and
how each measure grows from the smallest site to the largest (linear growth is the ratio of
the sizes). Preview and planning pretend it is 2026-03-01 12:00 (`--now`); `herald run`
runs on the real clock, with the built-in configuration (three accounts, two languages, an
announcement and two reminders), so about four events in ten are still to come.

Whole processes (wall time, and peak memory from the operating system):
- `herald preview --json`, and the same with the peak memory of the largest site;
- `herald validate` with the parse cache of an earlier run;
- `herald run --once` on a new ledger (the parse cache warm): also the bytes it wrote;
- `herald run --once` again on that ledger, and `herald run` until it first waits;
- the daemon's lateness: `herald run` against a fake Mastodon on 127.0.0.1, from the moment a
  reminder is due to the first request for it;
- the naive loop (`python -c`, importing python-frontmatter) and `cat` of every file.
In one process (the imports are not timed):
- the naive loop and reading every file, the baselines of what follows;
- load (parse cache in memory, as the daemon holds it) + plan every event, and + the survey a
  tick makes (what is due before the next wake);
- the daemon's re-scan: nothing changed, one file changed, and the stat of every file alone;
- the whole survey (`herald status` and `preview` make it) and its growth.
Without a site: `herald preview` of the bundled sample, and the whole history of the real
civictech.se events (`--now 2018-01-01`, as text and as `--json`), against `herald --version`
and `import bot.cli`, each three times as often as `--runs`.

The first table holds every goal with its verdict; then one table per size, and the growth.
Peak memory and CPU time are those `/usr/bin/time` reports for each process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "civictech"
ZONE = ZoneInfo("Europe/Stockholm")
NOW = "2026-03-01T12:00:00+01:00"
NAIVE = ("import glob, frontmatter\n"
         "for path in sorted(glob.glob({events!r} + '/*.md')):\n"
         "    frontmatter.load(path)\n")
DUE_LEAD = 40.0
"""Seconds from writing the bench's event to its reminder being due (room for a start)."""


# --- measured in a child process -------------------------------------------------------------

def child(measure: str, site: str) -> None:
    """Run one in-process measure and print its figures as JSON (the imports are not timed)."""
    import gc

    from bot.config import load_config
    from bot.content import ParseCache, load_site
    from bot.planner import plan
    from bot.survey import survey
    from bot.timing import PLANNING_HORIZON

    config = load_config(None, site=site)
    zone = config.site.timezone
    now = datetime.fromisoformat(NOW).astimezone(zone)
    result: dict[str, float] = {}
    if measure in ("naive", "read"):
        import frontmatter

        files = sorted(str(p) for p in (Path(site) / "_events").glob("*.md"))
        started = time.perf_counter()
        for path in files:
            if measure == "naive":
                frontmatter.load(path)
            else:
                with open(path, "rb") as stream:
                    stream.read()
        print(json.dumps({"total": time.perf_counter() - started}))
        return
    cache = ParseCache()
    loaded = load_site(config.site, cache=cache)
    gc.freeze()     # as `herald run` does once it has loaded the site (`Daemon(freeze=True)`)
    seen = {ref: now for ref in loaded.refs()}
    if measure == "plan":
        started = time.perf_counter()
        loaded = load_site(config.site, cache=cache)
        middle = time.perf_counter()
        plan([loaded.versions(ref) for ref in loaded.refs()], config.stages, config.accounts,
             now=now, grace=PLANNING_HORIZON, zone=zone)
        ended = time.perf_counter()
        result = {"total": ended - started, "load": middle - started, "plan": ended - middle}
    elif measure == "tick":
        # What a tick computes: the survey up to the next wake (the runner's first look-ahead),
        # here on a new ledger whose first run is now.
        from bot.runner.tick import LOOKAHEAD

        started = time.perf_counter()
        loaded = load_site(config.site, cache=cache)
        middle = time.perf_counter()
        found = survey(config, loaded, (), now=now, seen=seen, safe_since=now,
                       lookahead=LOOKAHEAD)
        ended = time.perf_counter()
        result = {"total": ended - started, "load": middle - started, "plan": ended - middle,
                  "posts": len(found.plan.posts)}
    elif measure == "survey":
        started = time.perf_counter()
        found = survey(config, loaded, (), now=now, seen=seen)
        result = {"total": time.perf_counter() - started, "posts": len(found.plan.posts)}
    elif measure == "rescan":
        result = _rescan(config)
    print(json.dumps(result))


def _rescan(config) -> dict[str, float]:
    """The daemon's look at the site: nothing changed, one file changed, and the stat floor."""
    from bot.daemon import Daemon, Setup
    from bot.ledger import Ledger
    from bot.service import no_attachments

    with tempfile.TemporaryDirectory() as folder:
        with Ledger.open(Path(folder) / "ledger.sqlite3") as ledger:
            setup = Setup(config, {}, no_attachments)
            daemon = Daemon(lambda: setup, ledger, initial=setup, freeze=True)  # as herald run
            daemon.check_content()
            started = time.perf_counter()
            assert not daemon.check_content()
            same = time.perf_counter() - started
            events = Path(config.site.root) / config.site.events_dir
            path = sorted(events.glob("*.md"))[len(list(events.glob("*.md"))) // 2]
            path.write_text(path.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
            started = time.perf_counter()
            assert daemon.check_content()
            changed = time.perf_counter() - started
            started = time.perf_counter()
            for entry in os.scandir(events):
                entry.stat(follow_symlinks=False)
            floor = time.perf_counter() - started
    return {"total": changed, "same": same, "floor": floor}


# --- the harness ------------------------------------------------------------------------------

def timed(args, env: dict[str, str], *, shell: bool = False, cwd=None,
          until: bytes | None = None) -> dict[str, float]:
    """Run a whole process; return wall seconds, CPU seconds, peak resident MB, MB written.

    The peak and the CPU time come from `/usr/bin/time`, whose own small process starts the
    command: the peak the kernel keeps for a child of this (larger) process would include the
    copy of this process it was forked from. With `until`, stop timing at the first line of
    its standard error holding `until`, then stop the process with SIGTERM (as a service
    manager does) and wait for it; no peak or CPU time is given then.
    """
    command = ["sh", "-c", args] if shell else list(args)
    report = None
    if until is None:
        report = tempfile.NamedTemporaryFile("r", prefix="herald-bench-time-", suffix=".txt")
        command = ["/usr/bin/time", "-f", "%M %U %S", "-o", report.name, *command]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd or env["BENCH_CWD"], env=env,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE if until else subprocess.DEVNULL)
    elapsed = None
    if until is not None:
        assert process.stderr is not None
        for line in process.stderr:
            if until in line:
                elapsed = time.perf_counter() - started
                break
        process.send_signal(signal.SIGTERM)
        process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    if elapsed is None:
        elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 2):
        raise SystemExit(f"{args if isinstance(args, str) else ' '.join(map(str, args))}: "
                         f"exit code {code}")
    result = {"total": elapsed, "written_mb": usage.ru_oublock * 512 / 1e6}
    if report is not None:
        with report:
            peak_kb, user, system = report.read().split("\n")[-2].split()
        result.update(cpu=float(user) + float(system), peak_mb=int(peak_kb) / 1024)
    return result


def in_child(measure: str, site: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", measure,
                          str(site)], env=env, cwd=env["BENCH_CWD"], capture_output=True,
                         check=True)
    return json.loads(out.stdout)


def environment(folder: Path, name: str) -> dict[str, str]:
    """A process environment whose caches and ledger live in `folder/name`."""
    home = folder / name
    (home / "cwd").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BENCH_CWD": str(home / "cwd"), "XDG_CACHE_HOME": str(home / "cache"),
           "XDG_DATA_HOME": str(home / "data"), "PYTHONPATH": str(ROOT),
           "PYTHONPYCACHEPREFIX": str(folder / "bytecode")}
    # As installed: Herald's modules run from compiled bytecode (pip compiles them; a working
    # copy whose environment turns the bytecode cache off would compile every module at every
    # start, about 0.2 s), kept beside the sites rather than in the working copy.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("HERALD_CONFIG", None)
    return env


def measure_size(files: int, runs: int, folder: Path, skip: set[str]) -> dict[str, dict]:
    from synthetic_site import build_site

    site = build_site(folder / f"site-{files}", files)
    hour_ago = time.time_ns() - 3600 * 10**9
    for path in (site / "_events").iterdir():
        os.utime(path, ns=(hour_ago, hour_ago))
    events = str(site / "_events")
    env = environment(folder, f"home-{files}")
    herald = [sys.executable, "-m", "bot"]
    preview = herald + ["preview", "--site", str(site), "--json", "--now", NOW]
    subprocess.run(herald + ["validate", "--site", str(site)], env=env, cwd=env["BENCH_CWD"],
                   capture_output=True)                              # the parse cache, warm
    samples: dict[str, list] = {}

    def add(name: str, value) -> None:
        samples.setdefault(name, []).append(value)

    for run in range(runs):
        add("naive process", timed([sys.executable, "-c", NAIVE.format(events=events)], env))
        add("cat", timed(f"find {events} -name '*.md' -print0 | xargs -0 cat > /dev/null",
                         env, shell=True))
        add("validate", timed(herald + ["validate", "--site", str(site)], env))
        if files <= 5000 or "preview20k" not in skip:
            add("preview", timed(preview, env))
        for measure in ("naive", "read", "plan", "tick", "survey", "rescan"):
            add(measure, in_child(measure, site, env))
        fresh = environment(folder, f"once-{files}-{run}")
        shutil.copytree(Path(env["XDG_CACHE_HOME"]), Path(fresh["XDG_CACHE_HOME"]))
        once = timed(herald + ["run", "--once", "--site", str(site)], fresh)
        ledger = Path(fresh["XDG_DATA_HOME"]) / "herald" / "ledger.sqlite3"
        once["ledger_mb"] = ledger.stat().st_size / 1e6
        add("run once new", once)
        add("run once again", timed(herald + ["run", "--once", "--site", str(site)], fresh))
        add("run start", timed(herald + ["run", "--site", str(site)], fresh,
                               until=b"waiting"))
        if "due" not in skip:
            add("due", due_lateness(site, folder / f"due-{files}-{run}", env))
        shutil.rmtree(Path(fresh["XDG_DATA_HOME"]).parent, ignore_errors=True)
        print(f"  {files:,} files: run {run + 1} of {runs} done", file=sys.stderr, flush=True)
    return summarise(samples)


def summarise(samples: dict[str, list]) -> dict[str, dict]:
    """The median of each figure over the runs that have it."""
    return {name: {key: statistics.median(v[key] for v in values if key in v)
                   for key in dict.fromkeys(k for v in values for k in v)}
            for name, values in samples.items()}


def due_lateness(site: Path, home: Path, env: dict[str, str]) -> dict[str, float]:
    """How late after its due time `herald run` makes the first request for a reminder."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.mastodon import FakeMastodon

    class Timed(FakeMastodon):
        def __init__(self) -> None:
            super().__init__()
            self.arrivals: list[tuple[float, str, str]] = []
            for number, (method, pattern, handler) in enumerate(self.server.routes):
                self.server.routes[number] = (method, pattern, self._timed(handler))

        def _timed(self, handler):
            def wrapped(request, params):
                self.arrivals.append((time.time(), request.method, request.path))
                return handler(request, params)
            return wrapped

    home.mkdir(parents=True)
    event = site / "_events" / "bench-due.md"
    with Timed() as mastodon:
        config = home / "herald.toml"
        config.write_text(f'ledger = "{home / "ledger.sqlite3"}"\n'
                          f'[site]\npath = "{site}"\ntimezone = "Europe/Stockholm"\n'
                          f'[images]\ncache_dir = "{home / "cache"}"\n'
                          f'[accounts.masto]\nplatform = "mastodon"\n'
                          f'instance = "{mastodon.url}"\nlanguages = ["sv", "en"]\n'
                          f'min_gap = "0s"\n', encoding="utf-8")
        penv = {**env, "HERALD_MASTO_ACCESS_TOKEN": mastodon.token,
                "XDG_CACHE_HOME": str(home / "xdg")}
        subprocess.run([sys.executable, "-m", "bot", "validate", "--config", str(config)],
                       env=penv, cwd=env["BENCH_CWD"], capture_output=True)  # the parse cache
        due = float(int(time.time() + DUE_LEAD))   # the reminder two hours before the start
        start = datetime.fromtimestamp(due, ZONE) + timedelta(hours=2)
        event.write_text(f"---\ntitle: Bench due\nref: bench-due\nlang: sv\nevent-date: "
                         f"{start:%Y-%m-%d %H:%M:%S}\nplace: Goto 10\n---\nVälkomna!\n",
                         encoding="utf-8")
        try:
            subprocess.run([sys.executable, "-m", "bot", "run", "--once", "--config",
                            str(config)], env=penv, cwd=env["BENCH_CWD"], capture_output=True,
                           check=True)          # a first run: the backlog is skipped
            after = len(mastodon.arrivals)
            process = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config",
                                        str(config)], env=penv, cwd=env["BENCH_CWD"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            waiting: list[float] = []

            def watch() -> None:        # when the daemon first sleeps: it must be before due
                assert process.stderr is not None
                for line in process.stderr:
                    if b"waiting" in line and not waiting:
                        waiting.append(time.time())

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            posted: list[float] = []
            try:
                while time.time() < due + 30:
                    posted = [t for t, method, path in mastodon.arrivals[after:]
                              if method == "POST" and t >= due]
                    if posted and any("Bench due" in s["text"] for s in mastodon.status_list()):
                        break
                    time.sleep(0.05)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
                watcher.join(5)
        finally:
            event.unlink()
    if not posted:
        print("  the daemon did not post the reminder within 30 s of its due time",
              file=sys.stderr)
        return {}
    if not waiting or waiting[0] > due:
        print("  the daemon was still starting when the reminder fell due (raise DUE_LEAD): "
              "this run is left out", file=sys.stderr)
        return {}
    return {"total": min(posted) - due, "slack": due - waiting[0]}


def measure_fixed(runs: int, folder: Path) -> dict[str, dict]:
    """The bundled sample and the real site's whole history: no synthetic site."""
    env = environment(folder, "fixed")
    herald = [sys.executable, "-m", "bot"]
    sample = herald + ["preview", "--config", str(ROOT / "config.example.toml"), "--now",
                       "2027-01-01T09:00"]
    history = herald + ["preview", "--config", str(ROOT / "config.example.toml"), "--site",
                        str(FIXTURES), "--now", "2018-01-01T00:00+01:00"]
    history_json = history + ["--json"]
    for args in (sample, history):                     # warm the image and parse caches
        subprocess.run(args, env=env, cwd=ROOT, capture_output=True)
    samples: dict[str, list] = {}
    for _ in range(runs * 3):
        for name, args in (("version", herald + ["--version"]),
                           ("import", [sys.executable, "-c", "import bot.cli"]),
                           ("sample", sample), ("history", history),
                           ("history json", history_json)):
            samples.setdefault(name, []).append(timed(args, env, cwd=ROOT))
    return summarise(samples)


# --- the report -------------------------------------------------------------------------------

def report(results: dict[int, dict[str, dict]], fixed: dict[str, dict] | None) -> None:
    sizes = sorted(results)
    biggest = sizes[-1]

    def row(size: int, name: str, key: str = "total") -> float | None:
        found = results.get(size, {}).get(name)
        return None if found is None or key not in found else found[key]

    print("\n## Against the goals\n")
    print("| measure | Herald | baseline | vs naive loop | vs cat | goal | met? |")
    print("|---|---|---|---|---|---|---|")

    def goal(measure: str, herald: str, baseline: str, value: float | None, size: int | None,
             target: str, verdict: str, *, process: bool = True) -> None:
        if value is None:
            return
        vs_naive = vs_cat = ""
        if size is not None:
            naive = row(size, "naive process" if process else "naive")
            cat = row(size, "cat" if process else "read")
            vs_naive, vs_cat = _ratio(value, naive), f"{value / cat:.1f}x cat"
        print(f"| {measure} | {herald} | {baseline} | {vs_naive} | {vs_cat} | {target} | "
              f"{verdict} |")

    for size in sizes:
        value, peak = row(size, "preview"), row(size, "preview", "peak_mb")
        if value is None or size > 5000:
            continue
        naive, limit = row(size, "naive process"), 100 if size <= 2000 else 150
        goal(f"`preview --json`, {size:,} files", f"{value:.2f} s, {peak:.0f} MB",
             f"naive {naive:.2f} s", value, size,
             f"faster than the naive loop, <= {limit} MB",
             _both(_verdict(value, naive, "s"), _verdict(peak, limit, "MB")))
    for size in sizes:
        value, naive = row(size, "validate"), row(size, "naive process")
        goal(f"`validate`, {size:,} files (parse cache warm)", f"{value:.2f} s",
             f"naive {naive:.2f} s", value, size, ">= 3.5x faster than the naive loop",
             _verdict(value, naive / 3.5, "s"))
    for size in sizes:
        value = row(size, "plan")
        goal(f"load + plan every event in process, {size:,} files", f"{value:.2f} s (load "
             f"{row(size, 'plan', 'load'):.2f}, plan {row(size, 'plan', 'plan'):.2f})",
             f"naive {row(size, 'naive'):.2f} s, read {row(size, 'read'):.2f} s", value, size,
             "<= 0.6 s" if size == biggest else "", _verdict(value, 0.6, "s")
             if size == biggest else "", process=False)
    value = row(biggest, "tick")
    goal(f"load + a tick's survey in process, {biggest:,} files", f"{value:.2f} s (load "
         f"{row(biggest, 'tick', 'load'):.2f}, survey {row(biggest, 'tick', 'plan'):.2f})",
         f"naive {row(biggest, 'naive'):.2f} s", value, biggest, "<= 0.6 s",
         _verdict(value, 0.6, "s"), process=False)
    for size in sizes:
        value = row(size, "run start")
        goal(f"`herald run` start on {size:,} files, until it first waits", f"{value:.2f} s",
             "", value, size, "<= 1 s", _verdict(value, 1.0, "s"))
    for size in sizes:
        value = row(size, "due")
        goal(f"daemon: due time to first request, {size:,} files", f"{value:.2f} s"
             if value is not None else "", "the smallest site: "
             + (f"{row(sizes[0], 'due'):.2f} s" if row(sizes[0], "due") is not None else "-"),
             value, None,
             "<= 2 s at any size", _verdict(value, 2.0, "s") if value is not None else "")
    for size in sizes:
        value, floor = row(size, "rescan"), row(size, "rescan", "floor")
        goal(f"daemon re-scan, one file changed, {size:,} files", f"{value:.3f} s",
             f"stat of all {floor:.3f} s ({value / floor:.1f}x)", value, None, "<= 0.05 s",
             _verdict(value, 0.05, "s"))
    for size in sizes:
        value, floor = row(size, "rescan", "same"), row(size, "rescan", "floor")
        goal(f"daemon re-scan, nothing changed, {size:,} files", f"{value:.3f} s",
             f"stat of all {floor:.3f} s ({value / floor:.1f}x)", value, None, "<= 0.05 s",
             _verdict(value, 0.05, "s"))
    for size in sizes:
        value, peak = row(size, "run once new"), row(size, "run once new", "peak_mb")
        goal(f"`run --once`, {size:,} files, new ledger", f"{value:.2f} s, {peak:.0f} MB; "
             f"wrote {row(size, 'run once new', 'written_mb'):.0f} MB for a "
             f"{row(size, 'run once new', 'ledger_mb'):.1f} MB ledger", "", value, size,
             "<= 2 s, <= 150 MB", _both(_verdict(value, 2.0, "s"), _verdict(peak, 150, "MB")))
    for size in sizes:
        value, peak = row(size, "preview"), row(size, "preview", "peak_mb")
        if value is None or size < biggest:
            continue
        goal(f"`preview --json` peak memory, {size:,} files", f"{peak:.0f} MB "
             f"({value:.1f} s)", "", value, size, "<= 150 MB, streamed",
             _verdict(peak, 150, "MB"))
    if fixed:
        base, version = fixed["import"], fixed["version"]
        sample = fixed["sample"]
        goal("`preview` of the bundled sample, whole process", f"{sample['total']:.2f} s wall, "
             f"{sample['cpu']:.2f} s CPU", f"`import bot.cli` {base['total']:.3f} s wall, "
             f"{base['cpu']:.3f} s CPU; `herald --version` {version['total']:.3f} s",
             sample["total"], None, "<= 0.3 s whole process",
             f"{_verdict(sample['total'], 0.3, 's')} wall, {_verdict(sample['cpu'], 0.3, 's')}"
             f" CPU ({sample['cpu'] / base['cpu']:.1f}x the import)")
        history = fixed["history"]
        goal("whole-history preview of civictech.se (`--now 2018-01-01`), warm",
             f"{history['total']:.2f} s wall, {history['cpu']:.2f} s CPU", "", history["total"],
             None, "<= 1 s", _verdict(history["total"], 1.0, "s"))
        if "history json" in fixed:
            history = fixed["history json"]
            goal("the same with `--json`", f"{history['total']:.2f} s wall, "
                 f"{history['cpu']:.2f} s CPU", "", history["total"], None, "<= 1 s",
                 _verdict(history["total"], 1.0, "s"))
    if len(sizes) > 1:
        small = sizes[0]
        for name in ("plan", "validate", "run once new", "preview"):
            if row(small, name) is None or row(biggest, name) is None:
                continue
            growth = row(biggest, name) / row(small, name)
            print(f"| growth {small:,} to {biggest:,} files: {LABELS[name]} | {growth:.1f}x | "
                  f"linear: {biggest / small:.1f}x | | | linear | "
                  f"{'met' if growth <= 1.5 * biggest / small else 'missed'} |")

    for size in sizes:
        print(f"\n{size:,} files\n")
        print("| measure | median s | vs naive loop | vs cat | peak MB |")
        print("|---|---|---|---|---|")
        for name, label in LABELS.items():
            value = row(size, name)
            if value is None:
                continue
            peak = row(size, name, "peak_mb")
            inside = name in IN_PROCESS
            naive = row(size, "naive" if inside else "naive process")
            cat = row(size, "read" if inside else "cat")
            compared = name not in ("due", "rescan")
            print(f"| {label} | {value:.3f} | {_ratio(value, naive) if compared else ''} | "
                  f"{format(value / cat, '.1f') + 'x' if compared else ''} | "
                  f"{'' if peak is None else format(peak, '.0f')} |")
        for key, label in (("same", "daemon re-scan, nothing changed (in process)"),
                           ("floor", "stat of every file (in process)")):
            if row(size, "rescan", key) is not None:
                print(f"| {label} | {row(size, 'rescan', key):.3f} | | | |")
    if len(sizes) > 1:
        small = sizes[0]
        print(f"\ngrowth from {small:,} to {biggest:,} files (linear: "
              f"{biggest / small:.1f}x)\n")
        print("| measure | growth | µs per file at each size |")
        print("|---|---|---|")
        for name, label in LABELS.items():
            times = [row(size, name) for size in sizes]
            if any(t is None for t in times) or name in ("due",):
                continue
            per_file = ", ".join(f"{1e6 * t / size:.0f}" for t, size in zip(times, sizes))
            print(f"| {label} | {times[-1] / times[0]:.1f}x | {per_file} |")


IN_PROCESS = {"naive", "read", "plan", "tick", "survey", "rescan"}
"""Measures timed inside one process: compared with the naive loop and reading, in process."""

LABELS = {
    "naive process": "naive loop (whole process)",
    "cat": "cat of every file",
    "naive": "naive loop (in process)",
    "read": "read every file (in process)",
    "preview": "herald preview --json",
    "validate": "herald validate (warm)",
    "plan": "load + plan every event (in process)",
    "tick": "load + a tick's survey (in process)",
    "survey": "the whole survey (in process)",
    "rescan": "daemon re-scan, one file changed (in process)",
    "run once new": "herald run --once, new ledger",
    "run once again": "herald run --once, again",
    "run start": "herald run until it first waits",
    "due": "due time to the first request",
}


def _verdict(value: float, limit: float, unit: str) -> str:
    return "met" if value <= limit else f"missed by {value / limit:.1f}x ({value - limit:.2f} {unit})"


def _both(first: str, second: str) -> str:
    return "met" if first == second == "met" else f"{first}; {second}"


def _ratio(value: float, base: float) -> str:
    return f"{base / value:.1f}x faster" if value <= base else f"{value / base:.1f}x slower"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,5000,10000,20000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Build the sites here and keep them.")
    parser.add_argument("--skip", default="", help="Leave out: due (the daemon's lateness), "
                        "preview20k (preview --json above 5,000 files), fixed (the sample and "
                        "the real site's history).")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    skip = set(filter(None, args.skip.split(",")))
    sizes = [int(size) for size in args.sizes.split(",")]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="herald-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.runs} runs, load "
          f"average {load[0]:.1f} at the start, sites in {folder}", flush=True)
    try:
        fixed = None if "fixed" in skip else measure_fixed(args.runs, folder)
        results = {}
        for size in sizes:
            results[size] = measure_size(size, args.runs, folder, skip)
        report(results, fixed)
        load = os.getloadavg()
        print(f"\nload average {load[0]:.1f} at the end")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
