"""What `herald validate` checks beyond loading: refs that cannot name a file, posts that cannot fit.

(What it says about events without a time of day and `herald:` blocks is in `assumed.py`.)

A post that cannot fit its platform even without its excerpt and hashtags would fail on every
run. The composer decides that, with each account's declared limits, so validate and preview
agree. Composing every post of a large site is slow (X's counting above all), so a post is
composed only when a cheap upper bound of its length does not already prove that it fits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from string import Formatter

from ..composer import DATE_ONLY_TEMPLATES, DEFAULT_TEMPLATES, compose, own_text
from ..config import Config
from ..counting import DEFAULT_URL_WEIGHT
from ..localize import format_date, format_time, format_when, relative_day
from ..model import Account, Event, Limits, PlannedPost, PostKey, Problem, Stage
from ..planner import allows, control, languages_for
from .names import file_slug, is_safe_file_name
from .values import shown

_DOMAIN_DOT = re.compile(r"\.\w")
_DATE_FIELDS = frozenset({"when", "date", "time", "relative"})

Shape = tuple[str, tuple[tuple[str, int], ...]]
"""A template as a bound needs it: its fixed text, and how often each field appears."""


def ref_problems(events: Iterable[Event]) -> list[Problem]:
    """Warn about each file whose ref cannot name a file as it is."""
    return [Problem(e.source, "ref", f"{shown(e.ref)} cannot name a file as it is (a slash, a "
                                     f"leading dot, characters that are not letters, digits, "
                                     f"'.', '_' or '-', or longer than 80 characters); "
                                     f"preview --images names its files {file_slug(e.ref)!r} "
                                     f"instead")
            for e in events if not is_safe_file_name(e.ref)]


def fit_problems(events: Iterable[Event], config: Config,
                 limits_for: Callable[[Account], Limits]) -> list[Problem]:
    """Return an error for each file and account whose post can never fit the platform."""
    limits = {a.name: limits_for(a) for a in config.accounts}
    if not limits:
        return []
    shapes = {stage.name: _shapes(stage, config.templates) for stage in config.stages}
    every_shape = [shape for found in shapes.values() for shape in found]
    tightest = _Bound(min(lim.max_chars for lim in limits.values()),
                      min((lim.max_bytes for lim in limits.values() if lim.max_bytes is not None),
                          default=None),
                      max(_url_weight(lim) for lim in limits.values()), every_shape)
    groups: dict[tuple[bool, str], dict[str, Event]] = {}
    for event in events:
        groups.setdefault((event.published, event.ref), {})[event.lang] = event
    problems, reported = [], set()
    for versions in groups.values():
        if all(tightest.fits(e) and not _own_texts(e) for e in versions.values()):
            continue
        rules = control(versions)
        for account in config.accounts:
            if not allows(rules, account):      # the event's herald: block keeps it off there
                continue
            own = limits[account.name]
            bounds = {stage.name: _Bound(own.max_chars, own.max_bytes, _url_weight(own),
                                         shapes[stage.name]) for stage in config.stages}
            for lang in languages_for(account, versions):
                event = versions.get(lang) or next(iter(versions.values()))
                if (event.source, account.name) in reported:
                    continue
                for stage in config.stages:
                    if bounds[stage.name].fits(event) and not _own_texts(event):
                        continue
                    error = _misfit(event, versions, lang, stage, account, own, config)
                    if error is not None:
                        reported.add((event.source, account.name))
                        problems.append(Problem(event.source, "title", error, "error"))
                        break
    return problems


def _misfit(event: Event, versions: Mapping[str, Event], lang: str, stage: Stage,
            account: Account, limits: Limits, config: Config) -> str | None:
    """Compose the post exactly; return why it cannot fit, or None."""
    due = event.start - (stage.before or timedelta(0))
    planned = PlannedPost(PostKey(event.ref, stage.name, account.name, lang), due, event.start,
                          stage)
    post = compose(planned, versions, limits, templates=config.templates,
                   hashtags=config.site.hashtags)
    if post.error is None or post.lang != event.lang:
        return None
    fix = ("shorten its herald.text" if own_text(event, stage, account.name, limits.platform)
           else "shorten the title")
    return (f"the {stage.name} post cannot fit {limits.platform} (account {account.name}): "
            f"{post.error}; {fix}")


def _own_texts(event: Event) -> bool:
    return event.herald is not None and bool(event.herald.texts)


class _Bound:
    """An upper bound of the length of posts, held against one platform's limits."""

    def __init__(self, max_chars: int, max_bytes: int | None, url_weight: int,
                 shapes: Iterable[Shape]):
        self.max_chars, self.max_bytes, self.url_weight = max_chars, max_bytes, url_weight
        self.shapes = [(_weight(fixed, url_weight), len(fixed.encode("utf-8")), counts)
                       for fixed, counts in shapes]
        used = frozenset(name for _, counts in shapes for name, _ in counts)
        self.dates = (used | ({"when"} if "when_desc" in used else set())) & _DATE_FIELDS
        """The date fields the templates use (each costs formatting dates to bound)."""

    def fits(self, event: Event) -> bool:
        """Whether every post of `event`, without excerpt and hashtags, surely fits."""
        own = {"title": event.title, "place": event.place, "link": event.url,
               "signup": event.signup, "when_desc": event.when_desc}
        weights = {name: _weight(text, self.url_weight) for name, text in own.items()}
        weights.update(_date_weights(event.lang, self.url_weight, self.dates))
        weights["when_desc"] = max(weights["when_desc"], weights.get("when", 0))
        sizes = {name: len(text.encode("utf-8", "surrogatepass")) for name, text in own.items()}
        sizes["when_desc"] = max(sizes["when_desc"], 2 * weights.get("when", 0))
        for weight, size, counts in self.shapes:
            for name, count in counts:  # excerpt and hashtags count 0: they may go
                weight += count * weights.get(name, 0)
                size += count * sizes.get(name, 2 * weights.get(name, 0))
            if weight > self.max_chars or (self.max_bytes is not None
                                           and size > self.max_bytes):
                return False
        return True


