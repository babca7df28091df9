"""Decide when each planned post may actually go out: quiet hours, spacing, daily caps, retries.

Pure: `now`, the account's earlier posting times and the random source are parameters. The
planner says when a stage is due; `arrange` turns that into the moment it is sent, per account:

- a post due in the account's quiet hours waits for their end, unless that is after the event
  started (then it is skipped);
- two posts on one account are at least `min_gap` apart, so ten events announced at once go
  out spaced; the language versions of one stage go together (the second replies to the first);
- at most `daily_cap` posts in any 24 hours (a rolling window, not a calendar day): a post over
  the cap waits until enough earlier posts are 24 hours old, and a language pair waits or goes
  together, never split by the cap;
- a post missed by more than the grace window is skipped; the grace counts from the first
  moment the rules let it go (the end of the quiet hours it fell in, its turn after the gap or
  the daily cap), so a post the rules hold back waits its turn and is never dropped for it;
- on a new ledger's first run nothing already due is posted (no backlog).
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .config import parse_clock_period, parse_duration
from .errors import PublishError, RateLimited
from .localize import plural
from .model import Account, PlannedPost, Skipped

DEFAULT_GAP = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=5)
"""A transient failure never holds an account back longer than this (a rate limit's own reset
time is honoured however far away it is)."""
CAP_WINDOW = timedelta(hours=24)
RETRYING_AFTER_FAILURE = "retrying after a failure"
"""How a post that waits for its account's back-off says why (`Slot.why` starts so)."""
PLANNING_HORIZON = timedelta(days=400)
"""Longer than any stage can be due before its event starts (366 days) plus the longest grace
(30 days): planning with it cuts nothing for lateness, and `arrange` decides what was missed."""


@dataclass(frozen=True)
class QuietHours:
    """A daily period, in the site's time zone, when an account posts nothing.

    `start` after `end` spans midnight ("22:00-08:00").
    """

    start: time
    end: time

    def covers(self, moment: datetime, zone: ZoneInfo) -> bool:
        """True when `moment` falls inside the quiet period."""
        wall = moment.astimezone(zone).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def end_after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """Return the end of the quiet period `moment` falls in, or `moment` when not quiet."""
        if not self.covers(moment, zone):
            return moment
        local = moment.astimezone(zone)
        day = local.date()
        if local.time().replace(tzinfo=None) >= self.end:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=zone)

    @property
    def length(self) -> timedelta:
        """How long the period lasts on a day without a daylight-saving change."""
        end = self.end.hour * 60 + self.end.minute
        start = self.start.hour * 60 + self.start.minute
        return timedelta(minutes=(end - start) % (24 * 60))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_quiet_hours(text: object, key: str) -> QuietHours:
    """Parse `"22:00-08:00"`; raise ConfigError naming `key` otherwise."""
    return QuietHours(*parse_clock_period(text, key))


@dataclass(frozen=True)
class Rules:
    """An account's timing options: quiet hours, minimum gap between posts, daily cap."""

    quiet: QuietHours | None = None
    min_gap: timedelta = DEFAULT_GAP
    daily_cap: int | None = None


def rules_for(account: Account) -> Rules:
    """Read an account's `quiet_hours`, `min_gap` and `daily_cap` options."""
    prefix = f"accounts.{account.name}."
    options = account.options
    quiet = options.get("quiet_hours")
    gap = options.get("min_gap")
    cap = options.get("daily_cap")          # checked when the config was loaded
    return Rules(
        quiet=None if quiet in (None, "") else parse_quiet_hours(quiet, prefix + "quiet_hours"),
        min_gap=DEFAULT_GAP if gap is None else parse_duration(gap, prefix + "min_gap"),
        daily_cap=cap,
    )


