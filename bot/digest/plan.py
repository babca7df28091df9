"""Which digests are due: each digest's current and next period, per account and language.

Pure, like the planner: `now`, the events and the ledger's latest rows are parameters. A digest
is planned as a `PlannedDigest`, a `PlannedPost` whose event is its window, so the timing code
gives it quiet hours, spacing, the daily cap and the first-run rule like any post. A thread that
went out in part (Herald stopped between two parts) is planned again from its next part; how
many parts it has is read from the numbering of the parts that went out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from ..model import Account, Event, PlannedPost, PostKey, Skipped, Stage
from ..planner import Plan
from .schedule import (Digest, Period, current, events_in, following, part_key, period_at,
                       upcoming)
from .texts import texts_for, thread_size


LOOK_AHEAD = 400
"""How many periods ahead planning looks for the next digest with something to say."""


class ThreadRow(Protocol):
    """What planning reads of a ledger entry: its stored state, its text, whether it is done."""

    state: str
    text: str | None

    @property
    def done(self) -> bool: ...


@dataclass(frozen=True)
class PlannedDigest(PlannedPost):
    """A digest due on one account in one language, from part `part` of its thread on.

    `event_start` is the end of the window: a digest that would go out after it is dropped.
    """

    period: Period
    part: int = 1


def next_part(first: PostKey, latest: Mapping[PostKey, ThreadRow]) -> int | None:
    """The part of the thread starting with `first` to send next; None when it is finished.

    A thread is finished when its last part went out, or when a part was skipped (the rest of
    it is then dropped as well).
    """
    part = 1
    while True:
        row = latest.get(part_key(first, part))
        if row is None or not row.done:
            return part
        if row.state != "posted":
            return None
        total = thread_size(row.text, part)
        if total is None or part >= total:
            return None
        part += 1


def plan_digests(digests: Iterable[Digest], accounts: Iterable[Account],
                 events: Iterable[Mapping[str, Event]], *, now: datetime, zone: ZoneInfo,
                 grace: timedelta, latest: Mapping[PostKey, ThreadRow] | None = None,
                 ) -> tuple[list[PlannedDigest], list[Skipped]]:
    """Plan each digest's current period (unless it went out or was missed) and its next one.

    The current period is the one whose sending time is the last at or before `now`. It is
    planned when its thread is not finished in `latest` (the ledger's latest row per key) and
    it is late by at most `grace`, and skipped, with why, when later. Earlier periods are never
    planned: only the newest digest is news. A period whose window lists no event still to come
    is not planned unless the digest has a text for an empty window in that language, so the
    next one planned is the next that has something to say.
    """
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    accounts = tuple(accounts)
    events = list(events)
    latest = latest or {}
    planned: list[PlannedDigest] = []
    skipped: list[Skipped] = []
    for digest in digests:
        posters = digest.posters(accounts)
        ahead = _next_with_news(digest, posters, events, now, zone)
        for period in (current(digest, now, zone), *([ahead] if ahead else [])):
            listed = bool(events_in(period, events, at=now if period.at <= now else None))
            for account, langs in posters:
                for lang in langs:
                    first = period.post_key(account.name, lang)
                    part = next_part(first, latest)
                    if part is None:
                        continue
                    texts = texts_for(digest.texts, lang)
                    if part == 1 and not listed and texts is not None and not texts.empty:
                        continue
                    key = part_key(first, part)
                    if now - period.at > grace:
                        skipped.append(Skipped(
                            key, period.at, f"missed: was due {period.at:%Y-%m-%d %H:%M}, more "
                                            f"than the grace period of {_human(grace)} ago"))
                        continue
                    planned.append(PlannedDigest(key, period.at, period.end,
                                                 digest_stage(key, period), period, part))
    planned.sort(key=lambda p: p.due)
    return planned, skipped


def _next_with_news(digest: Digest, posters, events: list[Mapping[str, Event]],
                    now: datetime, zone: ZoneInfo) -> Period | None:
    """The first period after `now` whose window lists an event, or that has an empty text."""
    langs = {lang for _, ls in posters for lang in ls}
    empty = any((texts := texts_for(digest.texts, lang)) is not None and texts.empty
                for lang in langs)
    last = max((next(iter(v.values())).start for v in events if v), default=None)
    period = upcoming(digest, now, zone)
    for _ in range(LOOK_AHEAD):
        if empty or events_in(period, events):
            return period
        if last is None or period.end > last:
            return None
        period = period_at(digest, following(digest.every, period.at, zone), zone)
    return None


def with_digests(plan: Plan, digests: Iterable[PlannedDigest],
                 skipped: Iterable[Skipped] = ()) -> Plan:
    """The events' plan with the digests among its posts, all in time order."""
    posts = sorted((*plan.posts, *digests), key=lambda p: p.due)
    return Plan(tuple(posts), (*plan.skipped, *skipped))


def digest_stage(key: PostKey, period: Period) -> Stage:
    """The stage a digest's post plays for the timing code: an announcement at a set time."""
    return Stage(key.stage, "announcement", period.end - period.at)


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes and minutes % (60 * 24) == 0:
        return f"{minutes // (60 * 24)}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
