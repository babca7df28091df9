"""Changes after posting: correct an announced event that moved, cancel one that went away.

The decisions are `bot.changes`' (pure); this part of the runner carries them out: an edit of
the announcement where the platform can edit, a reply elsewhere, and for `on_cancel = "delete"`
the deletion of every post about the event, each recorded as deleted in the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from ..changes import CANCELLATION, CORRECTION, Cancellation, Correction, Details, announced, \
    cancellation_post, correction_post
from ..config import Config
from ..config_accounts import CANCEL_MODES
from ..delivery import Attach, Outcome, failed_before_sending, no_attachments, send
from ..errors import PublishError, RateLimited
from ..ledger import AlreadyPosted, Entry, Ledger
from ..lifecycle import Step
from ..localize import plural
from ..model import Account, PostKey
from ..pending import detect_on, timed
from ..platforms.base import Publisher
from ..timing import Rules
from .journal import Journal
from .results import Tick

__all__ = ["CANCEL_MODES", "Corrections"]


class Corrections:
    """Corrections and cancellations (a part of `Runner`)."""

    config: Config
    ledger: Ledger
    log: logging.Logger
    publishers: dict[str, Publisher]
    rules: dict[str, Rules]
    attach: Attach
    confirm_missing: timedelta
    halted: dict[str, str]
    _journal: Journal
    _paused: dict[str, datetime]
    should_stop: Callable[[], bool]
    _accounts: dict[str, Account]

    # provided by Results
    _may_call: Callable[[Tick, str], bool]
    _now: Callable[[Tick], datetime]
    _clock_for: Callable
    _guard: Callable
    _outcome: Callable
    _failed: Callable
    _say: Callable

    def _changes(self, tick: Tick, rows: list[Entry]) -> None:
        site = tick.site
        announcement_stages = [s.name for s in self.config.stages if s.kind == "announcement"]
        posted = self._journal.derived("announced",
                                       lambda: announced(rows, announcement_stages))
        if not posted:
            return
        found = detect_on(site, posted, self.ledger.missing(), now=tick.now,
                          confirm=self.confirm_missing)
        for ref in found.missing:
            self.ledger.mark_missing(ref, tick.now)
        if found.recheck is not None:
            tick.wakes.append(found.recheck)
        for ref in found.back:
            self.ledger.mark_present(ref)
            self.log.info("event %s is back on the site; not cancelling it", ref)
        for ref, why in found.held:
            self._say(f"held:{ref}:{why}", "not cancelling %s yet: %s", ref, why)
        # Timed as preview and status time them (`pending.timed`); a cancellation still
        # confirming that the event is gone is due only at `found.recheck`.
        for pending in timed(found, self.config, now=tick.now, blocked=tick.blocked):
            change, key = pending.change, pending.change.announced.key
            if pending.due > tick.now or key.account not in self.publishers \
                    or key.account in self.halted or key.account in tick.busy:
                continue
            at = pending.at
            paused = self._paused.get(key.account)
            if paused is not None and paused > at:
                at = paused
            if at > tick.now or not self._may_call(tick, key.account):
                tick.wakes.append(max(at, tick.now))
                continue
            if self.should_stop():
                return
            if isinstance(change, Correction):
                self._correct(tick, change)
            else:
                self._cancel(tick, change)

    def _correct(self, tick: Tick, change: Correction) -> None:
        ann = change.announced
        account = self._accounts[ann.key.account]
        publisher = self.publishers[ann.key.account]
        try:
            limits = publisher.limits()
        except PublishError as exc:
            self._failed_early(tick, PostKey(ann.key.ref, CORRECTION, ann.key.account,
                                             ann.key.lang), exc)
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
            outcome = self._guard(post.key, lambda: self._edit(
                tick, post.key, ann.platform_id, post.text, again))
            verb = f"corrected ({what}; edited the announcement)"
        else:
            reply_to = ann.platform_id if limits.replies else None
            outcome = self._guard(post.key, lambda: send(
                post, change.event, account, publisher=publisher, ledger=self.ledger,
                attach=no_attachments, now=tick.now, again=again, reply_to=reply_to,
                limits=limits, clock=self._clock_for(tick)))
            verb = f"corrected ({what})"
        if isinstance(outcome, Outcome) and outcome.status in ("posted", "recovered"):
            self.ledger.describe(post.key, Details.of(change.event).to_json())
        self._outcome(tick, post.key, outcome, verb=verb, limits=limits)

    def _failed_early(self, tick: Tick, key: PostKey, error: PublishError) -> None:
        """Record a correction or cancellation that failed before it was composed."""
        entry = tick.latest.get(key)
        tick.attempted = True
        self._outcome(tick, key, failed_before_sending(
            key, error, ledger=self.ledger, now=self._now(tick),
            again=entry is not None and entry.done))

    def _edit(self, tick: Tick, key: PostKey, status_id: str, text: str,
              again: bool) -> Outcome:
        """Edit an earlier post exactly once per correction.

        An edit repeated is harmless, so an edit whose answer was lost is simply made again:
        its failures defer or refuse, never leave an unknown outcome to look up.
        """
        try:
            reservation = self.ledger.reserve(key, text=text, now=self._now(tick), again=again,
                                              reply_to=status_id)
        except AlreadyPosted as exc:
            return Outcome(key, "already posted", exc.entry.url)
        try:
            published = self.publishers[key.account].edit(status_id, text)
        except PublishError as exc:
            retry_at = exc.retry_after if isinstance(exc, RateLimited) else None
            step = Step.DEFERRED if exc.retryable else Step.REFUSED
            self.ledger.fail(reservation, exc, self._now(tick), retry_at, step=step)
            return Outcome(key, "failed", error=exc)
        self.ledger.record(reservation, published, self._now(tick))
        return Outcome(key, "posted", published.url)

    def _cancel(self, tick: Tick, change: Cancellation) -> None:
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
            self._failed_early(tick, PostKey(ann.key.ref, CANCELLATION, ann.key.account,
                                             ann.key.lang), exc)
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
            reply_to=ann.platform_id if limits.replies else None, limits=limits,
            clock=self._clock_for(tick)))
        if isinstance(outcome, Outcome) and outcome.status in ("posted", "recovered"):
            self.ledger.describe(post.key, change.announced.told.to_json())
        self._outcome(tick, post.key, outcome, verb=f"cancelled ({change.reason})",
                      limits=limits)

    def _delete(self, tick: Tick, change: Cancellation) -> None:
        """Delete every post about the event on this account and language, recording each."""
        ann = change.announced
        key = PostKey(ann.key.ref, "cancellation", ann.key.account, ann.key.lang)
        publisher = self.publishers[ann.key.account]
        rows = [e for e in self.ledger.history(ann.key.ref)
                if e.key.account == ann.key.account and e.key.lang == ann.key.lang
                and e.state == "posted" and e.platform_id and e.key.stage != "cancellation"]
        by_id: Mapping[str, list[Entry]] = {}
        for row in rows:                   # an edited announcement keeps its id
            by_id.setdefault(row.platform_id, []).append(row)
        tick.attempted = True
        reservation = self.ledger.reserve(key, text="(deleted)", now=self._now(tick))
        try:
            for platform_id in reversed(list(by_id)):    # the replies first
                publisher.delete(platform_id)
                for row in by_id[platform_id]:
                    self.ledger.delete(row, self._now(tick))
        except PublishError as exc:
            retry_at = exc.retry_after if isinstance(exc, RateLimited) else None
            step = Step.DEFERRED if exc.retryable else Step.REFUSED
            self.ledger.fail(reservation, exc, self._now(tick), retry_at, step=step)
            self._outcome(tick, key, Outcome(key, "failed", error=exc))
            return
        count = plural(len(by_id), "post")
        self.ledger.deleted_all(reservation, f"{change.reason}: deleted {count}",
                                self._now(tick))
        self.ledger.describe(key, ann.told.to_json())
        self.log.info("cancelled %s (%s): deleted %s", key, change.reason, count)
        tick.outcomes.append(Outcome(key, "deleted", ann.url))
