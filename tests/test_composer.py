"""Posts read well in Swedish and English and fit each platform without losing what matters."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.composer import compose
from bot.templates import DEFAULT_TEMPLATES, check_template
from bot.counting import byte_length, length
from bot.localize import format_date, format_time, format_when, relative_day
from bot.model import Event, Limits, PlannedPost, PostKey, Stage

STHLM = ZoneInfo("Europe/Stockholm")
MASTODON = Limits("mastodon", 500, "mastodon", url_weight=23, alt_chars=1500)
X = Limits("x", 280, "twitter", url_weight=23)
BLUESKY = Limits("bluesky", 300, "graphemes", max_bytes=3000, alt_chars=2000)

ANNOUNCEMENT = Stage("announcement", "announcement")
REMINDER_1D = Stage("reminder-1d", "reminder", timedelta(days=1), "reminder")
REMINDER_2H = Stage("reminder-2h", "reminder", timedelta(hours=2), "reminder")
HASHTAGS = ("civictech", "opendata")

# From _events/workshop-kring-remissvar-till-oppna-data-utredningen.md (its 443-character ingress).
WORKSHOP_INGRESS = (
    "Vad finns det för saker som behöver ses över i förslaget till lag om öppna data och "
    "vidareutnyttjande av information från myndigheter och offentliga företag som nu är ute på "
    "remiss? Under detta arbetsmöte går vi igenom de olika synpunkter på lagförslaget som "
    "kommit in i ett gemensamt dokument för remissvar till Öppna data-utredningen som ett antal "
    "organisationer gått ihop för att skriva tillsammans på initiativ av bl.a. Civic Tech "
    "Sweden. "
)
WORKSHOP = Event(
    ref="workshop-remissvar",
    lang="sv",
    title="Workshop kring remissvar till Öppna data-utredningen",
    start=datetime(2020, 11, 27, 9, 0, tzinfo=STHLM),
    url="https://civictech.se/workshop-kring-remissvar-till-oppna-data-utredningen/",
    source="_events/workshop-kring-remissvar-till-oppna-data-utredningen.md",
    excerpt=WORKSHOP_INGRESS,
    place="Online",
    image=Path("_uploads/jonathan-borba-fnmutzqwerm-unsplash.jpg"),
)

# From _events/meetup-13.md and meetup-13-en.md.
MEETUP_START = datetime(2020, 2, 4, 18, 0, tzinfo=STHLM)
MEETUP = {
    "sv": Event(
        ref="meetup-13",
        lang="sv",
        title="Civic Tech Sthlm #11 – Vilken framtid har öppna data i Sverige?",
        start=MEETUP_START,
        url="https://civictech.se/meetup-13/",
        source="_events/meetup-13.md",
        excerpt="Kom och prata med regeringen och dina myndigheter om öppna data policies för "
                "2020, och lyssna på Kanadas OpenGov chef berättelse om hur de blev ett av de "
                "bästa länderna inom området!",
        place="Goto 10, Hammarby Kaj 10D, 120 07 Stockholm",
    ),
    "en": Event(
        ref="meetup-13",
        lang="en",
        title="Civic Tech Sthlm #11 – What future for open data in Sweden?",
        start=MEETUP_START,
        url="https://civictech.se/en/meetup-13/",
        source="_events/meetup-13-en.md",
        excerpt="Come and discuss with your government about Sweden's open data policy for "
                "2020, and listen to Canada's Open gov executive director tell us how her "
                "country became a leader in open data!",
        place="Goto 10, Hammarby Kaj 10D, 120 07 Stockholm",
    ),
}


def planned(stage: Stage = ANNOUNCEMENT, lang: str = "sv", account: str = "x",
            start: datetime = WORKSHOP.start, due: datetime | None = None) -> PlannedPost:
    if due is None:
        due = start - (stage.before or timedelta(days=14))
    return PlannedPost(PostKey("ref", stage.name, account, lang), due, start, stage)


# Dates and times ---------------------------------------------------------------------------

TUESDAY_10 = datetime(2020, 12, 1, 10, 0, tzinfo=STHLM)
TUESDAY_18 = datetime(2020, 12, 1, 18, 0, tzinfo=STHLM)


def test_swedish_date_and_time_read_as_on_the_site():
    assert format_when(TUESDAY_10, "sv") == "tisdag 1 december 2020 kl. 10:00"
    assert format_date(TUESDAY_10, "sv") == "tisdag 1 december 2020"
    assert format_time(TUESDAY_10, "sv") == "10:00"


def test_english_date_and_time_read_day_month_year_on_a_24_hour_clock():
    assert format_when(TUESDAY_10, "en") == "Tuesday 1 December 2020 at 10:00"
    assert format_date(TUESDAY_10, "en") == "Tuesday 1 December 2020"
    assert format_time(TUESDAY_18, "en") == "18:00"


def test_other_languages_get_babels_full_date_and_the_time():
    assert format_when(TUESDAY_10, "de") == "Dienstag, 1. Dezember 2020, 10:00"


def test_an_unknown_language_is_reported_by_name():
    with pytest.raises(ValueError, match="'zz'"):
        format_when(TUESDAY_10, "zz")


@pytest.mark.parametrize(
    ("start", "shown"),
    [
        # 02:30 does not exist on the spring day and happens twice on the autumn day.
        (datetime(2021, 3, 28, 2, 30, tzinfo=STHLM), "söndag 28 mars 2021 kl. 02:30"),
        (datetime(2021, 10, 31, 2, 30, tzinfo=STHLM), "söndag 31 oktober 2021 kl. 02:30"),
        (datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=STHLM), "söndag 31 oktober 2021 kl. 02:30"),
        (datetime(2021, 3, 28, 1, 30, tzinfo=timezone.utc).astimezone(STHLM),
         "söndag 28 mars 2021 kl. 03:30"),
        (datetime(2021, 3, 14, 9, 0, tzinfo=ZoneInfo("America/New_York")),
         "söndag 14 mars 2021 kl. 09:00"),
    ],
)
def test_times_on_daylight_saving_days_are_shown_in_the_events_own_zone(start, shown):
    assert format_when(start, "sv") == shown


@pytest.mark.parametrize(
    ("start", "at", "sv", "en"),
    [
        (TUESDAY_10, datetime(2020, 12, 1, 8, 0, tzinfo=STHLM), "i dag", "today"),
        (TUESDAY_18, datetime(2020, 12, 1, 16, 0, tzinfo=STHLM), "i kväll", "tonight"),
        (TUESDAY_18, datetime(2020, 11, 30, 18, 0, tzinfo=STHLM), "i morgon", "tomorrow"),
        (TUESDAY_10, datetime(2020, 11, 29, 23, 59, tzinfo=STHLM), "i övermorgon",
         "the day after tomorrow"),
        (TUESDAY_10, datetime(2020, 11, 26, 12, 0, tzinfo=STHLM), "på tisdag", "on Tuesday"),
        (TUESDAY_10, datetime(2020, 11, 25, 12, 0, tzinfo=STHLM), "på tisdag", "on Tuesday"),
        (TUESDAY_10, datetime(2020, 11, 24, 12, 0, tzinfo=STHLM), "den 1 december",
         "on 1 December"),
        (TUESDAY_10, datetime(2019, 12, 20, 12, 0, tzinfo=STHLM), "den 1 december 2020",
         "on 1 December 2020"),
        # 00:30 in Stockholm is still the evening before in UTC: days count in the event's zone.
        (TUESDAY_10, datetime(2020, 11, 30, 23, 30, tzinfo=timezone.utc), "i dag", "today"),
        # Across the spring change a day has 23 hours; it is still tomorrow.
        (datetime(2021, 3, 29, 9, 0, tzinfo=STHLM), datetime(2021, 3, 28, 9, 30, tzinfo=STHLM),
         "i morgon", "tomorrow"),
    ],
)
def test_relative_day_names_the_day_as_a_reader_would(start, at, sv, en):
    assert relative_day(start, at, "sv") == sv
    assert relative_day(start, at, "en") == en


def test_relative_day_in_other_languages_uses_babels_relative_time():
    assert relative_day(TUESDAY_10, TUESDAY_10 - timedelta(days=3), "de") == "in 3 Tagen"


# Complete posts ----------------------------------------------------------------------------

def test_english_announcement_on_mastodon_reads_in_full():
    post = compose(planned(lang="en", account="mastodon", start=MEETUP_START), MEETUP, MASTODON,
                   hashtags=HASHTAGS)
    assert post.text == (
        "Civic Tech Sthlm #11 – What future for open data in Sweden?\n"
        "\n"
        "Come and discuss with your government about Sweden's open data policy for 2020, and "
        "listen to Canada's Open gov executive director tell us how her country became a leader "
        "in open data!\n"
        "\n"
        "🗓\ufe0f Tuesday 4 February at 18:00\n"
        "📍 Goto 10, Hammarby Kaj 10D, 120 07 Stockholm\n"
        "https://civictech.se/en/meetup-13/\n"
        "\n"
        "#civictech #opendata"
    )
    assert post.fits and post.warnings == ()


def test_swedish_reminder_on_the_day_says_tonight_and_the_time():
    post = compose(planned(REMINDER_2H, start=MEETUP_START), MEETUP, X, hashtags=HASHTAGS)
    assert post.text == (
        "⏰ Civic Tech Sthlm #11 – Vilken framtid har öppna data i Sverige?\n"
        "\n"
        "🗓\ufe0f Börjar i kväll kl. 18:00.\n"
        "📍 Goto 10, Hammarby Kaj 10D, 120 07 Stockholm\n"
        "https://civictech.se/meetup-13/\n"
        "\n"
        "#civictech #opendata"
    )


def test_english_reminder_the_day_before_says_tomorrow():
    post = compose(planned(REMINDER_1D, lang="en", start=MEETUP_START), MEETUP, X)
    assert "🗓\ufe0f Starts tomorrow at 18:00." in post.text


def test_post_carries_its_link_title_due_time_and_exact_count():
    plan = planned(account="bluesky")
    post = compose(plan, {"sv": WORKSHOP}, BLUESKY)
    assert (post.key, post.due, post.platform) == (plan.key, plan.due, "bluesky")
    assert post.link == WORKSHOP.url
    assert post.title == WORKSHOP.title
    assert post.limit == 300
    assert post.length == length(post.text, BLUESKY) <= 300
    assert post.byte_length == byte_length(post.text)


def test_hashtags_are_written_once_each_with_one_hash():
    post = compose(planned(), {"sv": WORKSHOP}, MASTODON,
                   hashtags=["#civictech", " opendata ", "", "#", "CivicTech"])
    assert post.text.endswith("\n\n#civictech #opendata")


# Fitting -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("limits", "excerpt", "tags"),
    [
        (replace(MASTODON, max_chars=1000), "full", "#civictech #opendata"),
        (MASTODON, "shortened", "#civictech #opendata"),
        (BLUESKY, "shortened", "#civictech #opendata"),
        (X, "shortened", "#civictech #opendata"),
        (replace(X, max_chars=150), "left out", "#civictech #opendata"),
        (replace(X, max_chars=140), "left out", "#civictech"),
        (replace(X, max_chars=130), "left out", ""),
    ],
)
def test_a_long_post_loses_excerpt_words_then_the_excerpt_then_hashtags(limits, excerpt, tags):
    post = compose(planned(account=limits.platform), {"sv": WORKSHOP}, limits, hashtags=HASHTAGS)
    assert post.fits
    assert post.length <= limits.max_chars
    assert post.text.startswith(WORKSHOP.title + "\n\n")
    assert "fredag 27 november kl. 09:00" in post.text
    assert WORKSHOP.url in post.text
    shown = {"full": WORKSHOP_INGRESS.strip(), "left out": ""}.get(excerpt, post.excerpt)
    assert post.excerpt == shown
    if excerpt == "shortened":
        assert post.excerpt.endswith("…")
    assert post.text.endswith(tags or WORKSHOP.url)


def test_x_shortens_the_real_443_character_excerpt_at_the_last_word_that_fits():
    assert len(WORKSHOP_INGRESS) == 443
    post = compose(planned(), {"sv": WORKSHOP}, X, hashtags=HASHTAGS)
    kept = post.excerpt.removesuffix("…")
    assert post.excerpt.endswith("…") and post.excerpt in post.text
    assert WORKSHOP_INGRESS.startswith(kept) and WORKSHOP_INGRESS[len(kept)] == " "
    one_more_word = WORKSHOP_INGRESS[: WORKSHOP_INGRESS.index(" ", len(kept) + 1)] + "…"
    assert length(post.text.replace(post.excerpt, one_more_word), X) > 280
    assert post.text.startswith("Workshop kring remissvar till Öppna data-utredningen\n\n")
    assert "🗓\ufe0f fredag 27 november kl. 09:00\n📍 Online\n" in post.text
    assert f"\n{WORKSHOP.url}\n" in post.text
    assert post.warnings == ()


def test_a_very_long_excerpt_is_still_shortened_to_fit():
    long_excerpt = " ".join(["medborgardialog"] * 1000)
    post = compose(planned(), {"sv": replace(WORKSHOP, excerpt=long_excerpt)}, X)
    assert post.fits and post.excerpt.startswith("medborgardialog medborgardialog")


def test_hashtags_are_dropped_before_a_post_fails():
    title = ("Civic Tech Sthlm #11 – Vilken framtid har öppna data i Sverige? Ett samtal med "
             "regeringen, myndigheterna och Kanadas OpenGov-chef om hur Sverige kan bli ett av "
             "de bästa länderna inom öppna data efter 2020")
    post = compose(planned(), {"sv": replace(WORKSHOP, title=title)}, X, hashtags=HASHTAGS)
    assert post.fits
    assert post.text.startswith(title + "\n\n🗓")
    assert "#civictech" not in post.text and "#opendata" not in post.text
    assert post.excerpt == ""
    assert any("#civictech #opendata" in warning for warning in post.warnings)


def test_a_title_too_long_for_x_gives_an_error_not_a_cut_title():
    title = "Civic Tech Sthlm #11 – " + "Vilken framtid har öppna data i Sverige? " * 6
    post = compose(planned(), {"sv": replace(WORKSHOP, title=title.strip())}, X,
                   hashtags=HASHTAGS)
    assert not post.fits
    over = post.length - 280
    assert over > 0
    assert post.error == f"{over} characters over the 280 limit even without excerpt and hashtags"
    assert title.strip() in post.text


def test_a_bluesky_post_over_3000_bytes_gives_an_error_naming_bytes():
    title = "👨\u200d👩\u200d👧\u200d👦" * 150  # 150 graphemes, 3,750 bytes
    post = compose(planned(account="bluesky"), {"sv": replace(WORKSHOP, title=title)}, BLUESKY)
    assert not post.fits
    assert post.error is not None
    assert "bytes over the 3000-byte limit" in post.error


# Templates and languages -------------------------------------------------------------------

def test_an_event_without_a_place_has_no_place_line_and_no_double_blank_lines():
    post = compose(planned(), {"sv": replace(WORKSHOP, place="", excerpt="")}, MASTODON)
    assert "📍" not in post.text
    assert "\n\n\n" not in post.text
    assert post.text == (
        "Workshop kring remissvar till Öppna data-utredningen\n"
        "\n"
        "🗓\ufe0f fredag 27 november kl. 09:00\n"
        f"{WORKSHOP.url}"
    )


def test_a_line_keeps_its_text_when_only_some_of_its_fields_are_empty():
    templates = {"announcement": {"sv": "{title} {hashtags}\n---\n{place}"}}
    post = compose(planned(), {"sv": replace(WORKSHOP, place="")}, MASTODON, templates=templates)
    assert post.text == f"{WORKSHOP.title}\n---"


def test_an_unknown_template_field_is_an_error_naming_the_field():
    templates = {"announcement": {"sv": "{title} i {venue}"}}
    with pytest.raises(ValueError, match=r"\{venue\}"):
        compose(planned(), {"sv": WORKSHOP}, MASTODON, templates=templates)
    with pytest.raises(ValueError, match=r"\{title\.upper\}"):
        check_template("{title.upper}")
    with pytest.raises(ValueError, match="template line"):
        check_template("{title")


def test_every_default_template_uses_only_known_fields():
    for texts in DEFAULT_TEMPLATES.values():
        for text in texts.values():
            check_template(text)


def test_templates_are_looked_up_by_stage_name_then_kind_then_default():
    templates = {"fika": {"sv": "Fika: {title}"}, "announcement": {"sv": "Nytt: {title}"}}
    fika = compose(planned(Stage("fika", "announcement")), {"sv": WORKSHOP}, MASTODON,
                   templates=templates)
    other = compose(planned(Stage("tidigt", "announcement")), {"sv": WORKSHOP}, MASTODON,
                    templates=templates)
    english = compose(planned(Stage("fika", "announcement"), lang="en"),
                      {"en": replace(WORKSHOP, lang="en")}, MASTODON, templates=templates)
    assert fika.text == f"Fika: {WORKSHOP.title}"
    assert other.text == f"Nytt: {WORKSHOP.title}"
    assert english.text.startswith(f"{WORKSHOP.title}\n\n")
    assert "Friday 27 November at 09:00" in english.text


def test_a_missing_template_translation_falls_back_to_another_language_with_a_warning():
    versions = {"sv": WORKSHOP, "de": replace(WORKSHOP, lang="de", title="Workshop zum Gesetz")}
    post = compose(planned(lang="de"), versions, MASTODON)
    assert post.fits and post.text.startswith(WORKSHOP.title)
    assert "fredag 27 november kl. 09:00" in post.text
    assert post.warnings == ("template 'announcement' has no 'de' text; posted in 'sv' instead",)


def test_an_event_without_the_accounts_language_is_posted_in_the_other_with_a_warning():
    post = compose(planned(REMINDER_1D, lang="en", start=MEETUP_START), {"sv": MEETUP["sv"]}, X)
    assert post.text.startswith("⏰ Civic Tech Sthlm #11")
    assert "🗓\ufe0f Börjar i morgon kl. 18:00." in post.text
    assert post.link == MEETUP["sv"].url
    assert post.warnings == ("the event has no 'en' version; posted in 'sv' instead",)


def test_an_event_with_no_template_in_any_of_its_languages_gives_an_error_post():
    post = compose(planned(lang="de"), {"de": replace(WORKSHOP, lang="de")}, MASTODON)
    assert not post.fits
    assert post.error == "no 'announcement' template in 'de'"


# Images ------------------------------------------------------------------------------------

def test_the_image_is_described_from_the_title_in_the_posts_language():
    sv = compose(planned(), {"sv": WORKSHOP}, X)
    en = compose(planned(lang="en"), {"en": replace(WORKSHOP, lang="en")}, X)
    assert sv.image is not None and sv.image.path == WORKSHOP.image
    assert sv.image.alt == f"Bild för evenemanget ”{WORKSHOP.title}”"
    assert en.image is not None
    assert en.image.alt == f"Image for the event “{WORKSHOP.title}”"


def test_the_events_own_alt_text_is_used_and_cut_to_the_platforms_limit():
    alt = "Personer vid ett bord med bärbara datorer och post-it-lappar på väggen bakom dem"
    event = replace(WORKSHOP, image_alt=alt)
    full = compose(planned(), {"sv": event}, X)
    cut = compose(planned(), {"sv": event}, replace(X, alt_chars=40))
    assert full.image is not None and full.image.alt == alt
    assert cut.image is not None and cut.image.alt == "Personer vid ett bord med bärbara…"


def test_an_event_without_an_image_has_none():
    post = compose(planned(), {"sv": replace(WORKSHOP, image=None)}, X)
    assert post.image is None


def test_an_all_emoji_excerpt_is_cut_between_emoji_instead_of_left_out():
    post = compose(planned(), {"sv": replace(WORKSHOP, excerpt="🎉" * 400)}, X)
    assert post.fits
    kept = post.excerpt.removesuffix("…")
    assert post.excerpt.endswith("…") and kept and set(kept) == {"🎉"}
    assert post.excerpt in post.text
    assert length(post.text.replace(post.excerpt, kept + "🎉…"), X) > 280


def test_an_excerpt_without_spaces_is_never_cut_inside_an_emoji_sequence():
    family = "👨\u200d👩\u200d👧"
    post = compose(planned(), {"sv": replace(WORKSHOP, excerpt=family * 200)}, BLUESKY)
    kept = post.excerpt.removesuffix("…")
    assert post.fits and kept and kept == family * (len(kept) // len(family))


def test_a_latin_excerpt_of_two_long_words_is_left_out_rather_than_cut_inside_a_word():
    excerpt = "Medborgardialog" * 30 + " " + "öppenhet" * 30
    post = compose(planned(), {"sv": replace(WORKSHOP, excerpt=excerpt)}, X)
    assert post.fits and post.excerpt == ""
