"""Run Herald's pipeline: load -> plan -> compose -> images -> publish -> record.

Every function takes the real objects (site, ledger, publishers) as arguments; nothing here
reads configuration files or builds adapters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from .changes import Details
from .composer import compose
from .config import Config
from .content import Site
from .errors import Duplicate, PublishError, RateLimited, Unfit, UsageError
from .ledger import AlreadyPosted, Ledger, LedgerConflict
from .model import (Account, Event, Limits, LinkCard, Media, OutgoingPost, PlannedPost, Post,
                    PostKey, Published)
from .planner import Plan, languages_for, plan
from .platforms.base import Publisher


@dataclass(frozen=True)
class Selection:
    """Which posts a command is about; None means all."""

    event: str | None = None
    platform: str | None = None
    lang: str | None = None
    account: str | None = None

    def accounts(self, config: Config) -> tuple[Account, ...]:
        return tuple(a for a in config.accounts
                     if (self.platform is None or a.platform == self.platform)
                     and (self.account is None or a.name == self.account))


def campaign(site: Site, config: Config, *, now: datetime, selection: Selection = Selection(),
             done: Collection[PostKey] = (),
             first_seen: Mapping[str, datetime] | None = None) -> Plan:
    """Plan the campaign of every upcoming event, narrowed to the selection."""
    refs = site.refs()
    if selection.event is not None:
        if selection.event not in refs and selection.event not in {e.ref for e in site.drafts}:
            raise unknown_ref(selection.event, site)
        refs = [selection.event]
    result = plan([site.versions(ref) for ref in refs], config.stages, selection.accounts(config),
                  now=now, grace=config.grace, zone=config.site.timezone, done=done,
                  first_seen=first_seen)
    if selection.lang is not None:
        result = Plan(tuple(p for p in result.posts if p.key.lang == selection.lang),
                      tuple(s for s in result.skipped if s.key.lang == selection.lang))
    return result


def unknown_ref(ref: str, site: Site) -> UsageError:
    """The error for an event ref the site does not have, with the closest refs it does."""
    import difflib

    known = site.refs() + [e.ref for e in site.drafts]
    close = difflib.get_close_matches(ref, known, n=3, cutoff=0.6)
    hint = (f"did you mean {' or '.join(repr(c) for c in close)}?" if close
            else "`herald validate --refs` lists them")
    return UsageError(f"unknown event ref {ref!r}; {hint}")


def compose_planned(planned: PlannedPost, site: Site, config: Config, limits: Limits) -> Post:
    """Compose one planned post with the site's templates and hashtags."""
    return compose(planned, site.versions(planned.key.ref), limits, templates=config.templates,
                   hashtags=config.site.hashtags)


def preview(site: Site, config: Config, *, now: datetime,
            limits_for: Callable[[Account], Limits], selection: Selection = Selection(),
            done: Collection[PostKey] = (),
            first_seen: Mapping[str, datetime] | None = None) -> Iterator[Post]:
    """Compose every planned post, in time order, exactly as it would go out (lazily)."""
    accounts = {a.name: a for a in config.accounts}
    result = campaign(site, config, now=now, selection=selection, done=done,
                      first_seen=first_seen)
    return (compose_planned(p, site, config, limits_for(accounts[p.key.account]))
            for p in result.posts)


@dataclass(frozen=True)
class Outcome:
    """What happened to one post: posted, already posted, recovered after a crash, or failed."""

    key: PostKey
    status: str
    url: str | None = None
    error: PublishError | Unfit | None = None
    note: str | None = None
    """Why nothing was sent, when that is no error (a post skipped earlier on purpose)."""

    @property
    def ok(self) -> bool:
        return self.error is None


def deliver(key: PostKey, outgoing: OutgoingPost, *, publisher: Publisher, ledger: Ledger,
            now: datetime, again: bool = False, daily_cap: int | None = None) -> Outcome:
    """Send one post exactly once: reserve it, reconcile an uncertain earlier attempt, record.

    `outgoing.idempotency_key` is replaced by the ledger's key for this post, so a retry after a
    crash carries the same key and the platform can recognise it. With `daily_cap`, an account
    that already made that many posts in the last 24 hours posts nothing and is told when it
    may post again.
    """
    if daily_cap is not None:
        held = _over_daily_cap(key, ledger, now, daily_cap)
        if held is not None:
            return held
    try:
        reservation = ledger.reserve(key, text=outgoing.text, now=now, again=again,
                                     reply_to=outgoing.reply_to)
    except AlreadyPosted as exc:
        return Outcome(key, "already posted", exc.entry.url)
    except LedgerConflict as exc:
        return _skipped_earlier(key, exc)
    outgoing = replace(outgoing, idempotency_key=reservation.idempotency_key)
    if reservation.uncertain:
        try:
            found = publisher.find(outgoing)
        except PublishError as exc:
            # The earlier attempt may be out: stay uncertain until a lookup answers.
            ledger.fail(reservation, exc, now, _retry_after(exc), unknown=True)
            return Outcome(key, "failed", error=exc)
        if found is not None:
            ledger.record(reservation, found, now)
            return Outcome(key, "recovered", found.url)
    try:
        published = publisher.publish(outgoing)
    except Duplicate as exc:
        if not reservation.uncertain:
            ledger.fail(reservation, exc, now, None)
            return Outcome(key, "failed", error=exc)
        # The earlier attempt whose answer was lost did reach the platform.
        found = exc.published or Published(id="", url="")
        ledger.record(reservation, found, now)
        return Outcome(key, "recovered", found.url or None)
    except PublishError as exc:
        ledger.fail(reservation, exc, now, _retry_after(exc))
        return Outcome(key, "failed", error=exc)
    ledger.record(reservation, published, now)
    return Outcome(key, "posted", published.url)


