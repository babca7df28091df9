"""Compose the exact text of one post for one platform from a planned post and the event's versions.

Pure: the due time comes from the planned post, the limits from the platform's adapter. A post
that is too long loses words from the end of its excerpt, then the whole excerpt, then hashtags;
the title, the date and time, the registration link and the link are never cut. If that is
still not enough the Post comes back with `error` set, never silently cut. The templates
themselves (the built-in texts, parsing, filling in) are `bot.templates`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import grapheme

from .counting import byte_length, length, measure, refusal, refused
from .localize import format_date, format_time, format_when, relative_day, shows_year
from .model import Event, ImageRef, Limits, PlannedPost, Post, Stage
from .templates import (DATE_ONLY_TEMPLATES, DEFAULT_TEMPLATES, MEMO_SIZE, Template,
                        fill_line, filled_lines, joined, memo, parse_template)

CHANGED: dict[str, tuple[dict[str, str], str, str]] = {
    "sv": ({"date": "nytt datum", "time": "ny tid", "place": "ny plats"}, "", " och "),
    "en": ({"date": "date", "time": "time", "place": "place"}, "new ", " and "),
}
"""How `{changed}` names what changed: the words, what goes before them all, the last joint."""

DEFAULT_ALT_TEXTS: dict[str, str] = {
    "sv": "Bild för evenemanget ”{title}”",
    "en": "Image for the event “{title}”",
}

ELLIPSIS = "…"

MIN_EXCERPT_WORDS = 3
"""A shortened excerpt keeps at least this many words (graphemes, in a text without spaces);
with fewer it is left out entirely."""

MAX_GRAPHEME_CUTS = 5000
"""How far into an excerpt without spaces a cut is looked for."""

_SPACE = re.compile(" ")

_TRAILING = " ,;:.!?-–—(/[{\"'“‘„«"
"""Characters a shortened excerpt does not end with before its ellipsis."""

def compose(
    planned: PlannedPost,
    versions: Mapping[str, Event],
    limits: Limits,
    *,
    templates: Mapping[str, Mapping[str, str]] | None = None,
    hashtags: Sequence[str] = (),
    changed: Sequence[str] = (),
    own_texts: bool = True,
) -> Post:
    """Return the post for `planned` in its account's language, fitted to `limits`.

    The text is the event's own for this account or platform and stage (its `herald.text`,
    unless `own_texts` is False), else the configured template, else the built-in one. The
    event's own hashtags come before `hashtags`. `changed` names what changed, for a
    correction's `{changed}`. Dates are written as of `planned.due`: the year is left out for
    the coming months. A missing language version or template translation falls back to
    another language the event has, with a warning on the Post. Raises ValueError for an
    unknown template field.
    """
    if not versions:
        raise ValueError(f"{planned.key}: the event has no language versions")
    target = (planned.key.account, limits.platform)
    lang, template, warnings = _choose(planned.key.lang, planned.stage, versions,
                                       templates or {}, target if own_texts else None)
    event = versions[lang]
    if template is None:
        tried = ", ".join(repr(v) for v in versions)
        return _post(planned, event, limits, "", "", lang, warnings,
                     error=f"no {planned.stage.template_name!r} template in {tried}")
    parsed = parse_template(template)
    fields = _event_fields(_shared_span(event, versions), lang, planned.due)
    if changed:
        fields = {**fields, "changed": changed_text(changed, lang)}
    uses_excerpt = any("excerpt" in names for _, names in parsed)
    excerpt = _one_line(event.excerpt) if uses_excerpt else ""
    tags = clean_hashtags([*own_hashtags(event, versions), *hashtags])
    fitted = _fit(parsed, fields, excerpt, tags, limits)
    if excerpt and not fitted.excerpt and fitted.error is None:
        warnings += (f"left out the excerpt to fit {limits.platform}'s limit",)
    if fitted.tags < len(tags) and fitted.error is None:
        dropped = " ".join("#" + t for t in tags[fitted.tags:])
        warnings += (f"left out {dropped} to fit {limits.platform}'s limit",)
    return _post(planned, event, limits, fitted.text, fitted.excerpt, lang, warnings,
                 error=fitted.error, counted=fitted.length)


def event_fields(event: Event, lang: str, at: datetime | None) -> dict[str, str]:
    """The template fields an event gives, in `lang`, as written at `at` (see `FIELDS`).

    `{when}` is the date and time, with the end or last day the site's `event-date-desc`
    names, and without a time for an event that has none; the year is left out for dates of
    the coming months as seen from `at`. `{time}` is empty for an event without a time.
    """
    year = shows_year(event.start, at)
    when = format_when(event.start, lang, year=year, time=not event.date_only, end=event.end,
                       last_day=event.last_day)
    return {
        "title": _one_line(event.title),
        "when": when,
        "date": format_date(event.start, lang, year=year),
        "time": "" if event.date_only else format_time(event.start, lang),
        "relative": relative_day(event.start, at, lang) if at is not None else "",
        "place": _one_line(event.place),
        "link": event.url.strip(),
        "when_desc": _one_line(event.when_desc) or when,
        "signup": event.signup,
        "changed": "",
    }


def _event_fields(event: Event, lang: str, at: datetime | None) -> dict[str, str]:
    """`event_fields`, worked out once per event, language and time of writing: the posts
    of one event and stage on every account are written from the same fields. The dict is
    shared: never change it."""
    if not memo.on:
        return event_fields(event, lang, at)
    key = (id(event), lang, at)
    found = memo.fields.get(key)
    if found is None or found[0] is not event:
        if len(memo.fields) >= MEMO_SIZE:
            memo.fields.clear()
        found = memo.fields[key] = (event, event_fields(event, lang, at))
    return found[1]


def own_hashtags(event: Event, versions: Mapping[str, Event]) -> tuple[str, ...]:
    """The event's own hashtags (`herald.hashtags`): this version's, else the other versions'."""
    if event.herald is not None and event.herald.hashtags:
        return event.herald.hashtags
    return tuple(tag for other in versions.values() if other.herald is not None
                 for tag in other.herald.hashtags)


