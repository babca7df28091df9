"""An event file's own `herald:` block turns Herald off for it, narrows where it goes, adds
hashtags or gives its own text, without touching the config; a bad key is one clear line."""

import shutil
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.composer import compose
from bot.config import SiteConfig
from bot.content import parse_event
from bot.model import Account, Control, Event, PlannedPost, PostKey, Stage
from bot.planner import plan
from tests.test_dates import (ANNOUNCEMENT, DATES_SITE, FIXTURES, MASTODON, REMINDER_1D, STHLM,
                              X)

STAGES = (ANNOUNCEMENT, REMINDER_1D)
ACCOUNTS = (Account("masto", "mastodon", ("sv", "en")), Account("x", "x", ("sv", "en")),
            Account("bsky", "bluesky", ("sv", "en")))
START = datetime(2027, 3, 10, 18, 0, tzinfo=STHLM)
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=STHLM)


def parse(block: str):
    text = (f"---\ntitle: Hackdag\nref: hackdag\nevent-date: 2027-03-10 18:00:00\n{block}"
            f"---\nBody.\n")
    return parse_event(text, "_events/hackdag.md", SiteConfig(root=FIXTURES))


def event(lang="sv", herald=None) -> Event:
    return Event("hack", lang, f"Hackdag {lang}", START, f"https://civictech.se/{lang}/hack/",
                 f"_events/hack-{lang}.md", place="Goto 10", herald=herald)


# --- reading the block -----------------------------------------------------------------------

def test_a_full_block_is_read_as_written():
    found, problems = parse("herald:\n  platforms: [mastodon, Bluesky]\n  accounts: kansli\n"
                            "  hashtags: [opendata, '#hack']\n  text:\n"
                            "    x: '{title} {link}'\n    mastodon:\n"
                            "      reminder: 'Snart: {title}'\n")
    assert problems == []
    assert found.herald == Control(platforms=("mastodon", "bluesky"), accounts=("kansli",),
                                   hashtags=("opendata", "#hack"),
                                   texts=(("x", "", "{title} {link}"),
                                          ("mastodon", "reminder", "Snart: {title}")))


@pytest.mark.parametrize("block", ["herald:\n  skip: true\n", "herald:\n  enabled: false\n",
                                   "herald: false\n"])
def test_each_way_of_turning_herald_off_for_an_event_is_read(block):
    found, problems = parse(block)
    assert found.herald.skip and problems == []


def test_an_unknown_key_is_one_line_with_a_suggestion_and_the_rest_still_counts():
    found, problems = parse("herald:\n  platfroms: [x]\n  hashtags: [opendata]\n")
    assert [str(p) for p in problems] == [
        "warning: _events/hackdag.md: herald.platfroms: unknown key; did you mean "
        "'platforms'?; ignored"]
    assert found.herald.hashtags == ("opendata",) and found.herald.platforms is None


def test_a_skip_that_is_not_true_or_false_leaves_the_event_alone():
    found, problems = parse("herald:\n  skip: 'ja tack'\n")
    assert found.herald.skip
    assert problems[0].field == "herald.skip" and "leaves the event alone" in problems[0].message


def test_an_unknown_platform_narrows_the_event_to_the_platforms_named_right():
    found, problems = parse("herald:\n  platforms: [mastodn, x]\n")
    assert found.herald.platforms == ("x",)
    assert [(p.field, p.message) for p in problems] == [
        ("herald.platforms", "'mastodn' is not a platform; did you mean 'mastodon'?; the event "
                             "goes only on x")]


def test_a_text_with_an_unknown_field_is_left_out_for_the_configured_text():
    found, problems = parse("herald:\n  text:\n    x: '{titel} {link}'\n")
    assert found.herald.texts == ()
    assert problems[0].field == "herald.text.x"
    assert "unknown template field {titel}" in problems[0].message
    assert problems[0].message.endswith("the configured text is used")


# --- planning ---------------------------------------------------------------------------------

def planned(versions, accounts=ACCOUNTS):
    return plan([versions], STAGES, accounts, now=NOW, grace=timedelta(hours=2), zone=STHLM)


def test_an_event_turned_off_in_one_language_is_not_planned_at_all_and_nothing_recorded():
    result = planned({"sv": event(herald=Control(skip=True)), "en": event("en")})
    assert result.posts == () and result.skipped == ()


