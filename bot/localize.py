"""Say when an event happens, in the post's language: dates, times and "tomorrow"-style phrases.

Every function shows the wall-clock time of `start` in its own zone (the site's zone): an aware
datetime is never converted to UTC or to the machine's zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import (format_datetime, format_interval, format_skeleton, format_timedelta,
                         get_date_format, get_datetime_format)

TIME_PATTERN = "HH:mm"
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


@dataclass(frozen=True)
class Phrases:
    """How one language names a day relative to today; patterns are Babel date patterns."""

    date: str
    when: str
    today: str
    tonight: str
    tomorrow: str
    day_after_tomorrow: str
    weekday: str
    day: str
    day_other_year: str
    short_date: str = "EEE d MMM"
    """A date in a list of events: `tis 1 dec.`, `Tue 1 Dec`."""
    span_locale: str = ""
    """The locale whose date ranges match `date` (English: day before month, en_GB)."""


PHRASES: dict[str, Phrases] = {
    "sv": Phrases(
        date="EEEE d MMMM y",
        when="EEEE d MMMM y 'kl.' HH:mm",
        today="i dag",
        tonight="i kväll",
        tomorrow="i morgon",
        day_after_tomorrow="i övermorgon",
        weekday="'på' EEEE",
        day="'den' d MMMM",
        day_other_year="'den' d MMMM y",
    ),
    "en": Phrases(
        date="EEEE d MMMM y",
        when="EEEE d MMMM y 'at' HH:mm",
        today="today",
        tonight="tonight",
        tomorrow="tomorrow",
        day_after_tomorrow="the day after tomorrow",
        weekday="'on' EEEE",
        day="'on' d MMMM",
        day_other_year="'on' d MMMM y",
        span_locale="en_GB",
    ),
}

EVENING_STARTS = 17
"""An event starting at this hour or later is "tonight" rather than "today"."""

WEEKDAY_WITHIN = 6
"""Up to this many days ahead an event is named by its weekday ("on Tuesday")."""


def format_when(start: datetime, lang: str) -> str:
    """Return the full date and time: `tisdag 1 december 2020 kl. 10:00`."""
    phrases = _phrases(lang)
    if phrases is not None:
        return _format(start, phrases.when, lang)
    pattern = get_datetime_format("full", locale=_locale(lang)).replace("'", "")
    return pattern.replace("{1}", format_date(start, lang)).replace("{0}", format_time(start, lang))


def format_date(start: datetime, lang: str) -> str:
    """Return the full date with the weekday: `tisdag 1 december 2020`."""
    phrases = _phrases(lang)
    if phrases is not None:
        return _format(start, phrases.date, lang)
    return _format(start, get_date_format("full", locale=_locale(lang)).pattern, lang)


def format_time(start: datetime, lang: str) -> str:
    """Return the time on a 24-hour clock: `10:00`."""
    return _format(start, TIME_PATTERN, lang)


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
    """Return when the event is, seen from `at`: `i kväll`, `i morgon`, `på tisdag`, `den 4 mars`.

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
    same_year = start.year == seen_from.year
    return _format(start, phrases.day if same_year else phrases.day_other_year, lang)


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
    return format_datetime(start, pattern, tzinfo=start.tzinfo, locale=_locale(lang))


def _phrases(lang: str) -> Phrases | None:
    return PHRASES.get(_locale(lang).language)


@lru_cache(maxsize=32)
def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"unknown language {lang!r}") from None
