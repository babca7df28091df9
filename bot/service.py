"""Run Herald's pipeline: load -> plan -> compose -> images -> publish -> record.

Every function takes the real objects (site, ledger, publishers) as arguments; nothing here
reads configuration files or builds adapters. One post's delivery is `bot.delivery`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from .changes import Correction, cancellation_post, correction_post
from .composer import compose
from .config import Config
from .costs import Calls, cost
from .content import Site
from .delivery import (Attach, Attachments, Hold, Outcome, cap_hold, deliver, deliver_thread,
                       failed_before_sending, no_attachments, posted_id, rate_hold,
                       reply_target, send)
from .digest import REF_PREFIX, DigestPost, PlannedDigest, compose_digest, current
from .errors import PublishError, Unfit, UsageError
from .ledger import Entry, Ledger
from .model import Account, Limits, PlannedPost, Post, PostKey
from .pending import PendingChange
from .planner import allows, control, languages_for
from .platforms.base import Publisher
from .survey import Fate, Survey, fates, survey

__all__ = ["Attach", "Attachments", "Item", "Outcome", "Selection", "announce",
           "announce_digest", "compose_digest_planned", "compose_planned", "deliver", "forecast",
           "manual_key", "no_attachments", "preview", "send", "unknown_ref"]


@dataclass(frozen=True)
class Selection:
    """Which posts a command is about; None means all."""

    event: str | None = None
    platform: str | None = None
    lang: str | None = None
    account: str | None = None
    digest: str | None = None
    """Only this digest (and no event)."""

    def accounts(self, config: Config) -> tuple[Account, ...]:
        return tuple(a for a in config.accounts
                     if (self.platform is None or a.platform == self.platform)
                     and (self.account is None or a.name == self.account))


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


def compose_digest_planned(planned: PlannedDigest, site: Site, config: Config,
                           limits: Limits, *, first: Entry | None,
                           now: datetime) -> DigestPost | None:
    """Compose a planned digest as it goes out; None when its window has nothing to list.

    It is composed as of its first part's first reservation (`first`, the ledger's row), so
    that a retry or the rest of a thread says what the first attempt said; else as of `now`.
    """
    at = first.created_at if first is not None else max(planned.due, now)
    return compose_digest(planned.period, config.digest(planned.period.digest),
                          [site.versions(ref) for ref in site.refs()], planned.key.account,
                          planned.key.lang, limits, at=at, hashtags=config.site.hashtags)


# --- preview: what `herald run` will do, post by post ------------------------------------------

@dataclass(frozen=True)
class Item:
    """One post as preview shows it: the composed post on its account, and when it goes or why not.

    `fate` is what `herald run` will do with it (`survey.Fate`: `at`, when it sends it, aware
    and in the site's zone, None when it will not go; `state`, a key of `survey.FATES` or
    "unfit" for a post whose text cannot go out; `reason`, why). `post` is the exact text with
    its count and limit (None only when it cannot be composed at all). `attachments` are the
    prepared images or link card, only when preview was asked to prepare them; `cost` is what
    the platform charges for the post, in USD.

    `action` says how it goes out: "post" (a new post, as every planned post), or for a
    correction or cancellation "reply" (a reply under the announcement, or a new post where
    the platform has no replies), "edit" (the announcement's text is replaced) or "delete"
    (every post about the event on the account, in that language, is deleted: no text).
    """

    fate: Fate
    account: Account
    post: Post | None = None
    attachments: Attachments | None = None
    cost: float = 0.0
    action: str = "post"

    @property
    def change(self) -> PendingChange | None:
        """The correction or cancellation this item is, if it is one."""
        planned = self.fate.planned
        return planned if isinstance(planned, PendingChange) else None

    key = property(lambda self: self.fate.key)
    due = property(lambda self: self.fate.due)
    at = property(lambda self: self.fate.at)
    state = property(lambda self: self.fate.state)
    reason = property(lambda self: self.fate.reason)

    @property
    def goes(self) -> bool:
        return self.fate.at is not None

    @property
    def platform(self) -> str:
        return self.account.platform

    def unfit(self, reason: str) -> Item:
        """The same post, which will not go because its text cannot."""
        return replace(self, fate=replace(self.fate, at=None, state="unfit", reason=reason))


def forecast(site: Site, config: Config, found: Survey, *, now: datetime,
             limits_for: Callable[[Account], Limits], selection: Selection = Selection(),
             attach: Attach | None = None) -> Iterator[Item]:
    """Yield every post of the survey, in time order, composed as `herald run` will send it.

    Lazy: each post is composed (and, given `attach`, its images prepared) only when asked for,
    so the first comes at once and only one post's image bytes are held at a time. A post that
    will not go is composed too (its text shows what was dropped) but gets no images. The
    survey covers every account and event; the selection only narrows what is shown, so the
    times are those of the whole campaign.
    """
    if selection.event is not None and selection.event not in site.refs() \
            and selection.event not in {e.ref for e in site.drafts} \
            and selection.event not in {c.key.ref for c in found.changes}:
        raise unknown_ref(selection.event, site)    # at once, before anything is printed
    if selection.digest is not None:
        config.digest(selection.digest)             # an unknown digest: one clear error
    return _items(site, config, found, now=now.astimezone(config.site.timezone),
                  limits_for=limits_for, selection=selection, attach=attach)


def _items(site: Site, config: Config, found: Survey, *, now: datetime,
           limits_for: Callable[[Account], Limits], selection: Selection,
           attach: Attach | None) -> Iterator[Item]:
    accounts = {a.name: a for a in selection.accounts(config)}
    stages = {s.name: s for s in config.stages}
    digest = REF_PREFIX + selection.digest if selection.digest is not None else None
    for fate in fates(found, now=now):
        key = fate.key
        account = accounts.get(key.account)
        if account is None or (selection.event is not None and key.ref != selection.event) \
                or (digest is not None and key.ref != digest) \
                or (selection.lang is not None and key.lang != selection.lang):
            continue
        item = Item(fate, account)
        if isinstance(fate.planned, PendingChange):
            found_item = _change_item(item, fate.planned, site, config, limits=limits_for(account))
            prepared = attach is not None and found_item.post is not None
            yield replace(found_item, attachments=Attachments() if prepared else None)
            continue
        if isinstance(fate.planned, PlannedDigest):
            yield from _digest_items(item, fate.planned, site, config, found, now=now,
                                     limits=limits_for(account), attach=attach)
            continue
        versions = site.versions(key.ref)
        planned = fate.planned
        if planned is None and key.stage in stages and versions:
            planned = PlannedPost(key, fate.due, next(iter(versions.values())).upcoming_until,
                                  stages[key.stage])
        if planned is None:
            yield item
            continue
        limits = limits_for(account)
        try:
            post = compose_planned(planned, site, config, limits)
        except ValueError as exc:   # a template field or a language the composer cannot use
            yield item.unfit(f"cannot compose it: {exc}")
            continue
        if not post.fits and fate.state != "skipped":
            fate = item.unfit(post.error or "does not fit").fate
        extras = None
        if attach is not None and fate.state in ("due", "later", "waiting", "stopped"):
            extras = attach(post, versions.get(post.lang) or next(iter(versions.values())),
                            account, limits)
        if extras is not None:
            alts = [m.alt for m in extras.media]
        else:    # not prepared: the event's image or a drawn card, with its description
            pictured = post.image is not None or config.images.cards
            alts = [post.image.alt if post.image else post.title] \
                if pictured and not limits.link_cards and limits.images_per_post else []
        yield Item(fate, account, post, extras, cost(limits, Calls.publishing(post.text, alts)))


def _change_item(item: Item, pending: PendingChange, site: Site, config: Config, *,
                 limits: Limits) -> Item:
    """A correction or cancellation, composed as `herald run` composes it when it goes.

    An edit where the platform edits, else a reply; a cancellation deletes the event's posts
    where the account says `on_cancel = "delete"` (every adapter can delete).
    """
    change, when = pending.change, item.at or item.due
    try:
        if isinstance(change, Correction):
            edit = limits.edits
            post = correction_post(change, site.versions(change.announced.key.ref), limits,
                                   edit=edit, templates=config.templates,
                                   hashtags=config.site.hashtags, now=when)
            action = "edit" if edit else "reply"
        elif item.account.options.get("on_cancel", "reply") == "delete":
            return replace(item, action="delete",
                           cost=cost(limits, Calls(deletes=pending.posts)))
        else:
            event = change.announced.told.as_event(config.site.timezone)
            post = cancellation_post(change, {event.lang: event}, limits,
                                     templates=config.templates, now=when)
            action = "reply"
    except ValueError as exc:      # a template field or a language the composer cannot use
        return replace(item.unfit(f"cannot compose it: {exc}"), action="reply")
    found = replace(item, post=post, action=action,
                    cost=0.0 if action == "edit" else cost(limits, Calls.publishing(post.text)))
    if not post.fits and found.state != "skipped":
        found = found.unfit(post.error or "does not fit")
    return found


def _digest_items(item: Item, planned: PlannedDigest, site: Site, config: Config,
                  found: Survey, *, now: datetime, limits: Limits,
                  attach: Attach | None) -> Iterator[Item]:
    """Each part of a digest's thread still to go out, as `herald run` composes it.

    A digest whose window has nothing to list is not posted, and not shown.
    """
    key = item.key
    first = found.latest.get(planned.period.post_key(key.account, key.lang))
    try:
        composed = compose_digest_planned(planned, site, config, limits, first=first, now=now)
    except ValueError as exc:      # a language Babel lacks
        yield item.unfit(f"cannot compose it: {exc}")
        return
    if composed is None:
        return
    for post in composed.posts()[planned.part - 1:]:
        part = replace(item, fate=replace(item.fate, key=post.key), post=post,
                       attachments=Attachments() if attach is not None else None,
                       cost=cost(limits, Calls.publishing(post.text)))
        if not post.fits and part.state != "skipped":
            part = part.unfit(post.error or "does not fit")
        yield part


def preview(site: Site, config: Config, *, now: datetime,
            limits_for: Callable[[Account], Limits], selection: Selection = Selection(),
            first_seen: Mapping[str, datetime] | None = None) -> Iterator[Post]:
    """Compose every post of the campaign from `now`, as a first run that catches up would.

    No ledger: each event counts as first seen `now` (or at `first_seen`) and nothing was
    posted. The texts are exactly those `herald run` sends; for what a real ledger allows and
    when each goes, survey the ledger and call `forecast` (as `herald preview` does).
    """
    zone = config.site.timezone
    now = now.astimezone(zone)
    seen = {**{ref: now for ref in site.refs()}, **(first_seen or {})}
    found = survey(config, site, (), now=now, seen=seen)
    return (item.post for item in forecast(site, config, found, now=now, limits_for=limits_for,
                                           selection=selection)
            if item.post is not None and item.state != "skipped")


def manual_key(text: str, account: str, lang: str, image: bytes | None = None) -> PostKey:
    """The identity of a free-text post: the same text on the same account is one post."""
    digest = hashlib.sha256(text.encode("utf-8") + (image or b"")).hexdigest()[:16]
    return PostKey(f"post-{digest}", "manual", account, lang)


def announce(site: Site, config: Config, ref: str, *, now: datetime, ledger: Ledger,
             publishers: Mapping[str, Publisher], attach: Attach, stage: str | None = None,
             selection: Selection = Selection(), again: bool = False,
             clock: Callable[[], datetime] | None = None) -> list[Outcome]:
    """Post one event's stage now on every selected account, threaded exactly as `run` does.

    The second language replies to the first, a reminder to the event's announcement. Posts
    go through the ledger (exactly once); a deliberate repeat (`again`) that fails is left to
    the user. A language pair the daily cap would split waits whole ("held").
    """
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
    first = next(iter(versions.values()))
    start = first.start
    if first.upcoming_until <= now:
        raise UsageError(f"event {ref!r} started at {start:%Y-%m-%d %H:%M}; Herald announces "
                         f"only upcoming events (use `herald post` for anything else)")
    rules = control(versions)
    if rules.skip:
        raise UsageError(f"event {ref!r} is turned off in its front matter (herald: skip); "
                         f"remove that to announce it")
    accounts = [a for a in selection.accounts(config) if allows(rules, a)]
    if selection.accounts(config) and not accounts:
        raise UsageError(f"event {ref!r} goes on none of the selected accounts (its "
                         f"herald: platforms or accounts)")
    work = []
    for account in accounts:
        keys = [PostKey(ref, chosen.name, account.name, lang)
                for lang in languages_for(account, versions)
                if selection.lang is None or lang == selection.lang]
        if keys:
            work.append((account, keys, PlannedPost(keys[0], now, first.upcoming_until, chosen)))
    waits = {account.name: rate_hold(account, ledger, now) for account, _, _ in work}
    refused = [outcome for account, keys, planned in work if waits[account.name] is None
               for outcome in _unfit(account, keys, planned, site, config,
                                     publishers[account.name])]
    if refused:                 # one post that cannot go anywhere: nothing goes anywhere
        return refused
    outcomes = []
    for account, keys, planned in work:
        if (wait := waits[account.name]) is not None:     # no request before a reset
            outcomes.extend(wait.outcome(key) for key in keys)
            continue
        outcomes.extend(_announce_on(account, keys, planned, site=site, config=config,
                                     ledger=ledger, publisher=publishers[account.name],
                                     attach=attach, now=now, again=again, clock=clock))
    return outcomes


def _unfit(account: Account, keys: list[PostKey], planned: PlannedPost, site: Site,
           config: Config, publisher: Publisher) -> list[Outcome]:
    """The posts of one account that cannot fit its platform, each as a refusal.

    An account whose limits cannot be read is left to the sending, which records why.
    """
    try:
        limits = publisher.limits()
    except PublishError:
        return []
    posts = (compose_planned(replace(planned, key=key), site, config, limits) for key in keys)
    return [Outcome(post.key, "failed", error=Unfit(
        f"{post.error or 'does not fit'}; nothing was sent", account=account.name))
        for post in posts if not post.fits]


def _announce_on(account: Account, keys: list[PostKey], planned: PlannedPost, *, site: Site,
                 config: Config, ledger: Ledger, publisher: Publisher, attach: Attach,
                 now: datetime, again: bool,
                 clock: Callable[[], datetime] | None) -> list[Outcome]:
    """Post the language versions of one stage on one account, in the account's order."""
    try:
        limits = publisher.limits()
    except PublishError as exc:
        return [failed_before_sending(key, exc, ledger=ledger, now=now, again=again,
                                      requested=again) for key in keys]
    pending = [k for k in keys if again or not _done(ledger.current(k))]
    hold = cap_hold(account, ledger, now, size=len(pending)) if pending else None
    versions = site.versions(planned.key.ref)
    sent: dict[PostKey, str] = {}
    posted = posted_id(ledger)
    outcomes: list[Outcome] = []
    for n, key in enumerate(keys):
        if hold is not None and key in pending:
            outcomes.append(hold.outcome(key))
            continue
        post = compose_planned(replace(planned, key=key), site, config, limits)
        reply_to = reply_target(key, config.stages, account, versions,
                                lambda k: sent.get(k) or posted(k)) if limits.replies else None
        outcome = send(post, versions[post.lang], account, publisher=publisher, ledger=ledger,
                       attach=attach, now=now, again=again, reply_to=reply_to, requested=again,
                       limits=limits, clock=clock)
        outcomes.append(outcome)
        if outcome.sent:
            entry = ledger.current(key, requested=again)
            if entry is not None and entry.platform_id:
                sent[key] = entry.platform_id
        elif isinstance(outcome.error, PublishError) or outcome.until is not None:
            # Like `run`: the next language replies to this one, so it waits for it. (A post
            # that cannot fit is never sent; as in `run`, the others go on without it.)
            outcomes.extend(Outcome(k, "not sent", note=f"it follows the {key.lang} post, "
                                                        f"which did not go out")
                            for k in keys[n + 1:])
            break
    return outcomes


def _done(entry) -> bool:
    return entry is not None and entry.done


def announce_digest(site: Site, config: Config, name: str, *, now: datetime, ledger: Ledger,
                    publishers: Mapping[str, Publisher], selection: Selection = Selection(),
                    again: bool = False,
                    clock: Callable[[], datetime] | None = None) -> list[Outcome]:
    """Post the current period of a digest now on every selected account, as `run` posts it.

    The current period is the one whose sending time was the last at or before `now`; it
    lists the events of its window that have not started. It goes through the ledger under
    the same keys as `run`'s, so a period already posted says so (`again` posts it anew).
    """
    digest = config.digest(name)
    period = current(digest, now, config.site.timezone)
    events = [site.versions(ref) for ref in site.refs()]
    work = []                   # composed for every account first: see `announce`
    for account, langs in digest.posters(selection.accounts(config)):
        keys = [period.post_key(account.name, lang) for lang in langs
                if selection.lang is None or lang == selection.lang]
        if not keys:
            continue
        if (wait := rate_hold(account, ledger, now)) is not None:    # no request before a reset
            work.append((account, keys, wait, {}, {}))
            continue
        try:
            limits = publishers[account.name].limits()
        except PublishError as exc:
            work.append((account, keys, exc, {}, {}))
            continue
        earlier = {key: ledger.current(key, requested=again) for key in keys}
        composed = {}
        for key in keys:
            first = earlier[key]
            at = first.created_at if first is not None and not (again and first.done) else now
            composed[key] = compose_digest(period, digest, events, account.name, key.lang,
                                           limits, at=at, hashtags=config.site.hashtags)
        work.append((account, keys, limits, earlier, composed))
    refused = [Outcome(key, "failed", error=Unfit(f"{made.error or 'does not fit'}; nothing "
                                                  f"was sent", account=account.name))
               for account, keys, _, _, composed in work
               for key, made in composed.items() if made is not None and not made.fits]
    if refused:
        return refused
    outcomes: list[Outcome] = []
    for account, keys, limits, earlier, composed in work:
        publisher = publishers[account.name]
        if isinstance(limits, Hold):
            outcomes.extend(limits.outcome(key) for key in keys)
            continue
        if isinstance(limits, PublishError):
            outcomes.extend(failed_before_sending(key, limits, ledger=ledger, now=now,
                                                  again=again, requested=again) for key in keys)
            continue
        pending = [k for k in keys if again or not _done(earlier[k])]
        hold = cap_hold(account, ledger, now, size=len(pending)) if pending else None
        for key in keys:
            if hold is not None and key in pending:
                outcomes.append(hold.outcome(key))
            elif composed[key] is None:
                outcomes.append(Outcome(key, "nothing to post", note=(
                    f"no event still to come in the window of {period.key} and no text for "
                    f"an empty window")))
            else:
                outcomes.extend(deliver_thread(composed[key].posts(), publisher=publisher,
                                               ledger=ledger, now=now, again=again,
                                               requested=again, limits=limits, clock=clock))
    return outcomes
