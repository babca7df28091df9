"""Share cards: every title from the real events stays whole and inside the card."""

from __future__ import annotations

import io
from pathlib import Path

import frontmatter
import pytest
from PIL import Image, ImageColor, ImageDraw

from bot.card import card_alt, draw_card, font, layout_card
from bot.config import ImageConfig
from bot.errors import ImageError

EVENTS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "civictech" / "_events"
REAL_TITLES = sorted({str(frontmatter.load(path).get("title") or "")
                      for path in EVENTS.glob("*.md")} - {""})
LONG_SWEDISH = [
    "Workshop kring remissvar till Öppna data-utredningen",
    "Gemensamt remissvar kring nya EU-regler för AI",
    "Civic Tech Sthlm #11 – Vilken framtid har öppna data i Sverige?",
]
WHEN = "torsdag 12 december 2019 kl. 18:00–20:30"
PLACE = "Kulturhuset Stadsteatern, Sergels torg 3, 111 57 Stockholm"
CONFIG = ImageConfig()


def card_image(media) -> Image.Image:
    im = Image.open(io.BytesIO(media.data))
    im.load()
    return im


def text_boxes(layout) -> list[tuple[int, int, int, int]]:
    draw = ImageDraw.Draw(Image.new("RGB", layout.size))
    return [draw.textbbox((line.x, line.y), line.text, font=font(line.size, bold=line.bold))
            for line in layout.lines]


def assert_text_inside(layout) -> None:
    left, top, right, bottom = layout.text_box
    for box in text_boxes(layout):
        assert left <= box[0] and box[2] <= right and top <= box[1] and box[3] <= bottom, box


def role_text(layout, role: str) -> str:
    return " ".join(line.text for line in layout.lines if line.role == role)


def only_colours(im: Image.Image, box: tuple[int, int, int, int]) -> set[tuple[int, int, int]]:
    return {colour for _, colour in im.crop(box).getcolors(1 << 20)}


@pytest.mark.parametrize("title", LONG_SWEDISH + ["Open Data Day"])
def test_a_card_is_a_1200_by_675_png_in_the_configured_colours(title):
    media = draw_card(title=title, when=WHEN, place=PLACE, config=CONFIG, lang="sv")
    im = card_image(media)
    assert (im.format, im.size, im.mode) == ("PNG", (1200, 675), "RGB")
    assert (media.mime, media.width, media.height) == ("image/png", 1200, 675)
    assert len(media.data) < 1_000_000  # fits even an old Bluesky server
    assert im.getpixel((5, 300)) == ImageColor.getrgb(CONFIG.card_accent)
    assert im.getpixel((1190, 10)) == ImageColor.getrgb(CONFIG.card_background)
    assert ImageColor.getrgb(CONFIG.card_foreground) in only_colours(im, (0, 0, 1200, 675))


@pytest.mark.parametrize("title", REAL_TITLES)
def test_every_real_title_stays_whole_and_inside_the_margins(title):
    layout = layout_card(title=title, when=WHEN, place=PLACE)
    assert_text_inside(layout)
    assert role_text(layout, "title") == " ".join(title.split())
    assert role_text(layout, "when") == WHEN and role_text(layout, "place") == PLACE


@pytest.mark.parametrize("title", LONG_SWEDISH)
def test_the_margins_of_a_drawn_card_hold_no_text(title):
    media = draw_card(title=title, when=WHEN, place=PLACE, config=CONFIG, lang="sv")
    im = card_image(media)
    layout = layout_card(title=title, when=WHEN, place=PLACE)
    left, top, right, bottom = layout.text_box
    background = {ImageColor.getrgb(CONFIG.card_background)}
    bar = 20
    for margin in ((bar, 0, 1200, top), (bar, bottom, 1200, 675), (bar, 0, left, 675),
                   (right, 0, 1200, 675)):
        assert only_colours(im, margin) == background, margin


def test_the_title_is_drawn_large_and_wrapped_only_between_words():
    layout = layout_card(title=LONG_SWEDISH[0], when=WHEN, place=PLACE)
    titles = [line for line in layout.lines if line.role == "title"]
    assert len(titles) > 1 and titles[0].size >= 60
    words = LONG_SWEDISH[0].split()
    assert [word for line in titles for word in line.text.split()] == words


def test_a_lone_dash_stays_at_the_end_of_a_line_not_the_start():
    layout = layout_card(title=LONG_SWEDISH[2], when=WHEN, place=PLACE)
    assert not any(line.text.startswith("–") for line in layout.lines)


