"""Deliver one composed post exactly once: reserve, look up what may be out, send, record.

`herald run`, `announce` and `post` all deliver through `send` and `deliver`, so a post is
threaded, held, looked up and recorded the same way whichever command sends it. What each
answer and error does to the post is `bot.lifecycle`'s table; this module carries it out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from . import lifecycle
from .changes import Details
from .errors import Duplicate, LedgerError, PublishError, RateLimited, Unavailable, Unfit
from .ledger import AlreadyPosted, Ledger, LedgerConflict, Reservation
from .lifecycle import Step
from .model import (Account, Event, Limits, LinkCard, Media, OutgoingPost, Post, PostKey,
                    Published, Stage)
from .planner import languages_for
from .timing import CAP_WINDOW, cap_opens_at, cap_reason, rules_for

log = logging.getLogger("herald")

SENT = ("posted", "recovered", "already posted", "already on the platform")
"""Outcomes after which the post is on the platform and recorded."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one post.

    posted; recovered (found after an attempt whose outcome was unknown); already posted (the
    ledger has it); already on the platform (it answered that it holds this post, and named
    it); held (the daily cap) or waiting (a lookup that must wait), each `until` a time;
    skipped earlier; deleted; failed (with `error`).
    """

    key: PostKey
    status: str
    url: str | None = None
    error: PublishError | Unfit | None = None
    note: str | None = None
    """Why nothing was sent, when that is no error (a post skipped earlier, a held post)."""
    until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def sent(self) -> bool:
        return self.status in SENT


class NotRecorded(LedgerError):
    """A post is on the platform, but the ledger could not record it (a full disk, say).

    Its row stays reserved, which every later run reads as a post in doubt: the next run
    looks it up on the platform and records it, and never posts it again.
    """

    def __init__(self, key: PostKey, published: Published, cause: LedgerError, *,
                 found: bool = False):
        self.key, self.published = key, published
        where = published.url or published.id or "no address given"
        how = "was found on the platform" if found else "went out"
        super().__init__(f"{key} {how} ({where}) but could not be recorded: {cause}. The "
                         f"next run finds it on the platform and records it, without posting "
                         f"it again")


Attach = Callable[[Post, Event, Account, Limits], "Attachments"]


@dataclass(frozen=True)
class Attachments:
    """What goes with a post's text: prepared images, or a link card, and what went wrong."""

    media: tuple[Media, ...] = ()
    card: LinkCard | None = None
    warnings: tuple[str, ...] = ()
    drawn: bool = False
    """The image is a card Herald drew, not the event's own image."""


def no_attachments(post: Post, event: Event, account: Account, limits: Limits) -> Attachments:
    """Attach nothing (for text-only runs and tests)."""
    return Attachments()


def send(post: Post, event: Event, account: Account, *, publisher, ledger: Ledger,
         attach: Attach, now: datetime, again: bool = False, reply_to: str | None = None,
         requested: bool = False, limits: Limits | None = None,
         clock: Callable[[], datetime] | None = None) -> Outcome:
    """Prepare the attachments of a composed post and deliver it exactly once."""
    if not post.fits:
        return Outcome(post.key, "failed", error=Unfit(post.error or "does not fit",
                                                         account=account.name))
    if limits is None:
        try:
            limits = publisher.limits()
        except PublishError as exc:
            return failed_before_sending(post.key, exc, ledger=ledger, now=now, text=post.text,
                                         again=again, requested=requested)
    extras = attach(post, event, account, limits)
    outgoing = OutgoingPost(post.text, post.lang, "", link=post.link, media=extras.media,
                            card=extras.card, reply_to=reply_to)
    # What the post says about the event is recorded with it, so a later change is corrected.
    return deliver(post.key, outgoing, publisher=publisher, ledger=ledger, now=now,
                   again=again, requested=requested, limits=limits, clock=clock,
                   event=Details.of(event).to_json())


