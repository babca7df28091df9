"""Turn front-matter values into text, and show a wrong value briefly in a message."""

from __future__ import annotations

import html
import re
import reprlib
from datetime import date
from typing import Any

from .names import printable

# Each pattern stops at the next opening bracket, so that a text of a million `[` or `<` costs
# linear time instead of quadratic.
_MARKDOWN_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()]*\)")
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:br|p|div|li|ul|ol|h[1-6]|tr|td)\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")

_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlong = 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = _SHORT.maxfrozenset = 4
_SHORT.maxlevel = 3


MAX_MESSAGE_CHARS = 500
"""The longest problem message: a value quoted in it is cut to fit."""


def one_line(message: str) -> str:
    """Return a problem message on one line, escaped for a terminal, at most 500 characters."""
    message = printable(" ".join(message.split()), backslash=False)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS - 1] + "…"
    return message


def shown(value: Any) -> str:
    """Return a short repr of `value` for a message: never longer than about 100 characters,
    however long or deeply nested the value is."""
    try:
        return _SHORT.repr(value)
    except ValueError:  # an integer too long to write out
        return f"a {type(value).__name__} too long to show"


def text(value: Any) -> str | None:
    """Return a scalar front-matter value as stripped text; None for lists, maps and booleans."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float, date)) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # an integer too long to write out
            return None
    return None


def plain(markup: str) -> str:
    """Return text without HTML tags, Markdown link syntax or runs of whitespace."""
    markup = _MARKDOWN_LINK.sub(r"\1", markup)
    markup = _TAG.sub("", _BLOCK_TAG.sub(" ", markup))
    return " ".join(html.unescape(markup).split())
