"""One tick of Herald as a service: plan -> time -> compose -> attach -> deliver -> record.

A tick takes the loaded site and `now`, asks the survey what each event's campaign needs and
when each post may go out, posts what is due through the ledger (exactly once), and records what
it skipped and why. Each account posts from its own thread (with its own ledger connection), so
a platform that hangs until its timeout never delays the others. One line is logged per
decision; a token never reaches the log.
"""

from __future__ import annotations

import logging
import random as random_module
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from ..changes import CONFIRM_MISSING, Details
from ..config import Config
from ..content import Site
from ..delivery import Attach, Outcome, failed_before_sending, no_attachments, reply_target, send
from ..digest import PlannedDigest
from ..errors import LedgerError, PublishError, RateLimited
from ..ledger import Entry, Ledger
from ..lifecycle import lookup_after
from ..model import OutgoingPost, PostKey, Skipped
from ..platforms.base import Publisher
from ..service import compose_planned
from ..survey import Survey, blocked_until, done_keys, posting_times, survey
from ..timing import RETRYING_AFTER_FAILURE, Arrangement, Rules, Slot, rules_for
from .corrections import Corrections
from .digests import Digests
from .journal import Journal
from .results import Results, Tick, TickReport

log = logging.getLogger("herald")

LOOKAHEAD = 64
"""How many stages after `now` a tick plans at first (the earliest each can be due, over every
event): the next wake is almost always among them; when not, it looks eight times further."""

SKIPS_LOGGED = 20
"""How many skipped posts one tick logs one by one (the rest only with --verbose)."""


