from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.changes import (Announced, Cancellation, Correction, Details, announced,
                         cancellation_post, correction_post, detect)
from bot.model import Event, Limits, PostKey

ZONE = ZoneInfo("Europe/Stockholm")
NOW = datetime(2027, 4, 1, 12, 0, tzinfo=ZONE)
START = datetime(2027, 4, 15, 18, 0, tzinfo=ZONE)
LIMITS = Limits("mastodon", 500, "mastodon", url_weight=23, edits=True)
X_LIMITS = Limits("x", 280, "twitter", url_weight=23)


def event(lang="sv", **changes) -> Event:
    base = Event("meetup", lang, "Vårmöte" if lang == "sv" else "Spring meetup", START,
                 f"https://civictech.se/{lang}/meetup/", f"_events/meetup-{lang}.md",
                 excerpt="Vi träffas.", place="Goto 10, Stockholm")
    return replace(base, **changes)


@dataclass
class Row:
    key: PostKey
    generation: int
    state: str
    platform_id: str | None
    url: str | None
    event: str | None


def posted_announcement(lang="sv", told=None) -> Announced:
    return Announced(PostKey("meetup", "announcement", "masto", lang), "101",
                     "https://social.example/@herald/101", Details.of(told or event(lang)))


def changes_for(current: dict, *, drafts=(), unreadable=(), missing=None, now=NOW,
                posted=None):
    return detect(posted or [posted_announcement()], current, drafts, unreadable,
                  missing or {}, now=now)


def test_a_new_date_of_an_announced_event_asks_for_a_correction():
    moved = event(start=START + timedelta(days=7))
    found = changes_for({"meetup": {"sv": moved}})
    assert found.corrections == (Correction(posted_announcement(), moved, ("date",)),)
    assert found.cancellations == ()


def test_a_new_time_or_place_is_named_in_the_correction():
    later = event(start=START + timedelta(hours=1), place="Kulturhuset")
    (correction,) = changes_for({"meetup": {"sv": later}}).corrections
    assert correction.changed == ("time", "place")


def test_a_typo_fixed_in_the_title_or_body_asks_for_nothing():
    fixed = event(title="Vårmötet", excerpt="Vi träffas igen.", place="Goto 10,  Stockholm ")
    assert changes_for({"meetup": {"sv": fixed}}).corrections == ()


def test_an_event_that_already_started_is_neither_corrected_nor_cancelled():
    moved_earlier = event(start=START - timedelta(hours=1))
    assert changes_for({"meetup": {"sv": moved_earlier}}, now=START - timedelta(minutes=30)) \
        .corrections == ()
    assert changes_for({}, now=START + timedelta(minutes=1)).missing == ()


def test_a_move_to_a_later_day_is_corrected_even_after_the_old_time_has_passed():
    moved = event(start=START + timedelta(days=1))
    (correction,) = changes_for({"meetup": {"sv": moved}},
                                now=START + timedelta(minutes=1)).corrections
    assert correction.event.start == START + timedelta(days=1)


def test_an_unpublished_event_is_cancelled_once_it_stayed_unpublished_for_a_while():
    first = changes_for({}, drafts={"meetup"})
    assert first.missing == ("meetup",) and first.cancellations == ()
    assert "unpublished; cancelled if still so at 12:10" in first.held[0][1]
    assert first.recheck == NOW + timedelta(minutes=10)
    meanwhile = changes_for({}, drafts={"meetup"}, missing={"meetup": NOW},
                            now=NOW + timedelta(minutes=4))
    assert meanwhile.recheck == NOW + timedelta(minutes=10) and meanwhile.missing == ()
    later = changes_for({}, drafts={"meetup"}, missing={"meetup": NOW},
                        now=NOW + timedelta(minutes=10))
    assert later.cancellations == (Cancellation(posted_announcement(), "unpublished"),)


def test_a_removed_event_file_is_cancelled_but_an_unreadable_one_is_not():
    removed = changes_for({}, missing={"meetup": NOW - timedelta(hours=1)})
    assert removed.cancellations[0].reason == "removed from the site"
    broken = changes_for({}, unreadable={"_events/meetup-sv.md"},
                         missing={"meetup": NOW - timedelta(hours=1)})
    assert broken.cancellations == ()
    assert "cannot be read" in broken.held[0][1]


