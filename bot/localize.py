"""Say when an event happens, in the post's language: dates, times and "tomorrow"-style phrases.

Every function shows the wall-clock time of `start` in its own zone (the site's zone): an aware
datetime is never converted to UTC or to the machine's zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import (format_datetime, format_interval, format_skeleton, format_timedelta,
                         get_date_format, get_datetime_format, get_day_names, get_month_names,
                         parse_pattern)

TIME_PATTERN = "HH:mm"
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


@dataclass(frozen=True)
class Phrases:
    """How one language says dates, times and days relative to today (Babel date patterns)."""

    date: str
    """A date without its year: `tisdag 1 december`; `year` is added when it is shown."""
    year: str
    at: str
    """A start time after the date: ` 'kl.' HH:mm`."""
    at_range: str
    """A start time with an end after it: ` 'kl.' HH:mm`, `', 'HH:mm`."""
    until: str
    """The end of a time range after its start: `'–'HH:mm`."""
    days: str
    """Between the first and the last day of an event of several days: ` – `."""
    first_day: str
    """The first of several days in the same month: `EEEE d`."""
    today: str
    tonight: str
    tomorrow: str
    day_after_tomorrow: str
    weekday: str
    day: str
    short_date: str = "EEE d MMM"
    """A date in a list of events: `tis 1 dec.`, `Tue 1 Dec`."""
    span_locale: str = ""
    """The locale whose date ranges match `date` (English: day before month, en_GB)."""


PHRASES: dict[str, Phrases] = {
    "sv": Phrases(
        date="EEEE d MMMM",
        year=" y",
        at=" 'kl.' HH:mm",
        at_range=" 'kl.' HH:mm",
        until="'–'HH:mm",
        days=" – ",
        first_day="EEEE d",
        today="i dag",
        tonight="i kväll",
        tomorrow="i morgon",
        day_after_tomorrow="i övermorgon",
        weekday="'på' EEEE",
        day="'den' d MMMM",
    ),
    "en": Phrases(
        date="EEEE d MMMM",
        year=" y",
        at=" 'at' HH:mm",
        at_range="', 'HH:mm",
        until="'–'HH:mm",
        days=" – ",
        first_day="EEEE d",
        today="today",
        tonight="tonight",
        tomorrow="tomorrow",
        day_after_tomorrow="the day after tomorrow",
        weekday="'on' EEEE",
        day="'on' d MMMM",
        span_locale="en_GB",
    ),
}

EVENING_STARTS = 17
"""An event starting at this hour or later is "tonight" rather than "today"."""

WEEKDAY_WITHIN = 6
"""Up to this many days ahead an event is named by its weekday ("on Tuesday")."""

YEAR_LEFT_OUT_WITHIN = 10
"""A date less than this many months ahead goes without its year ("tisdag 24 februari"): no
reader takes it for a day of last year."""


def shows_year(start: datetime, at: datetime | None) -> bool:
    """Whether a text written at `at` gives the year of `start`: not for a date of the coming
    `YEAR_LEFT_OUT_WITHIN` months; always when `at` is None."""
    if at is None:
        return True
    seen = at.astimezone(start.tzinfo).date() if start.tzinfo and at.tzinfo else at.date()
    months = (start.year - seen.year) * 12 + start.month - seen.month
    return not (start.date() >= seen and months < YEAR_LEFT_OUT_WITHIN)


def format_when(start: datetime, lang: str, *, year: bool = True, time: bool = True,
                end: datetime | None = None, last_day: date | None = None) -> str:
    """Return the date and time: `tisdag 1 december 2020 kl. 10:00`.

    Without `year` the year is left out; without `time` the date stands alone (an event that
    has no time of day). `end` adds when it ends that day (`kl. 18:00–20:00`), `last_day` the
    last of several days (`fredag 19 – lördag 20 februari`).
    """
    phrases = _phrases(lang)
    if phrases is None:
        pattern = get_datetime_format("full", locale=_locale(lang)).replace("'", "")
        text = format_date(start, lang, year=year)
        if time:
            text = pattern.replace("{1}", text).replace("{0}", format_time(start, lang))
            if end is not None:
                text += f"–{format_time(end, lang)}"
        if last_day is not None:
            text += " – " + format_date(_on(last_day, start), lang, year=year)
        return text
    clock = phrases.at if time else ""
    if last_day is not None and last_day > start.date():
        last = _on(last_day, start)
        tail = phrases.date + (phrases.year if year else "")
        if not clock and (last.year, last.month) == (start.year, start.month):
            first = phrases.first_day
        else:
            first = phrases.date + (phrases.year if year and last.year != start.year else "")
        return _format(start, first + clock, lang) + phrases.days + _format(last, tail, lang)
    if time and end is not None and end > start:
        return (_format(start, phrases.date + (phrases.year if year else "") + phrases.at_range,
                        lang) + _format(end, phrases.until, lang))
    return _format(start, phrases.date + (phrases.year if year else "") + clock, lang)


def format_date(start: datetime, lang: str, *, year: bool = True) -> str:
    """Return the full date with the weekday: `tisdag 1 december 2020`."""
    phrases = _phrases(lang)
    if phrases is not None:
        return _format(start, phrases.date + (phrases.year if year else ""), lang)
    if not year:
        return format_skeleton("MMMMEEEEd", start, tzinfo=start.tzinfo, locale=_locale(lang))
    return _format(start, get_date_format("full", locale=_locale(lang)).pattern, lang)


def format_time(start: datetime, lang: str) -> str:
    """Return the time on a 24-hour clock: `10:00`."""
    return _format(start, TIME_PATTERN, lang)


def _on(day: date, start: datetime) -> datetime:
    """`day` at `start`'s time of day, in its zone (for formatting a day)."""
    return start.replace(year=day.year, month=day.month, day=day.day)


