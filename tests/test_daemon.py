"""The daemon in real time: sleeping until due, re-reading the site, signals, the lock, kills."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot
from bot.config import parse_config
from bot.daemon import Daemon, Setup, content_state
from bot.ledger import Ledger
from bot.model import Limits, OutgoingPost, PostKey, Published
from bot.platforms.recording import RecordingPublisher
from bot.service import no_attachments

ZONE = ZoneInfo("Europe/Stockholm")
PROJECT = str(Path(bot.__file__).resolve().parents[1])
LIMITS = Limits("mastodon", 500, "mastodon", url_weight=23)


def write_event(root: Path, ref: str, start: datetime, *, lang: str = "sv",
                title: str | None = None) -> Path:
    path = root / "_events" / f"{ref}-{lang}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: \"{title or ref.title()}\"\nref: {ref}\nlang: {lang}\n"
                    f"event-date: {start.astimezone(ZONE):%Y-%m-%d %H:%M:%S}\n"
                    f"place: Goto 10\n---\nVälkomna!\n", encoding="utf-8")
    return path


@dataclass
class Timed(RecordingPublisher):
    """Notes the real time each post arrived."""

    times: list = field(default_factory=list)

    def publish(self, post: OutgoingPost) -> Published:
        published = super().publish(post)
        self.times.append((datetime.now(ZONE), post.text.splitlines()[0]))
        return published


def config_for(root: Path, accounts=("masto",), stages=None):
    data = {"site": {"path": str(root), "timezone": "Europe/Stockholm"},
            "accounts": {name: {"platform": "mastodon", "languages": ["sv"],
                                "instance": "https://social.example", "min_gap": "0s"}
                         for name in accounts}}
    if stages is not None:
        data["stages"] = stages
    return parse_config(data, base=root)


def when(condition, action, timeout=10.0) -> threading.Thread:
    """Run `action` once `condition()` holds (or after `timeout`), from another thread."""
    def wait() -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        action()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def signal_self(signum: int):
    return lambda: os.kill(os.getpid(), signum)


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger.sqlite3") as opened:
        yield opened


def test_the_daemon_sleeps_until_a_post_is_due_and_posts_within_a_second_or_two(tmp_path,
                                                                                 ledger, caplog):
    caplog.set_level("INFO", logger="herald")
    now = datetime.now(ZONE)
    due = (now + timedelta(seconds=2)).replace(microsecond=0)     # the 1-day reminder
    write_event(tmp_path, "meetup", due + timedelta(days=1))
    setup = Setup(config_for(tmp_path), {"masto": Timed("masto", LIMITS)}, no_attachments)
    daemon = Daemon(lambda: setup, ledger, catch_up=True)
    publisher = setup.publishers["masto"]
    when(lambda: len(publisher.times) == 2, signal_self(signal.SIGTERM))
    assert daemon.run() == 0
    (announced, first_line), (reminded, second_line) = publisher.times
    assert first_line == "Meetup" and announced - now < timedelta(seconds=1)
    assert second_line == "⏰ Meetup"
    assert due <= reminded < due + timedelta(seconds=2)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("waiting until ") for m in messages)
    assert "SIGTERM: stopping after the post in flight" in messages
    assert any(m.startswith("posted meetup/reminder-1d/masto/sv") for m in messages)
    assert messages[-1] == "stopped"


def test_new_event_files_are_noticed_and_unchanged_ones_are_not_read_again(tmp_path, ledger,
                                                                            caplog):
    caplog.set_level("INFO", logger="herald")
    future = datetime.now(ZONE) + timedelta(days=30)
    write_event(tmp_path, "first", future)
    setup = Setup(config_for(tmp_path), {"masto": Timed("masto", LIMITS)}, no_attachments)
    daemon = Daemon(lambda: setup, ledger, catch_up=True, check_every=0.05)
    publisher = setup.publishers["masto"]
    state = content_state(setup.config.site)

    def add_second() -> None:
        time.sleep(0.3)                     # several checks of an unchanged site
        write_event(tmp_path, "second", future)

    when(lambda: len(publisher.times) == 1, add_second)
    when(lambda: len(publisher.times) == 2, signal_self(signal.SIGINT))
    assert daemon.run() == 0
    assert [line for _, line in publisher.times] == ["First", "Second"]
    reads = [r.getMessage() for r in caplog.records if r.getMessage().startswith("read ")]
    assert [r.split(" from ")[0] for r in reads] == ["read 1 event", "read 2 events"]
    assert len(state) == 1 and content_state(setup.config.site) != state


def test_sighup_reloads_the_configuration_and_a_bad_one_is_refused(tmp_path, ledger, caplog):
    caplog.set_level("INFO", logger="herald")
    write_event(tmp_path, "meetup", datetime.now(ZONE) + timedelta(days=30))
    publishers = {"masto": Timed("masto", LIMITS), "other": Timed("other", LIMITS)}
    setups = iter([
        Setup(config_for(tmp_path), {"masto": publishers["masto"]}, no_attachments),
        ValueError("accounts.other: broken"),
        Setup(config_for(tmp_path, ("masto", "other")), publishers, no_attachments),
    ])

    def build():
        item = next(setups)
        if isinstance(item, Exception):
            raise item
        return item

    daemon = Daemon(build, ledger, catch_up=True)
    when(lambda: len(publishers["masto"].times) == 1, signal_self(signal.SIGHUP))
    when(lambda: any("reload failed" in r.getMessage() for r in caplog.records),
         signal_self(signal.SIGHUP))
    when(lambda: len(publishers["other"].times) == 1, signal_self(signal.SIGTERM))
    assert daemon.run() == 0
    messages = [r.getMessage() for r in caplog.records]
    assert "reload failed: ValueError: accounts.other: broken; keeping the running " \
           "configuration" in messages
    assert "reloaded the configuration and the content" in messages
    assert len(publishers["masto"].times) == 1 and len(publishers["other"].times) == 1


def test_a_failing_tick_logs_one_line_and_the_daemon_goes_on(tmp_path, ledger, caplog):
    caplog.set_level("INFO", logger="herald")
    setup = Setup(config_for(tmp_path), {"masto": Timed("masto", LIMITS)}, no_attachments)
    daemon = Daemon(lambda: setup, ledger, catch_up=True, check_every=0.05)
    daemon.check_content = _fails_then(daemon.check_content, tmp_path)
    when(lambda: len(setup.publishers["masto"].times) == 1, signal_self(signal.SIGTERM))
    assert daemon.run() == 0
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["tick failed: site.events_dir: _events/ not found in the site folder "
                      + str(tmp_path) + "; trying again in 60s"]


def _fails_then(check, root: Path):
    """The first content check fails (no events folder); the folder appears meanwhile."""
    calls = []

    def flaky() -> bool:
        calls.append(1)
        if len(calls) == 1:
            try:
                return check()
            finally:
                write_event(root, "meetup", datetime.now(ZONE) + timedelta(days=30))
        return check()

    return flaky


# --- the real process ------------------------------------------------------------------------

def write_config(tmp_path: Path, instance: str | None, x_api: str | None = None,
                 bluesky: str | None = None) -> Path:
    config = tmp_path / "herald.toml"
    config.write_text("""
