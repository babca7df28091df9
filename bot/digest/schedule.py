"""When each digest goes out, which period it stands for, and which events its window holds.

Pure: `now` and the site's zone are parameters. A digest's `every` is a wall-clock time in the
site's zone ("monday 09:00" stays 09:00 across daylight-saving changes); a time that falls in
the hour the clocks skip moves forward by that hour. Each sending is one *period*, named by the
calendar (`2026-W08`, `2026-02`, `2026-02-16`) rather than by the moment of sending, so the
ledger keeps a digest to once per period even when its time or the clock moves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ..model import Account, Event, PostKey
from ..planner import control
from .texts import DigestTexts

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
LAST_MONTH_DAY = 28
"""The latest `day N` of a monthly digest: every month has it."""
EVERY_EXAMPLE = '"monday 09:00", "day 1 09:00" or "daily 08:00"'
REF_PREFIX = "digest:"
"""A digest's posts are keyed `digest:NAME/PERIOD/ACCOUNT/LANG`; no event's ref starts so."""

_UTC = ZoneInfo("UTC")
_CLOCK = r"(\d{1,2}):(\d{2})"
_FORMS = {
    "daily": re.compile(rf"daily\s+{_CLOCK}"),
    "weekly": re.compile(rf"([a-z]+)\s+{_CLOCK}"),
    "monthly": re.compile(rf"day\s+(\d{{1,2}})\s+{_CLOCK}"),
}


@dataclass(frozen=True)
class Every:
    """When a digest goes out: daily, on a weekday, or on a day of the month, at a wall time.

    `day` is the weekday (0 is Monday) of a weekly digest or the day of the month (1 to 28) of
    a monthly one.
    """

    cadence: Literal["daily", "weekly", "monthly"]
    at: time
    day: int = 0

    def matches(self, day: date) -> bool:
        """True when the digest goes out on `day`."""
        if self.cadence == "weekly":
            return day.weekday() == self.day
        if self.cadence == "monthly":
            return day.day == self.day
        return True

    def label(self, day: date) -> str:
        """Name the period that starts on `day`: `2026-W08`, `2026-02` or `2026-02-16`."""
        if self.cadence == "weekly":
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.cadence == "monthly":
            return f"{day:%Y-%m}"
        return day.isoformat()

    def __str__(self) -> str:
        clock = f"{self.at:%H:%M}"
        if self.cadence == "weekly":
            return f"{WEEKDAYS[self.day]} {clock}"
        if self.cadence == "monthly":
            return f"day {self.day} {clock}"
        return f"daily {clock}"


def parse_every(text: object) -> Every:
    """Parse `"monday 09:00"`, `"day 1 09:00"` or `"daily 08:00"`; ValueError says what is wrong."""
    shown = repr(text) if len(repr(text)) <= 60 else repr(text)[:59] + "…"
    if not isinstance(text, str) or len(text) > 40:
        raise ValueError(f"expected a time such as {EVERY_EXAMPLE}, got {shown}")
    words = " ".join(text.lower().split())
    for cadence, pattern in _FORMS.items():
        found = pattern.fullmatch(words)
        if found is None:
            continue
        *head, hour, minute = found.groups()
        if int(hour) > 23 or int(minute) > 59:
            raise ValueError(f"{hour}:{minute} is not a time of day; use 00:00 to 23:59")
        at = time(int(hour), int(minute))
        if cadence == "weekly":
            if head[0] not in WEEKDAYS:
                close = [d for d in WEEKDAYS if d.startswith(head[0][:3])] if head[0] else []
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{head[0]!r} is not a weekday (monday to sunday){hint}")
            return Every("weekly", at, WEEKDAYS.index(head[0]))
        if cadence == "monthly":
            day = int(head[0])
            if not 1 <= day <= LAST_MONTH_DAY:
                raise ValueError(f"day {day}: use a day from 1 to {LAST_MONTH_DAY}, which "
                                 f"every month has")
            return Every("monthly", at, day)
        return Every("daily", at)
    raise ValueError(f"expected a time such as {EVERY_EXAMPLE}, got {shown}")


@dataclass(frozen=True)
class Digest:
    """A configured digest: when it goes out, the span it covers, who posts it, and its texts.

    `window` None covers up to the next sending. Empty `accounts` means every account; empty
    `languages` each account's own languages. `texts` holds the texts per language.
    """

    name: str
    every: Every
    window: timedelta | None = None
    accounts: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    texts: Mapping[str, DigestTexts] = field(default_factory=dict, compare=False, hash=False)

    @property
    def ref(self) -> str:
        """The `ref` of this digest's post keys: `digest:weekly`."""
        return REF_PREFIX + self.name

    def posters(self, accounts: Iterable[Account]) -> list[tuple[Account, tuple[str, ...]]]:
        """The accounts that post this digest, each with the languages it posts it in."""
        out = []
        for account in accounts:
            if self.accounts and account.name not in self.accounts:
                continue
            langs = tuple(lang for lang in account.languages
                          if not self.languages or lang in self.languages)
            if langs:
                out.append((account, langs))
        return out


