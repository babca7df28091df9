"""Read an event's start: the written clock time in the site's zone, and what to do with an offset."""

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


def read_start(value: Any, site: SiteConfig, report: Report) -> datetime | None:
    """Return the start in the site's zone, applying `site.offset_policy` to a wrong offset."""
    if value is None or value == "":
        report("event-date", f"missing; write the start like {EXAMPLE_DATE}", "error")
        return None
    reading = _read_datetime(value)
    if reading is None:
        report("event-date", f"cannot read {shown(value)} as a date and time; write it like "
                             f"{EXAMPLE_DATE}", "error")
        return None
    clock, written, has_time = reading
    if not FIRST_YEAR <= clock.year <= LAST_YEAR:
        report("event-date", f"{clock:%Y-%m-%d} is outside the years {FIRST_YEAR} to "
                             f"{LAST_YEAR} Herald plans in; write the real start like "
                             f"{EXAMPLE_DATE}", "error")
        return None
    if not has_time:
        report("event-date", "no time given, using 00:00")
    return _in_zone(clock, written, site, report)


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