def test_an_event_that_comes_back_is_no_longer_missing():
    found = changes_for({"meetup": {"sv": event()}}, missing={"meetup": NOW})
    assert found.back == ("meetup",) and found.cancellations == ()


def test_the_latest_posted_correction_is_what_readers_were_last_told():
    key = PostKey("meetup", "announcement", "masto", "sv")
    moved = event(start=START + timedelta(days=7))
    rows = [Row(key, 0, "posted", "101", "u", Details.of(event()).to_json()),
            Row(replace(key, stage="correction"), 0, "posted", "102", "u2",
                Details.of(moved).to_json()),
            Row(replace(key, stage="correction"), 1, "failed", None, None,
                Details.of(event(start=START)).to_json())]
    (item,) = announced(rows, ["announcement"])
    assert item.told.start == moved.start and item.platform_id == "101"
    assert changes_for({"meetup": {"sv": moved}}, posted=[item]).corrections == ()


def test_a_cancelled_announcement_is_not_cancelled_twice():
    key = PostKey("meetup", "announcement", "masto", "sv")
    rows = [Row(key, 0, "posted", "101", "u", Details.of(event()).to_json()),
            Row(replace(key, stage="cancellation"), 0, "posted", "103", "u3", None)]
    (item,) = announced(rows, ["announcement"])
    assert item.cancelled
    assert changes_for({}, posted=[item], missing={"meetup": NOW - timedelta(days=1)}) \
        .cancellations == ()


def test_an_announcement_stored_without_details_is_left_alone():
    rows = [Row(PostKey("meetup", "announcement", "masto", "sv"), 0, "posted", "1", "u", None)]
    assert announced(rows, ["announcement"]) == []
    assert Details.from_json("{not json") is None


def test_correction_replies_say_what_is_new_in_swedish_and_english():
    moved_sv = event(start=START + timedelta(days=7))
    moved_en = event("en", start=START + timedelta(days=7))
    versions = {"sv": moved_sv, "en": moved_en}
    sv = correction_post(Correction(posted_announcement(), moved_sv, ("date",)), versions,
                         X_LIMITS, edit=False, templates={}, hashtags=("civictech",), now=NOW)
    en = correction_post(Correction(posted_announcement("en"), moved_en, ("date",)), versions,
                         X_LIMITS, edit=False, templates={}, hashtags=(), now=NOW)
    assert sv.text.startswith("✏\ufe0f Nytt datum för Vårmöte\n\n🗓\ufe0f torsdag 22 april kl. 18:00")
    assert "#civictech" not in sv.text and sv.key.stage == "correction"
    assert en.text.startswith("✏\ufe0f New date for Spring meetup\n\n"
                              "🗓\ufe0f Thursday 22 April at 18:00")


def test_an_edited_announcement_says_it_was_updated_and_keeps_its_hashtags():
    moved = event(start=START + timedelta(days=7))
    post = correction_post(Correction(posted_announcement(), moved, ("date",)), {"sv": moved},
                           LIMITS, edit=True, templates={}, hashtags=("civictech",), now=NOW)
    assert post.text.startswith("✏\ufe0f Nytt datum\n\nVårmöte\n\nVi träffas.")
    assert "torsdag 22 april kl. 18:00" in post.text and post.text.endswith("#civictech")


def test_cancellations_are_written_in_both_languages_and_templates_can_be_overridden():
    sv = cancellation_post(Cancellation(posted_announcement(), "removed"),
                           {"sv": event()}, X_LIMITS, templates={}, now=NOW)
    en = cancellation_post(Cancellation(posted_announcement("en"), "removed"),
                           {"en": event("en")}, X_LIMITS, templates={}, now=NOW)
    assert sv.text == "❌ Vårmöte (torsdag 15 april kl. 18:00) har ställts in."
    assert en.text == "❌ Spring meetup (Thursday 15 April at 18:00) has been cancelled."
    custom = cancellation_post(Cancellation(posted_announcement(), "removed"),
                               {"sv": event()}, X_LIMITS,
                               templates={"cancellation": {"sv": "{title} är inställt."}},
                               now=NOW)
    assert custom.text == "Vårmöte är inställt."


def test_details_survive_the_ledger_round_trip_with_their_time_zone():
    details = Details.of(event())
    again = Details.from_json(details.to_json())
    assert again == details and again.start.utcoffset() == timedelta(hours=2)
    assert again.as_event(ZONE).start == START