class Runner(Corrections, Digests, Results):
    """Herald's service loop body: call `tick(site, now)` whenever the daemon wakes up.

    The runner remembers, for the life of the process, which accounts a non-retryable failure
    stopped (a new Runner, as made on restart or SIGHUP, tries them again) and which lines it
    already logged, so a repeated decision is logged once. `clock`, when given, is asked for
    the moment a failure came, so a retry is timed from it, not from the start of the tick.
    """

    def __init__(self, config: Config, ledger: Ledger, publishers: Mapping[str, Publisher], *,
                 attach: Attach = no_attachments,
                 random: Callable[[], float] = random_module.random, catch_up: bool = False,
                 confirm_missing: timedelta = CONFIRM_MISSING,
                 should_stop: Callable[[], bool] = lambda: False,
                 logger: logging.Logger = log, parallel: bool = True,
                 clock: Callable[[], datetime] | None = None):
        # The config is checked when it is loaded (stage names, `on_cancel`, the timing options).
        self.rules: dict[str, Rules] = {a.name: rules_for(a) for a in config.accounts}
        self.config = config
        self._ledger = ledger
        self._local = threading.local()
        self.parallel = parallel
        self.publishers = dict(publishers)
        self.attach = attach
        self.random = random
        self.clock = clock
        self.catch_up = catch_up
        self.confirm_missing = confirm_missing
        self.should_stop = should_stop
        self.log = logger
        self.halted: dict[str, str] = {}
        self._paused: dict[str, datetime] = {}
        self._strikes: dict[str, int] = {}
        self._accounts = {a.name: a for a in config.accounts}
        self._seen: dict[str, datetime] = {}
        self._safe_since: datetime | None = None
        self._first_run_known = False
        self._said: set[str] = set()
        self._planned: dict[tuple[str, str, str], datetime] = {}
        self._journal = Journal()

    @property
    def ledger(self) -> Ledger:
        """The ledger; an account's posting thread has its own connection to it."""
        return getattr(self._local, "ledger", None) or self._ledger

    # -- the tick ----------------------------------------------------------------------------

    def tick(self, site: Site, now: datetime) -> TickReport:
        """Do everything that is due at `now`; return what happened and when to wake next.

        `next_wake` equals `now` when something was sent: call again at once to post what the
        new state allows (the next language, the next account's post).

        A tick costs what is near, not the whole campaign: the ledger is read for what changed
        since the last tick, and the survey plans and times only the posts that can be due
        before the next wake (`survey(lookahead=...)`, widened until that wake is known).
        """
        now = now.astimezone(self.config.site.timezone)
        self._note_first_run(now)
        self._note_seen(site, now)
        journal = self._journal
        journal.refresh(self.ledger)
        rows = journal.rows()
        tick = Tick(now, site, journal.latest())
        tick.blocked = blocked_until(rows, now)       # a one-off post's rate limit too
        for name, until in self._paused.items():
            if until > now:
                tick.blocked[name] = max(until, tick.blocked.get(name, until))
        self._changes(tick, rows)
        if self.should_stop():
            return self._report(tick, None, interrupted=True)
        found = self._survey(site, now, tick.blocked)
        self._record_skips(tick, list(found.plan.skipped) + list(found.arrangement.skipped))
        self._log_planned(found.arrangement, now)
        held = self._held_back(tick, found.arrangement)
        interrupted = self._deliver(tick, found.arrangement.due(now))
        return self._report(tick, found.next_after(now, self.halted), interrupted=interrupted,
                            held_back=held)

    def _survey(self, site: Site, now: datetime, blocked: dict[str, datetime]) -> Survey:
        """Survey what is due by the next wake: look further ahead until that wake is known.

        `blocked` is when each account in back-off may be asked again (`Tick.blocked`)."""
        journal = self._journal
        latest = journal.latest()
        history = journal.derived("history", lambda: posting_times(journal.rows()))
        # What is done depends on the site too (a moved event's reminders are planned again).
        done = journal.derived("done", lambda: done_keys(latest, site, self.config.stages),
                               given=site)
        lookahead = LOOKAHEAD
        while True:
            found = survey(self.config, site, (), now=now, seen=self._seen,
                           safe_since=self._safe_since, paused=blocked,
                           lookahead=lookahead, latest=latest, history=history, done=done)
            if found.horizon is None or found.next_after(now, self.halted) is not None:
                return found
            lookahead *= 8

    def _report(self, tick: Tick, upcoming: datetime | None, *, interrupted: bool,
                held_back: tuple[PostKey, ...] = ()) -> TickReport:
        wakes = [w for w in (*tick.wakes, upcoming) if w is not None]
        if tick.attempted and not interrupted:
            wakes.append(tick.now)
        return TickReport(tuple(tick.outcomes), min(wakes, default=None), interrupted,
                          held_back)

    def _held_back(self, tick: Tick, arrangement: Arrangement) -> tuple[PostKey, ...]:
        """The posts due now that wait for a retry after an earlier failure; say so once."""
        held = [s for s in arrangement.slots if s.post.due <= tick.now < s.at
                and s.why.startswith(RETRYING_AFTER_FAILURE)]
        by_account: dict[str, list[Slot]] = defaultdict(list)
        for slot in held:
            by_account[slot.post.key.account].append(slot)
        for name, slots in by_account.items():
            until = tick.blocked.get(name, slots[0].at)
            failures = [e for e in tick.latest.values() if e.key.account == name
                        and e.state == "failed" and e.next_attempt_at is not None
                        and e.next_attempt_at > tick.now]
            cause = max(failures, key=lambda e: e.next_attempt_at, default=None)
            why = f"{cause.key} failed: {cause.error}" if cause else "a failure"
            units = dict.fromkeys(f"{s.post.key.ref}/{s.post.key.stage}" for s in slots)
            self._say(f"backoff:{name}:{until.timestamp()}", "held back on %s until %s, "
                      "retrying after %s; due and waiting: %s", name,
                      f"{until.astimezone(tick.now.tzinfo):%Y-%m-%d %H:%M:%S %Z}", why,
                      ", ".join(units))
        return tuple(s.post.key for s in held)

    def _note_first_run(self, now: datetime) -> None:
        if not self._first_run_known:
            first = self.ledger.first_run(now, safe=not self.catch_up)
            self._safe_since = None if self.catch_up else first
            self._first_run_known = True

    def _note_seen(self, site: Site, now: datetime) -> None:
        """Record when each event was first seen: the new ones in one transaction."""
        if not self._seen:
            self._seen = self.ledger.seen()
        new = [ref for ref in site.refs() if ref not in self._seen]
        if new:
            self._seen.update(self.ledger.first_seen_all(new, now))

    # -- planned posts -----------------------------------------------------------------------

    def _record_skips(self, tick: Tick, skipped: Iterable[Skipped]) -> None:
        """Record each post the timing rules dropped, and log why (`herald status` shows it).

        All in one transaction; a post that may already be out is looked up first (`_settle`).
        Past `SKIPS_LOGGED` in one tick (the backlog of a first run on a large site), the rest
        are counted in one line and logged one by one only with --verbose. A post still
        waiting for its retry time (a rate limit's reset, a back-off) is dropped only once that
        time has come: until then its wait holds its account, also for a Herald started afresh,
        which knows the wait only from the ledger.
        """
        items = []
        told: dict[int, str] = {}       # each version's details, once (it has many posts)
        for item in skipped:
            if _waiting(tick.latest.get(item.key), tick.now):
                continue
            versions = tick.site.versions(item.key.ref)
            event = versions.get(item.key.lang) or next(iter(versions.values()), None)
            details = None
            if event is not None:
                details = told.get(id(event))
                if details is None:
                    details = told[id(event)] = Details.of(event).to_json()
            items.append((item.key, item.reason, details))
        if not items:
            return
        conflicts = {exc.entry.key: exc for exc in self.ledger.skip_all(items, tick.now)}
        logged = 0
        for key, reason, details in items:
            if key in conflicts:
                self._settle(tick, conflicts[key].entry, reason, details)
                continue
            logged += 1
            level = logging.INFO if logged <= SKIPS_LOGGED else logging.DEBUG
            self.log.log(level, "skipped %s: %s", key, reason)
        if logged > SKIPS_LOGGED:
            self.log.info("skipped %d more posts (herald status and herald history list them)",
                          logged - SKIPS_LOGGED)

    def _settle(self, tick: Tick, entry: Entry, reason: str, details: str | None) -> None:
        """Skip a post that may already be out: look for it first, record it if found."""
        account = entry.key.account
        publisher = self.publishers.get(account)
        if publisher is None or entry.text is None:
            return
        if not self._may_call(tick, account):    # not a lookup before a reset time either
            until = max(tick.blocked.get(account, tick.now), self._paused.get(account, tick.now))
            if until > tick.now:
                tick.wakes.append(until)
            return
        try:
            limits = publisher.limits()
            wait = lookup_after(entry.life, failed_at=entry.updated_at,
                                reserved_at=entry.reserved_at, limits=limits)
            if wait is not None and wait > self._now(tick):
                tick.wakes.append(wait)
                return
            outgoing = OutgoingPost(entry.text, entry.key.lang, entry.idempotency_key,
                                    reply_to=entry.reply_to, reserved_at=entry.created_at)
            found = publisher.find(outgoing)
        except PublishError as exc:
            self._say(f"check:{entry.key}", "could not check whether %s went out (%s); "
                      "asking again later", entry.key, exc)
            # Recorded like any failure (the post stays in doubt), so status and history say it.
            self.ledger.lookup_failed(entry, exc, self._now(tick), _retry_after(exc))
            self._outcome(tick, entry.key, Outcome(entry.key, "failed", error=exc))
            return
        self.ledger.settle(entry, found, self._now(tick))
        if found is not None:
            self.log.info("posted %s %s (found on the platform after an uncertain attempt)",
                          entry.key, found.url)
            return
        self.ledger.skip_generation(entry.key, reason, tick.now, event=details)
        self.log.info("skipped %s: %s", entry.key, reason)

    def _log_planned(self, arrangement: Arrangement, now: datetime) -> None:
        """Log each unit's planned time once (again when it changes), as it comes in sight."""
        units: dict[tuple[str, str, str], list[Slot]] = defaultdict(list)
        for slot in arrangement.slots:
            key = slot.post.key
            units[(key.ref, key.stage, key.account)].append(slot)
        known = self._planned
        for unit, slots in units.items():
            at = slots[0].at
            if known.get(unit) == at:
                continue
            known[unit] = at
            if at <= now or slots[0].why.startswith("retrying"):
                continue  # "posted" / "failed ... retrying at" will say it
            langs = ", ".join(s.post.key.lang for s in slots)
            why = f" ({slots[0].why})" if slots[0].why else ""
            self.log.info("planned %s/%s on %s (%s) at %s%s", unit[0], unit[1], unit[2], langs,
                          f"{at:%Y-%m-%d %H:%M %Z}", why)
        if len(known) > 4 * len(units) + 1000:      # forget what is long past
            for unit in [u for u, at in known.items() if at < now - timedelta(days=1)]:
                del known[unit]

    # -- delivering ---------------------------------------------------------------------------

    def _deliver(self, tick: Tick, due: list[Slot]) -> bool:
        """Send the due posts, each account in its own thread; return True if told to stop."""
        queues: dict[str, list[list[Slot]]] = defaultdict(list)
        for slot in due:
            units = queues[slot.post.key.account]
            if units and _same_unit(units[-1][0], slot):
                units[-1].append(slot)
            else:
                units.append([slot])
        ready = {name: units for name, units in queues.items()
                 if name not in self.halted and name not in tick.busy}
        if len(ready) <= 1 or not self.parallel:
            return any([self._deliver_account(tick, units) for units in ready.values()]) \
                or self.should_stop()
        stopped: dict[str, bool] = {}
        broken: list[LedgerError] = []
        threads = [threading.Thread(target=self._account_thread, name=f"herald-{name}",
                                    args=(tick, name, units, stopped, broken), daemon=True)
                   for name, units in ready.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.05)    # short waits keep the main thread answering signals
        if broken:     # without the ledger nothing may be posted: the tick fails, saying why
            raise broken[0]
        return any(stopped.values()) or self.should_stop()

    def _account_thread(self, tick: Tick, name: str, units: list[list[Slot]],
                        stopped: dict[str, bool], broken: list[LedgerError]) -> None:
        try:
            with Ledger.open(self._ledger.path) as ledger:
                self._local.ledger = ledger
                try:
                    stopped[name] = self._deliver_account(tick, units)
                finally:
                    self._local.ledger = None
        except LedgerError as exc:
            broken.append(exc)
            tick.busy.add(name)
        except Exception as exc:  # the other accounts go on; the tick reports it
            self.log.error("posting on %s failed: %s: %s", name, type(exc).__name__, exc)
            tick.busy.add(name)

    def _deliver_account(self, tick: Tick, units: list[list[Slot]]) -> bool:
        """Send one account's due posts in order; return True if told to stop."""
        for unit in units:
            for slot in unit:
                if self.should_stop():
                    return True
                if not self._send_planned(tick, slot):
                    return False
        return False

    def _send_planned(self, tick: Tick, slot: Slot) -> bool:
        """Send one planned post; return False when its account must stop for this tick."""
        key = slot.post.key
        if not self._may_call(tick, key.account):
            return False
        if isinstance(slot.post, PlannedDigest):
            return self._send_digest(tick, slot)
        account = self._accounts[key.account]
        publisher = self.publishers.get(key.account)
        if publisher is None:
            self._say(f"nopub:{key.account}", "account %s has no publisher; not posting",
                      key.account)
            return False
        versions = tick.site.versions(key.ref)
        event = versions.get(key.lang) or next(iter(versions.values()))
        entry = tick.latest.get(key)
        again = entry is not None and entry.done
        try:
            limits = publisher.limits()
        except PublishError as exc:    # recorded as X and Bluesky record a failed send
            tick.attempted = True
            return self._outcome(tick, key, failed_before_sending(
                key, exc, ledger=self.ledger, now=self._now(tick), again=again))
        try:
            post = compose_planned(slot.post, tick.site, self.config, limits)
        except ValueError as exc:  # a template with an unknown field, a language Babel lacks
            self._say(f"compose:{key}:{exc}", "skipped %s: cannot compose it: %s", key, exc)
            return True
        if not post.fits:
            self._say(f"fit:{key}:{post.text}", "skipped %s: %s (fix the event or its template)",
                      key, post.error)
            return True
        reply_to = reply_target(key, self.config.stages, account, versions,
                                lambda k: self._posted_id(tick, k)) if limits.replies else None
        tick.attempted = True
        outcome = self._guard(key, lambda: send(
            post, event, account, publisher=publisher, ledger=self.ledger, attach=self.attach,
            now=tick.now, again=again, reply_to=reply_to, limits=limits,
            clock=self._clock_for(tick)))
        return self._outcome(tick, key, outcome, reply_to=reply_to, limits=limits)

    @staticmethod
    def _posted_id(tick: Tick, key: PostKey) -> str | None:
        if key in tick.sent:
            return tick.sent[key]
        entry = tick.latest.get(key)
        posted = entry is not None and entry.state == "posted"
        return (entry.platform_id or None) if posted else None


def _waiting(entry: Entry | None, now: datetime) -> bool:
    """Is this post failed and waiting for a retry time still ahead?"""
    return entry is not None and entry.state == "failed" \
        and entry.next_attempt_at is not None and entry.next_attempt_at > now


def _retry_after(error: PublishError) -> datetime | None:
    return error.retry_after if isinstance(error, RateLimited) else None


def _same_unit(a: Slot, b: Slot) -> bool:
    return (a.post.key.ref, a.post.key.stage) == (b.post.key.ref, b.post.key.stage) \
        and a.at == b.at
