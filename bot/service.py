"""Run Herald's pipeline: load -> plan -> compose -> images -> publish -> record.

Every function takes the real objects (site, ledger, publishers) as arguments; nothing here
reads configuration files or builds adapters. One post's delivery is `bot.delivery`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from .composer import compose
from .config import Config
from .content import Site
from .delivery import (Attach, Attachments, Outcome, cap_hold, deliver, deliver_thread,
                       failed_before_sending, no_attachments, posted_id, reply_target, send)
from .digest import DigestPost, PlannedDigest, compose_digest, current, plan_digests, with_digests
from .errors import PublishError, Unfit, UsageError
from .ledger import Entry, Ledger
from .model import Account, Limits, PlannedPost, Post, PostKey
from .planner import Plan, languages_for, plan
from .platforms.base import Publisher

__all__ = ["Attach", "Attachments", "Outcome", "Selection", "announce", "announce_digest",
           "campaign", "compose_digest_planned", "compose_planned", "deliver", "manual_key",
           "no_attachments", "preview", "send", "unknown_ref"]


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


def campaign(site: Site, config: Config, *, now: datetime, selection: Selection = Selection(),
             done: Collection[PostKey] = (),
             first_seen: Mapping[str, datetime] | None = None,
             latest: Mapping[PostKey, Entry] | None = None) -> Plan:
    """Plan the campaign of every upcoming event, and the digests, narrowed to the selection.

    `latest` (the ledger's latest row per key) tells how far a digest's thread has got; a
    selected event leaves the digests out, a selected digest the events.
    """
    refs = site.refs()
    if selection.event is not None:
        if selection.event not in refs and selection.event not in {e.ref for e in site.drafts}:
            raise unknown_ref(selection.event, site)
        refs = [selection.event]
    digests = config.digests
    if selection.digest is not None:
        digests = (config.digest(selection.digest),)
    result = plan([site.versions(ref) for ref in refs] if selection.digest is None else [],
                  config.stages, selection.accounts(config), now=now, grace=config.grace,
                  zone=config.site.timezone, done=done, first_seen=first_seen)
    if selection.event is None and digests:
        planned, skipped = plan_digests(digests, selection.accounts(config),
                                        [site.versions(r) for r in refs], now=now,
                                        zone=config.site.timezone, grace=config.grace,
                                        latest=latest)
        result = with_digests(result, [d for d in planned if d.key not in done], skipped)
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


def preview(site: Site, config: Config, *, now: datetime,
            limits_for: Callable[[Account], Limits], selection: Selection = Selection(),
            done: Collection[PostKey] = (),
            first_seen: Mapping[str, datetime] | None = None,
            latest: Mapping[PostKey, Entry] | None = None) -> Iterator[Post]:
    """Compose every planned post, in time order, exactly as it would go out (lazily).

    A digest shows each part of its thread still to go out, as a post of its own.
    """
    result = campaign(site, config, now=now, selection=selection, done=done,
                      first_seen=first_seen, latest=latest)
    return _composed(result, site, config, now=now, limits_for=limits_for, latest=latest or {})


def _composed(result: Plan, site: Site, config: Config, *, now: datetime,
              limits_for: Callable[[Account], Limits],
              latest: Mapping[PostKey, Entry]) -> Iterator[Post]:
    accounts = {a.name: a for a in config.accounts}
    for planned in result.posts:
        limits = limits_for(accounts[planned.key.account])
        if isinstance(planned, PlannedDigest):
            first = latest.get(planned.period.post_key(planned.key.account,
                                                       planned.key.lang))
            composed = compose_digest_planned(planned, site, config, limits, first=first,
                                              now=now)
            if composed is not None:
                yield from composed.posts()[planned.part - 1:]
        else:
            yield compose_planned(planned, site, config, limits)


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
    start = next(iter(versions.values())).start
    if start <= now:
        raise UsageError(f"event {ref!r} started at {start:%Y-%m-%d %H:%M}; Herald announces "
                         f"only upcoming events (use `herald post` for anything else)")
    outcomes = []
    for account in selection.accounts(config):
        keys = [PostKey(ref, chosen.name, account.name, lang)
                for lang in languages_for(account, versions)
                if selection.lang is None or lang == selection.lang]
        if not keys:
            continue
        outcomes.extend(_announce_on(account, keys, PlannedPost(keys[0], now, start, chosen),
                                     site=site, config=config, ledger=ledger,
                                     publisher=publishers[account.name], attach=attach, now=now,
                                     again=again, clock=clock))
    return outcomes


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
    outcomes: list[Outcome] = []
    for account, langs in digest.posters(selection.accounts(config)):
        keys = [period.post_key(account.name, lang) for lang in langs
                if selection.lang is None or lang == selection.lang]
        if not keys:
            continue
        publisher = publishers[account.name]
        try:
            limits = publisher.limits()
        except PublishError as exc:
            outcomes.extend(failed_before_sending(key, exc, ledger=ledger, now=now, again=again,
                                                  requested=again) for key in keys)
            continue
        earlier = {key: ledger.current(key, requested=again) for key in keys}
        pending = [k for k in keys if again or not _done(earlier[k])]
        hold = cap_hold(account, ledger, now, size=len(pending)) if pending else None
        for key in keys:
            if hold is not None and key in pending:
                outcomes.append(hold.outcome(key))
                continue
            first = earlier[key]
            at = first.created_at if first is not None and not (again and first.done) else now
            composed = compose_digest(period, digest, events, account.name, key.lang, limits,
                                      at=at, hashtags=config.site.hashtags)
            if composed is None:
                outcomes.append(Outcome(key, "nothing to post", note=(
                    f"no event still to come in the window of {period.key} and no text for "
                    f"an empty window")))
            elif not composed.fits:
                outcomes.append(Outcome(key, "failed", error=Unfit(composed.error or "",
                                                                     account=account.name)))
            else:
                outcomes.extend(deliver_thread(composed.posts(), publisher=publisher,
                                               ledger=ledger, now=now, again=again,
                                               requested=again, limits=limits, clock=clock))
    return outcomes
