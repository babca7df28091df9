"""Run one tick of Herald as a service: plan -> time -> compose -> attach -> deliver -> record.

A tick takes the loaded site and `now` (the clock is injected; nothing here reads it), asks the
planner what each event's campaign needs, lets `timing` decide when each post may go out, posts
what is due through the ledger (exactly once), and records what it skipped and why. It also
corrects announced events whose date, time or place changed, and cancels announced events that
disappeared. One line is logged per decision; a token never reaches the log.

Failures stay with their account: a retryable one (network, 5xx, rate limit) puts the account
in back-off until its retry time, a non-retryable one (auth failed, rejected) stops the
account's posts until Herald is restarted or reloaded; the other accounts go on. Each account
posts from its own thread (with its own ledger connection), so a platform that hangs until its
timeout never delays the others.
"""

from __future__ import annotations

import logging
import random as random_module
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .changes import (CHANGE_STAGES, CONFIRM_MISSING, Cancellation, Correction, Details,
                      announced, cancellation_post, correction_post, detect)
from .config import Config
from .content import Site
from .errors import ConfigError, LedgerError, PublishError, RateLimited, Rejected, Unavailable
from .ledger import AlreadyPosted, Entry, Ledger, LedgerConflict, Reservation
from .model import Account, Event, OutgoingPost, PostKey, Published, Stage
from .planner import Plan, languages_for, plan
from .platforms.base import Publisher
from .service import Attach, Outcome, compose_planned, no_attachments, send
from .timing import (Arrangement, Rules, Slot, arrange, change_time, planning_grace, retry_time,
                     rules_for)

log = logging.getLogger("herald")

RETRYABLE_KINDS = frozenset({"Unavailable", "RateLimited"})
CANCEL_MODES = ("reply", "delete")


# --- what is due: pure over the ledger's rows ------------------------------------------------

@dataclass(frozen=True)
class Survey:
    """The campaign as it stands: the plan, when each post goes out, and the ledger's view."""

    plan: Plan
    arrangement: Arrangement
    latest: dict[PostKey, Entry]
    blocked: dict[str, datetime]


def survey(config: Config, site: Site, rows: Iterable[Entry], *, now: datetime,
           seen: Mapping[str, datetime], safe_since: datetime | None = None,
           paused: Mapping[str, datetime] | None = None) -> Survey:
    """Plan every event and time every post, from the ledger's rows; reads and writes nothing.

    `paused` adds back-off times the ledger does not hold (a failure before a post was
    reserved, such as an unreachable server while reading its limits).
    """
    rows = list(rows)
    accounts = config.accounts
    zone = config.site.timezone
    latest = latest_entries(rows)
    rules = [rules_for(a) for a in accounts]
    result = plan([site.versions(ref) for ref in site.refs()], config.stages, accounts, now=now,
                  grace=planning_grace(config.grace, rules), zone=zone,
                  done=done_keys(latest, site, config.stages), first_seen=seen)
    blocked = blocked_until(latest.values(), now)
    for name, until in (paused or {}).items():
        if until > now:
            blocked[name] = max(until, blocked.get(name, until))
    arrangement = arrange(result.posts, {a.name: a for a in accounts}, now=now, zone=zone,
                          grace=config.grace, history=posting_times(rows), blocked_until=blocked,
                          safe_since=safe_since)
    return Survey(result, arrangement, latest, blocked)


def latest_entries(rows: Iterable[Entry]) -> dict[PostKey, Entry]:
    """Return the latest generation of each post identity."""
    latest: dict[PostKey, Entry] = {}
    for row in rows:
        if row.key not in latest or row.generation > latest[row.key].generation:
            latest[row.key] = row
    return latest