def test_platforms_and_accounts_narrow_where_the_event_goes_as_every_version_allows():
    narrowed = planned({"sv": event(herald=Control(platforms=("mastodon", "bluesky"))),
                        "en": event("en", herald=Control(accounts=("bsky", "x")))})
    assert {p.key.account for p in narrowed.posts} == {"bsky"}
    assert planned({"sv": event(herald=Control(accounts=()))}).posts == ()


# --- composing --------------------------------------------------------------------------------

def composed(versions, stage=ANNOUNCEMENT, limits=X, account="x", lang="sv", **kw):
    key = PostKey("hack", stage.name, account, lang)
    return compose(PlannedPost(key, NOW, START, stage), versions, limits, **kw)


def test_the_events_own_text_is_used_by_account_then_platform_and_by_stage_then_kind():
    texts = (("x", "", "X: {title}"), ("x", "reminder", "X påminner: {title}"),
             ("x", "reminder-1d", "X i morgon: {title}"), ("kansli", "", "Kansliet: {title}"))
    own = {"sv": event(herald=Control(texts=texts))}
    assert composed(own).text == "X: Hackdag sv"
    assert composed(own, Stage("reminder-2h", "reminder", timedelta(hours=2))).text == \
        "X påminner: Hackdag sv"
    assert composed(own, REMINDER_1D).text == "X i morgon: Hackdag sv"
    assert composed(own, account="kansli").text == "Kansliet: Hackdag sv"
    assert composed(own, limits=MASTODON, account="masto").text.startswith("Hackdag sv\n\n")


def test_the_events_own_hashtags_come_first_and_reach_the_other_language():
    versions = {"sv": event(herald=Control(hashtags=("hackdag", "civictech"))), "en": event("en")}
    sv = composed(versions, hashtags=("civictech", "opendata"))
    en = composed(versions, lang="en", hashtags=("civictech", "opendata"))
    assert sv.text.endswith("\n\n#hackdag #civictech #opendata")
    assert en.text.endswith("\n\n#hackdag #civictech #opendata")


def test_the_events_own_text_is_never_used_for_a_correction_or_cancellation():
    from bot.changes import Announced, Cancellation, Details, cancellation_post

    own = event(herald=Control(texts=(("x", "", "X: {title}"),)))
    told = Announced(PostKey("hack", "announcement", "x", "sv"), "1", None, Details.of(own))
    text = cancellation_post(Cancellation(told, "removed"), {"sv": own}, X, templates={},
                             now=NOW).text
    assert text == "❌ Hackdag sv (onsdag 10 mars kl. 18:00) har ställts in."


# --- the commands -----------------------------------------------------------------------------

@pytest.fixture()
def site(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    shutil.copytree(DATES_SITE, tmp_path / "site")
    return tmp_path / "site"


def herald(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_preview_says_which_events_herald_leaves_alone_or_narrows(site):
    result = herald("preview", "--site", str(site), "--now", "2018-03-01T12:00+01:00")
    lines = result.output.splitlines()
    assert "herald: hackathon-1 goes only on mastodon, bluesky (_events/hackathon-1.md)" in lines
    assert not any(" · x · " in line and "hackathon-1" in line for line in lines)
    later = herald("preview", "--site", str(site), "--now", "2019-01-20T12:00+01:00")
    assert ("herald: hackathon-3 is turned off in its front matter (_events/hackathon-3.md): "
            "nothing is posted about it") in later.output.splitlines()
    assert "· hackathon-3 ·" not in later.output
    meetup = herald("preview", "--site", str(site), "--now", "2026-02-12T12:00+01:00")
    assert ("herald: 2026-02-open-knowledge-sweden-meetup-1 has its own text on x (sv) "
            "(_events/2026-02-open-knowledge-sweden-meetup-1.md)") in meetup.output.splitlines()


def test_announce_refuses_an_event_turned_off_in_its_front_matter(site):
    for name in ("hackathon-3.md", "hackathon-3-en.md"):
        path = site / "_events" / name
        path.write_text(path.read_text(encoding="utf-8").replace("2019-01-26", "2099-01-26"),
                        encoding="utf-8")
    result = herald("announce", "hackathon-3", "--site", str(site), "--dry-run")
    assert result.exit_code == 2
    assert "turned off in its front matter (herald: skip)" in result.output


def test_validate_explains_a_date_alone_once_per_event_and_checks_names_against_the_config(
        site):
    path = site / "_events" / "hackathon-1.md"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  hashtags: [hackathon, göteborg]\n",
        "  hashtags: [hackathon, göteborg]\n  accounts: [mastodn]\n  text:\n"
        "    blueksy: '{title}'\n    x:\n      remindr: '{title}'\n"), encoding="utf-8")
    result = herald("validate", "--site", str(site), "--now", "2018-03-01T12:00+01:00")
    lines = result.output.splitlines()
    assert ("  warning: _events/hackathon-1-en.md, _events/hackathon-1.md: event-date: no time "
            "of day (2018-03-10; a start at 00:00:00 counts as none): posts say the date "
            "alone; reminder-1d and reminder-2h go at 09:00 (date_only_time); write a time in "
            "event-date to change that") in lines
    assert ("  warning: _events/hackathon-1.md: herald.accounts: 'mastodn' is not an account of "
            "the config; did you mean 'mastodon'?; nothing goes on an account it does not "
            "name") in lines
    assert ("  warning: _events/hackathon-1.md: herald.text.blueksy: no platform or account is "
            "called 'blueksy'; did you mean 'bluesky'?; this text is never used") in lines
    assert ("  warning: _events/hackathon-1.md: herald.text.x.remindr: no stage or kind is "
            "called 'remindr'; did you mean 'reminder'?; this text is never used") in lines
    assert ("  warning: _events/hackathon-1.md: herald: its platforms and accounts leave none "
            "of the configured accounts; nothing is posted about it") in lines


