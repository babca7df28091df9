"""What a delivery's outcome does to its account: it goes on, waits, backs off, or stops.

A retryable failure (network, 5xx, rate limit) puts the account in back-off until its retry
time, counted from the moment the failure came (a request may have stalled for its whole
timeout); a rate limit's reset time is honoured exactly, and until then nothing at all is
asked of the account, lookups included. A non-retryable failure (auth failed, rejected) stops
the account's posts until Herald is restarted or reloaded. The other accounts go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .. import lifecycle
from ..config_accounts import request_timeout
from ..content import Site
from ..delivery import Outcome
from ..errors import HeraldError, LedgerError, PublishError, RateLimited, Rejected, Unavailable
from ..ledger import Entry, Ledger
from ..model import Account, Limits, PostKey
from ..timing import BACKOFF_BASE, backoff_base, retry_time


@dataclass(frozen=True)
class TickReport:
    """What one tick did and when the next one is needed (None: nothing is planned).

    `held_back` are the posts that were due but wait for a retry after an earlier failure
    (their account is backing off, or their outcome is in doubt until a lookup may be made).
    """

    outcomes: tuple[Outcome, ...]
    next_wake: datetime | None
    interrupted: bool = False
    held_back: tuple[PostKey, ...] = ()

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def exit_code(self) -> int:
        """The exit code of `herald run --once`: what happened to the posts due in this run.

        0 when every due post went out (or was held by the daily cap, or nothing was due); the
        failure's code (4, or 6 for missing or rejected credentials) when a post failed in this
        run; 4 when a due post still waits after an earlier failure (back-off, or a lookup of
        a post in doubt). The latest outcome of each post counts.
        """
        latest = {o.key: o for o in self.outcomes}
        codes = [o.error.exit_code for o in latest.values() if o.error is not None]
        if self.held_back or any(o.status == "waiting" for o in latest.values()):
            codes.append(PublishError.exit_code)
        return max(codes, default=0)


@dataclass
class Tick:
    """The working state of one tick."""

    now: datetime
    site: Site
    latest: dict[PostKey, Entry]
    sent: dict[PostKey, str] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    wakes: list[datetime] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)      # accounts that stopped in this tick
    blocked: dict[str, datetime] = field(default_factory=dict)
    attempted: bool = False


class Results:
    """How the runner takes each outcome (a part of `Runner`)."""

    ledger: Ledger
    log: logging.Logger
    halted: dict[str, str]
    random: Callable[[], float]
    clock: Callable[[], datetime] | None
    _paused: dict[str, datetime]
    _strikes: dict[str, int]
    _said: set[str]
    _accounts: dict[str, Account]

    def _now(self, tick: Tick) -> datetime:
        """The moment now: the injected clock's, else the tick's (the clock may have moved
        while a request stalled)."""
        if self.clock is None:
            return tick.now
        return max(self.clock(), tick.now).astimezone(tick.now.tzinfo)

    def _clock_for(self, tick: Tick) -> Callable[[], datetime]:
        return lambda: self._now(tick)

    def _may_call(self, tick: Tick, account: str) -> bool:
        """May the account be asked anything now: a lookup, its limits, a post?"""
        if account in self.halted or account in tick.busy:
            return False
        until = max(tick.blocked.get(account, tick.now), self._paused.get(account, tick.now))
        return until <= self._now(tick)

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

    def _outcome(self, tick: Tick, key: PostKey, outcome: Outcome | Exception, *,
                 reply_to: str | None = None, verb: str = "posted",
                 limits: Limits | None = None) -> bool:
        """Take one outcome; return False when its account must stop for this tick."""
        if isinstance(outcome, Exception):
            error = Unavailable(f"unexpected {type(outcome).__name__}: {outcome}",
                                account=key.account)
            tick.outcomes.append(Outcome(key, "failed", error=error))
            return self._failed(tick, key, error, recorded=False)
        tick.outcomes.append(outcome)
        if outcome.until is not None:
            return self._wait(tick, key, outcome)
        if not outcome.ok:
            return self._failed(tick, key, outcome.error, recorded=True, limits=limits)
        self._strikes.pop(key.account, None)
        if outcome.sent:
            entry = self.ledger.current(key)
            if entry is not None and entry.platform_id:
                tick.sent[key] = entry.platform_id
        if outcome.status == "already posted":
            self.log.debug("%s was already posted: %s", key, outcome.url)
        elif outcome.sent:
            thread = " in reply" if reply_to else ""
            extra = {"recovered": " (found after an uncertain attempt)",
                     "already on the platform": " (the platform already had it)"}
            self.log.info("%s %s%s %s%s", verb, key, thread, outcome.url,
                          extra.get(outcome.status, ""))
        return True

    def _wait(self, tick: Tick, key: PostKey, outcome: Outcome) -> bool:
        """A held or waiting post holds back its account (and its thread) until its time."""
        until = outcome.until
        assert until is not None
        self._paused[key.account] = max(until, self._paused.get(key.account, until))
        tick.busy.add(key.account)
        tick.wakes.append(until)
        self._say(f"{outcome.status}:{key}:{until}", "%s %s: %s", outcome.status, key,
                  outcome.note, level=logging.INFO)
        return False

    def _failed(self, tick: Tick, key: PostKey, error: HeraldError | None, *,
                recorded: bool, limits: Limits | None = None) -> bool:
        """Put the account in back-off, or stop it; return False (the account stops here)."""
        tick.busy.add(key.account)
        tick.attempted = True
        error = error or Rejected("failed")
        if not getattr(error, "retryable", False):     # refused, or never sendable (Unfit)
            self.halted[key.account] = f"{type(error).__name__}: {error}"
            self.log.error("failed %s: %s; stopped posting on %s until the problem is fixed and "
                           "herald run is restarted (or sent SIGHUP)", key, error, key.account)
            return False
        now = self._now(tick)
        account = self._accounts.get(key.account)
        base = backoff_base(request_timeout(account)) if account else BACKOFF_BASE

        def retry(attempt: int) -> datetime:
            return retry_time(error, max(attempt, 1), now, self.random, base=base)

        entry = self.ledger.current(key) if recorded else None
        if entry is not None and entry.state == "failed":
            attempt = entry.attempts
            at = retry(attempt)
            lookup = limits and lifecycle.lookup_after(
                entry.life, failed_at=entry.updated_at, reserved_at=entry.reserved_at,
                limits=limits)
            if lookup:     # a stalled request may still land: look it up only after that
                at = max(at, lookup)
            self.ledger.schedule_retry(key, at)
        else:
            if not isinstance(error, RateLimited):
                self._strikes[key.account] = self._strikes.get(key.account, 0) + 1
            attempt = self._strikes.get(key.account, 0)
            at = retry(attempt)
            self._paused[key.account] = max(at, self._paused.get(key.account, at))
        tick.wakes.append(at)
        self._said.add(f"backoff:{key.account}:{at.timestamp()}")   # said here, not again
        why = "rate limited" if isinstance(error, RateLimited) else "retryable"
        self.log.warning("failed %s: %s (%s, attempt %d); retrying at %s", key, error, why,
                         attempt, f"{at.astimezone(tick.now.tzinfo):%Y-%m-%d %H:%M:%S %Z}")
        return False

    def _say(self, memo: str, message: str, *args, level: int = logging.WARNING) -> None:
        """Log a repeated decision once per process."""
        if memo not in self._said:
            self._said.add(memo)
            self.log.log(level, message, *args)
