"""Set text on a card: fonts, emoji, measuring, wrapping and fitting in bounded time.

Text is DejaVu Sans (bundled, reduced to Latin, Greek and Cyrillic). Emoji, which DejaVu lacks,
are drawn in Noto Emoji (bundled, monochrome, SIL OFL): a colour emoji font would clash with
the card's two colours, and Pillow draws Noto Emoji's outlines in the text colour, joined
sequences (👩‍💻) and flags included. A character neither font has is left out rather than
drawn as an empty box; the alt text keeps the title as written.

Fitting is bounded: a title is cut to what the box could ever hold at the smallest size before
anything is measured, sizes are bisected, wrapping stops once the box is full, and a word too
wide for the card is shortened by bisection.
"""

from __future__ import annotations

import bisect
import functools
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageDraw, ImageFont

FONTS = Path(__file__).resolve().parent.parent / "fonts"
BOLD = "DejaVuSans-Bold.ttf"
REGULAR = "DejaVuSans.ttf"
EMOJI = "NotoEmoji-Medium.ttf"
EMOJI_SCALE = 0.85
"""Noto Emoji's glyphs fill the whole em; at 85 % they stand as tall as DejaVu's capitals."""

ELLIPSIS = "…"
SMALLEST = 20      # at 1200 px wide: below this, text is shortened with an ellipsis instead
LEADING = 1.18
NARROWEST = 0.25
"""No DejaVu glyph that takes space is narrower than a quarter of the size (`i`, `l` and `'`
are about 0.28): a box `w` pixels wide holds at most w / (0.25 * size) characters a line."""

_ZWJ, _VS15, _VS16, _KEYCAP = "\u200d", "\ufe0e", "\ufe0f", "\u20e3"


def font(size: int, *, bold: bool) -> ImageFont.FreeTypeFont:
    """Return the card's text font at `size` pixels."""
    return _font(BOLD if bold else REGULAR, size)


def emoji_font(size: int) -> ImageFont.FreeTypeFont:
    """Return the emoji font for text of `size` pixels."""
    return _font(EMOJI, max(1, round(size * EMOJI_SCALE)))


@functools.cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / name), size)


@functools.cache
def font_files_digest() -> str:
    """Name the bundled fonts by their content, for cache keys of drawn cards."""
    import hashlib

    digest = hashlib.sha256()
    for name in (BOLD, REGULAR, EMOJI):
        digest.update((FONTS / name).read_bytes())
    return digest.hexdigest()


# --- which font draws what ----------------------------------------------------------------------

@functools.cache
def _coverage(name: str) -> tuple[list[int], list[int]]:
    """Read the code points a font maps (its cmap table) as sorted, disjoint ranges."""
    data = (FONTS / name).read_bytes()
    tables = {data[12 + 16 * i:16 + 16 * i]: int.from_bytes(data[20 + 16 * i:24 + 16 * i], "big")
              for i in range(int.from_bytes(data[4:6], "big"))}
    cmap = tables[b"cmap"]
    subtables = {}
    for i in range(int.from_bytes(data[cmap + 2:cmap + 4], "big")):
        record = cmap + 4 + 8 * i
        key = (int.from_bytes(data[record:record + 2], "big"),
               int.from_bytes(data[record + 2:record + 4], "big"))
        subtables[key] = cmap + int.from_bytes(data[record + 4:record + 8], "big")
    ranges: list[tuple[int, int]] = []
    for key in ((3, 10), (0, 4), (0, 6), (3, 1), (0, 3)):
        if key in subtables:
            ranges = _cmap_ranges(data, subtables[key])
            break
    ranges.sort()
    return [start for start, _ in ranges], [end for _, end in ranges]


def _cmap_ranges(data: bytes, at: int) -> list[tuple[int, int]]:
    def u16(pos: int) -> int:
        return int.from_bytes(data[pos:pos + 2], "big")

    def u32(pos: int) -> int:
        return int.from_bytes(data[pos:pos + 4], "big")

    if u16(at) == 12:
        return [(u32(at + 16 + 12 * i), u32(at + 20 + 12 * i)) for i in range(u32(at + 12))]
    if u16(at) == 4:
        count = u16(at + 6) // 2
        ends, starts = at + 14, at + 16 + 2 * count
        return [(u16(starts + 2 * i), u16(ends + 2 * i)) for i in range(count)
                if u16(starts + 2 * i) != 0xFFFF]
    return []


