"""Read one value of the configuration: typed readers that name the key, and bounded durations.

Every reader takes the key's full dotted name (`accounts.masto.min_gap`, `stages[1].before`)
and raises ConfigError with one line naming it: what was expected and what was found, the
found value shortened so that a huge or odd value cannot flood or forge the output.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Collection, Iterable
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from .errors import ConfigError

MAX_DURATION = timedelta(days=366)
"""The longest duration any key takes (a stage a year ahead); each key may allow less."""

DURATION_EXAMPLE = "'2h' or '14d'"
_DURATION = re.compile(r"(\d+)(w|d|h|m|s)")
_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_SHOWN = 60
"""How many characters of a bad value or key an error message shows."""


# --- naming keys and values -------------------------------------------------------------------

def key(prefix: str, name: object) -> str:
    """Join `prefix` and `name` into a dotted key, quoting `name` as TOML would when needed."""
    text = str(name)
    if not _BARE_KEY.fullmatch(text):
        quoted = json.dumps(text, ensure_ascii=False)
        text = quoted if len(quoted) <= _SHOWN else quoted[:_SHOWN - 2] + '…"'
    return f"{prefix}.{text}" if prefix else text


def shown(value: object) -> str:
    """Return `value` as an error message shows it: its repr, shortened to one short line."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…"


def human(span: timedelta) -> str:
    """Say a bound such as 30 days or 1 day in words."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "0 seconds"


def suggestion(name: object, known: Iterable[str]) -> str:
    """Return `; did you mean 'x'?` for the known name closest to `name`, or ``."""
    text = str(name)
    if len(text) > 100:
        return ""
    import difflib

    close = difflib.get_close_matches(text, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def known(data: dict[str, Any], prefix: str, keys: Collection[str]) -> None:
    """Refuse the first key of `data` that is not in `keys`, suggesting the closest one."""
    for name in data:
        if name not in keys:
            raise unknown_key(prefix, name, keys)


def unknown_key(prefix: str, name: str, keys: Collection[str]) -> ConfigError:
    """The error for a key that is not one of `keys`."""
    hint = suggestion(name, keys) or f" (expected one of {', '.join(sorted(keys))})"
    return ConfigError(f"{key(prefix, name)}: unknown key{hint}")


# --- typed readers ------------------------------------------------------------------------------

def table(data: dict[str, Any], name: str, prefix: str = "") -> dict[str, Any]:
    """Return the table `name` of `data` ({} when absent)."""
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key(prefix, name)}: expected a table [{key(prefix, name)}], "
                          f"got {shown(value)}")
    return value


def text(value: object, name: str, *, multiline: bool = False) -> str:
    """Return a non-empty string; without `multiline`, one without control characters."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: expected a non-empty string, got {shown(value)}")
    if not multiline and any(unicodedata.category(c) == "Cc" for c in value):
        raise ConfigError(f"{name}: control characters (such as a line break) are not "
                          f"allowed, got {shown(value)}")
    return value


def string(data: dict[str, Any], name: str, default: str | None, prefix: str = "") -> str:
    """Return the one-line string `name` of `data`, or `default`; missing without a default."""
    value = data.get(name, default)
    if value is None:
        raise ConfigError(f"{key(prefix, name)}: missing")
    return text(value, key(prefix, name))


def choice(data: dict[str, Any], name: str, default: str | None, choices: Collection[str],
           prefix: str = "") -> str:
    """Return `name` of `data` when it is one of `choices`."""
    value = data.get(name, default)
    if value is None:
        raise ConfigError(f"{key(prefix, name)}: missing; one of {', '.join(choices)}")
    if value not in choices or not isinstance(value, str):
        hint = suggestion(value, choices) if isinstance(value, str) else ""
        raise ConfigError(f"{key(prefix, name)}: expected one of {', '.join(choices)}, "
                          f"got {shown(value)}{hint}")
    return value


def string_list(value: object, name: str, *, distinct: bool = True) -> list[str]:
    """Return a list of non-empty one-line strings, each listed once when `distinct`."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name}: expected a list of strings, got {shown(value)}")
    for item in value:
        text(item, name)
    twice = next((v for i, v in enumerate(value) if v in value[:i]), None) if distinct else None
    if twice is not None:
        raise ConfigError(f"{name}: {shown(twice)} is listed twice")
    return value


def site_language(lang: object, name: str, site: Collection[str]) -> None:
    """Refuse `lang` unless it is one of the site's languages `site`."""
    if lang not in site:
        raise ConfigError(f"{name}: {shown(lang)} is not one of the site's languages "
                          f"({', '.join(site)})")


def boolean(data: dict[str, Any], name: str, default: bool, prefix: str = "") -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key(prefix, name)}: expected true or false, got {shown(value)}")
    return value


