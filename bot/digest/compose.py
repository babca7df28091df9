"""Compose a digest: a header, one line per event in the window, a footer, fitted to a platform.

Pure, like the composer: the events, the sending time and the platform's limits are
parameters. Every part is counted exactly as its platform counts (`bot.counting`). When the
list does not fit one post it continues as a thread of replies, each part numbered on its last
line ("1/2", "2/2", the numbering counted too): the header opens the first part, the footer
closes the last, and no event line is ever split or dropped. Only a title too long to fit even
alone in a post is shortened, with an ellipsis and a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import grapheme

from ..composer import ELLIPSIS, clean_hashtags, largest
from ..templates import Template, parse_template, render_template
from ..counting import byte_length, fits, length, refusal
from ..localize import (format_month, format_short_date, format_short_when, format_span,
                        format_time)
from ..model import Event, Limits, Post, PostKey
from .schedule import Digest, Period, events_in, part_key
from .texts import HEADER_FIELDS, LINE_FIELDS, NUMBERING, texts_for


@dataclass(frozen=True)
class DigestPost:
    """One digest on one account in one language: its parts in thread order, each counted.

    `error` says why it cannot be posted (then `parts` may be empty); `refs` are the events
    it lists, in order.
    """

    key: PostKey
    platform: str
    due: datetime
    lang: str
    parts: tuple[str, ...]
    lengths: tuple[int, ...]
    limit: int
    refs: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    error: str | None = None

    @property
    def fits(self) -> bool:
        return self.error is None

    def posts(self) -> tuple[Post, ...]:
        """The parts as posts, each under its own key (`digest:weekly/2026-W08#2/...`).

        A digest that cannot be posted is one post without text, carrying the error.
        """
        title = f"digest {self.key.ref.split(':', 1)[-1]} {self.key.stage}"
        if not self.parts:
            return (Post(self.key, self.platform, self.due, "", 0, self.limit, "", title,
                         warnings=self.warnings, error=self.error, byte_length=0,
                         lang=self.lang),)
        return tuple(
            Post(part_key(self.key, n), self.platform, self.due, text, count, self.limit, "",
                 title, warnings=self.warnings if n == 1 else (), error=self.error,
                 byte_length=byte_length(text), lang=self.lang)
            for n, (text, count) in enumerate(zip(self.parts, self.lengths), 1))


def compose_digest(period: Period, digest: Digest, events: Iterable[Mapping[str, Event]],
                   account: str, lang: str, limits: Limits, *, at: datetime | None = None,
                   hashtags: Sequence[str] = ()) -> DigestPost | None:
    """Return the digest of `period` for one account and language, or None when it is empty.

    `events` are all the site's events (each a mapping language -> version); the ones in the
    window that have not started by `at` (the sending time, the period's own by default) are
    listed in time order, each in `lang` or, when it has no such version, in another with a
    warning. An empty window gives None unless the digest has a "nothing this week" text.
    """
    due = at or period.at
    listed = events_in(period, events, at=at)
    key = period.post_key(account, lang)
    texts = texts_for(digest.texts, lang)

    def post(parts: Sequence[str], warnings: Sequence[str] = (), error: str | None = None):
        return DigestPost(key, limits.platform, due, lang, tuple(parts),
                          tuple(length(p, limits) for p in parts), limits.max_chars,
                          tuple(next(iter(v.values())).ref for v in listed),
                          tuple(warnings), error)

    if texts is None:
        return post((), error=f"no digest texts in {lang!r} (add [templates.digest.{lang}])")
    values = _header_values(period, lang, len(listed), hashtags)
    if not listed:
        if not texts.empty:
            return None
        text = render_template(parse_template(texts.empty, HEADER_FIELDS), values)
        problem = refusal(text, limits)
        return post([text], error=f"the text for an empty window {problem}" if problem else None)
    line = parse_template(texts.line, LINE_FIELDS)
    joiner = "\n\n" if "\n" in texts.line.strip("\n") else "\n"
    header = render_template(parse_template(texts.header, HEADER_FIELDS), values)
    footer = render_template(parse_template(texts.footer, HEADER_FIELDS), values)
    warnings: list[str] = []
    most = NUMBERING.format(part=len(listed) + 2, parts=len(listed) + 2)
    entries = []
    for versions in listed:
        event = versions.get(lang) or next(iter(versions.values()))
        if event.lang != lang:
            warnings.append(f"{event.ref}: the event has no {lang!r} version; listed in "
                            f"{event.lang!r}")
        entry, note = _entry(line, event, lang, limits, most)
        if entry is None:
            return post((), warnings, f"{event.ref}: its line does not fit a "
                                      f"{limits.platform} post even without its title")
        warnings.extend([note] if note else [])
        entries.append(entry)
    parts = _thread(header, entries, footer, joiner, limits)
    if isinstance(parts, str):
        return post((), warnings, parts)
    if len(parts) > 1 and not limits.replies:
        return post((), warnings, f"too long for one {limits.platform} post, and "
                                  f"{limits.platform} takes no replies to thread it")
    return post(parts, warnings)


def _header_values(period: Period, lang: str, count: int,
                   hashtags: Sequence[str]) -> dict[str, str]:
    """The header's fields. `{dates}` ends the day before the window's end, unless the window
    ends later in the day than it starts (a week from Monday 09:00 is Monday to Sunday)."""
    first = period.at
    last = period.end if period.end.time() > first.time() else period.end - timedelta(days=1)
    last = max(last, first)
    return {
        "dates": format_span(first, last, lang),
        "week": str(first.isocalendar()[1]),
        "month": format_month(first, lang),
        "year": str(first.year),
        "count": str(count),
        "hashtags": " ".join("#" + tag for tag in clean_hashtags(hashtags)),
    }


def _entry(line: Template, event: Event, lang: str, limits: Limits, numbering: str
           ) -> tuple[str | None, str | None]:
    """Render one event's line; shorten its title when the line cannot fit even alone."""
    values = {
        "title": _one_line(event.title),
        "date": format_short_date(event.start, lang),
        "time": "" if event.date_only else format_time(event.start, lang),
        "when": (format_short_date(event.start, lang) if event.date_only
                 else format_short_when(event.start, lang)),
        "place": _one_line(event.place),
        "link": event.url.strip(),
    }

    def render(title: str) -> str:
        return render_template(line, {**values, "title": title})

    def alone(text: str) -> bool:
        return fits(f"{text}\n\n{numbering}", limits)

    text = render(values["title"])
    if alone(text):
        return text, None
    title = values["title"]
    kept = largest(grapheme.length(title),
                   lambda n: alone(render(grapheme.slice(title, 0, n).rstrip() + ELLIPSIS)))
    if kept is None:
        return None, None
    return (render(grapheme.slice(title, 0, kept).rstrip() + ELLIPSIS),
            f"{event.ref}: shortened its title to fit a {limits.platform} post")


def _thread(header: str, entries: list[str], footer: str, joiner: str,
            limits: Limits) -> list[str] | str:
    """Pack the entries into as few parts as fit; the numbering's width is found by trying."""
    total = 1
    for _ in range(len(entries) + 3):
        parts = _pack(header, entries, footer, joiner, total, limits)
        if isinstance(parts, str) or len(parts) <= total:
            return parts
        total = len(parts)          # more parts mean a longer numbering: never fewer parts
    return _pack(header, entries, footer, joiner, total, limits)


def _pack(header: str, entries: list[str], footer: str, joiner: str, total: int,
          limits: Limits) -> list[str] | str:
    """Fill parts greedily in order, numbering them as `total` parts (unnumbered when 1)."""
    parts: list[str] = []

    def text(lines: list[str], *, first: bool, last: bool) -> str:
        sections = [header if first else "", joiner.join(lines), footer if last else ""]
        body = "\n\n".join(s for s in sections if s)
        if total > 1:
            body += "\n\n" + NUMBERING.format(part=len(parts) + 1, parts=total)
        return body

    lines: list[str] = []
    for entry in entries:
        first = not parts
        if fits(text([*lines, entry], first=first, last=False), limits):
            lines.append(entry)
            continue
        if lines or (first and header):
            parts.append(text(lines, first=first, last=False))
        lines = [entry]
    first = not parts
    if not fits(closing := text(lines, first=first, last=True), limits):
        if len(lines) > 1:                  # the last line moves on with the footer
            parts.append(text(lines[:-1], first=first, last=False))
            lines = lines[-1:]
        if not fits(closing := text(lines, first=not parts, last=True), limits):
            parts.append(text(lines, first=not parts, last=False))
            closing = text([], first=False, last=True)
    parts.append(closing)
    for number, part in enumerate(parts, 1):
        if (problem := refusal(part, limits)) is not None:
            return f"part {number} of the digest {problem}, even alone in a post"
    return parts


def _one_line(text: str) -> str:
    return " ".join(text.split())