def _shared_span(event: Event, versions: Mapping[str, Event]) -> Event:
    """`event` with the end or last day another version's `event-date-desc` names, when its
    own names none: the event lasts as long in every language."""
    if event.end is not None or event.last_day is not None:
        return event
    for other in versions.values():
        if (other.end is not None or other.last_day is not None) and \
                (other.start, other.date_only) == (event.start, event.date_only):
            return replace(event, end=other.end, last_day=other.last_day)
    return event


def changed_text(changed: Sequence[str], lang: str) -> str:
    """Name what changed, as a correction's heading: `Nytt datum och ny plats`, `New time`."""
    words, before, last = CHANGED.get(lang.split("-")[0].split("_")[0], CHANGED["en"])
    named = [words[what] for what in changed if what in words]
    if not named:
        return ""
    text = before + (", ".join(named[:-1]) + last + named[-1] if len(named) > 1 else named[0])
    return text[:1].upper() + text[1:]


def _choose(
    lang: str, stage: Stage, versions: Mapping[str, Event],
    templates: Mapping[str, Mapping[str, str]], target: tuple[str, str] | None,
) -> tuple[str, str | None, tuple[str, ...]]:
    """Pick the language to post in: the account's, else another the event and a template have."""
    if lang in versions and (template := _template(stage, versions[lang], lang, templates,
                                                   target)) is not None:
        return lang, template, ()
    for other in versions:
        if other != lang and (template := _template(stage, versions[other], other, templates,
                                                    target)) is not None:
            if lang not in versions:
                reason = f"the event has no {lang!r} version"
            else:
                reason = f"template {stage.template_name!r} has no {lang!r} text"
            return other, template, (f"{reason}; posted in {other!r} instead",)
    return next(iter(versions)), None, ()


def _template(stage: Stage, event: Event, lang: str, templates: Mapping[str, Mapping[str, str]],
              target: tuple[str, str] | None) -> str | None:
    if target is not None and (own := own_text(event, stage, *target)) is not None:
        return own
    builtin = (DATE_ONLY_TEMPLATES, DEFAULT_TEMPLATES) if event.date_only else \
        (DEFAULT_TEMPLATES,)
    for source in (templates, *builtin):
        for name in (stage.template_name, stage.kind):
            text = source.get(name, {}).get(lang)
            if text is not None:
                return text
    return None


def own_text(event: Event, stage: Stage, account: str, platform: str) -> str | None:
    """The event's own text (`herald.text`) for this account or platform and stage, if any.

    An account's text wins over its platform's, and a text for the stage by name over one
    for its kind, over one for every stage.
    """
    if event.herald is None or not event.herald.texts:
        return None
    texts = {(who, which): text for who, which, text in event.herald.texts}
    for who in (account, platform):
        for which in (stage.name, stage.kind, ""):
            if (who, which) in texts:
                return texts[who, which]
    return None


@dataclass(frozen=True)
class _Fitted:
    text: str
    excerpt: str
    tags: int
    error: str | None = None
    length: int | None = None


def _fit(template: Template, fields: Mapping[str, str], excerpt: str, tags: tuple[str, ...],
         limits: Limits) -> _Fitted:
    """Return the longest text that fits: shorten the excerpt, then drop hashtags from the end."""
    cuts = _excerpt_cuts(excerpt)
    counted: dict[str, int] = {}       # each text tried, with its length
    fixed, varying = filled_lines(template, fields)

    def render(cut: int, n_tags: int) -> str:
        values = {**fields, "excerpt": _shortened(excerpt, cuts, cut),
                  "hashtags": " ".join("#" + t for t in tags[:n_tags])}
        lines = fixed.copy()
        for n, line, names in varying:
            lines[n] = fill_line(line, names, values)
        return joined(lines)

    def fits(text: str) -> bool:
        counted[text], refused_for = measure(text, limits)
        return refused_for is None

    def best_excerpt(n_tags: int) -> int | None:
        return largest(len(cuts), lambda cut: fits(render(cut, n_tags)))

    full = len(cuts) - 1
    if fits(text := render(full, len(tags))):
        return _Fitted(text, excerpt, len(tags), length=counted[text])
    n_tags = len(tags)
    cut = best_excerpt(n_tags)
    if cut is None:
        fewer = largest(len(tags), lambda n: fits(render(0, n)))
        if fewer is None:
            text = render(0, 0)
            return _Fitted(text, "", 0, error=_overflow(text, limits))
        n_tags, cut = fewer, best_excerpt(fewer) or 0
    text = render(cut, n_tags)
    return _Fitted(text, _shortened(excerpt, cuts, cut), n_tags, length=counted.get(text))