def whole(data: dict[str, Any], name: str, default: int | None, *, minimum: int,
          maximum: int | None = None, unit: str = "", prefix: str = "") -> int | None:
    """Return a whole number from `minimum` to `maximum` (None when absent without default)."""
    value = data.get(name, default)
    if value is None:
        return None
    what = f"a whole number{' of ' + unit if unit else ''}"
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{key(prefix, name)}: expected {what}, got {shown(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = (f"from {minimum:,} to {maximum:,}" if maximum is not None
                  else f"at least {minimum:,}")
        raise ConfigError(f"{key(prefix, name)}: expected {what} {bounds}, got {shown(value)}")
    return value


def url(value: object, name: str, *, base_only: bool = False) -> str:
    """Return an http(s) URL with a host (and, with `base_only`, nothing after the host)."""
    pattern = r"https?://[^\s/?#]+/?" if base_only else r"https?://[^\s/?#]+(?:[/?#]\S*)?"
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        example = "https://api.example" if base_only else "https://example.org"
        raise ConfigError(f"{name}: expected an http(s) URL such as {example}, "
                          f"got {shown(value)}")
    return text(value, name)


def path(data: dict[str, Any], name: str, base: Path, prefix: str = "") -> Path | None:
    """Return the path `name` of `data` relative to `base` (`~` is the home folder)."""
    value = data.get(name)
    if value is None:
        return None
    where = key(prefix, name)
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ConfigError(f"{where}: expected a path, got {shown(value)}")
    try:
        return (base / Path(text(value, where)).expanduser()).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot use this path ({exc})") from None


# --- durations and periods ----------------------------------------------------------------------

def parse_duration(value: Any, name: str, *, minimum: timedelta = timedelta(0),
                   maximum: timedelta = MAX_DURATION, above_minimum: bool = False) -> timedelta:
    """Parse `14d`, `2h`, `1d12h`, `90m` or a number of seconds, from `minimum` to `maximum`.

    With `above_minimum` the duration must be longer than `minimum`. Never builds a timedelta
    from an unchecked number, so no value overflows.
    """
    seconds = _seconds(value, name)
    low = minimum.total_seconds()
    if seconds < 0 and low >= 0:
        raise ConfigError(f"{name}: cannot be negative, got {shown(value)}")
    if seconds < low or (above_minimum and seconds <= low):
        bound = "longer than" if above_minimum else "at least"
        raise ConfigError(f"{name}: must be {bound} {human(minimum)}, got {shown(value)}")
    if seconds > maximum.total_seconds():
        raise ConfigError(f"{name}: {shown(value)} is too long; at most {human(maximum)}")
    return timedelta(seconds=seconds)


def _seconds(value: Any, name: str) -> float:
    """The number of seconds `value` says, refusing what is no finite duration."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name}: expected a duration such as {DURATION_EXAMPLE}, "
                              f"got {shown(value)}")
        return float(value) if abs(value) < 1e15 else math.copysign(1e15, value)
    if isinstance(value, str):
        compact = value.replace(" ", "")
        sign = -1 if compact.startswith("-") else 1
        compact = compact.removeprefix("-")
        parts = _DURATION.findall(compact) if len(compact) <= 200 else []
        if parts and "".join(n + u for n, u in parts) == compact:
            if any(len(n) > 15 for n, _ in parts):
                return sign * 1e15              # far beyond any maximum
            return float(sign * sum(int(n) * _SECONDS[u] for n, u in parts))
        if len(compact) > 200 and re.fullmatch(r"[\dwdhms]+", compact):
            return sign * 1e15
    raise ConfigError(f"{name}: expected a duration such as {DURATION_EXAMPLE}, "
                      f"got {shown(value)}")


def clock(value: object, name: str) -> time:
    """Parse a time of day such as `"09:00"` (24-hour clock)."""
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) and len(value) <= 20 \
        else None
    if match:
        hour, minute = map(int, match.groups())
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ConfigError(f"{name}: expected a time of day such as \"09:00\", got {shown(value)}")


def parse_clock_period(value: object, name: str) -> tuple[time, time]:
    """Parse a daily period such as `"22:00-08:00"` into its start and end."""
    if isinstance(value, str) and len(value) <= 20:
        parts = [p.strip() for p in value.split("-")]
        if len(parts) == 2 and all(_CLOCK.fullmatch(p) for p in parts):
            (h1, m1), (h2, m2) = (map(int, _CLOCK.fullmatch(p).groups()) for p in parts)
            if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) != (h2, m2):
                return time(h1, m1), time(h2, m2)
    raise ConfigError(f"{name}: expected a period such as \"22:00-08:00\", got {shown(value)}")
