"""Run Herald as a service: `herald run` and `herald run --once`.

The `schedule` library provides the tick: a content check every `check_every` seconds, and a
one-off job armed for the moment the next post is due, so the process sleeps in between and
uses no CPU. `schedule` does not run missed jobs and lets a job's exception escape; here the
runner and the ledger decide what is due (a late tick loses nothing), and every job is guarded:
one failure logs one line and the daemon goes on.

`schedule` keeps its times as naive local times, which a daylight-saving change would shift by
an hour; `run_forever` therefore runs the process's local clock in UTC (`bot.logs`). Everything
users see is in the site's time zone.

SIGTERM and SIGINT stop the daemon after the post in flight (a second one stops it at once);
SIGHUP reloads the configuration and the content. A lock beside the ledger, released by the
operating system however the process ends, keeps a second `herald run` away from the ledger.
Under systemd (`Type=notify`) the daemon sends READY=1 once it holds that lock and handles these
signals, and STOPPING=1 when asked to stop.
"""

from __future__ import annotations

import gc
import logging
import os
import random as random_module
import select
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import schedule

from .changes import CONFIRM_MISSING
from .config import Config, SiteConfig, load_config
from .content import ParseCache, Site, load_site
from .content.live import LiveSite
from .errors import HeraldError, auth_command
from .ledger import Ledger
from .localize import plural
from .logs import configure_logging, use_utc_local_time
from .platforms.base import Publisher
from .delivery import Attach, Outcome
from .runner import Runner, TickReport

log = logging.getLogger("herald")

CHECK_EVERY = 60.0
"""Seconds between two looks at the event files (cheap: sizes and times, no parsing)."""

FAILED_TICK_RETRY = 60.0
"""Seconds before a tick that failed as a whole is tried again."""