def _has(name: str, char: str) -> bool:
    starts, ends = _coverage(name)
    index = bisect.bisect_right(starts, ord(char)) - 1
    return index >= 0 and ord(char) <= ends[index]


def _joins(previous: str, char: str) -> bool:
    """True when `char` belongs to the emoji sequence that `previous` ends."""
    code = ord(char)
    return (char in (_ZWJ, _VS15, _VS16, _KEYCAP) or previous == _ZWJ
            or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F)


@functools.lru_cache(maxsize=4096)
def runs(text: str) -> tuple[tuple[str, bool], ...]:
    """Split text into (text, is_emoji) runs, leaving out what neither font can draw."""
    if text.isascii():
        return ((text, False),) if text else ()
    clusters: list[str] = []
    for char in text:
        if clusters and (_joins(clusters[-1][-1], char) or _pairs_flag(clusters[-1], char)):
            clusters[-1] += char
        else:
            clusters.append(char)
    out: list[tuple[str, bool]] = []
    for cluster in clusters:
        base = cluster[0]
        emoji = _has(EMOJI, base) and (not _has(REGULAR, base) or len(cluster) > 1
                                       and _VS15 not in cluster)
        if emoji:
            piece = cluster
        else:
            piece = "".join(char for char in cluster if char not in (_ZWJ, _VS15, _VS16)
                            and (_has(REGULAR, char) or char == " "))
        if not piece:
            continue
        if out and out[-1][1] == emoji:
            out[-1] = (out[-1][0] + piece, emoji)
        else:
            out.append((piece, emoji))
    return tuple(out)


def _pairs_flag(cluster: str, char: str) -> bool:
    """Two regional indicator letters make one flag."""
    return (len(cluster) == 1 and 0x1F1E6 <= ord(cluster) <= 0x1F1FF
            and 0x1F1E6 <= ord(char) <= 0x1F1FF)


def clean(text: str) -> str:
    """Normalise to NFC, collapse white space and leave out what no bundled font can draw."""
    text = " ".join(unicodedata.normalize("NFC", text or "").split())
    return " ".join("".join(piece for piece, _ in runs(text)).split())


# --- measuring and drawing ------------------------------------------------------------------------

def width(text: str, size: int, *, bold: bool) -> int:
    """The width in pixels that `text` takes at `size`."""
    total = 0
    for piece, emoji in runs(text):
        face = emoji_font(size) if emoji else font(size, bold=bold)
        if emoji:
            total += math.ceil(face.getlength(piece))
        else:
            left, _, right, _ = face.getbbox(piece)
            total += right - min(left, 0)
    return total


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, *,
              bold: bool, fill) -> None:
    """Draw one line with its top left at `xy`, emoji in the emoji font on the same baseline."""
    x, y = xy
    baseline = y + font(size, bold=bold).getmetrics()[0]
    for piece, emoji in runs(text):
        face = emoji_font(size) if emoji else font(size, bold=bold)
        draw.text((x, baseline), piece, font=face, fill=fill, anchor="ls")
        x += math.ceil(face.getlength(piece))


# --- fitting --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """Lines of text set in one size."""

    texts: tuple[str, ...]
    size: int
    bold: bool

    @property
    def leading(self) -> int:
        return round(self.size * LEADING)

    @property
    def height(self) -> int:
        return height_of(len(self.texts), self.size, self.bold)


def height_of(lines: int, size: int, bold: bool) -> int:
    """The height of `lines` lines at `size`, from the top of the first to the bottom of the last."""
    ascent, descent = font(size, bold=bold).getmetrics()
    return (max(1, lines) - 1) * round(size * LEADING) + ascent + descent


