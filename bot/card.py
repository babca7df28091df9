"""Draw a share card for an event without an image: its title, time and place in the site's colours.

The layout is computed first (`layout_card`) and then painted (`draw_card`), so what the card
shows can be measured without reading pixels. The title is wrapped at spaces and set in the
largest size at which every line fits; a word is never split, so a long word makes the text
smaller instead. The fonts are DejaVu Sans (bundled in `bot/fonts`), which cover Swedish and
the rest of Latin, Greek and Cyrillic; Pillow's built-in font has no å, ä or ö.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw, ImageFont

from .config import ImageConfig
from .errors import ImageError
from .images import open_image, read_source
from .model import Media

FONTS = Path(__file__).resolve().parent / "fonts"
BOLD = "DejaVuSans-Bold.ttf"
REGULAR = "DejaVuSans.ttf"
CARD_SIZE = (1200, 675)
ALT = {"sv": "Kort med texten: {text}", "en": "Card with the text: {text}"}
ELLIPSIS = "…"

# Measures at 1200 px wide; a card of another width scales them.
_BAR = 20          # accent bar along the left edge
_PAD = 64          # space between the edges (or the bar) and the text
_RULE = (96, 8)    # accent rule between the title and the details
_GAP = 36          # space above and below the rule
_LOGO = (240, 110)  # the box a logo is scaled into, in the bottom right corner
_TITLE_SIZES = (84, 40)
_WHEN_SIZES = (40, 24)
_PLACE_SIZES = (34, 22)
_SMALLEST = 20     # below this, text is shortened with an ellipsis instead
_LEADING = 1.18


@dataclass(frozen=True)
class TextLine:
    """One line of text on the card: where its top left sits, in which font and size."""

    text: str
    x: int
    y: int
    size: int
    bold: bool
    role: str


@dataclass(frozen=True)
class CardLayout:
    """Where everything on a card goes; `text_box` is the area no text leaves."""

    size: tuple[int, int]
    text_box: tuple[int, int, int, int]
    lines: tuple[TextLine, ...]
    rule: tuple[int, int, int, int]
    logo_box: tuple[int, int, int, int] | None


def font(size: int, *, bold: bool) -> ImageFont.FreeTypeFont:
    """Return the card's font at `size` pixels."""
    return _font(BOLD if bold else REGULAR, size)


@functools.cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / name), size)


def card_alt(title: str, when: str, place: str, lang: str) -> str:
    """Say what the card shows, in `lang` (Swedish or English; English for anything else)."""
    template = ALT.get(lang.split("-")[0].lower(), ALT["en"])
    return template.format(text=", ".join(part for part in (title, when, place) if part))


def draw_card(*, title: str, when: str, place: str, config: ImageConfig, lang: str,
              size: tuple[int, int] = CARD_SIZE) -> Media:
    """Draw the card as PNG; raises ImageError when the configured logo cannot be read."""
    title, when, place = (_clean(text) for text in (title, when, place))
    logo = _logo(config.logo, size) if config.logo else None
    layout = layout_card(title=title, when=when, place=place, size=size,
                         logo_size=logo.size if logo else None)
    foreground = ImageColor.getrgb(config.card_foreground)
    background = ImageColor.getrgb(config.card_background)
    muted = tuple(round(f * 0.8 + b * 0.2) for f, b in zip(foreground, background))

    card = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(card)
    width, height = size
    draw.rectangle((0, 0, _scaled(_BAR, width) - 1, height - 1), fill=config.card_accent)
    draw.rectangle(layout.rule, fill=config.card_accent)
    for line in layout.lines:
        fill = muted if line.role == "place" else foreground
        draw.text((line.x, line.y), line.text, font=font(line.size, bold=line.bold), fill=fill)
    if logo is not None and layout.logo_box is not None:
        card.paste(logo, layout.logo_box[:2], logo)

    buffer = io.BytesIO()
    card.save(buffer, "PNG")
    return Media(data=buffer.getvalue(), mime="image/png", width=width, height=height,
                 alt=card_alt(title, when, place, lang), filename="card.png")