def deliver(key: PostKey, outgoing: OutgoingPost, *, publisher, ledger: Ledger,
            now: datetime, again: bool = False, requested: bool = False,
            limits: Limits | None = None,
            clock: Callable[[], datetime] | None = None, event: str | None = None) -> Outcome:
    """Send one post exactly once: reserve it, settle an earlier unknown outcome, send, record.

    `outgoing.idempotency_key` and `reserved_at` are replaced by the ledger's, so a retry
    carries the same key and the same first reservation time. A post that may be out is
    looked up, right before anything is sent; on a platform that cannot recognise a repeat,
    only once a stalled request can no longer land (until then the outcome is "waiting").
    `clock` gives the moment of the reservation and of each answer (a request may stall); it
    defaults to `now`.
    `event` (the event's details as JSON) is recorded with the post. A post that went out
    but cannot be recorded raises NotRecorded, which says so and where the post is.
    """
    limits = limits or publisher.limits()
    clock = clock or (lambda: now)
    moment = clock()        # the round began at `now`; earlier posts of it may have taken long
    wait = lookup_wait(ledger, key, limits, moment, again=again, requested=requested)
    if wait is not None:
        return Outcome(key, "waiting", until=wait, note=(
            f"an earlier attempt may have reached {limits.platform}; it is looked up at "
            f"{wait.astimezone(now.tzinfo):%Y-%m-%d %H:%M:%S %Z}, before anything is sent "
            f"again"))
    try:
        reservation = ledger.reserve(key, text=outgoing.text, now=moment, again=again,
                                     reply_to=outgoing.reply_to, requested=requested)
    except AlreadyPosted as exc:
        return Outcome(key, "already posted", exc.entry.url)
    except LedgerConflict as exc:
        return _skipped_earlier(key, exc)
    outgoing = replace(outgoing, idempotency_key=reservation.idempotency_key,
                       reserved_at=reservation.first_reserved_at)
    if lifecycle.must_look_up(reservation.state):
        try:
            found = publisher.find(outgoing)
        except PublishError as exc:
            return _failed(ledger, reservation, exc, clock(), Step.LOOKUP_FAILED)
        if found is not None and found.id:
            _record(ledger, reservation, found, clock(), Step.FOUND, event)
            return Outcome(key, "recovered", found.url)
        reservation = reservation.moved(Step.NOT_FOUND)
    try:
        published = publisher.publish(outgoing)
    except Duplicate as exc:
        return _duplicate(reservation, outgoing, exc, publisher=publisher, ledger=ledger,
                          clock=clock, event=event)
    except PublishError as exc:
        # A failure before the post itself was sent (an image upload, say) leaves nothing out.
        step = lifecycle.step_for(exc, sent=not exc.before_sending)
        return _failed(ledger, reservation, exc, clock(), step)
    except Exception as exc:  # an unmapped library error or a bug, after sending began
        log.debug("unexpected error while sending %s", key, exc_info=True)
        error = Unavailable(f"unexpected {type(exc).__name__}: {exc}", account=key.account)
        return _failed(ledger, reservation, error, clock(), Step.LOST)
    _record(ledger, reservation, published, clock(), Step.ANSWERED, event)
    return Outcome(key, "posted", published.url)


def _record(ledger: Ledger, reservation: Reservation, published: Published, at: datetime,
            step: Step, event: str | None) -> None:
    """Record a post that is on the platform; NotRecorded when the ledger cannot."""
    try:
        ledger.record(reservation, published, at, step=step, event=event)
    except NotRecorded:
        raise
    except LedgerError as exc:
        raise NotRecorded(reservation.key, published, exc,
                          found=step is not Step.ANSWERED) from exc


def lookup_wait(ledger: Ledger, key: PostKey, limits: Limits, now: datetime, *,
                again: bool = False, requested: bool = False) -> datetime | None:
    """When the post in doubt under `key` may be looked up, if that is after `now`."""
    entry = ledger.current(key, requested=requested)
    if entry is None or (again and entry.done):
        return None
    at = lifecycle.lookup_after(entry.life, failed_at=entry.updated_at,
                                reserved_at=entry.reserved_at, limits=limits)
    return at if at is not None and at > now else None


def failed_before_sending(key: PostKey, error: PublishError, *, ledger: Ledger, now: datetime,
                          text: str | None = None, again: bool = False,
                          requested: bool = False) -> Outcome:
    """Record a post that failed before anything was sent (say, a missing token).

    The ledger keeps the error and the attempt, so `history` and `status` show it, whichever
    platform failed and however early. An earlier attempt whose outcome is unknown stays
    unknown (and keeps its text, for the lookup). A deliberate repeat that failed is left to
    the user (the daemon never completes it).
    """
    try:
        reservation = ledger.reserve(key, text=text, now=now, again=again,
                                     requested=requested)
    except AlreadyPosted as exc:
        return Outcome(key, "already posted", exc.entry.url)
    except LedgerConflict as exc:
        return _skipped_earlier(key, exc)
    return _failed(ledger, reservation, error, now, lifecycle.step_for(error, sent=False))


def _duplicate(reservation: Reservation, outgoing: OutgoingPost, error: Duplicate, *,
               publisher, ledger: Ledger, clock: Callable[[], datetime],
               event: str | None = None) -> Outcome:
    """The platform says it already holds this post: find it and record its id and URL.

    After an attempt whose outcome was unknown this is that attempt, gone out: the platform's
    own answer settles it. On a first attempt it is a copy made before, recorded when a lookup
    names it and a refusal otherwise. A lookup that fails leaves the post uncertain. Only when
    the platform says the post is there and no lookup can name it is it recorded without its
    id (replies then cannot follow it; a warning says so).
    """
    key = reservation.key
    named = error.published if error.published is not None and error.published.id else None
    if named is None:
        try:
            named = publisher.find(outgoing)
        except PublishError as exc:
            return _failed(ledger, reservation, exc, clock(), Step.LOOKUP_FAILED)
    if named is None or not named.id:
        if not reservation.uncertain:
            ledger.fail(reservation, error, clock(), None, step=Step.DUPLICATE)
            return Outcome(key, "failed", error=error)
        log.warning("%s: the platform says it already has this post, but no lookup finds it; "
                    "recorded without its id (a reply to it starts a new thread)", key)
        named = Published("", "")
    _record(ledger, reservation, named, clock(), Step.FOUND, event)
    return Outcome(key, "recovered" if reservation.uncertain else "already on the platform",
                   named.url or None)