def format_short_date(start: datetime, lang: str) -> str:
    """Return the short date with the weekday, as a list of events shows it: `tis 1 dec.`."""
    phrases = _phrases(lang)
    if phrases is not None:
        return _format(start, phrases.short_date, lang)
    return format_skeleton("MMMEd", start, tzinfo=start.tzinfo, locale=_locale(lang))


def format_short_when(start: datetime, lang: str) -> str:
    """Return the short date and the time: `tis 1 dec. 10:00`, `Tue 1 Dec 10:00`."""
    return f"{format_short_date(start, lang)} {format_time(start, lang)}"


def format_month(start: datetime, lang: str) -> str:
    """Return the name of the month on its own: `oktober`, `October`."""
    return _format(start, "LLLL", lang)


def format_span(first: datetime, last: datetime, lang: str) -> str:
    """Return the days from `first` to `last` (both shown): `16–22 feb.`, `16 Feb – 3 Mar`.

    The year is shown only when the two days fall in different years.
    """
    phrases = _phrases(lang)
    locale = _locale(phrases.span_locale) if phrases and phrases.span_locale else _locale(lang)
    skeleton = "MMMd" if first.year == last.year else "yMMMd"
    return format_interval(first, last.astimezone(first.tzinfo), skeleton,
                           tzinfo=first.tzinfo, locale=locale)


def relative_day(start: datetime, at: datetime, lang: str) -> str:
    """Return when the event is, seen from `at`: `i kväll`, `i morgon`, `på tisdag`, `den 4 mars`
    (with the year beyond the coming months, see `shows_year`).

    Calendar days are counted in `start`'s zone. Languages without phrases get Babel's
    relative time ("in 3 days").
    """
    if start.tzinfo is None or at.tzinfo is None:
        raise ValueError("relative_day needs aware datetimes")
    phrases = _phrases(lang)
    if phrases is None:
        return format_timedelta(start - at, add_direction=True, locale=_locale(lang))
    seen_from = at.astimezone(start.tzinfo)
    days = (start.date() - seen_from.date()).days
    if days == 0:
        return phrases.tonight if start.hour >= EVENING_STARTS else phrases.today
    if days == 1:
        return phrases.tomorrow
    if days == 2:
        return phrases.day_after_tomorrow
    if 2 < days <= WEEKDAY_WITHIN:
        return _format(start, phrases.weekday, lang)
    return _format(start, phrases.day + (phrases.year if shows_year(start, at) else ""), lang)


