"""Count a post's length exactly as its platform does; the rule is data on `Limits.counting`.

    mastodon    graphemes; every http(s) URL counts as `url_weight`, `@user@domain` as `@user`
                (Mastodon counts a URL over 4,096 characters, and a mention whose domain is
                over 253 characters, in full)
    codepoints  Unicode code points, URLs in full (GoToSocial)
    strictest   the larger of `mastodon` and `codepoints`: a Mastodon-API server Herald does not
                know may count either way
    twitter     twitter-text weighted length: URLs count `url_weight`, CJK and emoji count 2;
                a text with U+FFFE, U+FEFF or U+FFFF never fits
    graphemes   graphemes as a reader sees them (Bluesky); bytes are checked with `byte_length`

`fits` and `refusal` check the character limit, the byte limit (`Limits.max_bytes`) and the
characters a platform refuses outright, so every path that sends a text asks the same question.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from ..model import Limits
from . import graphemes, twitter

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
    h(?<![\w@＠$\#＃/]h)ttps?://       # not after a word character, @, $, # or /; the
                                    # `h` first lets the engine skip to where one is
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
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_])?)@([\w.-]+\w)",
    re.IGNORECASE,
)
MAX_URL_LENGTH = 4096   # a longer URL is not a link to Mastodon: it counts in full
MAX_DOMAIN_LENGTH = 253  # a mention of a longer domain is not a mention: it counts in full


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
    """Return whether the platform takes `text`: characters, bytes and refused characters."""
    return _refusal(text, limits, None) is None


def refusal(text: str, limits: Limits) -> str | None:
    """Say in a few words why the platform would refuse `text`, or None when it fits."""
    return _refusal(text, limits, None)


def measure(text: str, limits: Limits) -> tuple[int, str | None]:
    """Return `length(text, limits)` and `refusal(text, limits)`, counting the text once."""
    counted = length(text, limits)
    return counted, _refusal(text, limits, counted)


def _refusal(text: str, limits: Limits, counted: int | None) -> str | None:
    bad = refused(text, limits)
    if bad:
        names = ", ".join(f"U+{ord(c):04X}" for c in bad)
        return f"holds {names}, which {limits.platform.capitalize()} refuses in any post"
    over = (length(text, limits) if counted is None else counted) - limits.max_chars
    if over > 0:
        return f"{over} character{'s' * (over != 1)} over the {limits.max_chars} limit"
    if limits.max_bytes is not None and (extra := byte_length(text) - limits.max_bytes) > 0:
        return f"{extra} byte{'s' * (extra != 1)} over the {limits.max_bytes}-byte limit"
    return None


def refused(text: str, limits: Limits) -> list[str]:
    """Return the characters of `text` the platform refuses in any post (X: U+FEFF and others)."""
    find = REFUSED.get(limits.counting)
    return find(text) if find is not None else []


def has_link(text: str, limits: Limits) -> bool:
    """Return whether the platform sees a link in `text` (X charges more for a post with one)."""
    if limits.counting == "twitter":
        return bool(twitter.urls(text))
    return "://" in text and MASTODON_URL.search(text) is not None


def _mastodon(text: str, limits: Limits) -> int:
    placeholder = "x" * _url_weight(limits)

    def url(match: re.Match[str]) -> str:
        return placeholder if _linkable(match.group()) else match.group()

    def mention(match: re.Match[str]) -> str:
        if len(match.group(2)) > MAX_DOMAIN_LENGTH:
            return match.group()
        return "@" + match.group(1)

    countable = MASTODON_URL.sub(url, text) if "://" in text else text
    if countable.count("@") > 1:        # a remote mention has two
        countable = MASTODON_MENTION.sub(mention, countable)
    return graphemes.length(countable)


@lru_cache(maxsize=1024)
def _linkable(url: str) -> bool:
    """Mastodon links a URL only when its host is a valid IDN and it is 4,096 characters at most."""
    host = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].rsplit(":", 1)[0]
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(url) + len(encoded) - len(host) <= MAX_URL_LENGTH


def _codepoints(text: str, limits: Limits) -> int:
    return len(text)


def _strictest(text: str, limits: Limits) -> int:
    return max(_mastodon(text, limits), _codepoints(text, limits))


def _twitter(text: str, limits: Limits) -> int:
    return twitter.weighted_length(text, _url_weight(limits))


def _graphemes(text: str, limits: Limits) -> int:
    return graphemes.length(text)


def _url_weight(limits: Limits) -> int:
    return DEFAULT_URL_WEIGHT if limits.url_weight is None else limits.url_weight


COUNTERS: dict[str, Callable[[str, Limits], int]] = {
    "mastodon": _mastodon,
    "codepoints": _codepoints,
    "strictest": _strictest,
    "twitter": _twitter,
    "graphemes": _graphemes,
}

# What a platform refuses in any text, whatever its length.
REFUSED: dict[str, Callable[[str], list[str]]] = {
    "twitter": twitter.invalid_characters,
}