def planning_grace(grace: timedelta, rules: Iterable[Rules]) -> timedelta:
    """The grace to plan with: long enough to keep a post that waited out quiet hours.

    `arrange` applies the real grace, counted from the first moment the account's rules let
    the post go. (The daily cap and the gap can hold a post longer than this: `herald run`
    plans with `PLANNING_HORIZON` instead, so that `arrange` alone decides what is missed.)
    """
    longest = max((r.quiet.length for r in rules if r.quiet is not None), default=timedelta())
    return grace + longest


@dataclass(frozen=True)
class Slot:
    """When one planned post goes out, and why then if later than due."""

    post: PlannedPost
    at: datetime
    why: str = ""


@dataclass(frozen=True)
class Arrangement:
    """The posts' sending times, in time order, and the posts skipped for good, with why."""

    slots: tuple[Slot, ...]
    skipped: tuple[Skipped, ...]

    def due(self, now: datetime) -> list[Slot]:
        return [s for s in self.slots if s.at <= now]

    def next_after(self, now: datetime) -> datetime | None:
        return min((s.at for s in self.slots if s.at > now), default=None)


def arrange(posts: Iterable[PlannedPost], accounts: Mapping[str, Account], *, now: datetime,
            zone: ZoneInfo, grace: timedelta,
            history: Mapping[str, Sequence[datetime]] | None = None,
            blocked_until: Mapping[str, datetime] | None = None,
            safe_since: datetime | None = None, until: datetime | None = None) -> Arrangement:
    """Give every planned post its sending time on its account, or skip it and say why.

    `history` holds when each account posted before (for the gap and the daily cap);
    `blocked_until` when an account in back-off may post again (a post that would then be too
    late is left waiting, not skipped: the back-off may end sooner); `safe_since` is the first
    run of a new ledger: stages due before it are skipped, not posted as a backlog. With
    `until`, each account stops at its first post due after it: what comes before is timed
    exactly as without it (a post is timed by the posts due before it only).
    """
    history = history or {}
    blocked_until = blocked_until or {}
    by_account: dict[str, list[PlannedPost]] = defaultdict(list)
    for post in posts:
        by_account[post.key.account].append(post)
    slots: list[Slot] = []
    skipped: list[Skipped] = []
    for name, planned in by_account.items():
        account = accounts[name]
        got, lost = _arrange_account(planned, account, rules_for(account), now=now, zone=zone,
                                     grace=grace, history=sorted(history.get(name, ())),
                                     blocked=blocked_until.get(name), safe_since=safe_since,
                                     until=until)
        slots.extend(got)
        skipped.extend(lost)
    slots.sort(key=lambda s: (s.at, s.post.key.account, s.post.event_start, _unit(s.post)))
    return Arrangement(tuple(slots), tuple(skipped))


def _arrange_account(planned: list[PlannedPost], account: Account, rules: Rules, *,
                     now: datetime, zone: ZoneInfo, grace: timedelta, history: list[datetime],
                     blocked: datetime | None, safe_since: datetime | None,
                     until: datetime | None = None) -> tuple[list[Slot], list[Skipped]]:
    order = {lang: i for i, lang in enumerate(account.languages)}
    units: dict[tuple[str, str], list[PlannedPost]] = defaultdict(list)
    for post in planned:
        units[_unit(post)].append(post)
    queue = sorted(units.values(),
                   key=lambda u: (min(p.due for p in u), u[0].event_start, _unit(u[0])))
    times = list(history)   # sorted, and kept sorted: every slot is at or after the last
    cursor = history[-1] + rules.min_gap if history else None
    slots: list[Slot] = []
    skipped: list[Skipped] = []
    for unit in queue:
        unit.sort(key=lambda p: order.get(p.key.lang, len(order)))
        due = min(p.due for p in unit)
        if until is not None and due > until:
            break          # the queue is in order of due time: the rest is due later too
        start = unit[0].event_start
        allowed = _first_allowed(due, rules, times, len(unit), zone, grace=grace, now=now)
        lost = _lost(unit[0], due, allowed, now=now, zone=zone, grace=grace,
                     safe_since=safe_since)
        if lost is not None:
            skipped.extend(Skipped(p.key, p.due, lost) for p in unit)
            continue
        at, why = _earliest(due, cursor, rules, times, len(times), len(unit), zone)
        if at >= start:
            skipped.extend(Skipped(p.key, p.due, f"would go out after the event started "
                                                 f"({why or 'too late'})") for p in unit)
            continue
        if blocked is not None and blocked > at:
            at, why = _earliest(max(due, blocked), cursor, rules, times, len(times), len(unit),
                                zone)
            why = f"{RETRYING_AFTER_FAILURE}{', ' + why if why else ''}"
            if at >= start:
                continue  # waits: the back-off may end sooner (SIGHUP, restart)
        if times and at < times[-1]:
            for _ in unit:   # not reached while the gap is not negative; kept correct anyway
                insort(times, at)
        else:
            times.extend([at] * len(unit))
        cursor = at + rules.min_gap
        slots.extend(Slot(p, at.astimezone(zone), why) for p in unit)
    return slots, skipped