def is_language(lang: object) -> bool:
    """True when `lang` is a language code such as `sv` or `en-GB` that Babel has a locale for."""
    if not isinstance(lang, str) or not _LANGUAGE_CODE.fullmatch(lang):
        return False
    try:
        _locale(lang)
    except ValueError:
        return False
    return True


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """Count in English for Herald's own output: `1 warning`, `2 warnings`, `3 entries`."""
    if count == 1:
        return f"1 {noun}"
    if nouns is None:
        nouns = (noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou"
                 else noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s"))
    return f"{count:,} {nouns}"


def _format(start: datetime, pattern: str, lang: str) -> str:
    # Keyed on the wall time and the zone object: aware datetimes that are the same instant
    # compare equal even in different zones, and would share a text written for the other.
    return _format_wall(start.replace(tzinfo=None), start.tzinfo, start.fold, pattern, lang)


@lru_cache(maxsize=8192)
def _format_wall(wall: datetime, zone, fold: int, pattern: str, lang: str) -> str:
    """Format with Babel once per wall time, zone, pattern and language (a preview of many
    posts writes each event's date for every account and stage)."""
    start = wall.replace(tzinfo=zone, fold=fold)
    fields = _plain_fields(pattern)
    if fields is None or hasattr(zone, "normalize"):        # (a pytz zone: Babel's way)
        return format_datetime(start, pattern, tzinfo=zone, locale=_locale(lang))
    shown = start.astimezone(zone)                          # as Babel shows it
    return fields[0] % {name: _FIELDS[name[0]](shown, len(name), lang) for name in fields[1]}


_FIELDS = {
    "E": lambda at, n, lang: _names("E", n, lang)[at.weekday()],
    "M": lambda at, n, lang: _names("M", n, lang)[at.month],
    "L": lambda at, n, lang: _names("L", n, lang)[at.month],
    "d": lambda at, n, lang: "%0*d" % (n, at.day),
    "y": lambda at, n, lang: "%0*d" % (n, at.year),
    "H": lambda at, n, lang: "%0*d" % (n, at.hour),
    "m": lambda at, n, lang: "%0*d" % (n, at.minute),
}
"""The pattern fields Herald's phrases use, written as Babel writes them (`DateTimeFormat`)."""
_WIDTH = {3: "abbreviated", 4: "wide"}


@lru_cache(maxsize=64)
def _names(field: str, width: int, lang: str) -> dict[int, str]:
    """Babel's names of the weekdays (`E`) or months (`M`, `L` standing alone) in `lang`."""
    locale = _locale(lang)
    if field == "E":
        names = get_day_names(_WIDTH[width], "format", locale)
    else:
        names = get_month_names(_WIDTH[width], "format" if field == "M" else "stand-alone",
                                locale)
    return {key: names[key] for key in names}      # resolved once (Babel resolves on each look)


@lru_cache(maxsize=64)
def _plain_fields(pattern: str) -> tuple[str, tuple[str, ...]] | None:
    """Babel's %-template of `pattern` and its fields, when `_FIELDS` writes them all."""
    template = parse_pattern(pattern).format
    names = tuple(re.findall(r"%\((\w+)\)s", template))
    for name in names:
        if name[0] not in _FIELDS or (name[0] in "EML" and len(name) not in _WIDTH) \
                or (name[0] == "y" and len(name) != 1):
            return None
    return template, names


def _phrases(lang: str) -> Phrases | None:
    return PHRASES.get(_locale(lang).language)


@lru_cache(maxsize=32)
def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"unknown language {lang!r}") from None