def _excerpt_cuts(excerpt: str) -> list[int]:
    """Return where the excerpt may end, shortest first: 0 (left out), word ends, full length.

    An excerpt without a single space (all emoji, or a script written without spaces) ends
    between two graphemes instead, after at least `MIN_EXCERPT_WORDS` of them: an emoji
    sequence is never split. Only its first `MAX_GRAPHEME_CUTS` graphemes are looked at; no
    platform takes that many.
    """
    if not excerpt:
        return [0]
    if " " not in excerpt:
        ends = list(itertools.accumulate(itertools.islice(
            map(len, grapheme.graphemes(excerpt)), MAX_GRAPHEME_CUTS)))
        return [0, *[end for end in ends[MIN_EXCERPT_WORDS - 1:] if end < len(excerpt)],
                len(excerpt)]
    ends = [m.start() for m in _SPACE.finditer(excerpt)]
    return [0, *ends[MIN_EXCERPT_WORDS - 1:], len(excerpt)]


def _shortened(excerpt: str, cuts: list[int], cut: int) -> str:
    end = cuts[cut]
    if end == len(excerpt):
        return excerpt
    kept = excerpt[:end].rstrip(_TRAILING)
    return kept + ELLIPSIS if kept else ""


def largest(n: int, ok: Callable[[int], bool]) -> int | None:
    """Return the largest i < n with `ok(i)`, given that `ok` holds up to some i and not after.

    Probes 0, 1, 3, 7, ... and then bisects, so the cost grows with the answer rather than with
    `n`: a huge excerpt is never rendered whole just to learn that it is too long.
    """
    if n == 0 or not ok(0):
        return None
    lo, hi, step = 0, n, 1
    while lo + step < hi:
        if ok(lo + step):
            lo, step = lo + step, step * 2
        else:
            hi = lo + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _overflow(text: str, limits: Limits) -> str:
    if refused(text, limits):
        return f"the post {refusal(text, limits)}, even without excerpt and hashtags"
    over = length(text, limits) - limits.max_chars
    if over > 0:
        return (f"{over} characters over the {limits.max_chars} limit "
                f"even without excerpt and hashtags")
    over = byte_length(text) - (limits.max_bytes or 0)
    return f"{over} bytes over the {limits.max_bytes}-byte limit even without excerpt and hashtags"


def _post(planned: PlannedPost, event: Event, limits: Limits, text: str, excerpt: str, lang: str,
          warnings: tuple[str, ...], *, error: str | None = None,
          counted: int | None = None) -> Post:
    return Post(
        key=planned.key,
        platform=limits.platform,
        due=planned.due,
        text=text,
        length=length(text, limits) if counted is None else counted,
        limit=limits.max_chars,
        link=event.url.strip(),
        title=_one_line(event.title),
        excerpt=excerpt,
        image=_image(event, lang, limits),
        warnings=warnings,
        error=error,
        byte_length=byte_length(text),
        lang=lang,
    )


def _image(event: Event, lang: str, limits: Limits) -> ImageRef | None:
    if event.image is None:
        return None
    alt = _one_line(event.image_alt or "")
    if not alt:
        pattern = DEFAULT_ALT_TEXTS.get(lang) or DEFAULT_ALT_TEXTS["en"]
        alt = pattern.format(title=_one_line(event.title))
    return ImageRef(event.image, _cut(alt, limits.alt_chars))


def _cut(text: str, limit: int) -> str:
    """Cut `text` to `limit` graphemes, at a word boundary when there is one, with an ellipsis."""
    if len(text) <= limit or grapheme.length(text) <= limit:    # never more graphemes than
        return text                                           # code points
    head = grapheme.slice(text, 0, max(limit - 1, 0))
    words = head.rsplit(" ", 1)[0] if " " in head else head
    return words.rstrip(_TRAILING) + ELLIPSIS


def clean_hashtags(tags: Sequence[str]) -> tuple[str, ...]:
    """Return the tags without '#' or spaces, skipping empty ones and repeats in another case."""
    seen: dict[str, str] = {}
    for tag in tags:
        cleaned = "".join(tag.split()).lstrip("#")
        if cleaned and cleaned.casefold() not in seen:
            seen[cleaned.casefold()] = cleaned
    return tuple(seen.values())


def _one_line(text: str) -> str:
    return " ".join(text.split())

