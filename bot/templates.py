"""Post templates: the built-in texts, and parsing and filling in a template's fields.

A template is plain text with `{field}` places (`FIELDS`); each line whose fields are all
empty is dropped. Parsing refuses anything but plain fields, so a template from a
configuration file or an event's `herald:` block cannot hang, crash or read Python objects.
Parsed templates and filled-in lines are kept in a small memo (`memo`) shared with the
composer, which `uncached` switches off.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from string import Formatter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Event

FIELDS = ("title", "excerpt", "when", "date", "time", "relative", "place", "link", "hashtags",
          "when_desc", "signup", "changed")

DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "announcement": {
        "sv": ("{title}\n\n{excerpt}\n\n🗓\ufe0f {when}\n📍 {place}\n📝 Anmälan: {signup}\n"
               "{link}\n\n{hashtags}"),
        "en": ("{title}\n\n{excerpt}\n\n🗓\ufe0f {when}\n📍 {place}\n📝 Register: {signup}\n"
               "{link}\n\n{hashtags}"),
    },
    "reminder": {
        "sv": ("⏰ {title}\n\n🗓\ufe0f Börjar {relative} kl. {time}.\n📍 {place}\n"
               "📝 Anmälan: {signup}\n{link}\n\n{hashtags}"),
        "en": ("⏰ {title}\n\n🗓\ufe0f Starts {relative} at {time}.\n📍 {place}\n"
               "📝 Register: {signup}\n{link}\n\n{hashtags}"),
    },
}

DATE_ONLY_TEMPLATES: dict[str, dict[str, str]] = {
    "reminder": {
        "sv": ("⏰ {title}\n\n🗓\ufe0f Äger rum {relative}.\n📍 {place}\n"
               "📝 Anmälan: {signup}\n{link}\n\n{hashtags}"),
        "en": ("⏰ {title}\n\n🗓\ufe0f Takes place {relative}.\n📍 {place}\n"
               "📝 Register: {signup}\n{link}\n\n{hashtags}"),
    },
}
"""The built-in texts for an event without a time of day, where they differ."""

Template = tuple[tuple[str, frozenset[str]], ...]
"""A parsed template: each line with the names of the fields it holds."""


_FITTED = frozenset({"excerpt", "hashtags"})
"""The fields that fitting a post to its limit shortens."""

class Memo:
    """What the composer keeps between posts: parsed templates, each event's fields in a
    language at a time of writing, and a template's lines filled in from them (the posts of
    one event come one after another). Each table holds at most `MEMO_SIZE` entries; what
    it keeps depends only on its key, so composing with it or without it (`uncached`) gives
    the same posts."""

    def __init__(self):
        self.on = True
        self.templates: dict[tuple[str, tuple[str, ...]], Template] = {}
        self.fields: dict[tuple[int, str, datetime | None], tuple[Event, dict[str, str]]] = {}
        self.lines: dict[tuple[int, int], tuple] = {}


memo = Memo()
MEMO_SIZE = 512


@contextmanager
def uncached() -> Iterator[None]:
    """Compose without the memo inside this block: every template parsed and every field
    written anew for each post (the tests compare the two)."""
    was, memo.on = memo.on, False
    memo.templates.clear()
    memo.fields.clear()
    memo.lines.clear()
    try:
        yield
    finally:
        memo.on = was


def check_template(text: str, fields: Sequence[str] = FIELDS) -> None:
    """Raise ValueError naming the first field of `text` that is not one of `fields`."""
    parse_template(text, fields)


def parse_template(text: str, fields: Sequence[str] = FIELDS) -> Template:
    """Split `text` into lines with their fields; raise ValueError for anything but plain fields.

    A format spec (`{title:>9999}`), a conversion (`{title!r}`) or an attribute or index
    (`{title.__class__}`, `{title[0]}`) would let a template hang, crash or read Python
    objects, so only `{title}`-style fields (and `{{`/`}}` for braces) are allowed.
    """
    return _parsed(text, tuple(fields))


def _parsed(text: str, fields: tuple[str, ...]) -> Template:
    """`parse_template`, once per template text and fields (a site has a few templates and
    thousands of posts); a template in error is parsed again each time, to raise again."""
    if not memo.on:
        return _parse(text, fields)
    found = memo.templates.get((text, fields))
    if found is None:
        if len(memo.templates) >= MEMO_SIZE:
            memo.templates.clear()
        found = memo.templates[text, fields] = _parse(text, fields)
    return found


def _parse(text: str, fields: tuple[str, ...]) -> Template:
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        try:
            parts = list(Formatter().parse(line))
        except ValueError as exc:
            raise ValueError(f"template line {_short(line)}: {exc} (write {{{{ and }}}} for "
                             f"braces)") from None
        names = []
        for _, name, spec, conversion in parts:
            if name is None:
                continue
            if name not in fields or spec or conversion:
                raise ValueError(_field_problem(name, spec, conversion, fields))
            names.append(name)
        lines.append((line, frozenset(names)))
    return tuple(lines)


def _field_problem(name: str, spec: str, conversion: str | None,
                   fields: Sequence[str]) -> str:
    written = _short("{" + name + (f"!{conversion}" if conversion else "")
                     + (f":{spec}" if spec else "") + "}", quote=False)
    plain = re.match(r"\w*", name).group()
    known = ", ".join("{" + f + "}" for f in fields)
    if plain in fields:
        return (f"{written}: only the plain field {{{plain}}} is allowed (no format, "
                f"conversion, attribute or index)")
    return f"unknown template field {written} (known fields: {known})"


def _short(text: str, *, quote: bool = True, limit: int = 60) -> str:
    """Show `text` on one short line, control characters escaped."""
    shown = repr(text) if quote else "".join(c if c.isprintable() else repr(c)[1:-1]
                                             for c in text)
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


def render_template(template: Template, values: Mapping[str, str]) -> str:
    """Fill in `values`, drop lines whose fields are all empty and collapse blank lines."""
    return joined([fill_line(line, names, values) for line, names in template])


def fill_line(line: str, names: frozenset[str], values: Mapping[str, str]) -> str | None:
    """One line of a template filled in, or None when all its fields are empty."""
    if names and not any(map(values.__getitem__, names)):
        return None
    return line.format_map(values).rstrip()


def joined(lines: Sequence[str | None]) -> str:
    out: list[str] = []
    for rendered in lines:
        if rendered is not None and (rendered or (out and out[-1])):
            out.append(rendered)
    return "\n".join(out).strip("\n")


def filled_lines(template: Template, fields: Mapping[str, str]) -> tuple[
        list[str | None], list[tuple[int, str, frozenset[str]]]]:
    """The lines of `template` filled in from `fields`, but for those with the excerpt or the
    hashtags (None there), and those lines with their places: only they change from one try
    of a post's fit to the next. Kept for the posts of one event and stage on each account."""
    if not memo.on:
        return _fill(template, fields)
    key = (id(template), id(fields))
    found = memo.lines.get(key)
    if found is None or found[0] is not template or found[1] is not fields:
        if len(memo.lines) >= MEMO_SIZE:
            memo.lines.clear()
        found = memo.lines[key] = (template, fields, *_fill(template, fields))
    return found[2], found[3]


def _fill(template: Template, fields: Mapping[str, str]) -> tuple[
        list[str | None], list[tuple[int, str, frozenset[str]]]]:
    fixed = [None if names & _FITTED else fill_line(line, names, fields)
             for line, names in template]
    varying = [(n, line, names) for n, (line, names) in enumerate(template) if names & _FITTED]
    return fixed, varying