def done_keys(latest: Mapping[PostKey, Entry], site: Site,
              stages: Iterable[Stage]) -> set[PostKey]:
    """The posts the planner must not plan again.

    A posted announcement is done for good (a change is corrected, not re-announced). A posted
    reminder, or any skipped post, is done only for the start time it was made for: when the
    event moves, its reminders are planned again for the new time. After a cancellation
    nothing more is posted about the event on that account and language.
    """
    reminders = {s.name for s in stages if s.kind == "reminder"}
    cancelled = {(k.ref, k.account, k.lang) for k, e in latest.items()
                 if k.stage == "cancellation" and e.done}
    starts = {ref: next(iter(site.versions(ref).values())).start for ref in site.refs()}
    done = set()
    for key, entry in latest.items():
        if (key.ref, key.account, key.lang) in cancelled:
            done.add(key)
            continue
        if not entry.done:
            continue
        details = Details.from_json(entry.event)
        moved = (details is not None and key.ref in starts
                 and details.start != starts[key.ref])
        if moved and (entry.state == "skipped" or key.stage in reminders):
            continue
        done.add(key)
    for thread in cancelled:
        for stage in stages:
            done.add(PostKey(thread[0], stage.name, thread[1], thread[2]))
    return done


def blocked_until(entries: Iterable[Entry], now: datetime) -> dict[str, datetime]:
    """Return, per account in back-off, when it may post again."""
    blocked: dict[str, datetime] = {}
    for entry in entries:
        when = entry.next_attempt_at
        if entry.state == "failed" and when is not None and when > now:
            blocked[entry.key.account] = max(when, blocked.get(entry.key.account, when))
    return blocked


def posting_times(rows: Iterable[Entry]) -> dict[str, list[datetime]]:
    """Return when each account made a new post (an edit of an earlier post does not count)."""
    times: dict[str, list[datetime]] = defaultdict(list)
    ids: set[tuple[str, str]] = set()
    for row in sorted(rows, key=lambda r: r.posted_at or r.updated_at):
        if row.state != "posted" or row.posted_at is None:
            continue
        if row.platform_id and (row.key.account, row.platform_id) in ids:
            continue
        ids.add((row.key.account, row.platform_id or ""))
        times[row.key.account].append(row.posted_at)
    return times


def stopped_by(entries: Iterable[Entry]) -> dict[str, Entry]:
    """Return, per account, its latest failure that retrying cannot cure."""
    stopped: dict[str, Entry] = {}
    for entry in sorted(entries, key=lambda e: e.updated_at):
        if entry.state == "failed" and entry.error_kind not in RETRYABLE_KINDS \
                and entry.next_attempt_at is None:
            stopped[entry.key.account] = entry
        elif entry.state == "posted":
            stopped.pop(entry.key.account, None)   # a later post shows the cause is gone
    return stopped


# --- one tick ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TickReport:
    """What one tick did and when the next one is needed (None: nothing is planned)."""

    outcomes: tuple[Outcome, ...]
    next_wake: datetime | None
    interrupted: bool = False

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


@dataclass
class _Tick:
    """The working state of one tick."""

    now: datetime
    site: Site
    latest: dict[PostKey, Entry]
    sent: dict[PostKey, str] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    wakes: list[datetime] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)      # accounts that failed in this tick
    blocked: dict[str, datetime] = field(default_factory=dict)
    attempted: bool = False