def _lost(post: PlannedPost, due: datetime, allowed: datetime, *, now: datetime,
          zone: ZoneInfo, grace: timedelta, safe_since: datetime | None) -> str | None:
    """Say why a post due at `due` is skipped for good by `now`, or None.

    On a new ledger's first run, whatever is due by then is the backlog: an announcement of an
    event already on the site, a reminder whose time has come. Like a feed reader that marks
    existing items read, Herald skips it; `--catch-up` posts it instead.

    Otherwise the grace counts from `allowed`, the first moment the account's rules let the
    post go (the end of its quiet hours, the gap after the posts before it, the daily cap): a
    post those rules hold back is waiting its turn, not missed; one Herald was not running to
    send is missed.
    """
    if safe_since is not None and due <= safe_since:
        if post.stage.kind == "announcement" and post.stage.before is None:
            return ("the event was already on the site when Herald first ran on this ledger "
                    "(use --catch-up, or herald announce REF --again, to post it)")
        return (f"was due {due.astimezone(zone):%Y-%m-%d %H:%M}, when or before Herald first ran "
                f"on this ledger (use --catch-up to post it)")
    if now - allowed > grace:
        return (f"missed: was due {allowed.astimezone(zone):%Y-%m-%d %H:%M}, more than the "
                f"grace period of {_human(grace)} ago")
    return None


def _first_allowed(due: datetime, rules: Rules, times: Sequence[datetime], size: int,
                   zone: ZoneInfo, *, grace: timedelta, now: datetime) -> datetime:
    """The first moment the rules let a unit due at `due` go, judged by the posts made before.

    Only posts made before the unit's grace ran out can have held it back: a post made later
    was sent while this one was already late. The grace then counts from the moment found, so
    a unit waiting its turn behind the gap or the daily cap keeps its place however long the
    queue, and a unit Herald did not know of in time (an event that moved) is missed.

    `times` is sorted: the posts before a moment are a prefix of it, found by bisection, so
    each unit costs the logarithm of the account's history, not all of it.
    """
    limit = due + grace
    while True:
        end = bisect_right(times, limit)
        cursor = times[end - 1] + rules.min_gap if end else None
        allowed, _ = _earliest(due, cursor, rules, times, end, size, zone)
        if allowed + grace <= limit or allowed + grace >= now:
            return allowed
        limit = allowed + grace


