"""Count a post's length exactly as its platform does; the rule is data on `Limits.counting`.

    mastodon    graphemes; every http(s) URL counts as `url_weight`, `@user@domain` as `@user`
    twitter     twitter-text weighted length: URLs count `url_weight`, CJK and emoji count 2
    graphemes   graphemes as a reader sees them (Bluesky); bytes are checked with `byte_length`
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import grapheme

from .model import Limits

DEFAULT_URL_WEIGHT = 23

# A URL as Mastodon's server recognises one: http(s)://, a host with a top-level domain or an
# IPv4 address, an optional port, a path that may hold balanced parentheses and does not end in
# punctuation, and an ASCII query string. Mastodon checks the top-level domain against a list
# where this accepts any alphabetic one; otherwise, where the two differ, this leaves characters
# out of the URL, so a post counts longer here rather than shorter.
_PATH_PART = r"""\([^\s()<>?]*\)|[^\s()<>?]"""
_PATH_END = r"""\([^\s()<>?]*\)|[^\s()<>?!*"'「」;:=,.$%\[\]~&|@”’…{}]"""
MASTODON_URL = re.compile(
    rf"""
    (?<![\w@＠$\#＃/])
    https?://
    (?:
        (?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:[^\W\d_]{{2,}}|xn--[a-z0-9-]+)
      | \d{{1,3}}(?:\.\d{{1,3}}){{3}}
    )
    (?::\d{{1,5}})?
    (?:/(?:(?:{_PATH_PART})*(?:{_PATH_END}))?)?
    (?:\?[a-z0-9!?*'();:&=+$/%\#\[\]_.,~|@-]*[a-z0-9_&=\#/-])?
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Mastodon counts a remote mention `@user@domain` as only `@user`.
MASTODON_MENTION = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_])?)@[\w.-]+\w",
    re.IGNORECASE,
)


def length(text: str, limits: Limits) -> int:
    """Return the length of `text` as `limits.platform` counts it against `limits.max_chars`."""
    try:
        count = COUNTERS[limits.counting]
    except KeyError:
        known = ", ".join(sorted(COUNTERS))
        raise ValueError(f"unknown counting rule {limits.counting!r} "
                         f"(expected one of {known})") from None
    return count(text, limits)


def byte_length(text: str) -> int:
    """Return the size of `text` in UTF-8 bytes."""
    return len(text.encode("utf-8"))


def fits(text: str, limits: Limits) -> bool:
    """Return whether `text` is within both the character and the byte limit."""
    return length(text, limits) <= limits.max_chars and (
        limits.max_bytes is None or byte_length(text) <= limits.max_bytes
    )


def _mastodon(text: str, limits: Limits) -> int:
    placeholder = "x" * _url_weight(limits)
    countable = MASTODON_URL.sub(placeholder, text)
    countable = MASTODON_MENTION.sub(r"@\1", countable)
    return grapheme.length(countable)


def _twitter(text: str, limits: Limits) -> int:
    from twitter_text import parse_tweet  # a quarter of a second to import; only X needs it

    return parse_tweet(text, _twitter_options(_url_weight(limits))).weightedLength


def _graphemes(text: str, limits: Limits) -> int:
    return grapheme.length(text)


def _url_weight(limits: Limits) -> int:
    return DEFAULT_URL_WEIGHT if limits.url_weight is None else limits.url_weight


@lru_cache(maxsize=8)
def _twitter_options(url_weight: int) -> dict:
    from twitter_text.config import config

    return {**config["defaults"], "transformed_url_length": url_weight}


COUNTERS: dict[str, Callable[[str, Limits], int]] = {
    "mastodon": _mastodon,
    "twitter": _twitter,
    "graphemes": _graphemes,
}
