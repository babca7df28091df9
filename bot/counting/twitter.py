"""X's weighted length (twitter-text v3), without twitter-text: the rules are small.

    the text is NFC-normalized first
    a URL as twitter-text extracts it weighs `url_weight` (23)
    an emoji sequence (keycap, flag, tag sequence, modified or ZWJ-joined pictographs) weighs 2
    any other code point weighs 1 in U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F,
        U+2032-U+2037, and 2 elsewhere (CJK, most symbols)
    U+FFFE, U+FEFF and U+FFFF make a text invalid, whatever its length

The URL grammar and the list of top-level domains are twitter-text's, so `civictech.se` counts
as a link and `localhost:3000` does not. Emoji sequences are recognised by their structure
(Unicode TR #51) rather than from a list, so an emoji newer than twitter-text's list also
weighs 2. tests/test_counting.py checks this module against twitter-text's own conformance
suite and against the twitter-text package over the real events' texts.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

INVALID_CHARACTERS = "\ufffe\ufeff\uffff"
MAX_URL_LENGTH = 4096
MAX_TCO_SLUG_LENGTH = 40

# Code points that weigh 1; everything else weighs 2 (twitter-text v3's `ranges`).
_LIGHT = "\u0000-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037"
_HEAVY = re.compile(f"[^{_LIGHT}]")

# Extended_Pictographic (Unicode emoji-data.txt): the characters an emoji sequence is built on.
_PICTOGRAPHIC_RANGES = """
A9 AE 203C 2049 2122 2139 2194-2199 21A9-21AA 231A-231B 2328 23CF 23E9-23F3 23F8-23FA 24C2
25AA-25AB 25B6 25C0 25FB-25FE 2600-2604 260E 2611 2614-2615 2618 261D 2620 2622-2623 2626 262A
262E-262F 2638-263A 2640 2642 2648-2653 265F-2660 2663 2665-2666 2668 267B 267E-267F 2692-2697
2699 269B-269C 26A0-26A1 26A7 26AA-26AB 26B0-26B1 26BD-26BE 26C4-26C5 26C8 26CE-26CF 26D1
26D3-26D4 26E9-26EA 26F0-26F5 26F7-26FA 26FD 2702 2705 2708-270D 270F 2712 2714 2716 271D 2721
2728 2733-2734 2744 2747 274C 274E 2753-2755 2757 2763-2764 2795-2797 27A1 27B0 27BF 2934-2935
2B05-2B07 2B1B-2B1C 2B50 2B55 3030 303D 3297 3299 1F004 1F02C-1F02F 1F094-1F09F 1F0AF-1F0B0
1F0C0 1F0CF-1F0D0 1F0F6-1F0FF 1F170-1F171 1F17E-1F17F 1F18E 1F191-1F19A 1F1AF-1F1E5 1F201-1F20F
1F21A 1F22F 1F232-1F23A 1F23C-1F23F 1F249-1F25F 1F266-1F321 1F324-1F393 1F396-1F397 1F399-1F39B
1F39E-1F3F0 1F3F3-1F3F5 1F3F7-1F3FA 1F400-1F4FD 1F4FF-1F53D 1F549-1F54E 1F550-1F567 1F56F-1F570
1F573-1F57A 1F587 1F58A-1F58D 1F590 1F595-1F596 1F5A4-1F5A5 1F5A8 1F5B1-1F5B2 1F5BC 1F5C2-1F5C4
1F5D1-1F5D3 1F5DC-1F5DE 1F5E1 1F5E3 1F5E8 1F5EF 1F5F3 1F5FA-1F64F 1F680-1F6C5 1F6CB-1F6D2
1F6D5-1F6E5 1F6E9 1F6EB-1F6F0 1F6F3-1F6FF 1F7DC-1F7F0 1F80C-1F80F 1F848-1F84F 1F85A-1F85F
1F888-1F88F 1F8AE-1F8AF 1F8BC-1F8BF 1F8C2-1F8CF 1F8D9-1F8FF 1F90C-1F93A 1F93C-1F945 1F947-1F9FF
1FA58-1FA5F 1FA6E-1FAFF 1FC00-1FFFD
"""

# Emoji_Modifier_Base (Unicode emoji-data.txt): the pictographs a skin tone may follow.
_MODIFIER_BASE_RANGES = """
261D 26F9 270A-270D 1F385 1F3C2-1F3C4 1F3C7 1F3CA-1F3CC 1F442-1F443 1F446-1F450 1F466-1F478 1F47C
1F481-1F483 1F485-1F487 1F48F 1F491 1F4AA 1F574-1F575 1F57A 1F590 1F595-1F596 1F645-1F647
1F64B-1F64F 1F6A3 1F6B4-1F6B6 1F6C0 1F6CC 1F90C 1F90F 1F918-1F91F 1F926 1F930-1F939 1F93C-1F93E
1F977 1F9B5-1F9B6 1F9B8-1F9B9 1F9BB 1F9CD-1F9CF 1F9D1-1F9DD 1FAC3-1FAC5 1FAF0-1FAF8
"""

# Emoji shown as text unless followed by U+FE0F (Emoji=Yes, Emoji_Presentation=No): only these
# take the selector into the emoji; after any other the selector weighs 2 on its own, as in X.
_TEXT_DEFAULT_RANGES = """
A9 AE 203C 2049 2122 2139 2194-2199 21A9-21AA 2328 23CF 23ED-23EF 23F1-23F2 23F8-23FA 24C2 25AA-25AB
25B6 25C0 25FB-25FC 2600-2604 260E 2611 2618 261D 2620 2622-2623 2626 262A 262E-262F 2638-263A
2640 2642 265F-2660 2663 2665-2666 2668 267B 267E 2692 2694-2697 2699 269B-269C 26A0 26A7
26B0-26B1 26C8 26CF 26D1 26D3 26E9 26F0-26F1 26F4 26F7-26F9 2702 2708-2709 270C-270D 270F 2712
2714 2716 271D 2721 2733-2734 2744 2747 2763-2764 27A1 2934-2935 2B05-2B07 3030 303D 3297 3299
1F170-1F171 1F17E-1F17F 1F202 1F237 1F321 1F324-1F32C 1F336 1F37D 1F396-1F397 1F399-1F39B
1F39E-1F39F 1F3CB-1F3CE 1F3D4-1F3DF 1F3F3 1F3F5 1F3F7 1F43F 1F441 1F4FD 1F549-1F54A 1F56F-1F570
1F573-1F579 1F587 1F58A-1F58D 1F590 1F5A5 1F5A8 1F5B1-1F5B2 1F5BC 1F5C2-1F5C4 1F5D1-1F5D3
1F5DC-1F5DE 1F5E1 1F5E3 1F5E8 1F5EF 1F5F3 1F5FA 1F6CB 1F6CD-1F6CF 1F6E0-1F6E5 1F6E9 1F6F0 1F6F3
"""


def _char_class(ranges: str) -> str:
    def char(code: str) -> str:
        return f"\\U{int(code, 16):08x}"

    parts = []
    for item in ranges.split():
        first, _, last = item.partition("-")
        parts.append(char(first) + (f"-{char(last)}" if last else ""))
    return "[" + "".join(parts) + "]"


_PICTOGRAPH = _char_class(_PICTOGRAPHIC_RANGES)
_MODIFIER_BASE = _char_class(_MODIFIER_BASE_RANGES)
_TEXT_DEFAULT = _char_class(_TEXT_DEFAULT_RANGES)
_ELEMENT = (r"(?:[#*0-9]\ufe0f?\u20e3"                              # keycap
            r"|[\U0001f1e6-\U0001f1ff]{2}"                          # flag: two regional indicators
            rf"|{_PICTOGRAPH}[\U000e0020-\U000e007e]+\U000e007f"    # tag sequence (🏴 flags)
            rf"|{_MODIFIER_BASE}[\U0001f3fb-\U0001f3ff]"             # with a skin tone
            rf"|{_TEXT_DEFAULT}\ufe0f"                                # asked for as emoji
            rf"|{_PICTOGRAPH})")
_EMOJI = re.compile(rf"{_ELEMENT}(?:\u200d{_ELEMENT})*")
# Where an emoji sequence may start: a keycap, or a character in the blocks that hold every
# pictograph and regional indicator (a cheap class to scan; the sequence is then matched).
_PICTOGRAPH_BLOCKS = r"[\u00a9\u00ae\u203c-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001fffd]"
_EMOJI_START = re.compile(rf"[#*0-9](?=\ufe0f?\u20e3)|{_PICTOGRAPH_BLOCKS}")
_PICTOGRAPH_START = re.compile(_PICTOGRAPH_BLOCKS)
"""`_EMOJI_START` in a text without U+20E3, which no keycap lacks: a class alone, which the
regular expression engine scans for many times faster than an alternation."""
_COVERED: dict[str, int] = {}
"""What each emoji sequence met so far weighs on its own, code point by code point."""


# --- URLs, as twitter-text extracts them --------------------------------------------------------

_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"
_SPACES = "\u0009-\u000d\u0020\u0085\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_LATIN = ("\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259"
          "\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff")
_CYRILLIC = "\u0400-\u04ff"


@lru_cache(maxsize=1)
def _url_pattern() -> re.Pattern[str]:
    """Compile twitter-text's URL grammar once, on first use (the TLD list is long)."""
    from .tlds import COUNTRY, GENERIC

    char = f"[^{_PUNCT}{_SPACES}{INVALID_CHARACTERS}{_DIRECTIONAL}]"
    subdomain = f"(?:(?:{char}(?:[_-]|{char})*)?{char}\\.)"
    name = f"(?:(?:{char}(?:-|{char})*)?{char}\\.)"
    tld = f"(?:{_one_of(GENERIC + COUNTRY)}(?=[^0-9a-zA-Z@+-]|$)|xn--[\\-0-9a-z]+)"
    path_char = f"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\\[\\]\\-\u2013_~@|&{_LATIN}]"
    parens = f"\\((?:{path_char}+|(?:{path_char}*\\({path_char}+\\){path_char}*))\\)"
    path_end = f"(?:[+\\-a-z{_CYRILLIC}0-9=_#/{_LATIN}]|{parens})"
    path = f"(?:(?:{path_char}*(?:{parens}{path_char}*)*{path_end})|(?:@{path_char}+/))"
    query = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
    query_end = r"[a-z0-9\-_&=#/]"
    before = f"(?:[^A-Za-z0-9@＠$#＃{INVALID_CHARACTERS}]|[{_DIRECTIONAL}]|^)"
    return re.compile(
        f"(?P<before>{before})"
        f"(?P<url>(?P<protocol>https?://)?"
        f"(?P<domain>{subdomain}*{name}{tld})"
        f"(?::[0-9]+)?"
        f"(?P<path>/{path}*)?"
        f"(?:\\?{query}*{query_end})?)",
        re.IGNORECASE)


