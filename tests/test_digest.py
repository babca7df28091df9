"""Digests over real civictech.se events: which periods are due, which events each window lists,
and the exact text per platform and language, threaded when it does not fit one post."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import SiteConfig
from bot.content import load_site
from bot.counting import length
from bot.digest import (Digest, DigestTexts, compose_digest, current, events_in, parse_every,
                        period_at, periods, plan_digests, upcoming)
from bot.model import Account, Limits, PostKey
from bot.platforms.bluesky import LIMITS as BLUESKY
from bot.platforms.mastodon import LIMITS as MASTODON
from bot.platforms.x import LIMITS as X

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "civictech"
ZONE = ZoneInfo("Europe/Stockholm")
UTC = ZoneInfo("UTC")
WEEKLY = Digest("weekly", parse_every("monday 09:00"), timedelta(days=7))
MONTHLY = Digest("monthly", parse_every("day 1 09:00"))
ACCOUNTS = (Account("mastodon", "mastodon", ("sv", "en")), Account("x", "x", ("sv", "en")),
            Account("bluesky", "bluesky", ("sv", "en")))


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZONE)


@pytest.fixture(scope="module")
def events():
    site = load_site(SiteConfig(root=FIXTURES))
    return [site.versions(ref) for ref in site.refs()]


def refs(found) -> list[str]:
    return [next(iter(v.values())).ref for v in found]


def listed(digest, period, events, lang="sv", limits=MASTODON, **kwargs):
    return compose_digest(period, digest, events, "acct", lang, limits,
                          hashtags=["civictech"], **kwargs)


# --- when a digest goes out ---------------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("monday 09:00", "monday 09:00"), ("  Sunday   7:05 ", "sunday 07:05"),
    ("day 1 09:00", "day 1 09:00"), ("day 28 23:59", "day 28 23:59"),
    ("daily 08:00", "daily 08:00"), ("daily 0:00", "daily 00:00"),
])
def test_every_reads_a_weekday_a_day_of_the_month_or_daily_at_a_wall_time(text, shown):
    assert str(parse_every(text)) == shown


@pytest.mark.parametrize("text, message", [
    ("mondy 09:00", "'mondy' is not a weekday (monday to sunday); did you mean 'monday'?"),
    ("day 29 09:00", "day 29: use a day from 1 to 28, which every month has"),
    ("day 0 09:00", "day 0: use a day from 1 to 28"),
    ("daily 24:00", "24:00 is not a time of day"),
    ("monday", 'expected a time such as "monday 09:00", "day 1 09:00" or "daily 08:00", '
               "got 'monday'"),
    ("weekly", "got 'weekly'"), (9, "got 9"), ("monday 9", "got 'monday 9'"),
])
def test_every_refuses_what_is_no_schedule_and_says_what_it_expected(text, message):
    with pytest.raises(ValueError) as caught:
        parse_every(text)
    assert message in str(caught.value)


def test_a_weekly_digest_goes_out_monday_at_nine_on_the_site_clock_across_a_dst_change():
    found = periods(WEEKLY, at(2020, 10, 12), at(2020, 11, 3), ZONE)
    assert [p.label for p in found] == ["2020-W42", "2020-W43", "2020-W44", "2020-W45"]
    assert [f"{p.at:%a %H:%M}" for p in found] == ["Mon 09:00"] * 4
    # Summer time ends on Sunday 25 October: 07:00 UTC before, 08:00 UTC after.
    assert [p.at.astimezone(UTC).hour for p in found] == [7, 7, 8, 8]
    for earlier, later in zip(found, found[1:]):
        assert earlier.end == later.at          # no gap, no overlap
    assert found[1].end.astimezone(UTC) - found[1].at.astimezone(UTC) == timedelta(hours=169)


def test_the_week_the_clocks_go_forward_is_a_wall_clock_week_of_167_hours():
    week = current(WEEKLY, at(2021, 3, 24, 12), ZONE)
    assert (week.label, week.at, week.end) == ("2021-W12", at(2021, 3, 22, 9), at(2021, 3, 29, 9))
    assert week.end.astimezone(UTC) - week.at.astimezone(UTC) == timedelta(hours=167)


def test_an_event_early_on_the_monday_after_a_dst_change_is_in_exactly_one_digest(tmp_path):
    # A real event file moved to 08:30 on the Monday after summer time ended: a week counted
    # as 168 elapsed hours would end at 08:00 and no digest would ever list it.
    site = tmp_path / "site"
    shutil.copytree(FIXTURES, site)
    for path in (site / "_events").glob("*.md"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"^ref: ['\"]?meetup-8['\"]?\s*$", text, re.MULTILINE):
            path.write_text(re.sub(r"^event-date: .*$", "event-date: 2020-10-26 08:30:00 +01:00",
                                   text, flags=re.MULTILINE), encoding="utf-8")
    loaded = load_site(SiteConfig(root=site))
    events = [loaded.versions(ref) for ref in loaded.refs()]
    weeks = periods(WEEKLY, at(2020, 10, 1), at(2020, 11, 10), ZONE)
    holding = {p.label: refs(events_in(p, events)) for p in weeks}
    assert holding["2020-W43"] == ["climatedata", "online-cryptoparty", "meetup-8"]
    assert sum(r.count("meetup-8") for r in holding.values()) == 1


def test_a_time_the_clocks_skip_moves_forward_by_the_skipped_hour():
    daily = Digest("daily", parse_every("daily 02:30"))
    spring = current(daily, at(2021, 3, 28, 12), ZONE)
    assert spring.at == at(2021, 3, 28, 3, 30) and spring.label == "2021-03-28"
    assert spring.end == at(2021, 3, 29, 2, 30)


def test_a_monthly_digest_goes_out_on_the_first_and_covers_up_to_the_next(events):
    october = current(MONTHLY, at(2020, 10, 15), ZONE)
    assert (october.label, october.at, october.end) == ("2020-10", at(2020, 10, 1, 9),
                                                        at(2020, 11, 1, 9))
    assert refs(events_in(october, events)) == ["communityengagement", "utfragning",
                                                "climatedata", "online-cryptoparty"]


def test_events_later_on_the_first_of_the_month_are_in_that_months_digest(events):
    december = period_at(MONTHLY, at(2020, 12, 1, 9), ZONE)
    assert refs(events_in(december, events)) == ["govtechday2020", "civictechgovtech2020"]
    november = period_at(MONTHLY, at(2020, 11, 1, 9), ZONE)
    assert refs(events_in(november, events)) == ["kopplingssprint", "workshop-remissvar"]


def test_a_digest_sent_late_leaves_out_the_events_that_have_started(events):
    december = period_at(MONTHLY, at(2020, 12, 1, 9), ZONE)
    assert refs(events_in(december, events, at=at(2020, 12, 1, 11))) == ["civictechgovtech2020"]


def test_the_period_is_named_by_the_calendar_not_by_the_time_of_sending():
    monday = current(WEEKLY, at(2026, 2, 25, 12), ZONE)
    wednesday = current(Digest("weekly", parse_every("wednesday 18:00")), at(2026, 2, 25, 19),
                        ZONE)
    assert monday.label == wednesday.label == "2026-W09"
    assert monday.key == "weekly/2026-W09"
    assert str(monday.post_key("mastodon", "sv")) == "digest:weekly/2026-W09/mastodon/sv"


# --- which periods are due ----------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """A ledger row as planning reads it."""

    state: str
    text: str | None = None

    @property
    def done(self) -> bool:
        return self.state in ("posted", "skipped", "deleted")


def plan(events, now, digests=(WEEKLY,), accounts=ACCOUNTS, latest=None):
    return plan_digests(digests, accounts, events, now=now, zone=ZONE, grace=timedelta(hours=2),
                        latest=latest)


def test_the_current_period_is_due_on_every_account_and_language_and_the_next_one_later(events):
    now = at(2020, 11, 23, 9, 30)
    planned, skipped = plan(events, now)
    assert skipped == []
    due = [p for p in planned if p.due <= now]
    assert [str(p.key) for p in due] == [f"digest:weekly/2020-W48/{a}/{lang}"
                                         for a in ("mastodon", "x", "bluesky")
                                         for lang in ("sv", "en")]
    assert {p.due for p in planned if p not in due} == {at(2020, 11, 30, 9)}
    assert all(p.event_start == p.period.end and p.part == 1 for p in planned)


def test_a_posted_period_is_not_due_again_whatever_changed_since(events):
    latest = {PostKey("digest:weekly", "2020-W48", a.name, lang): Row("posted", "Kommande")
              for a in ACCOUNTS for lang in a.languages}
    moved = [{lang: replace(e, start=e.start + timedelta(days=1), title=e.title + " (ny tid)")
              for lang, e in v.items()} if "workshop-remissvar" in refs([v]) else v
             for v in events]
    for now in (at(2020, 11, 23, 9, 30), at(2020, 11, 23, 10, 59)):
        for site_events in (events, moved):
            planned, _ = plan(site_events, now, latest=latest)
            assert {p.period.label for p in planned} == {"2020-W49"}


def test_a_period_missed_by_more_than_the_grace_is_skipped_with_why(events):
    planned, skipped = plan(events, at(2020, 11, 23, 11, 1), accounts=ACCOUNTS[:1])
    assert {p.period.label for p in planned} == {"2020-W49"}
    assert [s.reason for s in skipped] == [
        "missed: was due 2020-11-23 09:00, more than the grace period of 2h ago"] * 2


def test_a_digest_goes_only_to_its_accounts_in_its_languages(events):
    digest = Digest("weekly", WEEKLY.every, accounts=("x", "bluesky"), languages=("en",))
    planned, _ = plan(events, at(2020, 11, 23, 9), digests=[digest])
    assert {(p.key.account, p.key.lang) for p in planned} == {("x", "en"), ("bluesky", "en")}


def test_an_empty_week_is_passed_over_for_the_next_week_with_events(events):
    planned, _ = plan(events, at(2026, 2, 2, 9), accounts=ACCOUNTS[:1])
    assert [str(p.key) for p in planned] == ["digest:weekly/2026-W09/mastodon/sv",
                                             "digest:weekly/2026-W09/mastodon/en"]
    assert plan(events, at(2026, 2, 24, 19))[0] == []      # no event after this one


def test_an_empty_week_posts_its_empty_text_where_one_is_set(events):
    texts = {"sv": DigestTexts("", "{title}", "", "Inget den här veckan."),
             "en": DigestTexts("", "{title}", "")}
    quiet = Digest("weekly", WEEKLY.every, WEEKLY.window, texts=texts)
    planned, _ = plan(events, at(2026, 2, 2, 9), digests=[quiet], accounts=ACCOUNTS[:1])
    assert [str(p.key) for p in planned] == ["digest:weekly/2026-W06/mastodon/sv",
                                             "digest:weekly/2026-W07/mastodon/sv"]


def test_a_week_whose_events_have_all_started_by_a_late_tick_plans_nothing(events):
    daily = Digest("daily", parse_every("daily 08:00"))
    assert [p.key.lang for p in plan(events, at(2026, 2, 24, 9), [daily], ACCOUNTS[:1])[0]
            if p.period.label == "2026-02-24"] == ["sv", "en"]
    assert plan(events, at(2026, 2, 24, 18, 1), [daily], ACCOUNTS[:1],
                latest=None)[0] == []


def test_a_thread_cut_short_is_planned_again_from_its_next_part(events):
    first = PostKey("digest:weekly", "2020-W48", "x", "sv")
    now = at(2020, 11, 23, 9, 30)

    def due(latest):
        return [(str(p.key), p.part) for p in plan(events, now, accounts=ACCOUNTS[1:2],
                                                    latest=latest)[0]
                if p.key.lang == "sv" and p.due <= now]

    assert due({first: Row("posted", "Kommande\n\n• ett\n\n1/3")}) == [
        ("digest:weekly/2020-W48#2/x/sv", 2)]
    second = PostKey("digest:weekly", "2020-W48#2", "x", "sv")
    assert due({first: Row("posted", "…\n\n1/3"), second: Row("failed", "…\n\n2/3")}) == [
        ("digest:weekly/2020-W48#2/x/sv", 2)]
    third = PostKey("digest:weekly", "2020-W48#3", "x", "sv")
    assert due({first: Row("posted", "…\n\n1/3"), second: Row("posted", "…\n\n2/3"),
                third: Row("posted", "…\n\n3/3")}) == []
    assert due({first: Row("posted", "…\n\n1/3"), second: Row("skipped")}) == []
    assert due({first: Row("posted", "Kommande\n\n• ett")}) == []
    assert due({first: Row("skipped")}) == []


# --- what a digest says -------------------------------------------------------------------------

def test_a_weekly_digest_lists_the_weeks_events_in_swedish_and_english(events):
    week = current(WEEKLY, at(2020, 11, 30, 9), ZONE)
    sv = listed(WEEKLY, week, events, "sv")
    en = listed(WEEKLY, week, events, "en")
    assert sv.parts == (
        "Kommande evenemang 30 nov.–6 dec.\n"
        "\n"
        "• tis 1 dec. 10:00 – GovTech Day 2020 https://civictech.se/govtechday2020/\n"
        "• tis 1 dec. 13:00 – Civic Tech möter GovTech "
        "https://civictech.se/civic-tech-moter-govtech/\n"
        "\n"
        "#civictech",)
    assert en.parts == (
        "Upcoming events 30 Nov\u2009–\u20096 Dec\n"
        "\n"
        "• Tue 1 Dec 10:00 – GovTech Day 2020 https://civictech.se/govtech-day-2020/\n"
        "• Tue 1 Dec 13:00 – Civic Tech meets GovTech "
        "https://civictech.se/civic-tech-meets-govtech/\n"
        "\n"
        "#civictech",)
    assert sv.refs == en.refs == ("govtechday2020", "civictechgovtech2020")
    assert str(sv.key) == "digest:weekly/2020-W49/acct/sv" and sv.fits and not sv.warnings


def test_each_platform_counts_the_digest_its_own_way(events):
    week = current(WEEKLY, at(2020, 11, 30, 9), ZONE)
    text = listed(WEEKLY, week, events).parts[0]
    urls = re.findall(r"https://\S+", text)
    plain = len(text) - sum(map(len, urls))
    assert listed(WEEKLY, week, events, limits=MASTODON).lengths == (plain + 23 * 2,)
    # X weighs the bullet (U+2022) 2 and every link 23; the en dash (U+2013) weighs 1.
    assert listed(WEEKLY, week, events, limits=X).lengths == (plain + 2 + 23 * 2,)
    assert listed(WEEKLY, week, events, limits=BLUESKY).lengths == (len(text),)


def test_a_digest_one_character_too_long_continues_as_a_numbered_thread(events):
    week = current(WEEKLY, at(2020, 11, 30, 9), ZONE)
    whole = listed(WEEKLY, week, events, limits=X)
    exact = Limits("x", whole.lengths[0], "twitter", url_weight=23)
    assert listed(WEEKLY, week, events, limits=exact).parts == whole.parts
    short = Limits("x", whole.lengths[0] - 1, "twitter", url_weight=23)
    thread = listed(WEEKLY, week, events, limits=short)
    assert thread.parts == (
        "Kommande evenemang 30 nov.–6 dec.\n\n"
        "• tis 1 dec. 10:00 – GovTech Day 2020 https://civictech.se/govtechday2020/\n\n1/2",
        "• tis 1 dec. 13:00 – Civic Tech möter GovTech "
        "https://civictech.se/civic-tech-moter-govtech/\n\n#civictech\n\n2/2")
    assert thread.lengths == tuple(length(p, short) for p in thread.parts)
    bullet_extra, link = 1, 23          # X weighs "•" 2 and any link 23
    assert thread.lengths[1] == (len("• tis 1 dec. 13:00 – Civic Tech möter GovTech ")
                                 + bullet_extra + link + len("\n\n#civictech\n\n2/2"))


@pytest.mark.parametrize("limits", [X, BLUESKY, MASTODON], ids=lambda l: l.platform)
def test_a_long_digest_is_threaded_without_losing_or_splitting_an_event(events, limits):
    year = Digest("year", MONTHLY.every, timedelta(days=366))
    period = current(year, at(2019, 1, 2), ZONE)
    digest = listed(year, period, events, limits=limits)
    assert len(digest.refs) == 12 and digest.fits
    parts = digest.parts
    assert len(parts) > 1
    assert all(n <= limits.max_chars for n in digest.lengths)
    assert digest.lengths == tuple(length(p, limits) for p in parts)
    assert [p.rsplit("\n", 1)[-1] for p in parts] == [f"{i}/{len(parts)}"
                                                       for i in range(1, len(parts) + 1)]
    assert parts[0].startswith("Kommande evenemang 1 jan. 2019–1 jan. 2020\n\n")
    assert parts[-1].endswith(f"\n\n#civictech\n\n{len(parts)}/{len(parts)}")
    assert sum("#civictech" in p for p in parts) == 1
    lines = [line for p in parts for line in p.split("\n") if line.startswith("• ")]
    assert len(lines) == 12
    assert lines[0].startswith("• lör 26 jan. – Ta tillbaka rummet!")     # a date alone
    assert all("https://civictech.se/" in line for line in lines)
    # Each part but the last is full: the next event's line would not have fitted.
    for part, following in zip(parts, parts[1:]):
        first_line = next(line for line in following.split("\n") if line.startswith("• "))
        body, number = part.rsplit("\n\n", 1)
        assert length(f"{body}\n{first_line}\n\n{number}", limits) > limits.max_chars


def test_a_thread_of_ten_or_more_parts_counts_the_wider_numbering(events):
    year = Digest("year", MONTHLY.every, timedelta(days=366))
    narrow = Limits("narrow", 110, "graphemes")
    digest = listed(year, current(year, at(2019, 1, 2), ZONE), events, limits=narrow)
    assert len(digest.parts) >= 10 and digest.fits
    assert digest.parts[9].endswith(f"\n\n10/{len(digest.parts)}")
    assert max(digest.lengths) <= 110
    assert ("meetup-10: shortened its title to fit a narrow post" in digest.warnings)
    shortened = next(p for p in digest.parts if "Civic Tech Sthlm #10" in p)
    assert "…" in shortened and "https://civictech.se/meetup-10/" in shortened


def test_a_platform_that_takes_no_replies_gets_an_error_never_a_cut_digest(events):
    lone = Limits("lone", 280, "twitter", url_weight=23, replies=False)
    digest = listed(MONTHLY, current(MONTHLY, at(2020, 10, 2), ZONE), events, limits=lone)
    assert not digest.fits and digest.parts == ()
    assert digest.error == "too long for one lone post, and lone takes no replies to thread it"


def test_an_event_without_the_digests_language_is_listed_in_another_with_a_warning(events):
    october = current(MONTHLY, at(2020, 10, 2), ZONE)
    digest = listed(MONTHLY, october, events, "en")
    assert ("• Tue 13 Oct 10:00 – Utfrågning kring Öppna data-utredningen "
            "https://civictech.se/utfragning-kring-oppna-data-utredningen/") in digest.parts[0]
    assert digest.warnings == ("utfragning: the event has no 'en' version; listed in 'sv'",)


def test_an_empty_window_posts_nothing(events):
    empty_week = current(WEEKLY, at(2026, 2, 2, 10), ZONE)
    assert events_in(empty_week, events) == []
    assert listed(WEEKLY, empty_week, events) is None


def test_an_empty_window_posts_the_nothing_this_week_text_when_one_is_set(events):
    texts = {"sv": DigestTexts("Kommande evenemang {dates}", "• {when} {title}", "",
                               "Inga evenemang vecka {week}. {hashtags}"),
             "en": DigestTexts("Upcoming {dates}", "• {when} {title}", "",
                               "No events in week {week} ({dates}).")}
    digest = Digest("weekly", WEEKLY.every, WEEKLY.window, texts=texts)
    week = current(digest, at(2026, 2, 2, 10), ZONE)
    assert listed(digest, week, events, "sv").parts == ("Inga evenemang vecka 6. #civictech",)
    assert listed(digest, week, events, "en").parts == (
        "No events in week 6 (2\u2009–\u20098 Feb).",)


def test_the_header_and_footer_take_the_week_month_and_count(events):
    texts = {"sv": DigestTexts("{count} evenemang i {month} {year}", "{date} {time} {title}",
                               "Vecka {week}")}
    digest = Digest("monthly", MONTHLY.every, texts=texts)
    text = listed(digest, current(digest, at(2020, 10, 2), ZONE), events).parts[0]
    assert text == ("4 evenemang i oktober 2020\n\n"
                    "tors 1 okt. 13:00 Civic Tech Lab: Community Engagement\n"
                    "tis 13 okt. 10:00 Utfrågning kring Öppna data-utredningen\n"
                    "tis 20 okt. 14:00 How can data help fight climate change?\n"
                    "fre 23 okt. 17:00 CryptoParty Online\n\n"
                    "Vecka 40")


def test_a_line_of_several_lines_leaves_a_blank_line_between_events(events):
    texts = {"sv": DigestTexts("Kommande", "{when}: {title}\n{link}", "")}
    digest = Digest("weekly", WEEKLY.every, WEEKLY.window, texts=texts)
    text = listed(digest, current(digest, at(2020, 11, 30, 9), ZONE), events).parts[0]
    assert text == ("Kommande\n\n"
                    "tis 1 dec. 10:00: GovTech Day 2020\nhttps://civictech.se/govtechday2020/\n\n"
                    "tis 1 dec. 13:00: Civic Tech möter GovTech\n"
                    "https://civictech.se/civic-tech-moter-govtech/")


def test_a_daily_digest_in_the_morning_lists_the_evenings_meetup(events):
    daily = Digest("daily", parse_every("daily 08:00"))
    day = upcoming(daily, at(2026, 2, 23, 8), ZONE)
    assert day.label == "2026-02-24"
    assert listed(daily, day, events, "en", limits=BLUESKY).parts == (
        "Upcoming events 24 Feb\n\n"
        "• Tue 24 Feb 18:00 – Open Knowledge Sweden Meetup 2026 #1 "
        "https://civictech.se/2026-02-open-knowledge-sweden-meetup-1-en/\n\n#civictech",)