MAX_TICKS_AT_ONCE = 1000
_UNSET = object()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Waker:
    """The daemon's sleep, which a signal handler or another thread can end at once.

    It takes no lock: a signal handler runs between two bytecodes of the code it interrupts,
    and one that took a lock held there (as `threading.Event.set` does while `Event.wait`
    holds it) would wait for ever, leaving SIGTERM unanswered. A byte in a pipe wakes `wait`.
    """

    def __init__(self):
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def set(self) -> None:
        try:
            os.write(self._write, b"\0")
        except (BlockingIOError, OSError):      # a full pipe already wakes; a closed one: done
            pass

    def wait(self, timeout: float | None) -> bool:
        """Sleep until `set` or `timeout` seconds (None: no limit); True when woken."""
        ready, _, _ = select.select([self._read], [], [], timeout)
        return bool(ready)

    def clear(self) -> None:
        try:
            while os.read(self._read, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def __del__(self) -> None:
        for fd in (getattr(self, "_read", None), getattr(self, "_write", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass


# --- what the daemon runs with ---------------------------------------------------------------

@dataclass
class Setup:
    """The configuration and the real objects built from it."""

    config: Config
    publishers: dict[str, Publisher]
    attach: Attach


def build_setup(config_path: str | Path | None = None, site: str | Path | None = None) -> Setup:
    """Read the configuration and build every account's publisher and the image pipeline."""
    from . import app

    config = load_config(config_path, site=site)
    publishers = {a.name: app.build_publisher(a, config) for a in config.accounts}
    return Setup(config, publishers, app.attachments(config))


def content_state(site: SiteConfig) -> frozenset[tuple[str, int, int]]:
    """Return (path, size, mtime_ns) of every event file: cheap to compare, nothing parsed.

    The files are exactly those `load_site` reads (`content.scan_events`: the same folders,
    names, links and size cap), plus the names of those it skips, so a change to any of them
    is seen. A site or events folder that cannot be read gives a state of its own.
    """
    from .content import scan_events

    try:
        return scan_events(site).state()
    except (HeraldError, OSError) as exc:
        return frozenset({(f"{site.root}/{site.events_dir}: {exc}", -1, -1)})


# --- the daemon ------------------------------------------------------------------------------

class Daemon:
    """The long-running loop around a Runner: content checks, sleeping, signals, reloads.

    `setup` builds the configuration and publishers (called again on SIGHUP); `clock` returns
    the current aware time.
    """

    def __init__(self, setup: Callable[[], Setup], ledger: Ledger, *,
                 initial: Setup | None = None, clock: Callable[[], datetime] = utc_now,
                 random: Callable[[], float] = random_module.random, catch_up: bool = False,
                 check_every: float = CHECK_EVERY,
                 confirm_missing: timedelta = CONFIRM_MISSING, logger: logging.Logger = log,
                 freeze: bool = False, incremental: bool = True):
        self._build = setup
        self.ledger = ledger
        self.clock = clock
        self.random = random
        self.catch_up = catch_up
        self.check_every = check_every
        self.confirm_missing = confirm_missing
        self.freeze = freeze
        self.incremental = incremental
        """Keep the site to update it file by file (`content.live`): for a process that looks
        at the site again, not for `run --once`, which loads it once."""
        """Move what a load made out of the cycle collector's reach (`gc.freeze`): for a
        process that is the daemon, not for one that only hosts it (a test)."""
        self.log = logger
        self.scheduler = schedule.Scheduler()
        self.stopping = False
        self._reload = False
        self._wake = Waker()
        self._job: schedule.Job | None = None
        self._announced_wait: object = _UNSET
        self.site: Site | None = None
        self._apply(initial or setup())

    def _apply(self, setup: Setup) -> None:
        if getattr(self, "_cache", None) is None or setup.config.site != self.setup.config.site \
                or setup.config.images.cache_dir != self.setup.config.images.cache_dir:
            self._cache = ParseCache.for_site(setup.config.site, setup.config.images.cache_dir)
        self._live = LiveSite(setup.config.site, self._cache)
        self.setup = setup
        self.runner = Runner(setup.config, self.ledger, setup.publishers, attach=setup.attach,
                             random=self.random, catch_up=self.catch_up,
                             confirm_missing=self.confirm_missing,
                             should_stop=lambda: self.stopping, logger=self.log,
                             clock=self.clock)

    # -- one round ---------------------------------------------------------------------------

    def check_content(self) -> bool:
        """Reload the site if any event file was added, changed or removed; True if it was.

        The files are listed (one `lstat` each) and only those changed since the last look
        are parsed again, and their events put in place in the site (`content.live`): the
        parse cache keeps the others, in memory for the life of the process. The cache is
        written to disk after the first load and when the daemon stops, so the next start
        parses only what changed meanwhile; a reload writes nothing. A site that cannot be
        read raises why (ConfigError), each time it is looked at. Without `incremental`
        (`run --once`) each call loads the whole site through the parse cache.
        """
        if self.incremental:
            first = self._live.site is None
            site = self._live.refresh()
            if site is None:
                return False
        else:
            first = self.site is None
            site = load_site(self.setup.config.site, cache=self._cache)
        if first:
            self.save_cache()
        if self.freeze:     # the site lives as long as the process: spare it the cycle collector
            gc.freeze()
        errors = sum(1 for p in site.problems if p.severity == "error")
        self.log.info("read %s from %s (%s, %s with errors)", plural(len(site.refs()), "event"),
                      self.setup.config.site.root, plural(len(site.drafts), "draft"),
                      plural(errors, "file"))
        self.site = site
        return True

    def save_cache(self) -> None:
        """Write the parse cache to disk if it changed (a problem is logged, never raised)."""
        if self._cache.save() is False and self._cache.notes:
            for note in self._cache.notes:
                self.log.debug("%s", note)
            self._cache.notes.clear()

    def tick(self) -> TickReport | None:
        """Post everything due now (ticking again while the runner asks to); never raises."""
        try:
            return self.round()
        except Exception as exc:  # one failure logs one line; the daemon goes on
            self._fail("tick", exc)
            return None

    def round(self) -> TickReport:
        """Post everything due now, ticking again while the runner asks to; errors escape.

        The report holds every outcome of the round, and what was still held back at its end.
        """
        outcomes: list[Outcome] = []
        if self.site is None:
            self.check_content()
        report: TickReport | None = None
        for _ in range(MAX_TICKS_AT_ONCE):
            report = self.runner.tick(self.site, self.clock())
            outcomes.extend(report.outcomes)
            if report.interrupted or report.next_wake is None \
                    or report.next_wake > self.clock() or self.stopping:
                break
        assert report is not None
        return replace(report, outcomes=tuple(outcomes))

    def _fail(self, what: str, exc: Exception) -> None:
        detail = str(exc) if isinstance(exc, HeraldError) else f"{type(exc).__name__}: {exc}"
        self.log.error("%s failed: %s; trying again in %ds", what, detail, FAILED_TICK_RETRY)
        self.log.debug("%s failed", what, exc_info=True)
        self._arm(self.clock() + timedelta(seconds=FAILED_TICK_RETRY))

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; return the exit code (0 after a clean stop)."""
        restore = self._install_signals()
        notify_systemd("READY=1")
        try:
            self.scheduler.every(self.check_every).seconds.do(self._content_job)
            self._post_job()
            while not self.stopping:
                if self._reload:
                    self._do_reload()
                self.scheduler.run_pending()
                if self.stopping or self._reload:
                    continue
                idle = self.scheduler.idle_seconds
                self._wake.wait(None if idle is None else max(idle, 0.0))
                self._wake.clear()
        finally:
            restore()
            self.scheduler.clear()
            self.save_cache()
        self.log.info("stopped")
        return 0

    def request_stop(self) -> None:
        """Stop after the post in flight."""
        if not self.stopping:
            notify_systemd("STOPPING=1")
        self.stopping = True
        self._wake.set()

    def request_reload(self) -> None:
        """Reload the configuration and the content at the next opportunity."""
        self._reload = True
        self._wake.set()

    def _content_job(self) -> None:
        try:
            changed = self.check_content()
        except Exception as exc:
            self._fail("reading the site", exc)
            return
        if changed:
            self._post_job()

    def _post_job(self):
        report = self.tick()
        if report is not None:
            self._arm(report.next_wake)
        return schedule.CancelJob

    def _arm(self, when: datetime | None) -> None:
        """Arm the one-off job for `when` (None: only the content checks wake the daemon)."""
        if self._job is not None:
            self.scheduler.cancel_job(self._job)
            self._job = None
        if when is not None and (self.stopping or self._reload):
            return
        if when != self._announced_wait:
            self._announced_wait = when
            if when is None:
                self.log.info("waiting: nothing planned")
            else:
                zone = self.setup.config.site.timezone
                self.log.info("waiting until %s", f"{when.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}")
        if when is None:
            return
        delay = max((when - self.clock()).total_seconds(), 0.001)
        self._job = self.scheduler.every(delay).seconds.do(self._post_job)

    def _do_reload(self) -> None:
        self._reload = False
        try:
            setup = self._build()
        except Exception as exc:
            detail = str(exc) if isinstance(exc, HeraldError) else f"{type(exc).__name__}: {exc}"
            self.log.error("reload failed: %s; keeping the running configuration", detail)
            return
        if setup.config.ledger != self.setup.config.ledger:
            self.log.warning("the ledger's path changed; restart herald run to use it")
        for publisher in self.setup.publishers.values():
            close = getattr(publisher, "close", None)
            if callable(close):
                close()
        self._apply(setup)
        self.site = None
        self.log.info("reloaded the configuration and the content")
        self._post_job()

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def stop(signum, frame) -> None:
            if self.stopping:
                raise SystemExit(128 + signum)
            self.log.info("%s: stopping after the post in flight",
                          signal.Signals(signum).name)
            self.request_stop()

        def reload(signum, frame) -> None:
            self.request_reload()

        wanted = {signal.SIGTERM: stop, signal.SIGINT: stop, signal.SIGHUP: reload}
        previous = {sig: signal.signal(sig, handler) for sig, handler in wanted.items()}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore


# --- entry points the CLI calls ----------------------------------------------------------------

def run_forever(config_path: str | Path | None = None, site: str | Path | None = None, *,
                catch_up: bool = False, check_every: float = CHECK_EVERY,
                verbose: bool = False) -> int:
    """`herald run`: post as a service until stopped; raise HeraldError if it cannot start."""
    from . import app

    setup = build_setup(config_path, site)
    configure_logging(setup.config.site.timezone, verbose=verbose)
    use_utc_local_time()
    path = app.ledger_path(setup.config)
    with Ledger.open(path, lock="herald run") as ledger:
        log.info("started on %s with %s (pid %d)", path,
                 plural(len(setup.publishers), "account"), os.getpid())
        for account in setup.config.accounts:
            missing = app.missing_credentials(account, setup.config)
            if missing:
                log.warning("%s has no %s: its posts will fail until you run `%s` "
                            "or set the HERALD_%s_* variables", account.name, ", ".join(missing),
                            auth_command(account.platform, account.name),
                            account.name.upper().replace("-", "_"))
        daemon = Daemon(lambda: build_setup(config_path, site), ledger, initial=setup,
                        catch_up=catch_up, check_every=check_every, freeze=True)
        return daemon.run()


def run_once(config_path: str | Path | None = None, site: str | Path | None = None, *,
             catch_up: bool = False, verbose: bool = False,
             clock: Callable[[], datetime] = utc_now) -> TickReport:
    """`herald run --once`: post what is due now and say what happened (for cron and CI).

    The report's `exit_code` follows what happened in this run. A problem with the ledger
    (a full disk, a read-only folder) raises its LedgerError (exit code 5); so does a post
    that went out but could not be recorded, naming it and its URL.
    """
    from . import app

    setup = build_setup(config_path, site)
    configure_logging(setup.config.site.timezone, verbose=verbose)
    path = app.ledger_path(setup.config)
    with Ledger.open(path, lock="herald run") as ledger:
        daemon = Daemon(lambda: setup, ledger, initial=setup, catch_up=catch_up, clock=clock,
                        freeze=True, incremental=False)
        try:
            return daemon.round()
        except HeraldError:
            raise
        except Exception as exc:
            log.debug("the run failed", exc_info=True)
            raise HeraldError(f"the run failed: {type(exc).__name__}: {exc}") from exc


def notify_systemd(state: str) -> None:
    """Send `state` (e.g. READY=1) to systemd's $NOTIFY_SOCKET; do nothing when it is unset."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("could not tell systemd %s: %s", state, exc)