_PLAIN_DOMAIN = re.compile(r"[a-z0-9.\-]+", re.IGNORECASE)
"""A domain the URL grammar found that `_ascii_domain` would find whole: letters, digits,
hyphens and dots of ASCII alone."""


@lru_cache(maxsize=1)
def _ascii_domain() -> re.Pattern[str]:
    from .tlds import COUNTRY, GENERIC

    return re.compile(f"(?:(?:[\\-a-z0-9{_LATIN}]+)\\.)+(?:{_one_of(GENERIC + COUNTRY)}"
                      f"(?=[^0-9a-zA-Z@+-]|$)|xn--[\\-0-9a-z]+)", re.IGNORECASE)


def _one_of(words: list[str]) -> str:
    """A pattern matching any of `words`, longest first, written as a trie (`co(?:m(?:munity)?)?`):
    it matches as a list of alternatives would, many times faster."""
    root: dict = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items())
                    if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return f"(?:{pattern(root)})"


# Only a word (between spaces) with a dot followed by a letter can hold a URL, as no URL spans a
# space and every top-level domain starts with a letter.
_DOT_LETTER = re.compile(r"\.[^\W\d_]")
_SPACE = re.compile(f"[{_SPACES}]")
_TCO = re.compile(r"^https?://t\.co/([a-z0-9]+)(?:\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*"
                  r"[a-z0-9\-_&=#/])?", re.IGNORECASE)


