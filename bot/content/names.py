"""Name files safely: in output (escaped, one line) and as output file names (a slug)."""

from __future__ import annotations

import hashlib
import re

from ..errors import printable

__all__ = ["MAX_SLUG", "file_slug", "is_safe_file_name", "printable"]

MAX_SLUG = 80
"""The longest slug, in characters, before the hash that keeps it unique (file names allow 255
bytes; an output name puts a stage, an account and a language after the slug)."""

_UNSAFE = re.compile(r"[^\w.\-]+")


def file_slug(text: str) -> str:
    """Return a safe file name part for `text`: the text itself when it already is one.

    Letters, digits, `_`, `.` and `-` are kept; any other run of characters becomes one `-`;
    a name never starts with `.` or `-`, is never empty, and is at most `MAX_SLUG` characters.
    Whenever anything was changed, a short hash of the original keeps two texts apart.
    """
    slug = _UNSAFE.sub("-", text).lstrip(".-")[:MAX_SLUG].rstrip(".-")
    if slug == text:
        return slug
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else digest


def is_safe_file_name(text: str) -> bool:
    """Return whether `text` can name a file as it is (see `file_slug`)."""
    return file_slug(text) == text
