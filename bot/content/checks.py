"""What `herald validate` checks beyond loading: refs that cannot name a file, posts that cannot fit.

(What it says about events without a time of day and `herald:` blocks is in `assumed.py`.)

A post that cannot fit its platform even without its excerpt and hashtags would fail on every
run. The composer decides that, with each account's declared limits, so validate and preview
agree. Composing every post of a large site is slow (X's counting above all), so a post is
composed only when a cheap upper bound of its length does not already prove that it fits, and
the verdict about an event whose files have not changed is remembered (`verdicts.py`).

The bound never says "fits" for a post that does not (tests/test_checks.py holds it against
the exact length): every character counts the most its platforms count it (for X, after its
NFC normalization, which can turn one character into three), every dot that may belong to a
web address adds a whole URL's weight where a URL counts as one, and a character a platform
refuses fails it. Only the event's link and registration link, on their own between spaces or
lines as the templates place them, count exactly what each platform counts for them (a link X
takes whole is 23).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from string import Formatter

from ..config import Config
from ..model import Account, Event, Limits, PlannedPost, PostKey, Problem, Stage
from ..planner import allows, control, languages_for
from .names import file_slug, is_safe_file_name
from .values import shown

_MAYBE_URL = re.compile(r"\.(?!\s)")
"""A dot that may be part of a web address: every URL has one followed by a letter or digit,
and a dot at the end of a text may meet the letter that follows it in the post."""
_DATE_FIELDS = frozenset({"when", "date", "time", "relative"})
_URL_FIELDS = ("link", "signup")
"""Fields whose texts are usually one web address, counted exactly where a template sets them
apart (see `_shapes`)."""
_APART = " "
"""Suffix of a URL field's name in a shape where the template sets it apart (see `_shapes`)."""
_SPACES = (" ", "\n")
"""What sets a field apart in a template: a space or a line break on either side."""
_LIGHT_RULES = frozenset({"mastodon", "codepoints", "strictest", "graphemes"})
"""Counting rules that never count a code point as more than 1 (a grapheme is at least one
code point); under any other (X's) a character may count 2, or 6 after normalizing."""
_CHARACTER_RULES = frozenset({"codepoints", "graphemes"})
"""Counting rules that count a URL's characters, so that it never weighs `url_weight`."""
_DATE_MARGIN = 10
"""What a date field may weigh beyond the heaviest sample (another weekday in another month)."""

Shape = tuple[tuple[str, ...], tuple[tuple[str, int], ...]]
"""A template as a bound needs it: its literal pieces, and how often each field appears."""


def ref_problems(events: Iterable[Event]) -> list[Problem]:
    """Warn about each file whose ref cannot name a file as it is."""
    events = list(events)
    unsafe = {ref for ref in {e.ref for e in events} if not is_safe_file_name(ref)}
    return [Problem(e.source, "ref", f"{shown(e.ref)} cannot name a file as it is (a slash, a "
                                     f"leading dot, characters that are not letters, digits, "
                                     f"'.', '_' or '-', or longer than 80 characters); "
                                     f"preview --images names its files {file_slug(e.ref)!r} "
                                     f"instead")
            for e in events if e.ref in unsafe]


def fit_problems(events: Iterable[Event], config: Config,
                 limits_for: Callable[[Account], Limits], *, verdicts=None) -> list[Problem]:
    """Return an error for each file and account whose post can never fit the platform.

    With `verdicts` (a `verdicts.Verdicts`), an event whose files are unchanged since an
    earlier check under the same configuration gets that check's answer without composing.
    """
    limits = {a.name: limits_for(a) for a in config.accounts}
    if not limits:
        return []
    groups: dict[tuple[bool, str], dict[str, Event]] = {}
    for event in events:
        groups.setdefault((event.published, event.ref), {})[event.lang] = event
    problems: list[Problem] = []
    checker = None
    for versions in groups.values():
        key = verdicts.key(versions) if verdicts is not None else None
        known = verdicts.get("fit", key, _is_answer) if key is not None else None
        if known is not None:
            problems.extend(Problem(source, "title", message, "error")
                            for source, message in known)
            continue
        checker = checker or _Checker(config, limits)
        found = checker.problems(versions)
        if key is not None:
            verdicts.put("fit", key, [[p.source, p.message] for p in found])
        problems.extend(found)
    return problems


def _is_answer(value) -> bool:
    """A remembered fit answer: a list of [file, message] pairs of text."""
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
        for pair in value)