def test_validate_finds_an_events_own_text_that_can_never_fit(site):
    path = site / "_events" / "2026-02-open-knowledge-sweden-meetup-1.md"
    path.write_text(path.read_text(encoding="utf-8").replace(
        '      announcement: "Kom', '      announcement: "' + "Kom och prata! " * 20 + 'Kom'),
        encoding="utf-8")
    result = herald("validate", "--site", str(site), "--now", "2026-02-12T12:00+01:00")
    assert result.exit_code == 2
    assert ("the announcement post cannot fit x (account x): " in result.output
            and "; shorten its herald.text" in result.output)


def test_validate_checks_the_fit_only_where_the_herald_block_lets_the_event_go(site):
    title = "Hackathon för civic tech-communitiet i Göteborg " * 7
    for name in ("hackathon-1.md", "hackathon-1-en.md"):
        path = site / "_events" / name
        path.write_text(path.read_text(encoding="utf-8").replace(
            "title: 'Hackathon #1'", f"title: '{title.strip()}'"), encoding="utf-8")
    path = site / "_events" / "hackathon-1.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("platforms: [mastodon, bluesky]", "platforms: [mastodon]"),
                    encoding="utf-8")
    quiet = herald("validate", "--site", str(site), "--now", "2018-03-01T12:00+01:00")
    assert "cannot fit" not in quiet.output and quiet.exit_code == 0, quiet.output
    path.write_text(text.replace("platforms: [mastodon, bluesky]", "platforms: [mastodon, x]"),
                    encoding="utf-8")
    loud = herald("validate", "--site", str(site), "--now", "2018-03-01T12:00+01:00")
    assert loud.exit_code == 2
    assert "cannot fit x (account x)" in loud.output and "bluesky" not in loud.output


def test_preview_json_carries_what_each_herald_block_asks_as_the_text_view_says_it(site):
    import json

    import jsonschema

    from tests.test_json_output import schema

    def blocks(now):
        result = herald("preview", "--site", str(site), "--now", now, "--json")
        document = json.loads(result.output)
        jsonschema.Draft202012Validator(schema("preview")).validate(document)
        return {b["ref"]: b for b in document["herald_blocks"]}

    early = blocks("2018-03-01T12:00+01:00")
    hackathon = early["hackathon-1"]
    assert hackathon["files"] == ["_events/hackathon-1.md"]
    assert (hackathon["skip"], hackathon["platforms"], hackathon["accounts"]) == \
        (False, ["mastodon", "bluesky"], None)
    assert hackathon["goes_on"] == ["mastodon", "bluesky"]
    assert hackathon["hashtags"] == ["hackathon", "göteborg"]
    assert hackathon["own_texts"] == []
    assert blocks("2019-01-20T12:00+01:00")["hackathon-3"]["skip"] is True
    meetup = blocks("2026-02-12T12:00+01:00")["2026-02-open-knowledge-sweden-meetup-1"]
    assert meetup["hashtags"] == ["openknowledge"]
    assert meetup["own_texts"] == [{"account": "x", "lang": "sv", "stages": ["announcement"]}]
    text = herald("preview", "--site", str(site), "--now", "2018-03-01T12:00+01:00").output
    assert ("herald: hackathon-1 adds its own hashtags #hackathon #göteborg "
            "(_events/hackathon-1.md)") in text.splitlines()
