"""Count graphemes (user-perceived characters) as the `grapheme` package does, but fast.

Most of a post is made of characters that are always a grapheme of their own: Latin, Greek
and Cyrillic letters, digits, punctuation, spaces and line feeds. Between two of them there is
always a boundary (Unicode's rule GB999), so a run of them counts its length. Only the
characters around the others (an emoji and its variation selector, a combining accent, a
flag's two halves, Hangul, Indic conjuncts, CR LF) are handed to `grapheme`, each run with the
character on either side of it, which may belong to the same grapheme.
`tests/test_counting.py` checks every character of `ALONE` against `grapheme`'s own tables.
"""

from __future__ import annotations

import re

import grapheme

ALONE = ("\n\x20-\x7e\xa0-\xa8\xaa-\xac\xaf-\u02ff\u0370-\u0482\u048a-\u0590"
         "\u2000-\u200a\u2010-\u2027\u202f-\u203b\u203d-\u2048\u204a-\u205f\u2070-\u20cf")
"""Characters that are a grapheme of their own whatever stands around them (as a regex class;
`\\n` too: a line feed is a boundary on both sides, and a carriage return is not in here)."""

_JOINING = re.compile(f"(?s)[^{ALONE}]+(?:.[^{ALONE}]+)*")
"""Characters that may join their neighbours, in runs; two runs one character apart are one
(that character may join both). A run starts with a class of characters, which the regular
expression engine scans for quickly."""
_KNOWN: dict[str, int] = {}
"""The count of each short part handed to `grapheme` ("\n📍 ", " 🗓️ " recur in every post)."""
_KNOWN_MAX = 4096


def length(text: str) -> int:
    """Return the number of graphemes in `text`: `grapheme.length(text)`, without its cost.

    Each run of joining characters is counted by `grapheme` with the character on either side
    of it; every other character is a grapheme of its own.
    """
    size = total = len(text)
    for run in _JOINING.finditer(text):
        start, end = run.span()
        if start:
            start -= 1
        if end < size:
            end += 1
        total += _part(text[start:end]) - (end - start)
    return total


def _part(part: str) -> int:
    found = _KNOWN.get(part)
    if found is None:
        found = grapheme.length(part)
        if len(part) <= 16:
            if len(_KNOWN) >= _KNOWN_MAX:
                _KNOWN.clear()
            _KNOWN[part] = found
    return found