ledger = "ledger.sqlite3"
secrets = "secrets.toml"

[site]
path = "site"
timezone = "Europe/Stockholm"

[[stages]]
name = "announcement"
kind = "announcement"

[images]
cards = false
cache_dir = "cache"
""" + ("" if instance is None else f"""
[accounts.masto]
platform = "mastodon"
languages = ["sv", "en"]
instance = "{instance}"
min_gap = "0s"
""") + ("" if x_api is None else f"""
[accounts.x]
platform = "x"
languages = ["sv"]
api_url = "{x_api}"
min_gap = "0s"
""") + ("" if bluesky is None else f"""
[accounts.sky]
platform = "bluesky"
languages = ["sv", "en"]
service = "{bluesky}"
min_gap = "0s"
"""), encoding="utf-8")
    return config


def start_daemon(config: Path, token: str, *args: str, log: Path | None = None,
                 x_keys: dict | None = None, extra_env: dict | None = None):
    env = {**os.environ, "PYTHONPATH": PROJECT, "HERALD_MASTO_ACCESS_TOKEN": token,
           **{f"HERALD_X_{k.upper()}": v for k, v in (x_keys or {}).items()},
           **(extra_env or {})}
    env.pop("HERALD_CONFIG", None)
    stderr = open(log, "ab") if log else subprocess.PIPE
    return subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config),
                             "--catch-up", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=stderr, cwd=config.parent)


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])           # utime + stime


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def write_bilingual_events(site: Path, count: int, first: datetime) -> None:
    """Write `count` events a day apart from `first`, each in Swedish and English."""
    for n in range(count):
        for lang, title in (("sv", f"Evenemang {n}"), ("en", f"Event {n}")):
            write_event(site, f"event-{n}", first + timedelta(days=n), lang=lang, title=title)


def test_killing_herald_run_at_random_moments_never_loses_or_doubles_a_post(tmp_path):
    from tests.fakes.mastodon import FakeMastodon
    from tests.fakes.x import FakeX

    rng = random.Random(5)
    future = datetime.now(ZONE) + timedelta(days=30)
    write_bilingual_events(tmp_path / "site", 12, future)
    log = tmp_path / "daemon.log"
    with FakeMastodon() as masto, FakeX(daily_posts=100) as x:
        masto.delay = 0.08                                   # each request takes a while
        config = write_config(tmp_path, masto.url, x.url)
        keys = x.credentials()

        def posts() -> int:
            return len(masto.received("POST", "/api/v1/statuses")) + len(x.received("POST"))

        def done() -> bool:
            return len(masto.statuses) >= 24 and len(x.posts) >= 12

        kills = 0
        while kills < 8 and not done():
            kills += 1
            before = posts()
            process = start_daemon(config, masto.token, log=log, x_keys=keys)
            try:
                wait_for(lambda: posts() > before or process.poll() is not None, 15,
                         "the daemon to post")
                time.sleep(rng.uniform(0.0, 0.25))
            finally:
                process.kill()
                process.wait()

        process = start_daemon(config, masto.token, log=log, x_keys=keys)
        try:
            # a post in doubt on a platform without idempotency (X) is looked up only once its
            # request timeout (30 s) has passed since the killed attempt began
            wait_for(lambda: done() and b"nothing planned" in log.read_bytes().splitlines()[-1],
                     60, "every post")
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
        finally:
            process.kill()

        texts = sorted(s["text"].splitlines()[0] for s in masto.status_list())
        assert texts == sorted([f"Evenemang {n}" for n in range(12)]
                               + [f"Event {n}" for n in range(12)])
        assert sorted(p.text.splitlines()[0] for p in x.posts) == sorted(
            f"Evenemang {n}" for n in range(12))
        by_id = {s["id"]: s for s in masto.status_list()}
        with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
            posted = {e.key: e for e in ledger.history() if e.state == "posted"}
        on_masto = {k: e for k, e in posted.items() if k.account == "masto"}
        assert kills == 8 and len(posted) == 36
        assert {e.platform_id for e in on_masto.values()} == set(by_id)
        for key, entry in on_masto.items():         # every English post is in its thread
            if key.lang == "en":
                parent = posted[PostKey(key.ref, key.stage, key.account, "sv")]
                assert by_id[entry.platform_id]["in_reply_to_id"] == parent.platform_id
        assert b"stopped" in log.read_bytes().splitlines()[-1]
        assert masto.token.encode() not in log.read_bytes()
        assert keys["access_secret"].encode() not in log.read_bytes()


def test_killing_herald_run_while_it_posts_to_bluesky_never_loses_or_doubles_a_post(tmp_path):
    from bot.platforms.bluesky import record_key
    from tests.fakes.bluesky import FakePDS

    class HoldingPDS(FakePDS):
        """Holds a createRecord's answer `hold` seconds after storing the record; counts the
        requests it is still serving (a killed client's request may yet store a record)."""

        hold = 0.0
        serving = 0

        def dispatch(self, request):
            with self.lock:
                self.serving += 1
            try:
                return super().dispatch(request)
            finally:
                with self.lock:
                    self.serving -= 1

        def _create_record(self, request, did):
            response = super()._create_record(request, did)
            time.sleep(self.hold)
            return response

    rng = random.Random(7)
    future = datetime.now(ZONE) + timedelta(days=30)
    write_bilingual_events(tmp_path / "site", 4, future)
    log = tmp_path / "daemon.log"
    with HoldingPDS() as pds:
        pds.delay = 0.05                                     # each request takes a while
        config = write_config(tmp_path, None, bluesky=pds.url)
        env = {"HERALD_SKY_HANDLE": pds.handle, "HERALD_SKY_APP_PASSWORD": pds.app_password}

        def unrecorded() -> set[str]:
            """Record keys on the PDS that the ledger does not show as posted."""
            with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
                posted = {record_key(e.idempotency_key) for e in ledger.history()
                          if e.state == "posted"}
            return set(pds.records) - posted

        # Kills 1 and 3 land while the record is stored but its answer is held back (the
        # ledger cannot know it yet); kills 2 and 4 at a random moment after a record appeared.
        kills, caught_in_flight = 0, 0
        while kills < 4 and len(pds.records) < 8:
            kills += 1
            pds.hold = 0.4 if kills % 2 else 0.0
            before = len(pds.records)
            process = start_daemon(config, "", log=log, extra_env=env)
            try:
                wait_for(lambda: len(pds.records) > before or process.poll() is not None, 20,
                         "the daemon to post to Bluesky")
                if not pds.hold:
                    time.sleep(rng.uniform(0.0, 0.15))
            finally:
                process.kill()
                process.wait()
            wait_for(lambda: pds.serving == 0, 5, "the PDS to finish the requests in flight")
            caught_in_flight += bool(pds.hold and unrecorded())
        pds.hold = 0.0

        process = start_daemon(config, "", log=log, extra_env=env)
        try:
            wait_for(lambda: len(pds.records) >= 8
                     and b"nothing planned" in log.read_bytes().splitlines()[-1],
                     20, "every post")
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
        finally:
            process.kill()

        records = {stored.uri: stored.value for stored in pds.records.values()}
        assert sorted((r["text"].splitlines()[0], r["langs"]) for r in records.values()) == \
            sorted([(f"Evenemang {n}", ["sv"]) for n in range(4)]
                   + [(f"Event {n}", ["en"]) for n in range(4)])
        with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
            posted = {e.key: e for e in ledger.history() if e.state == "posted"}
        assert kills == 4 and caught_in_flight == 2 and len(posted) == 8
        assert {e.platform_id for e in posted.values()} == set(records)
        for key, entry in posted.items():           # every English post is in its thread
            if key.lang == "en":
                parent = posted[PostKey(key.ref, key.stage, key.account, "sv")]
                reply = records[entry.platform_id]["reply"]
                assert reply["parent"]["uri"] == reply["root"]["uri"] == parent.platform_id
            else:
                assert "reply" not in records[entry.platform_id]
        assert pds.logins == 1                      # restarts resume the saved session
        text = log.read_bytes()
        assert b"stopped" in text.splitlines()[-1]
        assert pds.app_password.encode() not in text
        assert not any(token.encode() in text for token in pds.tokens)


def test_an_idle_herald_run_uses_no_measurable_cpu_and_a_second_one_is_refused(tmp_path):
    write_event(tmp_path / "site", "later", datetime.now(ZONE) + timedelta(days=30))
    config = write_config(tmp_path, "http://127.0.0.1:9")      # nothing will be due
    log = tmp_path / "daemon.log"
    (tmp_path / "ledger.sqlite3").parent.mkdir(exist_ok=True)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:      # announced already
        ledger.skip_generation(PostKey("later", "announcement", "masto", "sv"), "announced",
                               datetime.now(ZONE))
    process = start_daemon(config, "token", log=log)
    try:
        wait_for(lambda: log.exists() and b"nothing planned" in log.read_bytes(), 15,
                 "the daemon to go idle")
        assert b"with 1 account (pid " in log.read_bytes()
        second = start_daemon(config, "token", "--once")
        _, err = second.communicate(timeout=15)
        assert second.returncode == 5
        assert f"Error: another herald run is using {tmp_path / 'ledger.sqlite3'} " \
               f"(pid {process.pid})" in err.decode()
        before = cpu_ticks(process.pid)
        time.sleep(2)
        assert cpu_ticks(process.pid) - before <= 1             # 1 tick = 10 ms of CPU
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def test_run_once_posts_what_is_due_exits_and_a_second_run_posts_nothing_again(tmp_path):
    from tests.fakes.mastodon import FakeMastodon

    write_event(tmp_path / "site", "meetup", datetime.now(ZONE) + timedelta(days=30))
    with FakeMastodon() as masto:
        config = write_config(tmp_path, masto.url)
        first = start_daemon(config, masto.token, "--once")
        _, first_log = first.communicate(timeout=30)
        second = start_daemon(config, masto.token, "--once")
        _, second_log = second.communicate(timeout=30)
        assert (first.returncode, second.returncode) == (0, 0)
        assert [s["text"].splitlines()[0] for s in masto.status_list()] == ["Meetup"]
        assert b"posted meetup/announcement/masto/sv http" in first_log
        assert b"posted" not in second_log


def test_run_once_exits_non_zero_while_a_due_post_waits_after_a_failure_and_0_once_it_is_out(
        tmp_path, monkeypatch):
    from bot.daemon import run_once
    from tests.fakes.mastodon import FakeMastodon

    write_event(tmp_path / "site", "meetup", datetime.now(ZONE) + timedelta(days=30))
    with FakeMastodon() as masto:
        config = write_config(tmp_path, masto.url)
        masto.outage = 503                                        # the server is down
        first = start_daemon(config, masto.token, "--once")
        _, first_log = first.communicate(timeout=60)
        second = start_daemon(config, masto.token, "--once")      # still in back-off
        _, second_log = second.communicate(timeout=60)
        assert (first.returncode, second.returncode) == (4, 4)
        assert b"failed meetup/announcement/masto/sv: masto: " in first_log
        assert b"held back on masto until " in second_log
        assert b"retrying after meetup/announcement/masto/sv failed: masto: " in second_log
        assert b"due and waiting: meetup/announcement" in second_log
        assert masto.status_list() == []

        masto.outage = None                                       # back, and the wait is over
        monkeypatch.setenv("HERALD_MASTO_ACCESS_TOKEN", masto.token)
        later = datetime.now(ZONE) + timedelta(minutes=10)
        report = run_once(config, clock=lambda: later)
        assert report.exit_code == 0
        assert [o.status for o in report.outcomes] == ["posted"]
        assert len(masto.status_list()) == 1


def test_a_stop_signal_that_lands_inside_the_daemons_sleep_ends_it_at_once():
    """A signal handler runs between two bytecodes of whatever it interrupts: even inside the
    daemon's own sleep, waking it must not wait for anything that sleep holds."""
    import signal as signals
    import threading as threads

    from bot.daemon import Waker

    waker = Waker()
    woken = []

    def handler(signum, frame):
        waker.set()             # called while `wait` below is running
        woken.append(signum)

    previous = signals.signal(signals.SIGUSR1, handler)
    timer = threads.Timer(0.2, signals.pthread_kill, (threads.main_thread().ident, signals.SIGUSR1))
    try:
        timer.start()
        started = time.monotonic()
        assert waker.wait(30) is True
        assert time.monotonic() - started < 10 and woken
        for _ in range(100_000):            # a full pipe never blocks the one who wakes it
            waker.set()
        waker.clear()
        assert waker.wait(0) is False       # cleared: asleep again until the next wake
    finally:
        timer.cancel()
        signals.signal(signals.SIGUSR1, previous)

