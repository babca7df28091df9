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


# --- bounded fitting, emoji, the site's name ------------------------------------------------

@pytest.mark.parametrize("title", ["Hackathon " * 1000, "x" * 10_000, "å" * 10_000],
                         ids=["10,000 characters of words", "one 10,000-character word",
                              "10,000 letters outside ASCII"])
def test_a_10000_character_title_is_laid_out_at_once_and_shortened_with_an_ellipsis(title):
    import time

    started = time.perf_counter()
    layout = layout_card(title=title, when=WHEN, place=PLACE)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"{elapsed:.1f} s"  # minutes before; a generous bound, not a benchmark
    assert role_text(layout, "title").endswith("…")
    assert_text_inside(layout)


def test_an_emoji_in_a_title_is_drawn_not_left_as_a_gap():
    with_emoji = card_image(draw_card(title="Hackathon 🎉", when="", place="", config=CONFIG,
                                      lang="en"))
    plain = card_image(draw_card(title="Hackathon", when="", place="", config=CONFIG,
                                 lang="en"))
    layout = layout_card(title="Hackathon 🎉", when="", place="")
    line = next(line for line in layout.lines if line.role == "title")
    assert line.text == "Hackathon 🎉"
    start = line.x + font(line.size, bold=True).getbbox("Hackathon ")[2]
    emoji_area = (start, line.y, start + line.size, line.y + line.size)
    foreground = ImageColor.getrgb(CONFIG.card_foreground)
    assert foreground in only_colours(with_emoji, emoji_area)
    assert foreground not in only_colours(plain, emoji_area)


def test_a_character_no_bundled_font_has_is_left_out_without_a_box_or_gap():
    drawn = card_image(draw_card(title="Öppna 漢 data", when="", place="", config=CONFIG,
                                 lang="sv"))
    plain = card_image(draw_card(title="Öppna data", when="", place="", config=CONFIG,
                                 lang="sv"))
    assert drawn.tobytes() == plain.tobytes()
    alt = draw_card(title="Öppna 漢 data", when="", place="", config=CONFIG, lang="sv").alt
    assert "漢" in alt  # the alt text keeps the title as written


def test_the_sites_name_is_shown_small_above_the_title():
    layout = layout_card(title="Open Data Day", when=WHEN, place=PLACE, site="civictech.se")
    site = [line for line in layout.lines if line.role == "site"]
    title = [line for line in layout.lines if line.role == "title"]
    assert [line.text for line in site] == ["civictech.se"]
    assert site[0].size < title[0].size / 2 and site[0].y < title[0].y
    assert_text_inside(layout)


# --- what `attach` sends: the event's image, or a card with it on ---------------------------

UPLOADS = EVENTS.parent / "_uploads"


def attach_for(tmp_path, platform: str, image: Path | None, *, options=None, site=None):
    """Run the real attachments function for one post on `platform` with `image`."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot import app
    from bot.config import parse_config
    from bot.model import Account, Event, ImageRef, Post, PostKey

    settings = {"site": {"path": str(EVENTS.parent), "url": "https://civictech.se"},
                "images": {"cache_dir": str(tmp_path / "cache")}}
    if site is not None:
        settings["site"]["name"] = site
    config = parse_config(settings, base=tmp_path)
    start = datetime(2027, 4, 15, 18, tzinfo=ZoneInfo("Europe/Stockholm"))
    event = Event("meetup", "sv", "Praktiskt Cryptoparty i Uppsala!", start,
                  "https://civictech.se/meetup/", "_events/meetup.md", place="Uppsala",
                  image=image)
    post = Post(PostKey("meetup", "announcement", platform, "sv"), platform, start, "Hej", 3,
                300, "https://civictech.se/meetup/", event.title,
                image=ImageRef(image, "Bild") if image else None, lang="sv")
    account = Account(platform, platform, ("sv",), options or {})
    limits = app.declared_limits(account, config)
    return app.attachments(config)(post, event, account, limits)


@pytest.mark.parametrize("name, why", [
    ("cryptoparty-logo.png", "301x100 is under 600x300 pixels"),
    ("debian-cake-meetup-6.jpeg", "259x194 is under 600x300 pixels"),
    ("1782px-kopplingssprint-se-svg.png", "1782x398 is 4.48:1, outside the 1:2 to 2:1"),
    ("good-tech-hack.jpg", "1708x650 is 2.63:1, outside the 1:2 to 2:1"),
])
def test_a_small_or_very_wide_event_image_goes_out_placed_on_the_drawn_card(tmp_path, name, why):
    extras = attach_for(tmp_path, "mastodon", UPLOADS / name)
    (media,) = extras.media
    assert extras.drawn and (media.width, media.height) == (1200, 675)
    assert media.note.startswith(f"drawn card with _uploads/{name} on it: {why}")
    with Image.open(UPLOADS / name) as source:
        colours = {c for _, c in source.convert("RGBA").convert("RGB").getcolors(1 << 24)}
    on_card = card_image(media).convert("RGB")
    assert len(colours & {c for _, c in on_card.getcolors(1 << 24)}) > 1  # its pixels are there


@pytest.mark.parametrize("name", ["climate_data_background.png", "civic-tech-moter-govtech-fb.jpg",
                                  "bg_hemsidan.jpg", "govtechday_facebook_linkedin_2.jpg"])
def test_an_event_image_of_a_usual_size_and_shape_goes_out_as_itself(tmp_path, name):
    extras = attach_for(tmp_path, "x", UPLOADS / name)
    (media,) = extras.media
    assert not extras.drawn and not media.note.startswith("drawn card")


def test_a_bluesky_link_card_thumbnail_fits_the_one_megabyte_thumb_limit(tmp_path):
    import random

    photo = tmp_path / "grain.jpg"
    Image.frombytes("RGB", (1600, 1000), random.Random(3).randbytes(1600 * 1000 * 3)).save(
        photo, "JPEG", quality=80)
    assert 1_000_000 < photo.stat().st_size < 2_000_000  # fits Bluesky's images, not its thumbs
    extras = attach_for(tmp_path, "bluesky", photo, options={"link_card": True})
    assert extras.card is not None and extras.card.thumb is not None
    assert len(extras.card.thumb.data) <= 1_000_000


def test_a_drawn_card_is_read_from_the_cache_on_the_next_run(tmp_path):
    from bot.images import ImageCache

    cache = ImageCache(tmp_path / "cache")
    first = draw_card(title="Open Data Day", when=WHEN, place=PLACE, config=CONFIG, lang="en",
                      site="civictech.se", cache=cache)
    again = ImageCache(tmp_path / "cache")  # a new run
    second = draw_card(title="Open Data Day", when=WHEN, place=PLACE, config=CONFIG, lang="en",
                       site="civictech.se", cache=again)
    assert (again.hits, again.misses) == (1, 0) and second.data == first.data
    other = draw_card(title="Open Data Day", when=WHEN, place=PLACE, config=CONFIG, lang="en",
                      site="Civic Tech Sweden", cache=again)
    assert again.misses == 1 and other.data != first.data


def test_the_site_name_on_the_card_comes_from_the_config_or_the_sites_host(tmp_path):
    def site_line(**kwargs):
        media = attach_for(tmp_path, "mastodon", None, **kwargs).media[0]
        return media

    host = site_line()
    named = site_line(site="Civic Tech Sweden")
    hidden = site_line(site="")
    assert len({host.data, named.data, hidden.data}) == 3
    from bot import app
    from bot.config import parse_config

    config = parse_config({"site": {"url": "https://civictech.se"}}, base=tmp_path)
    assert app.site_name(config) == "civictech.se"