class _Checker:
    """The fit check of one configuration: its templates as shapes, a bound per account."""

    def __init__(self, config: Config, limits: Mapping[str, Limits]):
        self.config, self.limits = config, limits
        shapes = {stage.name: _shapes(stage, config.templates) for stage in config.stages}
        self.tightest = _Bound(list(limits.values()),
                               [shape for found in shapes.values() for shape in found])
        self.bounds = {name: {stage.name: _Bound([own], shapes[stage.name])
                              for stage in config.stages}
                       for name, own in limits.items()}

    def problems(self, versions: Mapping[str, Event]) -> list[Problem]:
        """The errors of one event's language versions."""
        measured = {lang: measure(event) for lang, event in versions.items()}
        if all(self.tightest.fits(e, measured[lang]) and not _own_texts(e)
               for lang, e in versions.items()):
            return []
        config = self.config
        rules = control(versions)
        problems, reported = [], set()
        for account in config.accounts:
            if not allows(rules, account):      # the event's herald: block keeps it off there
                continue
            own = self.limits[account.name]
            bounds = self.bounds[account.name]
            for lang in languages_for(account, versions):
                event = versions.get(lang) or next(iter(versions.values()))
                if (event.source, account.name) in reported:
                    continue
                for stage in config.stages:
                    if bounds[stage.name].fits(event, measured[event.lang]) \
                            and not _own_texts(event):
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
    from ..composer import compose, own_text

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
    """An upper bound of the length of posts, held against the limits of one or more platforms
    at once (the lowest character and byte limits, each text counted the most any counts it)."""

    def __init__(self, limits: Sequence[Limits], shapes: Iterable[Shape]):
        self.limits = tuple(limits)
        self.max_chars = min(lim.max_chars for lim in self.limits)
        self.max_bytes = min((lim.max_bytes for lim in self.limits if lim.max_bytes is not None),
                             default=None)
        self.url_weight = max((_url_weight(lim) for lim in self.limits
                               if lim.counting not in _CHARACTER_RULES), default=0)
        """What a URL may weigh: 0 where every rule counts a URL's characters instead."""
        self.heavy = any(lim.counting not in _LIGHT_RULES for lim in self.limits)
        """Whether a character may count more than 1 (X's rule)."""
        shapes = tuple(shapes)
        self.refused = any(_refused("".join(pieces), self.limits) for pieces, _ in shapes)
        """A template holds a character a platform refuses: nothing can be proved to fit."""
        self.shapes = [(sum(_weight(piece, self.url_weight, self.heavy) for piece in pieces),
                        sum(len(piece.encode("utf-8", "surrogatepass")) for piece in pieces),
                        counts)
                       for pieces, counts in shapes]
        heaviest: dict[tuple, tuple[int, int]] = {}
        for weight, size, counts in self.shapes:
            known = heaviest.get(counts, (weight, size))
            heaviest[counts] = (max(weight, known[0]), max(size, known[1]))
        self._heaviest = [(weight, size, counts) for counts, (weight, size) in heaviest.items()]
        """The shapes `fits` holds: of those with the same fields, the heaviest fixed text."""
        used = frozenset(name for _, counts in shapes for name, _ in counts)
        self.dates = (used | ({"when"} if "when_desc" in used else set())) & _DATE_FIELDS
        """The date fields the templates use (each costs formatting dates to bound)."""

    def fits(self, event: Event, measured: Mapping | None = None) -> bool:
        """Whether every post of `event`, without excerpt and hashtags, surely fits.

        `measured` is `measure(event)`, when the caller holds it."""
        measured = measured or measure(event)
        for exact in (False, True):     # X's URL grammar only where the rest cannot tell
            found = self._upper(event, measured, self._heaviest, exact=exact)
            if found is None:
                return False
            if all(weight <= self.max_chars
                   and (self.max_bytes is None or size <= self.max_bytes)
                   for weight, size in found):
                return True
        return False

    def upper(self, event: Event, *, exact: bool = True) -> list[tuple[int, int]] | None:
        """For each shape, an upper bound of the weight and the UTF-8 size of the post of
        `event` without excerpt and hashtags; None when a platform refuses a character in it.

        With `exact`, a URL field set apart weighs what the platforms count for it (which, for
        X, needs its URL grammar, compiled on first use); else as any other text.
        """
        return self._upper(event, measure(event), self.shapes, exact=exact)

    def _upper(self, event: Event, measured: Mapping, shapes: list, *,
               exact: bool) -> list[tuple[int, int]] | None:
        if self.refused or _refused(measured["text"], self.limits):
            return None
        url_weight = self.url_weight
        weights, sizes = {}, {}
        heavy = self.heavy
        for name, (chars, extra, dots, size) in measured["fields"].items():
            weights[name] = chars + (extra if heavy else 0) + url_weight * dots
            sizes[name] = size
        for name in _URL_FIELDS:
            found = _apart_weight(measured["urls"][name], self.limits) if exact else None
            weights[name + _APART] = weights[name] if found is None else min(found,
                                                                                weights[name])
            sizes[name + _APART] = sizes[name]
        dates = _date_bounds(event.lang, url_weight, heavy, self.dates)
        for name, (weight, size) in dates.items():
            weights[name], sizes[name] = weight, size
        when = dates.get("when", (0, 0))
        weights["when_desc"] = max(weights["when_desc"], when[0])
        sizes["when_desc"] = max(sizes["when_desc"], when[1])
        found = []
        for weight, size, counts in shapes:
            for name, count in counts:  # excerpt and hashtags count 0: they may go
                weight += count * weights.get(name, 0)
                size += count * sizes.get(name, 0)
            found.append((weight, size))
        return found


