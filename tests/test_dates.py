"""Events read the way the site meant them: a date alone, the end in event-date-desc, the
registration link among the links, and the year left out where no reader needs it."""

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.changes import (Announced, Cancellation, Correction, Details, cancellation_post,
                         correction_post)
from bot.composer import changed_text, compose
from bot.config import SiteConfig, parse_config
from bot.content import load_site, parse_event
from bot.content.when import read_desc
from bot.counting import length
from bot.errors import ConfigError
from bot.localize import PHRASES, _format, format_when, relative_day, shows_year
from bot.model import Account, Event, Limits, PlannedPost, PostKey, Stage
from bot.planner import plan

STHLM = ZoneInfo("Europe/Stockholm")
HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "shared" / "fixtures" / "civictech"
DATES_SITE = HERE / "data" / "dates-site"

X = Limits("x", 280, "twitter", url_weight=23)
MASTODON = Limits("mastodon", 500, "mastodon", url_weight=23)
ANNOUNCEMENT = Stage("announcement", "announcement")
REMINDER_1D = Stage("reminder-1d", "reminder", timedelta(days=1), "reminder")
REMINDER_2H = Stage("reminder-2h", "reminder", timedelta(hours=2), "reminder")
STAGES = (ANNOUNCEMENT, REMINDER_1D, REMINDER_2H)
X_SV = Account("x", "x", ("sv",))


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=STHLM)


def parse(front: str, name: str = "e.md") -> tuple[Event, list]:
    return parse_event(f"---\ntitle: Hackdag\nref: hackdag\n{front}---\nBody.\n",
                       f"_events/{name}", SiteConfig(root=FIXTURES))


def real(name: str) -> Event:
    """A real civictech.se event file, parsed."""
    text = (FIXTURES / "_events" / name).read_text(encoding="utf-8")
    event, _ = parse_event(text, f"_events/{name}", SiteConfig(root=FIXTURES))
    assert event is not None
    return event


# --- event-date-desc: what it adds to the start -----------------------------------------------

@pytest.mark.parametrize(("desc", "start", "end"), [
    ("24 februari 2026, kl. 18-20", (18, 0), (20, 0)),
    ("5 oktober 2021 kl 09.00 till 12.00", (9, 0), (12, 0)),
    ("1 October 2020 1-4 pm", (13, 0), (16, 0)),
    ("23 February 2021 9-12 am CET", (9, 0), (12, 0)),
    ("27 juni 2018, kl.18-20:30", (18, 0), (20, 30)),
    ("23 oktober 2020 17:00–19:00", (17, 0), (19, 0)),
    ("5 May 2021 16:00-17:30 CEST [UTC+2]", (16, 0), (17, 30)),
])
def test_an_end_time_in_event_date_desc_is_read_when_the_range_starts_at_the_start(desc, start,
                                                                                   end):
    begins = at(2026, 2, 24, *start)
    assert read_desc(desc, begins, False) == (at(2026, 2, 24, *end), None)


@pytest.mark.parametrize("desc", [
    "1 december kl 13:30-14:20",             # the range starts at another time than event-date
    "16 June 2020 17:00",                    # no end at all
    "Fredagar kl 15:00",                     # a weekly time
    "Pågående",                              # "ongoing"
    "18 May 2021 09:00-10:30 CEST [UTC+2] and 20 May 2021 09:00-11:00 CEST [UTC+2]",
    "kl 20-18",                              # ends before it starts
])
def test_an_end_time_that_cannot_be_checked_against_the_start_is_not_taken(desc):
    assert read_desc(desc, at(2026, 2, 24, 13, 0), False) == (None, None)


def test_a_range_of_days_gives_the_last_day_whatever_year_the_words_say():
    # good-tech-hack-2021.md: event-date 2021-02-19, event-date-desc "19-20 februari 2020"
    event = real("good-tech-hack-2021.md")
    assert event.date_only and event.last_day == date(2021, 2, 20) and event.end is None
    assert read_desc("7–8 oktober 2028", at(2028, 10, 7, 9, 30), False) == (None,
                                                                           date(2028, 10, 8))
    assert read_desc("May 18-20", at(2021, 5, 18), True) == (None, date(2021, 5, 20))
    assert read_desc("19-20 mars", at(2021, 2, 19), True) == (None, None)    # another month


