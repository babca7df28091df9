"""Decide which posts each event's campaign needs, and when: a pure function of its inputs.

The planner never reads the clock, the disk or the ledger: the shell passes `now`, the posts
already made (`done`) and when each event was first seen.
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .model import Account, Control, Event, PlannedPost, PostKey, Skipped, Stage

DATE_ONLY_TIME = time(9, 0)
"""When a stage goes, on its day, for an event without a time of day, unless configured."""

NO_CONTROL = Control()


@dataclass(frozen=True)
class Plan:
    """Posts still to make (due now or later, in time order) and the ones skipped, with why."""

    posts: tuple[PlannedPost, ...]
    skipped: tuple[Skipped, ...]

    def due(self, now: datetime) -> list[PlannedPost]:
        return [p for p in self.posts if p.is_due(now)]


def stage_time(start: datetime, before: timedelta, zone: ZoneInfo) -> datetime:
    """Return `before` ahead of `start`: whole days on the wall clock, the rest in elapsed time.

    "1 day before 18:00" stays 18:00 the day before even across a daylight-saving change,
    while "2 hours before" is always two real hours.
    """
    local = start.astimezone(zone)
    days = timedelta(days=before.days)
    rest = before - days
    if days:
        # A wall time inside a DST gap resolves to the instant just after the gap.
        local = (local.replace(tzinfo=None) - days).replace(tzinfo=zone)
    return (local.astimezone(ZoneInfo("UTC")) - rest).astimezone(zone)


def date_only_time(stage: Stage, start: datetime, zone: ZoneInfo) -> datetime:
    """Return when `stage` goes for an event without a time of day that starts on `start`'s day.

    It goes at the stage's `date_only_time` (09:00 unless configured), on the day its whole
    days of `before` count back to: "1d" the day before, "2h" the day itself.
    """
    at = stage.date_only_time or DATE_ONLY_TIME
    day = start.astimezone(zone).date() - timedelta(days=(stage.before or timedelta(0)).days)
    # A wall time inside a DST gap resolves to the instant just after the gap.
    return datetime.combine(day, at, tzinfo=zone).astimezone(ZoneInfo("UTC")).astimezone(zone)


def control(versions: Mapping[str, Event]) -> Control:
    """What the `herald:` blocks of an event's versions ask, together.

    One version's `skip` turns the whole event off, and where versions narrow the platforms or
    accounts, the event goes only where every version lets it: Herald never posts where one
    of the site's editors said not to. (Hashtags and texts are the composer's: see
    `composer.own_hashtags` and `composer.own_text`.)
    """
    blocks = [v.herald for v in versions.values() if v.herald is not None]
    if not blocks:
        return NO_CONTROL
    platforms = [b.platforms for b in blocks if b.platforms is not None]
    accounts = [b.accounts for b in blocks if b.accounts is not None]
    return Control(
        skip=any(b.skip for b in blocks),
        platforms=tuple(p for p in platforms[0] if all(p in o for o in platforms))
        if platforms else None,
        accounts=tuple(a for a in accounts[0] if all(a in o for o in accounts))
        if accounts else None)


def allows(rules: Control, account: Account) -> bool:
    """Whether an event with these rules goes on `account`."""
    return (not rules.skip
            and (rules.platforms is None or account.platform in rules.platforms)
            and (rules.accounts is None or account.name in rules.accounts))


def languages_for(account: Account, versions: Mapping[str, Event]) -> tuple[str, ...]:
    """The languages an account posts an event in: its languages the event has, else its first."""
    both = tuple(lang for lang in account.languages if lang in versions)
    return both or account.languages[:1]


def plan(
    events: Iterable[Mapping[str, Event]],
    stages: Iterable[Stage],
    accounts: Iterable[Account],
    *,
    now: datetime,
    grace: timedelta,
    zone: ZoneInfo,
    done: Collection[PostKey] = (),
    first_seen: Mapping[str, datetime] | None = None,
    safe_since: datetime | None = None,
) -> Plan:
    """Plan every stage of every upcoming event for every account and language.

    An event without a time of day counts as upcoming until the end of its day, and its stages
    go at their `date_only_time` (see `date_only_time`). An event's `herald:` blocks can turn
    it off or narrow its accounts (see `control`): it is then not planned there at all, and
    nothing is recorded, so that it is planned again once the block allows it.
    `events` holds one mapping per event, language -> version; posts come in time order, and
    at one time in the order of each account's languages. A stage whose time has passed
    by more than `grace` is skipped, and a reminder is never planned at or after the start.
    When several stages of one event are due at once for one account and language, the
    stages that were already due when the event was first seen are a late discovery's backlog:
    only the most useful of them is kept (the announcement, else the latest reminder). A stage
    that came due later, while an earlier one waited (an outage, a back-off, quiet hours), is
    still posted after it; only a later reminder makes an earlier one pointless. On a new
    ledger's first run (`safe_since`), what was due by then is its backlog, which
    `timing.arrange` skips as such: none of it supersedes another stage that does not go.

    Python's cycle collector is paused meanwhile, as while loading: a plan makes several
    objects per post and no cycles, and each full collection would walk every event loaded.
    """
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _plan(events, tuple(stages), tuple(accounts), now=now, grace=grace, zone=zone,
                     done=done, seen=first_seen or {}, safe_since=safe_since)
    finally:
        if collecting:
            gc.enable()


def _plan(events: Iterable[Mapping[str, Event]], stages: tuple[Stage, ...],
          accounts: tuple[Account, ...], *, now: datetime, grace: timedelta, zone: ZoneInfo,
          done: Collection[PostKey], seen: Mapping[str, datetime],
          safe_since: datetime | None) -> Plan:
    # Each post with its place in time order, made from what is at hand (no attribute lookups
    # in a sort key): (due, ref, stage, account, language rank, language, number, post).
    placed: list[tuple] = []
    skipped: list[Skipped] = []
    order = {a.name: {lang: i for i, lang in enumerate(a.languages)} for a in accounts}
    for versions in events:
        if not versions:
            continue
        any_version = next(iter(versions.values()))
        ref, start = any_version.ref, any_version.upcoming_until
        if start <= now:
            continue
        rules = control(versions)
        visible = seen.get(ref, now)
        # When each stage is due depends on the event alone, not on the account or language.
        timed = [(stage, _due(stage, any_version, visible, zone)) for stage in stages]
        for account in accounts:
            if not allows(rules, account):
                continue
            name, ranks = account.name, order[account.name]
            for lang in languages_for(account, versions):
                rank = ranks.get(lang, 99)
                due_now: list[PlannedPost] = []
                same_time: dict[datetime, str] = {}
                for stage, due in timed:
                    key = PostKey(ref, stage.name, account.name, lang)
                    if any_version.date_only and stage.kind == "reminder":
                        first = same_time.setdefault(due, stage.name)
                        if first != stage.name:     # "2h" and "30m" both go at 09:00 that day
                            if key not in done:
                                skipped.append(Skipped(key, due, f"goes at the same time as "
                                                                 f"{first}: the event has no "
                                                                 f"time of day"))
                            continue
                    if key in done:
                        continue
                    if due >= start:
                        skipped.append(Skipped(key, due, "the event starts before this stage"))
                        continue
                    if due < now - grace:
                        skipped.append(Skipped(
                            key, due, f"missed: was due {due:%Y-%m-%d %H:%M}, "
                                      f"more than the grace period of {_human(grace)} ago"))
                        continue
                    planned = PlannedPost(key, due, start, stage)
                    if due <= now:
                        due_now.append(planned)
                    else:
                        placed.append((due, ref, stage.name, name, rank, lang, len(placed),
                                       planned))
                if not due_now:
                    continue
                backlog = [p for p in due_now if safe_since is not None and p.due <= safe_since]
                keep, superseded = _most_useful([p for p in due_now if p not in backlog],
                                                visible)
                placed.extend([(p.due, ref, p.stage.name, name, rank, lang, len(placed) + n, p)
                               for n, p in enumerate(backlog + keep)])
                skipped.extend(Skipped(p.key, p.due, f"superseded by {by.stage.name}")
                               for p, by in superseded)
    placed.sort()       # the number is unique: a post itself is never compared
    return Plan(tuple([entry[-1] for entry in placed]), tuple(skipped))


def _due(stage: Stage, event: Event, visible: datetime, zone: ZoneInfo) -> datetime:
    if stage.kind == "announcement" and stage.before is None:
        return visible.astimezone(zone)
    assert stage.before is not None
    due = (date_only_time(stage, event.start, zone) if event.date_only
           else stage_time(event.start, stage.before, zone))
    if stage.kind == "announcement":
        return max(due, visible.astimezone(zone))
    return due


def _most_useful(due: list[PlannedPost], seen: datetime
                 ) -> tuple[list[PlannedPost], list[tuple[PlannedPost, PlannedPost]]]:
    """Split the stages due at once into those kept and those superseded (with by which)."""
    if len(due) <= 1:
        return due, []
    announcements = [p for p in due if p.stage.kind == "announcement"]
    reminders = [p for p in due if p.stage.kind == "reminder"]
    latest = max(reminders, key=lambda p: p.due, default=None)
    keep = announcements[:1]
    if latest is not None and (not keep or latest.due > seen):
        keep.append(latest)
    superseded = []
    for post in due:
        if post in keep:
            continue
        by = latest if post.stage.kind == "reminder" and latest in keep else keep[0]
        superseded.append((post, by))
    return keep, superseded


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % (60 * 24) == 0:
        return f"{minutes // (60 * 24)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
