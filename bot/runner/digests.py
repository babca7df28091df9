"""Digests in the service loop: compose a due digest and post it as a thread (a part of `Runner`).

The survey plans digests with the events' posts and the timing code gives them their slot, so
a digest obeys quiet hours, spacing, the daily cap and the first-run rule like any post. Here a
due digest is composed for its account's platform and its parts are delivered in order, each
through the ledger exactly once; a thread cut short continues from its next part.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from ..config import Config
from ..delivery import deliver_thread, failed_before_sending
from ..digest import PlannedDigest
from ..errors import PublishError
from ..ledger import Ledger
from ..platforms.base import Publisher
from ..service import compose_digest_planned
from ..timing import Slot
from .results import Tick


class Digests:
    """Posting due digests (a part of `Runner`)."""

    config: Config
    ledger: Ledger
    log: logging.Logger
    publishers: dict[str, Publisher]
    should_stop: Callable[[], bool]

    # provided by Results
    _may_call: Callable[[Tick, str], bool]
    _now: Callable[[Tick], datetime]
    _clock_for: Callable
    _guard: Callable
    _outcome: Callable
    _failed: Callable
    _say: Callable

    def _send_digest(self, tick: Tick, slot: Slot) -> bool:
        """Post a due digest from its next part on; return False when its account must stop."""
        planned = slot.post
        assert isinstance(planned, PlannedDigest)
        key = planned.key
        publisher = self.publishers.get(key.account)
        if publisher is None:
            self._say(f"nopub:{key.account}", "account %s has no publisher; not posting",
                      key.account)
            return False
        try:
            limits = publisher.limits()
        except PublishError as exc:    # recorded as a failed send is, on every platform
            tick.attempted = True
            entry = tick.latest.get(key)
            return self._outcome(tick, key, failed_before_sending(
                key, exc, ledger=self.ledger, now=self._now(tick),
                again=entry is not None and entry.done))
        first = tick.latest.get(planned.period.post_key(key.account, key.lang))
        try:
            composed = compose_digest_planned(planned, tick.site, self.config, limits,
                                              first=first, now=tick.now)
        except ValueError as exc:      # a language Babel lacks
            self._say(f"compose:{key}:{exc}", "skipped %s: cannot compose it: %s", key, exc)
            return True
        if composed is None:
            self._say(f"empty:{key}", "not posting %s: no event still to come in its window",
                      key)
            return True
        if not composed.fits:
            self._say(f"fit:{key}:{composed.error}", "skipped %s: %s (fix the digest's texts)",
                      key, composed.error)
            return True
        parts = composed.posts()[planned.part - 1:]
        reply_to = self._posted_parent(tick, planned)
        if planned.part > 1 and reply_to is None:
            self._say(f"thread:{key}", "not posting %s: the part before it has no id to "
                      "reply to", key)
            return True
        thread = deliver_thread(parts, publisher=publisher, ledger=self.ledger, now=tick.now,
                                reply_to=reply_to, limits=limits, clock=self._clock_for(tick))
        for post in parts:
            if self.should_stop():         # between two parts: the thread goes on next time
                return False
            tick.attempted = True
            outcome = self._guard(post.key, lambda: next(thread, None))
            if outcome is None:
                break
            if not self._outcome(tick, post.key, outcome, reply_to=reply_to, limits=limits):
                return False
            reply_to = tick.sent.get(post.key)
        return True

    @staticmethod
    def _posted_parent(tick: Tick, planned: PlannedDigest) -> str | None:
        """The platform id of the part before `planned.part` (None for the first part)."""
        if planned.part == 1:
            return None
        parent = planned.period.post_key(planned.key.account, planned.key.lang,
                                         planned.part - 1)
        entry = tick.latest.get(parent)
        return tick.sent.get(parent) or (entry.platform_id if entry is not None
                                         and entry.state == "posted" else None)
