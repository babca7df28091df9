"""Draw a share card for an event: its title, time, place and site name in the site's colours.

A card goes out when an event has no image, and carries the event's own image when that would
look tiny or cropped as a post's image (see `bot.images.shape`): a wide banner across the top,
anything else beside the text, never enlarged more than twice.

The layout is computed first (`layout_card`) and then painted (`draw_card`), so what the card
shows can be measured without reading pixels. The title is wrapped at spaces and set in the
largest size at which every line fits; a word is never split, so a long word makes the text
smaller instead (see `text` for fonts, emoji and the bounds on fitting). With an `ImageCache`,
a card is drawn once for everything that changes it and read from disk afterwards.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw, ImageOps

from ..config import ImageConfig
from ..errors import ImageError
from ..images import (MIME, SUFFIX, ImageCache, Prepared, few_colours, open_image,
                      read_source)
from ..images.cache import code_digest
from ..model import Media
from .text import (ELLIPSIS, SMALLEST, Block, clean, draw_text, fit, font,
                   font_files_digest, height_of, width)

__all__ = ["ALT", "CARD_SIZE", "ELLIPSIS", "CardLayout", "TextLine", "card_alt", "draw_card",
           "font", "layout_card", "width"]

CARD_SIZE = (1200, 675)
ALT = {"sv": "Kort med texten: {text}", "en": "Card with the text: {text}"}
RECIPE = "card-2"
"""Part of every card's cache key: change it when the same inputs would draw another card."""

# Measures at 1200 px wide; a card of another width scales them.
_BAR = 20          # accent bar along the left edge
_PAD = 64          # space between the edges (or the bar) and the text
_RULE = (96, 8)    # accent rule between the title and the details
_GAP = 36          # space above and below the rule
_LOGO = (240, 110)  # the box a logo is scaled into, in the bottom right corner
_TITLE_SIZES = (84, 40)
_WHEN_SIZES = (40, 24)
_PLACE_SIZES = (34, 22)
_SITE_SIZE = 26
_PICTURE_COLUMN = 0.42  # the share of the text area a picture beside the text may take
_BANNER_HEIGHT = 0.36   # the share of the text area's height a banner may take
_MOST_ENLARGED = 2.0
_PANEL = 12              # the margin of the light panel behind a transparent picture


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
    picture_box: tuple[int, int, int, int] | None = None


def card_alt(title: str, when: str, place: str, lang: str) -> str:
    """Say what the card shows, in `lang` (Swedish or English; English for anything else)."""
    template = ALT.get(lang.split("-")[0].lower(), ALT["en"])
    return template.format(text=", ".join(part for part in (title, when, place) if part))


def draw_card(*, title: str, when: str, place: str, config: ImageConfig, lang: str,
              size: tuple[int, int] = CARD_SIZE, site: str = "", picture: bytes | None = None,
              picture_name: str = "image", cache: ImageCache | None = None) -> Media:
    """Draw the card (PNG, or JPEG when a photo is placed on it), from `cache` when there.

    Raises ImageError when the configured logo or the picture cannot be read.
    """
    title, when, place, site = (_tidy(text) for text in (title, when, place, site))
    logo_data = read_source(config.logo) if config.logo else None
    key = None
    if cache is not None:
        key = cache.named({
            "recipe": RECIPE, "code": code_digest(Path(__file__).parent, ("__init__.py", "text.py")),
            "title": title, "when": when, "place": place, "lang": lang,
            "size": list(size), "site": site, "fonts": font_files_digest(),
            "colours": [config.card_background, config.card_foreground, config.card_accent],
            "logo": _digest(logo_data), "picture": _digest(picture),
        })
        cached = cache.get(key)
        if cached is not None:
            return _media(cached, title, when, place, lang)
    drawn = _draw(title, when, place, config, size, site, logo_data,
                  str(config.logo), picture, picture_name)
    if cache is not None:
        cache.put(key, drawn)
    return _media(drawn, title, when, place, lang)