def _earliest(due: datetime, cursor: datetime | None, rules: Rules, times: Sequence[datetime],
              end: int, size: int, zone: ZoneInfo) -> tuple[datetime, str]:
    """Return the first moment at or after `due` this account may post, and why it is later.

    Only the posts `times[:end]` (sorted) count.
    """
    at, reasons = due, []
    if cursor is not None and cursor > at:
        at = cursor
        reasons.append(f"spaced {_human(rules.min_gap)} after the previous post")
    for _ in range(1000):  # each round passes a quiet period or lets a post leave the window
        if rules.quiet is not None and rules.quiet.covers(at, zone):
            at = rules.quiet.end_after(at, zone)
            reasons.append(f"quiet hours {rules.quiet}")
        opens = _cap_opens(times, end, at, rules.daily_cap, size)
        if opens <= at:
            break
        at = opens
        reasons.append(cap_reason(rules.daily_cap))
    return at, ", ".join(dict.fromkeys(reasons))


def cap_opens_at(times: Iterable[datetime], at: datetime, cap: int | None,
                 size: int = 1) -> datetime:
    """Return the first moment from `at` when `size` more posts keep within `cap` in 24 hours.

    `times` are when the account posted (and will post, as arranged). The window is rolling:
    a post counts for 24 hours after it was made. An account that made no post in the 24 hours
    before `at` may always post one whole unit, so a language pair larger than the cap still
    goes out, together.
    """
    if cap is None:
        return at
    ordered = sorted(times)
    return _cap_opens(ordered, len(ordered), at, cap, size)


def _cap_opens(times: Sequence[datetime], end: int, at: datetime, cap: int | None,
               size: int) -> datetime:
    """`cap_opens_at` over the sorted `times[:end]`, by bisection."""
    if cap is None:
        return at
    high = bisect_right(times, at, 0, end)
    low = bisect_right(times, at - CAP_WINDOW, 0, high)
    count = high - low
    if not count or count + size <= cap:
        return at
    leaving = min(count + size - cap, count)
    return times[low + leaving - 1] + CAP_WINDOW


def cap_reason(cap: int | None) -> str:
    """How a post held by the daily cap is described."""
    return f"daily cap of {plural(cap or 0, 'post')} in 24 hours reached"


def change_time(now: datetime, start: datetime, rules: Rules, zone: ZoneInfo) -> datetime:
    """Return when a correction or cancellation goes out: now, or after quiet hours.

    When the quiet hours end only after the event has started, it goes out now: the news is
    urgent. Corrections and cancellations are not held back by the gap or the daily cap.
    """
    if rules.quiet is None:
        return now
    later = rules.quiet.end_after(now, zone)
    return now if later >= start else later


def backoff(attempt: int, random: Callable[[], float], *, base: timedelta = BACKOFF_BASE,
            cap: timedelta = BACKOFF_CAP) -> timedelta:
    """Return the wait before retry number `attempt` (1, 2, ...): doubling, capped, jittered.

    Half of the wait is fixed and half is random ("equal jitter"), so many accounts failing
    together do not retry in step, and no retry comes sooner than half the nominal wait.
    """
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + ceiling / 2 * random()


def backoff_base(request_timeout: float) -> timedelta:
    """The first back-off of an account: its `request_timeout`, at most `BACKOFF_BASE`.

    An account whose server answers within a few seconds (a short `request_timeout`) is
    retried as soon; the back-off then doubles up to ten times that, at most `BACKOFF_CAP`.
    """
    return min(BACKOFF_BASE, timedelta(seconds=request_timeout))


def retry_time(error: PublishError, attempt: int, now: datetime,
               random: Callable[[], float], *, base: timedelta = BACKOFF_BASE) -> datetime:
    """Return when to try again after a retryable failure, counted from `now`, its moment.

    A rate limit's reset time is honoured exactly: not a moment sooner (no request reaches the
    account before it) and no later than needed. Other failures wait `backoff` from `base`
    (see `backoff_base`), capped at ten times `base` and at most `BACKOFF_CAP`.
    """
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return max(error.retry_after, now)
    return now + backoff(attempt, random, base=base, cap=min(BACKOFF_CAP, base * 10))


def _unit(post: PlannedPost) -> tuple[str, str]:
    return (post.key.ref, post.key.stage)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0 and seconds:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