@dataclass(frozen=True)
class Period:
    """One sending of a digest: its calendar label, when it is due, and the window it lists.

    The window runs from `at` up to, not including, `end`.
    """

    digest: str
    label: str
    at: datetime
    end: datetime

    @property
    def key(self) -> str:
        """The period as output names it: `weekly/2026-W08`."""
        return f"{self.digest}/{self.label}"

    def post_key(self, account: str, lang: str, part: int = 1) -> PostKey:
        """The ledger key of one part of this period's digest on one account in one language.

        The first part is `digest:weekly/2026-W08/ACCOUNT/LANG`, the second
        `digest:weekly/2026-W08#2/ACCOUNT/LANG`, and so on.
        """
        return part_key(PostKey(REF_PREFIX + self.digest, self.label, account, lang), part)


def part_key(first: PostKey, part: int) -> PostKey:
    """The key of part `part` of the thread whose first part is `first`."""
    if part == 1:
        return first
    return PostKey(first.ref, f"{first.stage}#{part}", first.account, first.lang)


def wall_time(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Return `at` on `day` in `zone`; a time the clocks skip moves forward by the skipped hour."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(_UTC).astimezone(zone)


def latest(every: Every, moment: datetime, zone: ZoneInfo) -> datetime:
    """Return the last sending time at or before `moment`."""
    day = moment.astimezone(zone).date()
    for back in range(0, 33):
        candidate = day - timedelta(days=back)
        if every.matches(candidate) and (sent := wall_time(candidate, every.at, zone)) <= moment:
            return sent
    raise AssertionError("every cadence repeats within a month")


def following(every: Every, moment: datetime, zone: ZoneInfo) -> datetime:
    """Return the first sending time after `moment`."""
    day = moment.astimezone(zone).date()
    for ahead in range(0, 33):
        candidate = day + timedelta(days=ahead)
        if every.matches(candidate) and (sent := wall_time(candidate, every.at, zone)) > moment:
            return sent
    raise AssertionError("every cadence repeats within a month")


def period_at(digest: Digest, sent: datetime, zone: ZoneInfo) -> Period:
    """Return the period of `digest` that is due at its sending time `sent`.

    Whole days of the window count on the wall clock (a week is Monday 09:00 to Monday 09:00
    across a daylight-saving change), the rest in elapsed time.
    """
    local = sent.astimezone(zone)
    if digest.window is None:
        end = following(digest.every, local, zone)
    else:
        days = timedelta(days=digest.window.days)
        end = wall_time(local.date() + days, local.time(), zone) if days else local
        end = (end.astimezone(_UTC) + (digest.window - days)).astimezone(zone)
    return Period(digest.name, digest.every.label(local.date()), local, end)


def current(digest: Digest, now: datetime, zone: ZoneInfo) -> Period:
    """The period whose sending time is the last one at or before `now`."""
    return period_at(digest, latest(digest.every, now, zone), zone)


def upcoming(digest: Digest, now: datetime, zone: ZoneInfo) -> Period:
    """The period whose sending time is the first one after `now`."""
    return period_at(digest, following(digest.every, now, zone), zone)


def periods(digest: Digest, start: datetime, end: datetime, zone: ZoneInfo) -> list[Period]:
    """Every period of `digest` due from `start` up to, not including, `end`, in time order."""
    found = []
    sent = following(digest.every, start - timedelta(microseconds=1), zone)
    while sent < end:
        found.append(period_at(digest, sent, zone))
        sent = following(digest.every, sent, zone)
    return found


def events_in(period: Period, events: Iterable[Mapping[str, Event]], *,
              at: datetime | None = None) -> list[Mapping[str, Event]]:
    """The events (each a mapping language -> version) that start in the period's window.

    In time order, then by ref. With `at` (a digest sent late) an event that has started by
    then is left out: a digest lists only what is still to come. An event without a time of
    day is still to come all its day; one that its `herald:` block turns off is left out.
    """
    since = max(period.at, at) if at is not None else period.at
    found = []
    for versions in events:
        if not versions:
            continue
        first = next(iter(versions.values()))
        if (since <= first.start or since < first.upcoming_until) and first.start < period.end \
                and not control(versions).skip:
            found.append(versions)
    return sorted(found, key=lambda v: (next(iter(v.values())).start,
                                        next(iter(v.values())).ref))
