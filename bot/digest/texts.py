"""A digest's texts: the fields each part takes, the numbering of a thread, the built-in texts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

HEADER_FIELDS = ("dates", "week", "month", "year", "count", "hashtags")
"""Fields of a digest's header, footer and "nothing this week" text."""
LINE_FIELDS = ("title", "date", "time", "when", "place", "link")
"""Fields of the line each event gets."""
NUMBERING = "{part}/{parts}"
"""The last line of each part of a digest that takes more than one post."""

_NUMBERED = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class DigestTexts:
    """A digest's texts in one language: a header, one line per event, a footer, and the text
    posted when the window holds no event (None: post nothing then)."""

    header: str
    line: str
    footer: str
    empty: str | None = None


DEFAULT_TEXTS: dict[str, DigestTexts] = {
    "sv": DigestTexts(header="Kommande evenemang {dates}",
                      line="• {when} – {title} {link}",
                      footer="{hashtags}"),
    "en": DigestTexts(header="Upcoming events {dates}",
                      line="• {when} – {title} {link}",
                      footer="{hashtags}"),
}


def texts_for(texts: Mapping[str, DigestTexts], lang: str) -> DigestTexts | None:
    """A digest's texts in `lang`: its configured ones, else the built-in ones (or None)."""
    return texts.get(lang) or DEFAULT_TEXTS.get(lang)


def thread_size(text: str | None, part: int) -> int | None:
    """How many parts a thread has, read from the numbering on the last line of its `part`.

    None when the text carries no such numbering (a digest that fitted one post).
    """
    last = (text or "").rstrip().rsplit("\n", 1)[-1].strip()
    found = _NUMBERED.fullmatch(last)
    if found is None or int(found.group(1)) != part or int(found.group(2)) < 2:
        return None
    return int(found.group(2))