def _failed(ledger: Ledger, reservation: Reservation, error: PublishError, at: datetime,
            step: Step) -> Outcome:
    ledger.fail(reservation, error, at, _retry_after(error), step=step)
    return Outcome(reservation.key, "failed", error=error)


def _skipped_earlier(key: PostKey, conflict: LedgerConflict) -> Outcome:
    reason = conflict.entry.reason or conflict.entry.life.value
    return Outcome(key, "skipped earlier", note=f"{reason}; use --again to post it anyway")


def _retry_after(error: PublishError) -> datetime | None:
    return error.retry_after if isinstance(error, RateLimited) else None


# --- what several posts share: the daily cap and the thread ------------------------------------

@dataclass(frozen=True)
class Hold:
    """Posts held back until a time: by the daily cap ("held"), or by a platform's rate limit
    that lies ahead ("waiting", which a command reports as a post that did not go)."""

    until: datetime
    note: str
    status: str = "held"

    def outcome(self, key: PostKey) -> Outcome:
        return Outcome(key, self.status, note=self.note, until=self.until)


def rate_hold(account: Account, ledger: Ledger, now: datetime) -> Hold | None:
    """Hold everything for an account whose platform asked Herald to wait (a rate limit whose
    reset lies ahead, met by any command: `run`, `announce`, `post`).

    A one-off command is a new process whose adapters have not met that rate limit: the
    ledger remembers it, and nothing at all is sent to the account before its reset. (Other
    back-offs, after a server error say, hold only the daemon: a command the user runs on
    purpose may try at once.)
    """
    until = max((entry.next_attempt_at for entry in ledger.failures()
                 if entry.key.account == account.name and entry.error_kind == "RateLimited"
                 and entry.next_attempt_at is not None and entry.next_attempt_at > now),
                default=None)
    if until is None:
        return None
    return Hold(until, f"{account.platform} asked Herald to slow down; nothing is sent to "
                       f"{account.name} before {until.astimezone(now.tzinfo):%Y-%m-%d %H:%M:%S %Z}"
                       f", when its rate limit resets", status="waiting")


def cap_hold(account: Account, ledger: Ledger, now: datetime, size: int = 1) -> Hold | None:
    """Hold `size` posts (a language pair goes together) that would exceed `daily_cap`.

    The same rolling 24 hours as `timing.arrange`. None means they may all go now.
    """
    cap = rules_for(account).daily_cap
    if cap is None:
        return None
    # Only the posts of the last 24 hours count: the ledger reads just those, by its index.
    opens = cap_opens_at(ledger.posting_times(account.name, now - CAP_WINDOW), now, cap, size)
    if opens <= now:
        return None
    return Hold(opens, f"{cap_reason(cap)}; it can go at "
                       f"{opens.astimezone(now.tzinfo):%Y-%m-%d %H:%M %Z}")


def reply_target(key: PostKey, stages: Iterable[Stage], account: Account,
                 versions: Mapping[str, Event],
                 posted: Callable[[PostKey], str | None]) -> str | None:
    """The post this one continues: the first language's, else the event's announcement.

    `posted` answers the platform id of a post that is out (None if not, or not known).
    """
    lead = languages_for(account, versions)[0]
    if key.lang != lead:
        parent = posted(PostKey(key.ref, key.stage, key.account, lead))
        if parent:
            return parent
    stages = tuple(stages)
    stage = next((s for s in stages if s.name == key.stage), None)
    if stage is not None and stage.kind == "reminder":
        for other in stages:
            if other.kind == "announcement":
                parent = posted(PostKey(key.ref, other.name, key.account, key.lang))
                if parent:
                    return parent
    return None


def deliver_thread(posts: Sequence[Post], *, publisher, ledger: Ledger, now: datetime,
                   reply_to: str | None = None, again: bool = False, requested: bool = False,
                   limits: Limits | None = None,
                   clock: Callable[[], datetime] | None = None) -> Iterator[Outcome]:
    """Deliver the parts of a thread in order, each replying to the one before (lazily).

    Each part goes through `deliver`, exactly once; a part already out is passed over and the
    next replies to it. The thread stops at the first part that does not go out, or that went
    out without an id to reply to: the rest waits, and continues from there next time.
    """
    for post in posts:
        outcome = deliver(post.key, OutgoingPost(post.text, post.lang, "", reply_to=reply_to),
                          publisher=publisher, ledger=ledger, now=now, again=again,
                          requested=requested, limits=limits, clock=clock)
        yield outcome
        entry = ledger.current(post.key, requested=requested) if outcome.sent else None
        if entry is None or not entry.platform_id:
            return
        reply_to = entry.platform_id


def posted_id(ledger: Ledger) -> Callable[[PostKey], str | None]:
    """Answer the platform id of a post the ledger records as out (for `reply_target`)."""
    def lookup(key: PostKey) -> str | None:
        entry = ledger.current(key)
        if entry is None or entry.state != "posted":
            return None
        return entry.platform_id or None
    return lookup