def test_a_word_too_wide_for_the_card_makes_the_text_smaller_instead_of_splitting():
    word = "Remissvarsworkshopförberedelsemötesprotokollsgranskningsgruppen"
    layout = layout_card(title=f"Om {word}", when=WHEN, place=PLACE)
    assert_text_inside(layout)
    assert word in [line.text for line in layout.lines if line.role == "title"]
    assert max(line.size for line in layout.lines if line.role == "title") < 40


def test_a_title_too_long_for_any_size_is_shortened_at_a_word_with_an_ellipsis():
    title = " ".join(["Öppna data för klimatomställning i Sveriges kommuner"] * 30)
    layout = layout_card(title=title, when=WHEN, place=PLACE)
    assert_text_inside(layout)
    shown = role_text(layout, "title")
    assert shown.endswith("…")
    assert title.startswith(shown[:-1]) and title[len(shown) - 1] == " "


def test_time_and_place_prefer_one_smaller_line_to_wrapping():
    layout = layout_card(title="Open Data Day", when=WHEN, place=PLACE, logo_size=(240, 110))
    assert [line.role for line in layout.lines].count("when") == 1
    assert [line.role for line in layout.lines].count("place") == 1
    assert_text_inside(layout)


@pytest.mark.parametrize("letter, base", [("å", "a"), ("ä", "a"), ("ö", "o"), ("Å", "A"),
                                          ("Ä", "A"), ("Ö", "O"), ("é", "e")])
def test_swedish_letters_have_their_own_glyphs_in_both_fonts(letter, base):
    for bold in (True, False):
        face = font(60, bold=bold)
        missing = bytes(face.getmask("\U0001F600"))  # no emoji in the font: its empty box
        drawn = bytes(face.getmask(letter))
        assert drawn != missing and drawn != bytes(face.getmask(base))


def test_the_alt_text_says_what_the_card_shows_in_the_posts_language():
    assert card_alt("Öppna data", WHEN, "Stockholm", "sv") == \
        f"Kort med texten: Öppna data, {WHEN}, Stockholm"
    assert card_alt("Open data", "Tuesday", "", "en") == "Card with the text: Open data, Tuesday"
    assert card_alt("Öppna data", "", "", "sv-SE").startswith("Kort med texten")
    assert card_alt("Offene Daten", "", "", "de").startswith("Card with the text")
    media = draw_card(title="  Öppna   data ", when=WHEN, place="", config=CONFIG, lang="sv")
    assert media.alt == f"Kort med texten: Öppna data, {WHEN}"


def test_a_logo_is_scaled_into_the_bottom_right_corner_beside_the_details(tmp_path):
    logo_path = tmp_path / "logo.png"
    logo = Image.new("RGBA", (900, 300), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rectangle((0, 0, 899, 299), fill=(255, 200, 0, 255))
    logo.save(logo_path)
    config = ImageConfig(logo=logo_path)
    media = draw_card(title=LONG_SWEDISH[1], when=WHEN, place=PLACE, config=config, lang="sv")
    im = card_image(media)

    logo_size = (240, 80)  # 900x300 scaled into the 240x110 box
    layout = layout_card(title=LONG_SWEDISH[1], when=WHEN, place=PLACE, logo_size=logo_size)
    x0, y0, x1, y1 = layout.logo_box
    assert (x1, y1) == (1136, 611)
    assert only_colours(im, (x0 + 2, y0 + 2, x1 - 2, y1 - 2)) == {(255, 200, 0)}
    details = [box for box, line in zip(text_boxes(layout), layout.lines) if line.role != "title"]
    assert all(box[2] < x0 for box in details)


def test_a_title_never_runs_into_the_logo_even_without_time_and_place():
    title = "Gemensamt remissvar kring nya EU-regler för AI och öppna data i hela Sverige"
    layout = layout_card(title=title, when="", place="", logo_size=(240, 110))
    assert_text_inside(layout)
    assert all(box[3] < layout.logo_box[1] for box in text_boxes(layout))


def test_an_unreadable_logo_is_an_image_error_naming_it(tmp_path):
    logo_path = tmp_path / "logo.png"
    logo_path.write_text("inte en bild")
    with pytest.raises(ImageError, match=str(logo_path)):
        draw_card(title="Open Data Day", when=WHEN, place=PLACE,
                  config=ImageConfig(logo=logo_path), lang="en")