def urls(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) of every URL twitter-text finds in `text`, in order.

    A URL without `http(s)://` counts when its domain ends in a known top-level domain
    (`civictech.se`); a URL whose host is not a valid international domain name, or that is
    longer than 4,096 characters with its protocol, does not.
    """
    if "." not in text:
        return []
    if _last_urls[0] == text:           # a post's text is counted, then priced (`has_link`)
        return list(_last_urls[1])
    found = _find_urls(text)
    _last_urls[:] = [text, tuple(found)]
    return found


_last_urls: list = [None, ()]
"""The last text `urls` looked at with a dot in it, and its URLs."""


def _find_urls(text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    backwards, end = "", 0
    for dot in _DOT_LETTER.finditer(text):
        if dot.start() < end:
            continue                        # another dot in the word just searched
        space = _SPACE.search(text, dot.start())
        end = space.start() if space else len(text)
        backwards = backwards or text[::-1]
        space = _SPACE.search(backwards, len(text) - dot.start())
        start = len(text) - space.end() if space else 0   # the space before the word is kept:
        # it can be the URL's `before`
        found.extend((start + a, start + b) for a, b in _urls_in(text[start:end]))
    return found


@lru_cache(maxsize=4096)
def _urls_in(text: str) -> tuple[tuple[int, int], ...]:
    """The URLs in one word; cached, as a post's link recurs in every draft the composer tries."""
    found: list[tuple[int, int]] = []
    for match in _url_pattern().finditer(text):
        url, protocol, domain = match["url"], match["protocol"], match["domain"]
        start, end = match.start("url"), match.end("url")
        if not _valid_host(domain, end - start, protocol):
            continue
        if protocol is None:
            if match["before"] in ("-", "_", ".", "/"):     # (one character, or none)
                continue
            if _PLAIN_DOMAIN.fullmatch(domain):     # all of it, one piece (and the long
                pieces = [(start, start + len(domain))]  # pattern is not compiled)
            else:
                pieces = [(start + m.start(), start + m.end())
                          for m in _ascii_domain().finditer(domain)]
            if not pieces:
                continue
            if match["path"]:               # the path goes with the last ASCII domain
                first = pieces[-1][0]
                last = text[first:pieces[-1][1]]
                pieces[-1] = (first, first + len(url.replace(domain, last)))
            found.extend(pieces)
            continue
        tco = _TCO.match(url)
        if tco is not None:
            if len(tco.group(1)) > MAX_TCO_SLUG_LENGTH:
                continue
            end = start + tco.end()
        found.append((start, end))
    return tuple(found)


