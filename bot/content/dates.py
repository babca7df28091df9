"""Read an event's start: the written clock time in the site's zone, and what to do with an offset.

A start without a time of day is a date alone: `event-date: 2019-05-04`, and also a start
written at exactly midnight, `2021-02-19 00:00:00 +0100`. On civictech.se every start written
at 00:00:00 is a daytime or multi-day event whose hours are in `event-date-desc` ("10 mars
2018, kl 10 - 19", "19-20 februari", "Pågående"): the site's editor picks a day and leaves the
time at midnight. No event there starts at midnight, and a reminder or a "kl. 00:00" for one
would be wrong every time. Such a start's offset, when written, is not applied: a day has none.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

from ..config import SiteConfig
from .values import shown

EXAMPLE_DATE = "2026-02-24 18:00:00 +01:00"
FIRST_YEAR, LAST_YEAR = 1900, 2999
"""The years an event may start in: anything else is a typo, and too close to the calendar's
ends for the arithmetic of planning."""

_DATETIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ]\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?"
)

Report = Callable[..., None]


def read_start(value: Any, site: SiteConfig, report: Report) -> tuple[datetime | None, bool]:
    """Return the start in the site's zone and whether it is a date alone (see above).

    A wrong offset is treated by `site.offset_policy`; the start is None when unusable.
    """
    if value is None or value == "":
        report("event-date", f"missing; write the start like {EXAMPLE_DATE}", "error")
        return None, False
    reading = _read_datetime(value)
    if reading is None:
        report("event-date", f"cannot read {shown(value)} as a date and time; write it like "
                             f"{EXAMPLE_DATE}", "error")
        return None, False
    clock, written, _has_time = reading
    if not FIRST_YEAR <= clock.year <= LAST_YEAR:
        report("event-date", f"{clock:%Y-%m-%d} is outside the years {FIRST_YEAR} to "
                             f"{LAST_YEAR} Herald plans in; write the real start like "
                             f"{EXAMPLE_DATE}", "error")
        return None, False
    if clock.time() == time():
        return datetime.combine(clock.date(), time(), tzinfo=site.timezone), True
    return _in_zone(clock, written, site, report), False


def _in_zone(clock: datetime, written: timedelta | None, site: SiteConfig,
             report: Report) -> datetime | None:
    zone = site.timezone
    local = clock.replace(tzinfo=zone)
    if local.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != clock:
        source = local if written is None else clock.replace(tzinfo=timezone(written))
        start = source.astimezone(timezone.utc).astimezone(zone)
        report("event-date", f"{clock:%H:%M} does not exist in {zone} on {clock:%Y-%m-%d} "
                             f"(the clocks go forward); using {start:%H:%M}")
        return start
    if written is None:
        return local
    by_offset = clock.replace(tzinfo=timezone(written)).astimezone(zone)
    if written in {clock.replace(tzinfo=zone, fold=fold).utcoffset() for fold in (0, 1)}:
        return by_offset
    other_day = "" if by_offset.date() == clock.date() else f" on {by_offset:%Y-%m-%d}"
    mismatch = (f"offset {_offset(written)} differs from {zone} ({_offset(local.utcoffset())}) "
                f"on {clock:%Y-%m-%d}")
    if site.offset_policy == "refuse":
        report("event-date", f"{mismatch}: the clock time says {clock:%H:%M}, the offset says "
                             f"{by_offset:%H:%M}{other_day}; fix the offset (offset_policy is "
                             f"'refuse')", "error")
        return None
    if site.offset_policy == "offset":
        report("event-date", f"{mismatch}; using the offset: {by_offset:%H:%M}{other_day} "
                             f"(the clock time says {clock:%H:%M})")
        return by_offset
    report("event-date", f"{mismatch}; using the clock time {clock:%H:%M} "
                         f"(by the offset it would be {by_offset:%H:%M}{other_day})")
    return local


def _read_datetime(value: Any) -> tuple[datetime, timedelta | None, bool] | None:
    """Return the written clock time, the written offset or None, and whether a time is given."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None), value.utcoffset(), True
    if isinstance(value, date):
        return datetime.combine(value, time()), None, False
    if not isinstance(value, str) or len(value) > 100:
        return None
    match = _DATETIME.fullmatch(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        clock = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                         int(second or 0))
    except ValueError:
        return None
    written = None
    if offset == "Z":
        written = timedelta(0)
    elif offset:
        digits = offset[1:].replace(":", "")
        written = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if written >= timedelta(hours=24):
            return None
        written = -written if offset[0] == "-" else written
    return clock, written, hour is not None


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta(0)).total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