def measure(event: Event) -> dict:
    """What the bounds need of an event's own texts, whatever the platform: for each field its
    characters, what X may count beyond them, its dots that may start a URL and its UTF-8 size;
    the texts of its URL fields; all its texts together (for refused characters)."""
    own = {"title": event.title, "place": event.place, "link": event.url.strip(),
           "signup": event.signup, "when_desc": event.when_desc}
    return {"fields": {name: (len(text), _weight(text, 0) - len(text),
                              len(_MAYBE_URL.findall(text)),
                              len(text.encode("utf-8", "surrogatepass")))
                       for name, text in own.items()},
            "urls": {name: own[name] for name in _URL_FIELDS},
            "text": "".join(own.values())}


def _weight(text: str, url_weight: int, heavy: bool = True) -> int:
    """An upper bound of the length of `text` under the counting rules of a bound.

    With `heavy`, a character counts the most X counts it (X normalizes to NFC first, where one
    character can become three, and counts most non-Latin ones as 2), at least 1; no other rule
    counts a character as more than 1. A URL counts `url_weight` however short it is (0 where
    the rules count its characters), and every URL has a dot followed by a letter or digit
    (`example.org`, `127.0.0.1`).
    """
    extra = 0 if not heavy or text.isascii() else sum(_extra(c) for c in text if c > "\x7f")
    return len(text) + extra + url_weight * len(_MAYBE_URL.findall(text))


@functools.lru_cache(maxsize=4096)
def _extra(char: str) -> int:
    """How much more than 1 X may count `char` (alone, or in any text it stands in)."""
    from ..counting.twitter import weighted_length

    return max(1, weighted_length(char)) - 1


@functools.lru_cache(maxsize=1024)
def _apart_weight(text: str, limits: tuple[Limits, ...]) -> int | None:
    """The most any platform counts `text` standing between whitespace in a post, or None when
    that depends on what stands around it (only a plain ASCII word is counted here)."""
    if not text or not text.isascii() or not text.isprintable() or " " in text:
        return None
    from ..counting import length

    return max(length(f" {text} ", lim) for lim in limits) - 2


@functools.lru_cache(maxsize=1024)
def _refused(text: str, limits: tuple[Limits, ...]) -> bool:
    from ..counting import refused

    return any(refused(text, lim) for lim in limits)


def _url_weight(limits: Limits) -> int:
    from ..counting import DEFAULT_URL_WEIGHT

    return DEFAULT_URL_WEIGHT if limits.url_weight is None else limits.url_weight


def _shapes(stage: Stage, configured: Mapping[str, Mapping[str, str]]) -> tuple[Shape, ...]:
    """Every template the stage may use, in any language (the composer picks one of them).

    A URL field with a space or a line break, or the start or end of the template, on either
    side is named with `_APART` after it: the composer renders a template line by line and
    strips each line's end, so nothing else can stand against the field there.
    """
    from ..templates import DATE_ONLY_TEMPLATES, DEFAULT_TEMPLATES

    found: dict[Shape, None] = {}
    for source in (configured, DEFAULT_TEMPLATES, DATE_ONLY_TEMPLATES):
        for key in (stage.template_name, stage.kind):
            for text in source.get(key, {}).values():
                found[_shape(text)] = None
    return tuple(found)


def _shape(text: str) -> Shape:
    parts = list(Formatter().parse(text))
    pieces, counts = [], {}
    for i, (literal, field, _spec, _conversion) in enumerate(parts):
        pieces.append(literal)
        if field is None:
            continue
        after = parts[i + 1][0] if i + 1 < len(parts) else None
        apart = ((literal[-1:] in _SPACES or (i == 0 and not literal))
                 and (after is None or after[:1] in _SPACES))
        name = field + _APART if field in _URL_FIELDS and apart else field
        counts[name] = counts.get(name, 0) + 1
    return tuple(pieces), tuple(sorted(counts.items()))


@functools.lru_cache(maxsize=16)
def _date_bounds(lang: str, url_weight: int, heavy: bool,
                 used: frozenset[str]) -> dict[str, tuple[int, int]]:
    """An upper bound of the weight and the UTF-8 size of each date field in `lang`.

    The heaviest over every month and every weekday (a text's length is the sum of its parts,
    so the margin covers the longest weekday in the longest month), and for `relative` over
    every distance the phrases distinguish.
    """
    from zoneinfo import ZoneInfo

    from ..localize import format_date, format_time, format_when, relative_day

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
    bounds = {}
    for name, found in texts.items():
        if name in used:
            samples = found()
            bounds[name] = (max(_weight(text, url_weight, heavy) for text in samples)
                            + _DATE_MARGIN,
                            max(len(text.encode("utf-8")) for text in samples)
                            + 4 * _DATE_MARGIN)
    return bounds