def test_a_date_only_event_takes_no_time_range_from_its_words():
    # hackathon-1.md: 00:00:00, "10 mars 2018, kl 10 - 19": no start time to check "10" against
    event = real("hackathon-1.md")
    assert event.date_only and event.end is None and event.when_desc == "10 mars 2018, kl 10 - 19"


# --- what the texts say -----------------------------------------------------------------------

def versions(event: Event) -> dict[str, Event]:
    return {event.lang: event}


def post(event: Event, stage: Stage, due: datetime, limits: Limits = MASTODON, **kw):
    key = PostKey(event.ref, stage.name, limits.platform, event.lang)
    return compose(PlannedPost(key, due, event.start, stage), versions(event), limits, **kw)


def test_a_date_only_event_says_the_date_alone_in_every_text():
    event = real("good-tech-hack-2021.md")
    texts = [post(event, ANNOUNCEMENT, at(2021, 2, 1, 12)).text,
             post(event, REMINDER_1D, at(2021, 2, 18, 9)).text,
             post(event, REMINDER_2H, at(2021, 2, 19, 9)).text]
    told = Announced(PostKey(event.ref, "announcement", "x", "sv"), "1", None, Details.of(event))
    texts.append(cancellation_post(Cancellation(told, "removed"), versions(event), X,
                                   templates={}, now=at(2021, 2, 10, 12)).text)
    assert not any("00:00" in text or "kl." in text for text in texts)
    assert "🗓\ufe0f fredag 19 – lördag 20 februari\n" in texts[0]
    assert "🗓\ufe0f Äger rum i morgon.\n" in texts[1]
    assert "🗓\ufe0f Äger rum i dag.\n" in texts[2]
    assert texts[3] == "❌ Good Tech Hack 2021 (fredag 19 – lördag 20 februari) har ställts in."


def test_an_english_date_only_reminder_reads_naturally():
    event = real("hackathon-1-en.md")
    text = post(event, REMINDER_1D, at(2018, 3, 9, 9)).text
    assert text.startswith("⏰ Hackathon #1\n\n🗓\ufe0f Takes place tomorrow.\n")


def test_the_end_time_goes_into_when_and_the_start_into_the_reminder():
    event = real("2026-02-open-knowledge-sweden-meetup-1-en.md")
    ann = post(event, ANNOUNCEMENT, at(2026, 2, 12, 12)).text
    reminder = post(event, REMINDER_1D, at(2026, 2, 23, 18)).text
    assert "🗓\ufe0f Tuesday 24 February, 18:00–20:00\n" in ann
    assert "🗓\ufe0f Starts tomorrow at 18:00.\n" in reminder


def test_a_version_without_words_for_the_end_takes_them_from_the_other_language():
    # civic-tech-demodag-en.md says only "October 5"; the Swedish file "kl 09.00 till 12.00"
    sv, en = real("civic-tech-demodag.md"), real("civic-tech-demodag-en.md")
    key = PostKey(en.ref, "announcement", "x", "en")
    text = compose(PlannedPost(key, at(2021, 9, 28, 9), en.start, ANNOUNCEMENT),
                   {"sv": sv, "en": en}, X).text
    assert "🗓\ufe0f Tuesday 5 October, 09:00–12:00\n" in text


def test_when_desc_is_the_sites_own_words_else_when():
    event = real("hackathon-1.md")
    templates = {"announcement": {"sv": "{title}: {when_desc}"}}
    assert post(event, ANNOUNCEMENT, at(2018, 3, 1, 9), templates=templates).text == \
        "Hackathon #1: 10 mars 2018, kl 10 - 19"
    plain = Event("e", "sv", "Möte", at(2026, 5, 4, 18), "https://civictech.se/e/", "e.md")
    assert post(plain, ANNOUNCEMENT, at(2026, 5, 1, 9), templates=templates).text == \
        "Möte: måndag 4 maj kl. 18:00"


def test_time_is_empty_for_a_date_only_event():
    event = real("good-tech-hack-2021.md")
    templates = {"announcement": {"sv": "{title}\n{time}\n{date}"}}
    assert post(event, ANNOUNCEMENT, at(2021, 2, 1, 9), templates=templates).text == \
        "Good Tech Hack 2021\nfredag 19 februari"