def failed_before_sending(key: PostKey, error: PublishError, *, ledger: Ledger, now: datetime,
                          text: str = "", again: bool = False) -> Outcome:
    """Record a post that failed before anything was sent (say, a missing token).

    The ledger keeps the error and the attempt, so `history` and `status` show it; since
    nothing went out, the next attempt needs no reconciliation. A deliberate repeat (`again`)
    that failed leaves no trace, so the post made before still counts as done.
    """
    if again:
        return Outcome(key, "failed", error=error)
    try:
        reservation = ledger.reserve(key, text=text, now=now, again=again)
    except AlreadyPosted as exc:
        return Outcome(key, "already posted", exc.entry.url)
    except LedgerConflict as exc:
        return _skipped_earlier(key, exc)
    # Nothing went out now; an earlier attempt whose outcome is unknown stays unknown.
    ledger.fail(reservation, error, now, _retry_after(error), unknown=reservation.uncertain)
    return Outcome(key, "failed", error=error)


def _skipped_earlier(key: PostKey, conflict: LedgerConflict) -> Outcome:
    reason = conflict.entry.reason or "skipped"
    return Outcome(key, "skipped earlier", note=f"{reason}; use --again to post it anyway")


def _retry_after(error: PublishError) -> datetime | None:
    return error.retry_after if isinstance(error, RateLimited) else None


def _over_daily_cap(key: PostKey, ledger: Ledger, now: datetime, cap: int) -> Outcome | None:
    """Hold a post when its account made `cap` posts on this calendar day (in `now`'s zone)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = sum(1 for e in ledger.history()
                if e.key.account == key.account and e.state == "posted"
                and e.posted_at is not None and e.posted_at >= midnight)
    if today < cap:
        return None
    tomorrow = datetime.combine(midnight.date() + timedelta(days=1), time(0),
                                tzinfo=now.tzinfo)
    return Outcome(key, "held", error=RateLimited(
        f"daily cap of {cap} posts reached; the next post can go at "
        f"{tomorrow:%Y-%m-%d %H:%M}", account=key.account, retry_after=tomorrow))


def manual_key(text: str, account: str, lang: str, image: bytes | None = None) -> PostKey:
    """The identity of a free-text post: the same text on the same account is one post."""
    digest = hashlib.sha256(text.encode("utf-8") + (image or b"")).hexdigest()[:16]
    return PostKey(f"post-{digest}", "manual", account, lang)


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


def send(post: Post, event: Event, account: Account, *, publisher: Publisher, ledger: Ledger,
         attach: Attach, now: datetime, again: bool = False, reply_to: str | None = None,
         capped: bool = True) -> Outcome:
    """Prepare the attachments of a composed post and deliver it exactly once.

    With `capped`, the account's `daily_cap` applies; corrections and cancellations pass
    False, since holding them back would leave people with the wrong time.
    """
    if not post.fits:
        return Outcome(post.key, "failed", error=Unfit(post.error or "does not fit",
                                                         account=account.name))
    try:
        limits = publisher.limits()
    except PublishError as exc:
        return failed_before_sending(post.key, exc, ledger=ledger, now=now, text=post.text,
                                     again=again)
    extras = attach(post, event, account, limits)
    outgoing = OutgoingPost(post.text, post.lang, "", link=post.link, media=extras.media,
                            card=extras.card, reply_to=reply_to)
    outcome = deliver(post.key, outgoing, publisher=publisher, ledger=ledger, now=now,
                      again=again,
                      daily_cap=account.options.get("daily_cap") if capped else None)
    if outcome.status in ("posted", "recovered"):
        # What the post said about the event, so that a later change can be corrected.
        ledger.describe(post.key, Details.of(event).to_json())
    return outcome


def announce(site: Site, config: Config, ref: str, *, now: datetime, ledger: Ledger,
             publishers: Mapping[str, Publisher], attach: Attach, stage: str | None = None,
             selection: Selection = Selection(), again: bool = False) -> list[Outcome]:
    """Post one event's stage now on every selected account, through the ledger."""
    versions = site.versions(ref)
    if not versions:
        raise unknown_ref(ref, site)
    if selection.lang is not None and selection.lang not in versions:
        raise UsageError(f"event {ref!r} has no {selection.lang!r} version "
                         f"(it has {', '.join(sorted(versions))})")
    stages = {s.name: s for s in config.stages}
    chosen = stages.get(stage or "", None) if stage else next(
        (s for s in config.stages if s.kind == "announcement"), config.stages[0])
    if chosen is None:
        raise UsageError(f"unknown stage {stage!r} (configured: {', '.join(stages)})")
    start = next(iter(versions.values())).start
    if start <= now:
        raise UsageError(f"event {ref!r} started at {start:%Y-%m-%d %H:%M}; Herald announces "
                         f"only upcoming events (use `herald post` for anything else)")
    outcomes = []
    for account in selection.accounts(config):
        for lang in languages_for(account, versions):
            if selection.lang is not None and lang != selection.lang:
                continue
            publisher = publishers[account.name]
            key = PostKey(ref, chosen.name, account.name, lang)
            try:
                limits = publisher.limits()
            except PublishError as exc:
                outcomes.append(failed_before_sending(key, exc, ledger=ledger, now=now,
                                                      again=again))
                continue
            post = compose_planned(PlannedPost(key, now, start, chosen), site, config, limits)
            outcomes.append(send(post, versions[post.lang], account, publisher=publisher,
                                 ledger=ledger, attach=attach, now=now, again=again))
    return outcomes