def layout_card(*, title: str, when: str, place: str, size: tuple[int, int] = CARD_SIZE,
                logo_size: tuple[int, int] | None = None) -> CardLayout:
    """Place the title at the top, and the rule, time and place at the bottom of the card."""
    title, when, place = (_clean(text) for text in (title, when, place))
    width, height = size
    pad = _scaled(_PAD, width)
    left, top = _scaled(_BAR, width) + pad, pad
    right, bottom = width - pad, height - pad
    logo_box = None
    detail_right = right
    if logo_size is not None:
        logo_box = (right - logo_size[0], bottom - logo_size[1], right, bottom)
        detail_right = logo_box[0] - _scaled(_GAP, width)

    lines: list[TextLine] = []
    y = bottom
    for text, sizes, bold, role in ((place, _PLACE_SIZES, False, "place"),
                                    (when, _WHEN_SIZES, True, "when")):
        if not text:
            continue
        if lines:
            y -= _scaled(_GAP // 3, width)
        block = _fit(text, detail_right - left, y - top, sizes, width, bold=bold, max_lines=2)
        y -= block.height
        lines[:0] = block.placed(left, y, role)
    gap = _scaled(_GAP, width)
    rule_bottom = y - gap if lines else bottom
    rule = (left, rule_bottom - _scaled(_RULE[1], width), left + _scaled(_RULE[0], width),
            rule_bottom)
    title_bottom = rule[1] - gap
    if logo_box is not None:
        title_bottom = min(title_bottom, logo_box[1] - gap)
    if title:
        block = _fit(title, right - left, title_bottom - top, _TITLE_SIZES, width, bold=True)
        lines[:0] = block.placed(left, top, "title")
    return CardLayout(size, (left, top, right, bottom), tuple(lines), rule, logo_box)


@dataclass(frozen=True)
class _Block:
    texts: tuple[str, ...]
    size: int
    bold: bool

    @property
    def leading(self) -> int:
        return round(self.size * _LEADING)

    @property
    def height(self) -> int:
        ascent, descent = font(self.size, bold=self.bold).getmetrics()
        return (len(self.texts) - 1) * self.leading + ascent + descent

    def placed(self, x: int, y: int, role: str) -> list[TextLine]:
        return [TextLine(text, x, y + i * self.leading, self.size, self.bold, role)
                for i, text in enumerate(self.texts)]


def _fit(text: str, width: int, height: int, sizes: tuple[int, int], card_width: int, *,
         bold: bool, max_lines: int | None = None) -> _Block:
    """Return the largest size at which `text`, wrapped at spaces, fits the box.

    With `max_lines`, one line at a smaller size is preferred to wrapping. Below the usual
    smallest size it keeps shrinking (a very long word); at the absolute smallest it shortens
    the text with an ellipsis rather than leave the box.
    """
    words = _units(text)
    largest, usual = (_scaled(s, card_width) for s in sizes)
    smallest = _scaled(_SMALLEST, card_width)
    tries = [(size, 1) for size in range(largest, usual - 1, -1)] if max_lines else []
    tries += [(size, max_lines) for size in range(largest, usual - 1, -1)]
    tries += [(size, max_lines) for size in range(usual - 2, smallest - 1, -2)]
    for size, lines_allowed in tries:
        lines = _wrap(words, width, size, bold)
        if lines is None or (lines_allowed is not None and len(lines) > lines_allowed):
            continue
        block = _Block(tuple(lines or [""]), size, bold)
        if block.height <= height:
            return block
    return _shortened(words, width, height, smallest, bold, max_lines)


def _units(text: str) -> list[str]:
    """Split at spaces, keeping a lone dash or other punctuation with the word before it."""
    units: list[str] = []
    for word in text.split():
        if units and not any(char.isalnum() for char in word):
            units[-1] = f"{units[-1]} {word}"
        else:
            units.append(word)
    return units


def _wrap(words: list[str], width: int, size: int, bold: bool) -> list[str] | None:
    """Greedy wrap at spaces; None when a single word is wider than the box."""
    face = font(size, bold=bold)
    lines: list[str] = []
    for word in words:
        if _width(face, word) > width:
            return None
        if lines and _width(face, f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _shortened(words: list[str], width: int, height: int, size: int, bold: bool,
               max_lines: int | None) -> _Block:
    face = font(size, bold=bold)
    room = _Block(("",), size, bold)
    fits = max(1, (height - room.height) // room.leading + 1)
    fits = min(fits, max_lines) if max_lines else fits
    lines: list[str] = []
    for word in words:
        while _width(face, word + ELLIPSIS) > width and len(word) > 1:
            word = word[:-1]  # only a word wider than the whole card at the smallest size
        if lines and _width(face, f"{lines[-1]} {word}{ELLIPSIS}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        elif len(lines) < fits:
            lines.append(word)
        else:
            lines[-1] += ELLIPSIS
            break
    return _Block(tuple(lines or [""]), size, bold)


def _width(face: ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = face.getbbox(text)
    return right - min(left, 0)


def _logo(path: Path, card: tuple[int, int]) -> Image.Image:
    name = str(path)
    with open_image(read_source(path), name) as source:
        try:
            source.load()
            logo = source.convert("RGBA")
        except Exception as exc:
            raise ImageError(f"{name}: cannot read the card logo ({exc})") from None
    box = (_scaled(_LOGO[0], card[0]), _scaled(_LOGO[1], card[0]))
    logo.thumbnail(box, Image.Resampling.LANCZOS)
    return logo


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _scaled(value: int, card_width: int) -> int:
    return max(1, round(value * card_width / CARD_SIZE[0]))