def _media(drawn: Prepared, title: str, when: str, place: str, lang: str) -> Media:
    return Media(data=drawn.data, mime=MIME[drawn.format], width=drawn.width,
                 height=drawn.height, alt=card_alt(title, when, place, lang),
                 filename="card" + SUFFIX[drawn.format], note="drawn card")


def _tidy(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _digest(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _draw(title: str, when: str, place: str, config: ImageConfig, size: tuple[int, int],
          site: str, logo_data: bytes | None, logo_name: str, picture_data: bytes | None,
          picture_name: str) -> Prepared:
    logo = _logo(logo_data, logo_name, size) if logo_data is not None else None
    picture = _picture(picture_data, picture_name) if picture_data is not None else None
    layout = layout_card(title=title, when=when, place=place, size=size, site=site,
                         logo_size=logo.size if logo else None,
                         picture_size=picture.size if picture else None)
    foreground = ImageColor.getrgb(config.card_foreground)
    background = ImageColor.getrgb(config.card_background)
    muted = tuple(round(f * 0.8 + b * 0.2) for f, b in zip(foreground, background))

    card = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(card)
    width_, height = size
    draw.rectangle((0, 0, _scaled(_BAR, width_) - 1, height - 1), fill=config.card_accent)
    draw.rectangle(layout.rule, fill=config.card_accent)
    for line in layout.lines:
        fill = muted if line.role in ("place", "site") else foreground
        draw_text(draw, (line.x, line.y), line.text, line.size, bold=line.bold, fill=fill)
    if logo is not None and layout.logo_box is not None:
        card.paste(logo, layout.logo_box[:2], logo)
    photo = False
    if picture is not None and layout.picture_box is not None:
        left, top, right, bottom = layout.picture_box
        placed = picture.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
        if placed.getchannel("A").getextrema()[0] < 255:
            # a transparent logo drawn for a white page would vanish on a dark card
            border = _scaled(_PANEL, width_)
            draw.rounded_rectangle((left - border, top - border, right + border - 1,
                                    bottom + border - 1), radius=border,
                                   fill=config.background)
        card.paste(placed, (left, top), placed)
        photo = not few_colours(picture)

    buffer = io.BytesIO()
    if photo:  # a photo on the card: JPEG keeps it a fraction of the size of a PNG
        card.save(buffer, "JPEG", quality=90)
    else:
        card.save(buffer, "PNG")
    return Prepared(buffer.getvalue(), "JPEG" if photo else "PNG", width_, height, "drawn card")


def layout_card(*, title: str, when: str, place: str, size: tuple[int, int] = CARD_SIZE,
                logo_size: tuple[int, int] | None = None, site: str = "",
                picture_size: tuple[int, int] | None = None) -> CardLayout:
    """Place the site name and title at the top, and the rule, time and place at the bottom.

    A picture more than twice as wide as tall goes across the top, below the site name, in
    the height the title leaves; any other picture goes in a column on the right, above the
    logo, and the text keeps to its left.
    """
    title, when, place, site = (clean(text) for text in (title, when, place, site))
    width_, height = size
    pad = _scaled(_PAD, width_)
    gap = _scaled(_GAP, width_)
    left, top = _scaled(_BAR, width_) + pad, pad
    right, bottom = width_ - pad, height - pad
    smallest = _scaled(SMALLEST, width_)
    lines: list[TextLine] = []

    content_top = top
    if site:
        block = fit(site, right - left, bottom - top, (_scaled(_SITE_SIZE, width_),) * 2,
                    smallest, bold=True, max_lines=1)
        lines.extend(block_lines(block, left, top, "site"))
        content_top = top + block.height + gap // 2 + _scaled(_PANEL, width_)

    logo_box = None
    if logo_size is not None:
        logo_box = (right - logo_size[0], bottom - logo_size[1], right, bottom)
    banner = picture_size is not None and picture_size[0] > 2 * picture_size[1]
    picture_box = None
    text_right = right
    if picture_size is not None and not banner:
        picture_box = _beside(picture_size, left, content_top, right,
                              (logo_box[1] - gap) if logo_box else bottom)
        text_right = picture_box[0] - gap
    detail_right = min(text_right, logo_box[0] - gap if logo_box else right)

    y = bottom
    details: list[TextLine] = []
    for text, sizes, bold, role in ((place, _PLACE_SIZES, False, "place"),
                                    (when, _WHEN_SIZES, True, "when")):
        if not text:
            continue
        if details:
            y -= _scaled(_GAP // 3, width_)
        block = fit(text, detail_right - left, y - content_top,
                    tuple(_scaled(s, width_) for s in sizes), smallest, bold=bold, max_lines=2)
        y -= block.height
        details[:0] = block_lines(block, left, y, role)
    rule_bottom = y - gap if details else bottom
    rule = (left, rule_bottom - _scaled(_RULE[1], width_), left + _scaled(_RULE[0], width_),
            rule_bottom)
    title_bottom = rule[1] - gap
    if logo_box is not None and text_right > logo_box[0] - gap:
        title_bottom = min(title_bottom, logo_box[1] - gap)
    title_sizes = tuple(_scaled(s, width_) for s in _TITLE_SIZES)
    title_top = content_top
    if banner:
        room = title_bottom - content_top - gap
        if title:
            usual = title_sizes[1]
            room -= height_of(1 if width(title, usual, bold=True) <= right - left else 2,
                              usual, True)
        picture_box = _across(picture_size, left, content_top, right,
                              min(room, round(_BANNER_HEIGHT * height)))
        title_top = picture_box[3] + gap
    if title:
        block = fit(title, text_right - left, title_bottom - title_top, title_sizes, smallest,
                    bold=True)
        lines.extend(block_lines(block, left, title_top, "title"))
    lines.extend(details)
    return CardLayout(size, (left, top, right, bottom), tuple(lines), rule, logo_box,
                      picture_box)


def _across(picture: tuple[int, int], left: int, top: int, right: int,
            most_height: int) -> tuple[int, int, int, int]:
    """A banner across the top: as wide as the text, at most `most_height`, at most twice."""
    scale = min(_MOST_ENLARGED, (right - left) / picture[0], max(1, most_height) / picture[1])
    return (left, top, left + max(1, round(picture[0] * scale)),
            top + max(1, round(picture[1] * scale)))


def _beside(picture: tuple[int, int], left: int, top: int, right: int,
            bottom: int) -> tuple[int, int, int, int]:
    """A column on the right, centred between `top` and `bottom`, at most twice its size."""
    column = round(_PICTURE_COLUMN * (right - left))
    scale = min(_MOST_ENLARGED, column / picture[0], max(1, bottom - top) / picture[1])
    w, h = max(1, round(picture[0] * scale)), max(1, round(picture[1] * scale))
    y = top + (bottom - top - h) // 2
    return (right - w, y, right, y + h)


def block_lines(block: Block, x: int, y: int, role: str) -> list[TextLine]:
    """Place a block's lines from its top left corner."""
    return [TextLine(text, x, y + i * block.leading, block.size, block.bold, role)
            for i, text in enumerate(block.texts)]


def _picture(data: bytes, name: str) -> Image.Image:
    """Open the event image to place on the card: upright, RGBA, on nothing but its own pixels."""
    with open_image(data, name) as source:
        try:
            source.load()
            upright = ImageOps.exif_transpose(source)
            return upright.convert("RGBA")
        except Exception as exc:
            raise ImageError(f"{name}: cannot read the image to place on the card ({exc})") \
                from None


def _logo(data: bytes, name: str, card: tuple[int, int]) -> Image.Image:
    with open_image(data, name) as source:
        try:
            source.load()
            logo = source.convert("RGBA")
        except Exception as exc:
            raise ImageError(f"{name}: cannot read the card logo ({exc})") from None
    box = (_scaled(_LOGO[0], card[0]), _scaled(_LOGO[1], card[0]))
    logo.thumbnail(box, Image.Resampling.LANCZOS)
    return logo


def _scaled(value: int, card_width: int) -> int:
    return max(1, round(value * card_width / CARD_SIZE[0]))

