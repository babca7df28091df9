"""Read `event-date-desc`, the site's own words for when an event is: what it adds to the start.

The words are free text in any language and often inexact ("November 22th 2019, 16-18:00",
"kl 09.00 till 12.00", "10 am - 6 pm", "19-20 februari", "Pågående"). Herald takes from them
only what it can check against `event-date`:

- a time range that starts at the event's start time gives the time it ends ("kl. 18-20"
  for an event at 18:00 ends at 20:00);
- a range of days that starts on the event's day, in its month, gives its last day
  ("19-20 februari" for an event on 19 February).

Anything else (two sessions, a range that starts at another time, a weekday, "ongoing") is
left to the `{when_desc}` template field, which shows the words as written. Nothing here
ever moves the start.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

MAX_DESC_CHARS = 200
"""The longest `event-date-desc` looked into (the real ones are under 90 characters)."""

MONTHS = {
    **{name: n for n, name in enumerate(
        ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
         "september", "oktober", "november", "december"), start=1)},
    **{name.lower(): n for n, name in enumerate(calendar.month_name) if name},
    **{name[:3]: n for n, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1)},
    "okt": 10, "sept": 9,
}
"""Month names in Swedish and English, whole and abbreviated, by number."""

_DASH = r"\s*(?:-|–|—|till|to|until)\s*"
_CLOCK = r"(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"
_TIME_RANGE = re.compile(rf"(?<![\d:-])(?<!\d\.){_CLOCK}{_DASH}{_CLOCK}(?![\d:-])(?!\.\d)",
                         re.IGNORECASE)
_DAYS_MONTH = re.compile(rf"(?<![\d:.])(\d{{1,2}})(?:st|nd|rd|th|:e|e)?\.?{_DASH}"
                         rf"(\d{{1,2}})(?:st|nd|rd|th|:e|e)?\.?\s+([a-zåäö]+)", re.IGNORECASE)
_MONTH_DAYS = re.compile(rf"\b([a-z]+)\s+(\d{{1,2}})(?:st|nd|rd|th)?{_DASH}"
                         rf"(\d{{1,2}})(?:st|nd|rd|th)?(?![\d:.])", re.IGNORECASE)


def read_desc(desc: str, start: datetime, date_only: bool) -> tuple[datetime | None,
                                                                     date | None]:
    """Return (the end on the start's day, the last day) that `desc` names, each or None.

    A range of days wins over a time range: "19-20 februari, kl 10-18" is two days. A date-only
    event takes no time range (its start has no time to check the range against).
    """
    desc = desc[:MAX_DESC_CHARS]
    last_day = _last_day(desc, start)
    if last_day is not None:
        return None, last_day
    if date_only:
        return None, None
    return _end(desc, start), None


def _last_day(desc: str, start: datetime) -> date | None:
    found = [(int(first), int(last), month) for first, last, month in _DAYS_MONTH.findall(desc)]
    found += [(int(first), int(last), month) for month, first, last in _MONTH_DAYS.findall(desc)]
    days = {(first, last) for first, last, month in found
            if MONTHS.get(month.lower().rstrip(".")) == start.month}
    if len(days) != 1:
        return None
    (first, last), = days
    if first != start.day or not first < last <= calendar.monthrange(start.year, start.month)[1]:
        return None
    return start.date().replace(day=last)


def _end(desc: str, start: datetime) -> datetime | None:
    """The end of the one time range in `desc`, if that range starts at `start`."""
    ranges = [match for match in _TIME_RANGE.finditer(desc) if not _before_month(desc, match)]
    if len(ranges) != 1:
        return None
    h1, m1, ampm1, h2, m2, ampm2 = ranges[0].groups()
    end = _clock(int(h2), int(m2 or 0), ampm2)
    if end is None:
        return None
    first = int(h1), int(m1 or 0)
    if ampm1 or not ampm2:
        starts = {_clock(*first, ampm1)}
    else:                               # "1-4 pm": 1 may be 13:00; "9-12 am": 9:00
        starts = {_clock(*first, None), _clock(*first, ampm2)}
    if (start.hour, start.minute) not in starts or end <= (start.hour, start.minute):
        return None
    day = start.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    return (day + timedelta(hours=end[0], minutes=end[1])).replace(tzinfo=start.tzinfo)


def _clock(hour: int, minute: int, ampm: str | None) -> tuple[int, int] | None:
    """A clock time as (hour, minute); "pm" adds twelve hours to 1 to 11 ("12 am" is noon,
    as "9-12 am" means)."""
    if ampm and ampm.lower().startswith("p") and 1 <= hour <= 11:
        hour += 12
    if not (0 <= hour <= 24 and 0 <= minute <= 59) or (hour == 24 and minute):
        return None
    return hour, minute


def _before_month(desc: str, match: re.Match) -> bool:
    """Whether the range is followed by a month name: days ("19-20 februari"), not hours."""
    rest = desc[match.end():].lstrip(" .")
    word = re.match(r"[a-zåäö]+", rest, re.IGNORECASE)
    return bool(word) and word.group().lower() in MONTHS