def _weight(text: str, url_weight: int) -> int:
    """An upper bound of the length of `text` under every counting rule Herald knows.

    No rule counts a character as more than 2 (X counts most non-Latin ones as 2) except in a
    URL, which counts `url_weight` however short it is; every URL has a dot followed by a
    letter or digit (`example.org`, `127.0.0.1`).
    """
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return len(text) + non_ascii + url_weight * len(_DOMAIN_DOT.findall(text))


def _url_weight(limits: Limits) -> int:
    return DEFAULT_URL_WEIGHT if limits.url_weight is None else limits.url_weight


def _shapes(stage: Stage, configured: Mapping[str, Mapping[str, str]]) -> tuple[Shape, ...]:
    """Every template the stage may use, in any language (the composer picks one of them)."""
    found: dict[Shape, None] = {}
    for source in (configured, DEFAULT_TEMPLATES, DATE_ONLY_TEMPLATES):
        for key in (stage.template_name, stage.kind):
            for text in source.get(key, {}).values():
                fixed, counts = [], {}
                for literal, field, _spec, _conversion in Formatter().parse(text):
                    fixed.append(literal)
                    if field is not None:
                        counts[field] = counts.get(field, 0) + 1
                found["".join(fixed), tuple(sorted(counts.items()))] = None
    return tuple(found)


@functools.lru_cache(maxsize=16)
def _date_weights(lang: str, url_weight: int, used: frozenset[str]) -> dict[str, int]:
    """An upper bound of the weight of each date field in `lang`.

    The heaviest over every month and every weekday (a text's length is the sum of its parts,
    so the margin covers the longest weekday in the longest month), and for `relative` over
    every distance the phrases distinguish.
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Stockholm")
    months = [datetime(2026, month, 28, 18, 30, tzinfo=zone) for month in range(1, 13)]
    weekdays = [datetime(2026, 9, day, 18, 30, tzinfo=zone) for day in range(21, 28)]
    texts = {
        "when": lambda: [format_when(start, lang, end=start + timedelta(hours=5), last_day=last)
                         for start in months + weekdays
                         for last in (None, (start + timedelta(days=5)).date())],
        "date": lambda: [format_date(start, lang) for start in months + weekdays],
        "time": lambda: [format_time(start, lang) for start in months[:1]],
        "relative": lambda: [relative_day(start, start - timedelta(days=40), lang)
                             for start in months]
        + [relative_day(start, start - timedelta(hours=hours), lang)
           for start in weekdays for hours in (2, 24, 24 * 5)],
    }
    return {name: max(_weight(text, url_weight) for text in found()) + 10
            for name, found in texts.items() if name in used}