@pytest.mark.parametrize(("seen", "shown"), [
    (at(2026, 2, 12), "tisdag 24 februari kl. 18:00"),
    (at(2025, 5, 1), "tisdag 24 februari kl. 18:00"),      # 9 months ahead
    (at(2025, 4, 1), "tisdag 24 februari 2026 kl. 18:00"),  # 10 months ahead
    (at(2026, 3, 1), "tisdag 24 februari 2026 kl. 18:00"),  # a date already past
])
def test_the_year_is_left_out_for_dates_of_the_coming_ten_months(seen, shown):
    start = at(2026, 2, 24, 18)
    assert format_when(start, "sv", year=shows_year(start, seen)) == shown


def test_relative_days_leave_out_the_year_across_new_year():
    start = at(2027, 1, 15, 18)
    assert relative_day(start, at(2026, 11, 20, 12), "sv") == "den 15 januari"
    assert relative_day(start, at(2025, 11, 20, 12), "en") == "on 15 January 2027"


# --- the registration link ---------------------------------------------------------------------

def test_the_registration_link_is_found_by_its_title_and_an_email_address_shown_bare():
    assert real("2026-02-open-knowledge-sweden-meetup-1.md").signup == "contact@okfn.se"
    assert real("civic-tech-lab-community-engagement.md").signup == \
        "https://pretix.eu/civictechse/lab1okt/"                       # "Anmäl dig till ..."
    assert real("almedalen2021.md").signup.startswith("https://www.eventbrite.se/")  # "Anmälan"
    assert real("meetup-3.md").signup == "https://civictech.se/form/integrity-register"
    assert real("civic-tech-demodag.md").signup == ""       # YouTube, forum, LinkedIn, Facebook


def test_a_registration_link_counts_like_any_url_on_x():
    event = real("almedalen2021.md")
    assert len(event.signup) > 100
    text = post(event, REMINDER_1D, at(2021, 7, 5, 13, 15), X).text
    assert f"📝 Anmälan: {event.signup}\n" in text
    assert length(text, X) == length(text.replace(event.signup, "https://x.se/a"), X)


def test_links_that_are_not_web_or_email_addresses_are_left_out_with_one_line_each():
    event, problems = parse("event-date: 2026-05-04 18:00:00\nlinks:\n"
                            "  - title: Anmälan\n    url: javascript:alert(1)\n"
                            "  - just text\n"
                            "  - title: Biljetter\n    url: https://example.org/t\n")
    assert event.signup == "https://example.org/t"
    assert [(p.field, p.message.split(";")[0]) for p in problems] == [
        ("links[0].url", "'javascript:alert(1)' is neither a web address nor an e-mail "
                         "address (mailto:)"),
        ("links[1]", "expected a title and a url, got 'just text'")]


# --- planning a date alone -------------------------------------------------------------------

def date_only(day: date, langs=("sv",)) -> dict[str, Event]:
    start = datetime.combine(day, time(), tzinfo=STHLM)
    return {lang: Event("hack", lang, "Hack", start, "https://civictech.se/hack/", "hack.md",
                        date_only=True) for lang in langs}


def test_reminders_of_a_date_only_event_go_at_the_morning_hour_not_at_midnight():
    result = plan([date_only(date(2027, 3, 10))], STAGES, (X_SV,), now=at(2027, 3, 1, 12),
                  grace=timedelta(hours=2), zone=STHLM)
    assert [(p.key.stage, p.due) for p in result.posts] == [
        ("announcement", at(2027, 3, 1, 12)),
        ("reminder-1d", at(2027, 3, 9, 9)),
        ("reminder-2h", at(2027, 3, 10, 9))]


def test_the_morning_hour_is_configured_for_the_site_and_for_one_stage():
    config = parse_config({"site": {"date_only_time": "08:30"}, "stages": [
        {"name": "ann", "kind": "announcement"},
        {"name": "kvall", "kind": "reminder", "before": "1d", "date_only_time": "18:00"},
        {"name": "samma-dag", "kind": "reminder", "before": "3h"}]}, base=FIXTURES)
    result = plan([date_only(date(2027, 3, 10))], config.stages, (X_SV,),
                  now=at(2027, 3, 1, 12), grace=timedelta(hours=2), zone=STHLM)
    assert [(p.key.stage, p.due) for p in result.posts][1:] == [
        ("kvall", at(2027, 3, 9, 18)), ("samma-dag", at(2027, 3, 10, 8, 30))]