def lines_that_fit(height: int, size: int, bold: bool) -> int:
    """How many lines at `size` fit in `height` (at least one)."""
    return max(1, (height - height_of(1, size, bold)) // round(size * LEADING) + 1)


def fit(text: str, box_width: int, box_height: int, sizes: tuple[int, int], smallest: int, *,
        bold: bool, max_lines: int | None = None) -> Block:
    """Return the largest size at which `text`, wrapped at spaces, fits the box.

    `sizes` is the (largest, usual smallest) size. With `max_lines`, one line at any size in
    that range is preferred to wrapping. Below the usual smallest size it keeps shrinking (a
    very long word), in steps of two; at `smallest` it shortens the text with an ellipsis.
    """
    largest, usual = sizes
    room = lines_that_fit(box_height, smallest, bold)
    if max_lines:
        room = min(room, max_lines)
    most = 2 * room * (box_width // max(1, int(NARROWEST * smallest)) + 1)
    if len(text) > most:  # more than the box holds at any size: measure only what can show
        return _shortened(_units(text[:most]), box_width, box_height, smallest, bold, max_lines)
    words = _units(text)
    candidates = list(range(largest, usual - 1, -1)) + list(range(usual - 2, smallest - 1, -2))
    if max_lines:
        block = _largest_fitting(words, box_width, box_height, candidates[:largest - usual + 1],
                                 bold, 1)
        if block is not None:
            return block
    block = _largest_fitting(words, box_width, box_height, candidates, bold, max_lines)
    return block or _shortened(words, box_width, box_height, smallest, bold, max_lines)


def _largest_fitting(words: list[str], box_width: int, box_height: int, sizes: list[int],
                     bold: bool, max_lines: int | None) -> Block | None:
    """Bisect `sizes` (largest first) for the first size at which the words fit."""
    def attempt(size: int) -> Block | None:
        allowed = lines_that_fit(box_height, size, bold)
        if max_lines:
            allowed = min(allowed, max_lines)
        lines = _wrap(words, box_width, size, bold, allowed)
        if lines is None or height_of(len(lines), size, bold) > box_height:
            return None
        return Block(tuple(lines or [""]), size, bold)

    low, high, found = 0, len(sizes) - 1, None
    while low <= high:  # a smaller size never needs more lines: the first fit is the largest
        middle = (low + high) // 2
        block = attempt(sizes[middle])
        if block is not None:
            found, high = block, middle - 1
        else:
            low = middle + 1
    return found


def _units(text: str) -> list[str]:
    """Split at spaces, keeping a lone dash or other punctuation with the word before it."""
    units: list[str] = []
    for word in text.split():
        if units and not any(char.isalnum() for char in word):
            units[-1] = f"{units[-1]} {word}"
        else:
            units.append(word)
    return units


def _wrap(words: list[str], box_width: int, size: int, bold: bool,
          allowed: int) -> list[str] | None:
    """Greedy wrap at spaces; None when a word is wider than the box or lines exceed `allowed`."""
    lines: list[str] = []
    for word in words:
        if width(word, size, bold=bold) > box_width:
            return None
        if lines and width(f"{lines[-1]} {word}", size, bold=bold) <= box_width:
            lines[-1] = f"{lines[-1]} {word}"
        elif len(lines) < allowed:
            lines.append(word)
        else:
            return None
    return lines


def _shortened(words: list[str], box_width: int, box_height: int, size: int, bold: bool,
               max_lines: int | None) -> Block:
    fits = lines_that_fit(box_height, size, bold)
    fits = min(fits, max_lines) if max_lines else fits
    lines: list[str] = []
    for word in words:
        if width(word + ELLIPSIS, size, bold=bold) > box_width:  # wider than the card alone
            cut = _longest_prefix(word, box_width, size, bold) + ELLIPSIS
            if len(lines) < fits:
                lines.append(cut)
            else:
                lines[-1] += ELLIPSIS
            break
        if lines and width(f"{lines[-1]} {word}{ELLIPSIS}", size, bold=bold) <= box_width:
            lines[-1] = f"{lines[-1]} {word}"
        elif len(lines) < fits:
            lines.append(word)
        else:
            lines[-1] += ELLIPSIS
            break
    return Block(tuple(lines or [""]), size, bold)


def _longest_prefix(word: str, box_width: int, size: int, bold: bool) -> str:
    """The longest start of `word` that fits with an ellipsis after it (at least one character)."""
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if width(word[:middle] + ELLIPSIS, size, bold=bold) <= box_width:
            low = middle
        else:
            high = middle - 1
    return word[:low]