class Runner:
    """Herald's service loop body: call `tick(site, now)` whenever the daemon wakes up.

    The runner remembers, for the life of the process, which accounts a non-retryable failure
    stopped (a new Runner, as made on restart or SIGHUP, tries them again) and which lines it
    already logged, so a repeated decision is logged once.
    """

    def __init__(self, config: Config, ledger: Ledger, publishers: Mapping[str, Publisher], *,
                 attach: Attach = no_attachments,
                 random: Callable[[], float] = random_module.random, catch_up: bool = False,
                 confirm_missing: timedelta = CONFIRM_MISSING,
                 should_stop: Callable[[], bool] = lambda: False,
                 logger: logging.Logger = log, parallel: bool = True):
        clash = [s.name for s in config.stages if s.name in CHANGE_STAGES]
        if clash:
            raise ConfigError(f"stages: {clash[0]!r} is the name of Herald's own posts about "
                              f"changes; name the stage differently")
        self.rules: dict[str, Rules] = {a.name: rules_for(a) for a in config.accounts}
        for account in config.accounts:
            mode = account.options.get("on_cancel", "reply")
            if mode not in CANCEL_MODES:
                raise ConfigError(f"accounts.{account.name}.on_cancel: expected one of "
                                  f"{', '.join(CANCEL_MODES)}, got {mode!r}")
        self.config = config
        self._ledger = ledger
        self._local = threading.local()
        self.parallel = parallel
        self.publishers = dict(publishers)
        self.attach = attach
        self.random = random
        self.catch_up = catch_up
        self.confirm_missing = confirm_missing
        self.should_stop = should_stop
        self.log = logger
        self.halted: dict[str, str] = {}
        self._paused: dict[str, datetime] = {}
        self._strikes: dict[str, int] = defaultdict(int)
        self._accounts = {a.name: a for a in config.accounts}
        self._seen: dict[str, datetime] = {}
        self._safe_since: datetime | None = None
        self._first_run_known = False
        self._said: set[str] = set()
        self._planned: dict[tuple[str, str, str], datetime] = {}

    @property
    def ledger(self) -> Ledger:
        """The ledger; an account's posting thread has its own connection to it."""
        return getattr(self._local, "ledger", None) or self._ledger

    # -- the tick ----------------------------------------------------------------------------

    def tick(self, site: Site, now: datetime) -> TickReport:
        """Do everything that is due at `now`; return what happened and when to wake next.

        `next_wake` equals `now` when something was sent: call again at once to post what the
        new state allows (the next language, the next account's post).
        """
        now = now.astimezone(self.config.site.timezone)
        self._note_first_run(now)
        self._note_seen(site, now)
        rows = self.ledger.history()
        tick = _Tick(now, site, latest_entries(rows))
        tick.blocked = blocked_until(tick.latest.values(), now)
        for name, until in self._paused.items():
            if until > now:
                tick.blocked[name] = max(until, tick.blocked.get(name, until))
        self._changes(tick, rows)
        if self.should_stop():
            return self._report(tick, None, interrupted=True)
        found = survey(self.config, site, rows, now=now, seen=self._seen,
                       safe_since=self._safe_since, paused=self._paused)
        self._record_skips(tick, list(found.plan.skipped) + list(found.arrangement.skipped))
        self._log_planned(found.arrangement, now)
        interrupted = self._deliver(tick, found.arrangement.due(now))
        idle = [s.at for s in found.arrangement.slots
                if s.at > now and s.post.key.account not in self.halted]
        return self._report(tick, min(idle, default=None), interrupted=interrupted)

    def _report(self, tick: _Tick, upcoming: datetime | None, *,
                interrupted: bool) -> TickReport:
        wakes = [w for w in (*tick.wakes, upcoming) if w is not None]
        if tick.attempted and not interrupted:
            wakes.append(tick.now)
        return TickReport(tuple(tick.outcomes), min(wakes, default=None), interrupted)

    def _note_first_run(self, now: datetime) -> None:
        if not self._first_run_known:
            first = self.ledger.first_run(now, safe=not self.catch_up)
            self._safe_since = None if self.catch_up else first
            self._first_run_known = True

    def _note_seen(self, site: Site, now: datetime) -> None:
        for ref in site.refs():
            if ref not in self._seen:
                self._seen[ref] = self.ledger.first_seen(ref, now)

    # -- planned posts -----------------------------------------------------------------------

    def _record_skips(self, tick: _Tick, skipped) -> None:
        for item in skipped:
            versions = tick.site.versions(item.key.ref)
            event = versions.get(item.key.lang) or next(iter(versions.values()), None)
            details = Details.of(event).to_json() if event is not None else None
            try:
                self.ledger.skip_generation(item.key, item.reason, tick.now, event=details)
            except LedgerConflict as exc:
                self._settle(tick, exc.entry, item.reason, details)
                continue
            self.log.info("skipped %s: %s", item.key, item.reason)

    def _settle(self, tick: _Tick, entry: Entry, reason: str, details: str | None) -> None:
        """Skip a post that may already be out: look for it first, record it if found."""
        publisher = self.publishers.get(entry.key.account)
        if publisher is None or entry.key.account in self.halted or entry.text is None:
            return
        outgoing = OutgoingPost(entry.text, entry.key.lang, entry.idempotency_key,
                                reply_to=entry.reply_to)
        reservation = Reservation(entry.key, entry.generation, entry.idempotency_key,
                                  entry.attempts, True, entry.reply_to)
        try:
            found = publisher.find(outgoing)
        except PublishError as exc:
            self._say(f"check:{entry.key}", "could not check whether %s went out (%s); "
                      "asking again later", entry.key, exc)
            return
        if found is not None:
            self.ledger.record(reservation, found, tick.now)
            self.log.info("posted %s %s (found on the platform after an uncertain attempt)",
                          entry.key, found.url)
            return
        self.ledger.fail(reservation, Rejected("not found on the platform"), tick.now)
        self.ledger.skip_generation(entry.key, reason, tick.now, event=details)
        self.log.info("skipped %s: %s", entry.key, reason)

    def _log_planned(self, arrangement: Arrangement, now: datetime) -> None:
        units: dict[tuple[str, str, str], list[Slot]] = defaultdict(list)
        for slot in arrangement.slots:
            key = slot.post.key
            units[(key.ref, key.stage, key.account)].append(slot)
        known, self._planned = self._planned, {u: slots[0].at for u, slots in units.items()}
        for unit, slots in units.items():
            at = slots[0].at
            if known.get(unit) == at or at <= now or slots[0].why.startswith("retrying"):
                continue  # known, or "posted" / "failed ... retrying at" will say it
            langs = ", ".join(s.post.key.lang for s in slots)
            why = f" ({slots[0].why})" if slots[0].why else ""
            self.log.info("planned %s/%s on %s (%s) at %s%s", unit[0], unit[1], unit[2], langs,
                          f"{at:%Y-%m-%d %H:%M %Z}", why)

    def _deliver(self, tick: _Tick, due: list[Slot]) -> bool:
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
        threads = [threading.Thread(target=self._account_thread, name=f"herald-{name}",
                                    args=(tick, name, units, stopped), daemon=True)
                   for name, units in ready.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.05)    # short waits keep the main thread answering signals
        return any(stopped.values()) or self.should_stop()

    def _account_thread(self, tick: _Tick, name: str, units: list[list[Slot]],
                        stopped: dict[str, bool]) -> None:
        try:
            with Ledger.open(self._ledger.path) as ledger:
                self._local.ledger = ledger
                try:
                    stopped[name] = self._deliver_account(tick, units)
                finally:
                    self._local.ledger = None
        except Exception as exc:  # the other accounts go on; the tick reports it
            self.log.error("posting on %s failed: %s: %s", name, type(exc).__name__, exc)
            tick.busy.add(name)

    def _deliver_account(self, tick: _Tick, units: list[list[Slot]]) -> bool:
        """Send one account's due posts in order; return True if told to stop."""
        for unit in units:
            for slot in unit:
                if self.should_stop():
                    return True
                if not self._send_planned(tick, slot):
                    return False
        return False

    def _send_planned(self, tick: _Tick, slot: Slot) -> bool:
        """Send one planned post; return False when its account must stop for this tick."""
        key = slot.post.key
        account = self._accounts[key.account]
        publisher = self.publishers.get(key.account)
        if publisher is None:
            self._say(f"nopub:{key.account}", "account %s has no publisher; not posting",
                      key.account)
            return False
        versions = tick.site.versions(key.ref)
        event = versions.get(key.lang) or next(iter(versions.values()))
        try:
            limits = publisher.limits()
        except PublishError as exc:
            return self._failed(tick, key, exc, recorded=False)
        try:
            post = compose_planned(slot.post, tick.site, self.config, limits)
        except ValueError as exc:  # a template with an unknown field, a language Babel lacks
            self._say(f"compose:{key}:{exc}", "skipped %s: cannot compose it: %s", key, exc)
            return True
        if not post.fits:
            self._say(f"fit:{key}:{post.text}", "skipped %s: %s (fix the event or its template)",
                      key, post.error)
            return True
        reply_to = self._reply_to(tick, key, versions, account, limits.replies)
        entry = tick.latest.get(key)
        tick.attempted = True
        outcome = self._guard(key, lambda: send(
            post, event, account, publisher=publisher, ledger=self.ledger, attach=self.attach,
            now=tick.now, again=entry is not None and entry.done, reply_to=reply_to))
        return self._outcome(tick, key, outcome, reply_to=reply_to)

    def _reply_to(self, tick: _Tick, key: PostKey, versions: Mapping[str, Event],
                  account: Account, replies: bool) -> str | None:
        """The post this one continues: the first language's, else the event's announcement."""
        if not replies:
            return None
        lead = languages_for(account, versions)[0]
        if key.lang != lead:
            parent = self._posted_id(tick, PostKey(key.ref, key.stage, key.account, lead))
            if parent is not None:
                return parent
        stage = next((s for s in self.config.stages if s.name == key.stage), None)
        if stage is not None and stage.kind == "reminder":
            for other in self.config.stages:
                if other.kind == "announcement":
                    parent = self._posted_id(tick, PostKey(key.ref, other.name, key.account,
                                                           key.lang))
                    if parent is not None:
                        return parent
        return None

    @staticmethod
    def _posted_id(tick: _Tick, key: PostKey) -> str | None:
        if key in tick.sent:
            return tick.sent[key]
        entry = tick.latest.get(key)
        posted = entry is not None and entry.state == "posted"
        return (entry.platform_id or None) if posted else None   # "" when the id is unknown

    # -- results ------------------------------------------------------------------------------

    def _guard(self, key: PostKey, action: Callable[[], Outcome]) -> Outcome | Exception:
        """Run one delivery; an unexpected error is returned, failing this post, not the tick.

        A ledger error is not caught: without the ledger nothing may be posted.
        """
        try:
            return action()
        except LedgerError:
            raise
        except Exception as exc:  # a bug, an image, an unmapped library error
            self.log.debug("unexpected error for %s", key, exc_info=True)
            return exc

    def _outcome(self, tick: _Tick, key: PostKey, outcome: Outcome | Exception, *,
                 reply_to: str | None = None, verb: str = "posted") -> bool:
        if isinstance(outcome, Exception):
            error = Unavailable(f"unexpected {type(outcome).__name__}: {outcome}",
                                account=key.account)
            tick.outcomes.append(Outcome(key, "failed", error=error))
            return self._failed(tick, key, error, recorded=False)
        tick.outcomes.append(outcome)
        if outcome.ok:
            self._strikes.pop(key.account, None)
            entry = self.ledger.entry(key)
            if entry is not None and entry.platform_id:
                tick.sent[key] = entry.platform_id
            if outcome.status == "already posted":
                self.log.debug("%s was already posted: %s", key, outcome.url)
            else:
                thread = " in reply" if reply_to else ""
                extra = " (found after an uncertain attempt)" if outcome.status == "recovered" \
                    else ""
                self.log.info("%s %s%s %s%s", verb, key, thread, outcome.url, extra)
            return True
        return self._failed(tick, key, outcome.error, recorded=True)

    def _failed(self, tick: _Tick, key: PostKey, error: PublishError | None, *,
                recorded: bool) -> bool:
        """Put the account in back-off, or stop it; return False (the account stops here)."""
        tick.busy.add(key.account)
        tick.attempted = True
        error = error or Rejected("failed")
        if error.retryable:
            entry = self.ledger.entry(key) if recorded else None
            if entry is not None and entry.state == "failed":
                attempt = entry.attempts
                at = retry_time(error, attempt, tick.now, self.random)
                self.ledger.schedule_retry(key, at)
            else:
                self._strikes[key.account] += 1
                attempt = self._strikes[key.account]
                at = retry_time(error, attempt, tick.now, self.random)
                self._paused[key.account] = at
            tick.wakes.append(at)
            why = "rate limited" if isinstance(error, RateLimited) else "retryable"
            self.log.warning("failed %s: %s (%s, attempt %d); retrying at %s", key, error, why,
                             attempt, f"{at:%Y-%m-%d %H:%M:%S %Z}")
        else:
            self.halted[key.account] = f"{type(error).__name__}: {error}"
            self.log.error("failed %s: %s; stopped posting on %s until the problem is fixed and "
                           "herald run is restarted (or sent SIGHUP)", key, error, key.account)
        return False

    def _say(self, memo: str, message: str, *args) -> None:
        """Log a repeated decision once per process."""
        if memo not in self._said:
            self._said.add(memo)
            self.log.warning(message, *args)

    # -- changes after posting -----------------------------------------------------------------

    def _changes(self, tick: _Tick, rows: list[Entry]) -> None:
        site = tick.site
        announcement_stages = [s.name for s in self.config.stages if s.kind == "announcement"]
        posted = announced(rows, announcement_stages)
        if not posted:
            return
        unreadable = {p.source for p in site.problems if p.severity == "error"}
        found = detect(posted, {ref: site.versions(ref) for ref in site.refs()},
                       {d.ref for d in site.drafts}, unreadable, self.ledger.missing(),
                       now=tick.now, confirm=self.confirm_missing)
        for ref in found.missing:
            self.ledger.mark_missing(ref, tick.now)
        if found.recheck is not None:
            tick.wakes.append(found.recheck)
        for ref in found.back:
            self.ledger.mark_present(ref)
            self.log.info("event %s is back on the site; not cancelling it", ref)
        for ref, why in found.held:
            self._say(f"held:{ref}:{why}", "not cancelling %s yet: %s", ref, why)
        for change in (*found.corrections, *found.cancellations):
            key = change.announced.key
            if key.account in self.halted or key.account in tick.busy \
                    or key.account not in self.publishers:
                continue
            rules = self.rules.get(key.account, Rules())
            # Urgent until the earlier of the start people were told and the start now.
            moved = change.event.start if isinstance(change, Correction) else None
            start = min(change.announced.told.start, moved or change.announced.told.start)
            at = change_time(tick.now, start, rules, self.config.site.timezone)
            if key.account in tick.blocked:
                at = max(at, tick.blocked[key.account])
            if at > tick.now:
                tick.wakes.append(at)
                continue
            if self.should_stop():
                return
            if isinstance(change, Correction):
                self._correct(tick, change)
            else:
                self._cancel(tick, change)

    def _correct(self, tick: _Tick, change: Correction) -> None:
        ann = change.announced
        account = self._accounts[ann.key.account]
        publisher = self.publishers[ann.key.account]
        try:
            limits = publisher.limits()
        except PublishError as exc:
            self._failed(tick, ann.key, exc, recorded=False)
            return
        edit = limits.edits and callable(getattr(publisher, "edit", None))
        versions = tick.site.versions(ann.key.ref)
        post = correction_post(change, versions, limits, edit=edit,
                               templates=self.config.templates,
                               hashtags=self.config.site.hashtags, now=tick.now)
        if not post.fits:
            self._say(f"fit:{post.key}:{post.text}", "not correcting %s: %s", ann.key, post.error)
            return
        entry = tick.latest.get(post.key)
        again = entry is not None and entry.done
        tick.attempted = True
        what = ", ".join(change.changed)
        if edit:
            outcome = self._guard(post.key, lambda: self._edit(post.key, ann.platform_id,
                                                               post.text, tick.now, again))
            verb = f"corrected ({what}; edited the announcement)"
        else:
            reply_to = ann.platform_id if limits.replies else None
            outcome = self._guard(post.key, lambda: send(
                post, change.event, account, publisher=publisher, ledger=self.ledger,
                attach=no_attachments, now=tick.now, again=again, reply_to=reply_to,
                capped=False))
            verb = f"corrected ({what})"
        if _delivered(outcome):
            self.ledger.describe(post.key, Details.of(change.event).to_json())
        self._outcome(tick, post.key, outcome, verb=verb)

    def _edit(self, key: PostKey, status_id: str, text: str, now: datetime,
              again: bool) -> Outcome:
        """Edit an earlier post exactly once per correction (an edit repeated is harmless)."""
        try:
            reservation = self.ledger.reserve(key, text=text, now=now, again=again,
                                              reply_to=status_id)
        except AlreadyPosted as exc:
            return Outcome(key, "already posted", exc.entry.url)
        try:
            published = self.publishers[key.account].edit(status_id, text)
        except PublishError as exc:
            retry_at = exc.retry_after if isinstance(exc, RateLimited) else None
            self.ledger.fail(reservation, exc, now, retry_at)
            return Outcome(key, "failed", error=exc)
        self.ledger.record(reservation, published, now)
        return Outcome(key, "posted", published.url)

    def _cancel(self, tick: _Tick, change: Cancellation) -> None:
        ann = change.announced
        account = self._accounts[ann.key.account]
        publisher = self.publishers[ann.key.account]
        zone = self.config.site.timezone
        event = change.announced.told.as_event(zone)
        if account.options.get("on_cancel", "reply") == "delete":
            if callable(getattr(publisher, "delete", None)):
                self._delete(tick, change)
                return
            self._say(f"nodelete:{account.name}", "%s cannot delete posts; cancelling %s with a "
                      "reply instead", account.name, ann.key.ref)
        try:
            limits = publisher.limits()
        except PublishError as exc:
            self._failed(tick, ann.key, exc, recorded=False)
            return
        post = cancellation_post(change, {event.lang: event}, limits,
                                 templates=self.config.templates, now=tick.now)
        if not post.fits:
            self._say(f"fit:{post.key}:{post.text}", "not cancelling %s: %s", ann.key, post.error)
            return
        entry = tick.latest.get(post.key)
        tick.attempted = True
        outcome = self._guard(post.key, lambda: send(
            post, event, account, publisher=publisher, ledger=self.ledger,
            attach=no_attachments, now=tick.now, again=entry is not None and entry.done,
            reply_to=ann.platform_id if limits.replies else None, capped=False))
        if _delivered(outcome):
            self.ledger.describe(post.key, change.announced.told.to_json())
        self._outcome(tick, post.key, outcome, verb=f"cancelled ({change.reason})")

    def _delete(self, tick: _Tick, change: Cancellation) -> None:
        """Delete every post about the event on this account and language, then record it."""
        ann = change.announced
        key = PostKey(ann.key.ref, "cancellation", ann.key.account, ann.key.lang)
        publisher = self.publishers[ann.key.account]
        ids = list(dict.fromkeys(
            e.platform_id for e in self.ledger.history(ann.key.ref)
            if e.key.account == ann.key.account and e.key.lang == ann.key.lang
            and e.state == "posted" and e.platform_id and e.key.stage != "cancellation"))
        tick.attempted = True
        reservation = self.ledger.reserve(key, text="(deleted)", now=tick.now)
        try:
            for platform_id in reversed(ids):
                publisher.delete(platform_id)
        except PublishError as exc:
            self.ledger.fail(reservation, exc, tick.now)
            self._outcome(tick, key, Outcome(key, "failed", error=exc))
            return
        self.ledger.record(reservation, Published(ann.platform_id, ann.url or ""), tick.now)
        self.ledger.describe(key, ann.told.to_json())
        self.log.info("cancelled %s (%s): deleted %d posts", key, change.reason, len(ids))
        tick.outcomes.append(Outcome(key, "deleted", ann.url))


def _same_unit(a: Slot, b: Slot) -> bool:
    return (a.post.key.ref, a.post.key.stage) == (b.post.key.ref, b.post.key.stage) \
        and a.at == b.at


def _delivered(outcome: Outcome | Exception) -> bool:
    """Whether a post went out (or was found out), so the ledger may describe what it said."""
    return isinstance(outcome, Outcome) and outcome.status in ("posted", "recovered")