def test_a_date_only_event_today_is_still_upcoming_until_the_end_of_its_day():
    day = date_only(date(2027, 3, 10))
    morning = plan([day], STAGES, (X_SV,), now=at(2027, 3, 10, 8), grace=timedelta(hours=2),
                   zone=STHLM, done={PostKey("hack", "announcement", "x", "sv")})
    assert [(p.key.stage, p.due) for p in morning.posts] == [("reminder-2h", at(2027, 3, 10, 9))]
    assert not plan([day], STAGES, (X_SV,), now=at(2027, 3, 11, 0), grace=timedelta(hours=2),
                    zone=STHLM).posts


def test_a_stage_at_a_date_only_time_in_a_dst_gap_goes_just_after_it():
    config = parse_config({"site": {"date_only_time": "02:30"}}, base=FIXTURES)
    result = plan([date_only(date(2027, 3, 28))], config.stages, (X_SV,),
                  now=at(2027, 3, 20, 12), grace=timedelta(hours=2), zone=STHLM)
    assert [p.due for p in result.posts if p.key.stage == "reminder-2h"] == [
        at(2027, 3, 28, 3, 30)]


@pytest.mark.parametrize(("where", "value"), [
    ("site", "9am"), ("site", "25:00"), ("site", 9), ("stage", "09:60")])
def test_a_bad_date_only_time_is_one_line_naming_the_key(where, value):
    data = ({"site": {"date_only_time": value}} if where == "site" else
            {"stages": [{"name": "r", "before": "1d", "date_only_time": value}]})
    with pytest.raises(ConfigError) as caught:
        parse_config(data, base=FIXTURES)
    name = "site.date_only_time" if where == "site" else "stages[0].date_only_time"
    assert str(caught.value).startswith(f"{name}: expected a time of day such as \"09:00\"")


# --- corrections and cancellations ---------------------------------------------------------------

def test_a_correction_names_what_changed_in_both_languages():
    assert changed_text(("date", "place"), "sv") == "Nytt datum och ny plats"
    assert changed_text(("date", "time", "place"), "en") == "New date, time and place"
    assert changed_text(("time",), "sv") == "Ny tid"
    event = Event("e", "sv", "Öppna data-hackathon 2028: ”Data för alla”", at(2028, 10, 7, 9, 30),
                  "https://civictech.se/e/", "e.md", place="Kulturhuset")
    told = Announced(PostKey("e", "announcement", "x", "sv"), "1", None,
                     Details.of(replace(event, place="Online")))
    text = correction_post(Correction(told, event, ("place",)), {"sv": event}, X, edit=False,
                           templates={}, hashtags=(), now=at(2028, 9, 1, 12)).text
    assert text.startswith("✏\ufe0f Ny plats för Öppna data-hackathon 2028: ”Data för alla”\n\n"
                           "🗓\ufe0f lördag 7 oktober kl. 09:30\n📍 Kulturhuset\n")


def test_a_date_only_event_keeps_saying_the_date_alone_after_the_ledger_round_trip():
    event = real("good-tech-hack-2021.md")
    again = Details.from_json(Details.of(event).to_json())
    assert again.date_only and again.as_event(STHLM).upcoming_until == at(2021, 2, 20)


# --- the whole site ------------------------------------------------------------------------------

def test_a_site_read_through_the_parse_cache_keeps_every_new_field(tmp_path):
    import os
    import shutil

    from bot.content import ParseCache

    shutil.copytree(DATES_SITE, tmp_path / "site")
    for path in (tmp_path / "site" / "_events").iterdir():
        os.utime(path, (1_600_000_000, 1_600_000_000))      # old enough to be kept
    site = SiteConfig(root=tmp_path / "site")
    writer = ParseCache.for_site(site, tmp_path / "cache")
    fresh = load_site(site, cache=writer)
    assert writer.save()
    reader = ParseCache.for_site(site, tmp_path / "cache")
    cached = load_site(site, cache=reader)
    assert (reader.hits, reader.misses) == (len(fresh.events) + len(fresh.drafts), 0)
    assert cached.events == fresh.events
    assert any(e.herald is not None and e.herald.texts for e in cached.events)
    assert any(e.links and e.signup and e.end for e in cached.events)
    assert any(e.date_only and e.last_day for e in cached.events)


# --- digests -------------------------------------------------------------------------------------