def _valid_host(host: str, url_length: int, protocol: str | None) -> bool:
    """The host is a valid IDNA name and the URL, punycoded, is within 4,096 characters."""
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    if not encoded:
        return False
    length = url_length + len(encoded) - len(host) + (0 if protocol else len("https://"))
    return length <= MAX_URL_LENGTH


def weighted_length(text: str, url_weight: int = 23) -> int:
    """Return the length X counts for `text` against its 280 (twitter-text v3)."""
    text = unicodedata.normalize("NFC", text)
    spans = urls(text)
    if spans:
        pieces, last = [], 0
        for start, end in spans:
            pieces.append(text[last:start])
            last = end
        pieces.append(text[last:])
        text = "\0".join(pieces)       # keeps what stood on either side of a URL apart
    total = (url_weight - 1) * len(spans)
    if text.isascii():
        return total + len(text)
    heavy = len(_HEAVY.findall(text))
    if not heavy and "\u00a9" not in text and "\u00ae" not in text:
        return total + len(text)        # every emoji holds a heavy character, but © and ®
    starts = _EMOJI_START if "\u20e3" in text else _PICTOGRAPH_START    # a keycap, or none
    emoji, covered, position = 0, 0, 0
    while (start := starts.search(text, position)) is not None:
        sequence = _EMOJI.match(text, start.start())
        if sequence is None:
            position = start.end()
            continue
        emoji += 1
        found = sequence.group()
        weight = _COVERED.get(found)
        if weight is None:
            weight = len(_HEAVY.findall(found)) + len(found)
            if len(_COVERED) < 4096:
                _COVERED[found] = weight
        covered += weight
        position = sequence.end()
    return total + 2 * emoji - covered + len(text) + heavy


def invalid_characters(text: str) -> list[str]:
    """Return the characters of `text` that X refuses in any post (U+FFFE, U+FEFF, U+FFFF)."""
    # NFC never makes nor unmakes these three (none is composed or decomposed), so a text
    # without them needs no normalizing.
    if not any(map(text.__contains__, INVALID_CHARACTERS)):
        return []
    return sorted({c for c in unicodedata.normalize("NFC", text) if c in INVALID_CHARACTERS})