def test_a_daily_digest_lists_a_date_only_event_of_its_day_but_not_one_turned_off():
    from bot.digest import Digest, current, events_in, parse_every
    from bot.model import Control

    daily = Digest("daily", parse_every("daily 08:00"), timedelta(days=1))
    today = date_only(date(2027, 3, 10))
    off = {"sv": Event("off", "sv", "Av", at(2027, 3, 10, 18), "https://civictech.se/off/",
                       "off.md", herald=Control(skip=True))}
    period = current(daily, at(2027, 3, 10, 8), STHLM)
    assert [next(iter(v.values())).ref for v in events_in(period, [today, off])] == ["hack"]


def test_two_reminders_that_fall_at_the_same_morning_hour_are_posted_once():
    stages = (*STAGES, Stage("reminder-30m", "reminder", timedelta(minutes=30), "reminder"))
    result = plan([date_only(date(2027, 3, 10))], stages, (X_SV,), now=at(2027, 3, 1, 12),
                  grace=timedelta(hours=2), zone=STHLM)
    assert [p.key.stage for p in result.posts] == ["announcement", "reminder-1d", "reminder-2h"]
    assert [(s.key.stage, s.reason) for s in result.skipped] == [
        ("reminder-30m", "goes at the same time as reminder-2h: the event has no time of day")]


@pytest.mark.parametrize(("stages", "said"), [
    ([{"name": "ann", "kind": "announcement"}], "posts say the date alone; write"),
    ([{"name": "ann", "kind": "announcement"}, {"name": "r1", "before": "1d"},
      {"name": "r2", "before": "2h", "date_only_time": "08:00"}],
     "posts say the date alone; its stages go at 09:00 (r1) and 08:00 (r2) (date_only_time); "
     "write"),
])
def test_validate_says_what_it_assumed_whatever_the_stages(stages, said):
    from bot.content.assumed import date_only_problems

    config = parse_config({"stages": stages}, base=FIXTURES)
    (problem,) = date_only_problems([real("good-tech-hack-2021.md")], config)
    assert said in problem.message


def test_the_same_instant_is_written_in_each_datetimes_own_zone_every_time():
    stockholm = datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    same_instant = stockholm.astimezone(ZoneInfo("UTC"))
    for _ in range(2):      # the second time from what was remembered of the first
        assert "12:00" in format_when(stockholm, "en")
        assert "11:00" in format_when(same_instant, "en")
        assert "12:00" not in format_when(same_instant, "en")


def test_an_hour_repeated_when_clocks_go_back_keeps_its_own_offset_in_the_text():
    zone = ZoneInfo("Europe/Stockholm")
    first = datetime(2026, 10, 25, 2, 30, tzinfo=zone, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=zone, fold=1)
    assert _format(first, "HH:mm xxx", "en") == "02:30 +02:00"
    assert _format(second, "HH:mm xxx", "en") == "02:30 +01:00"


DATE_PATTERNS = sorted({pattern for phrases in PHRASES.values()
                        for pattern in (phrases.date, phrases.date + phrases.year,
                                        phrases.date + phrases.year + phrases.at,
                                        phrases.date + phrases.at_range, phrases.until,
                                        phrases.first_day, phrases.weekday, phrases.day,
                                        phrases.day + phrases.year, phrases.short_date)}
                       | {"HH:mm", "LLLL", "EEEE d MMMM y", "y-MM-dd", "yy", "EEEE d. MMMM y"})


@pytest.mark.parametrize("zone", ["Europe/Stockholm", "America/New_York", "Asia/Kolkata"])
def test_dates_are_written_exactly_as_babel_writes_them_in_every_pattern_and_language(zone):
    from babel.dates import format_datetime

    from bot.localize import _locale

    tz = ZoneInfo(zone)
    walls = [datetime(2026, 1, 1, 9, 0) + timedelta(hours=37 * n + n % 5) for n in range(300)]
    walls += [datetime(2026, 3, 29, 2, 30), datetime(2026, 10, 25, 2, 30),    # a gap, a fold
              datetime(2026, 3, 8, 2, 30), datetime(2026, 11, 1, 1, 30), datetime(2027, 12, 31)]
    for wall in walls:
        for fold in (0, 1):
            start = wall.replace(tzinfo=tz, fold=fold)
            for lang in ("sv", "en", "en-GB", "de", "fi"):
                for pattern in DATE_PATTERNS:
                    assert _format(start, pattern, lang) == format_datetime(
                        start, pattern, tzinfo=tz, locale=_locale(lang)), (start, lang, pattern)
