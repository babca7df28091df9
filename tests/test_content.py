"""The content loader against the real civictech.se event files, and against broken copies."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import SiteConfig
from bot.content import load_site, parse_event
from bot.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "civictech"
HISTORY = FIXTURES / "events-history"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
MEETUP_2026 = "2026-02-open-knowledge-sweden-meetup-1"


@pytest.fixture(scope="module")
def civictech():
    return load_site(SiteConfig(root=FIXTURES))


def by_source(site, name):
    matches = [e for e in site.events + site.drafts if e.source == f"_events/{name}"]
    assert len(matches) == 1, name
    return matches[0]


def problems_for(site, name, severity=None):
    return [p for p in site.problems if p.source == f"_events/{name}"
            and (severity is None or p.severity == severity)]


def errors(site):
    return [p for p in site.problems if p.severity == "error"]


def history_file(name):
    return next(HISTORY.glob(f"*/{name}"))


def stockholm(*args):
    return datetime(*args, tzinfo=STOCKHOLM)


def event_text(title="Hackdag", date="2026-03-10 18:00:00 +01:00", extra=""):
    return f"---\ntitle: {title}\nref: hackdag\nevent-date: {date}\n{extra}---\nBody.\n"


def make_site(root: Path, files: dict[str, str | bytes], **options) -> SiteConfig:
    """Write a small site: the real meetup-6 pair and its image, plus `files` in _events/."""
    (root / "_events").mkdir(parents=True)
    (root / "_uploads").mkdir()
    for name in ("meetup-6.md", "meetup-6-en.md"):
        shutil.copyfile(FIXTURES / "_events" / name, root / "_events" / name)
    shutil.copyfile(FIXTURES / "_uploads" / "debian-cake-meetup-6.jpeg",
                    root / "_uploads" / "debian-cake-meetup-6.jpeg")
    for name, content in files.items():
        path = root / "_events" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return SiteConfig(root=root, **options)


def parse(text, name="hackdag.md", **options):
    return parse_event(text, f"_events/{name}", SiteConfig(root=FIXTURES, **options))


# --- the real site -------------------------------------------------------------------------------

def test_every_real_event_file_is_loaded_or_reported(civictech):
    files = sorted((FIXTURES / "_events").glob("*.md"))
    failed = {p.source for p in errors(civictech)}
    assert len(files) == 74
    assert len(civictech.events) + len(civictech.drafts) + len(failed) == 74


def test_the_real_site_has_no_errors_under_the_default_policy(civictech):
    assert errors(civictech) == []


def test_events_are_sorted_by_start_then_ref_then_language(civictech):
    keys = [(e.start, e.ref, e.lang) for e in civictech.events]
    assert keys == sorted(keys)
    assert civictech.refs()[0] == "hackathon-1"
    assert civictech.refs()[-1] == MEETUP_2026


def test_every_published_ref_has_at_most_one_version_per_language(civictech):
    pairs = [(e.ref, e.lang) for e in civictech.events]
    assert len(pairs) == len(set(pairs))


def test_a_winter_event_written_with_a_summer_offset_starts_at_the_written_clock_time(civictech):
    versions = civictech.versions(MEETUP_2026)
    assert set(versions) == {"sv", "en"}
    for event in versions.values():
        assert event.start == stockholm(2026, 2, 24, 18, 0)
        assert event.start.utcoffset() == timedelta(hours=1)
        assert event.start.strftime("%H:%M") == "18:00"


def test_the_wrong_offset_warning_names_the_file_and_both_readings(civictech):
    for name in (f"{MEETUP_2026}.md", f"{MEETUP_2026}-en.md"):
        [warning] = [p for p in problems_for(civictech, name) if p.field == "event-date"]
        assert warning.severity == "warning"
        assert str(warning) == (
            f"warning: _events/{name}: event-date: offset +02:00 differs from Europe/Stockholm "
            "(+01:00) on 2026-02-24; using the clock time 18:00 (by the offset it would be 17:00)")


def test_offset_policy_trusts_the_written_offset_and_still_warns():
    site = load_site(SiteConfig(root=FIXTURES, offset_policy="offset"))
    for event in site.versions(MEETUP_2026).values():
        assert event.start == stockholm(2026, 2, 24, 17, 0)
    [warning] = [p for p in problems_for(site, f"{MEETUP_2026}.md") if p.field == "event-date"]
    assert warning.severity == "warning"
    assert "using the offset: 17:00 (the clock time says 18:00)" in warning.message


def test_refuse_policy_skips_a_file_with_a_wrong_offset_and_keeps_the_rest():
    site = load_site(SiteConfig(root=FIXTURES, offset_policy="refuse"))
    refused = {p.source for p in errors(site)}
    assert f"_events/{MEETUP_2026}.md" in refused
    assert site.versions(MEETUP_2026) == {}
    assert all(p.field == "event-date" for p in errors(site))
    assert len(site.events) + len(site.drafts) + len(refused) == 74
    assert set(site.versions("meetup-11")) == {"sv", "en"}  # a correct winter offset


def test_a_date_with_a_colon_offset_keeps_its_time(civictech):
    assert by_source(civictech, "meetup-11.md").start == stockholm(2019, 11, 22, 16, 0)


def test_a_date_written_as_text_with_a_compact_offset_is_read(civictech):
    event = by_source(civictech, "civic-tech-meets-govtech.md")
    assert event.start == stockholm(2020, 12, 1, 13, 0, 40)
    assert event.start.tzinfo == STOCKHOLM


def test_files_sharing_the_refs_sv_and_en_are_paired_by_date_and_image(civictech):
    demodag = civictech.versions("civic-tech-demodag")
    assert {lang: e.source for lang, e in demodag.items()} == {
        "sv": "_events/civic-tech-demodag.md", "en": "_events/civic-tech-demodag-en.md"}
    forum = civictech.versions("valkommen-till-vart-forum")
    assert forum["en"].title == "Do you wanna join?"
    assert forum["sv"].title == "Vill du vara med?"


def test_files_sharing_a_ref_get_distinct_refs_and_no_event_keeps_sv_or_en(civictech):
    shared = [e for e in civictech.events
              if e.source.removeprefix("_events/") in {
                  "civic-tech-demodag.md", "civic-tech-demodag-en.md",
                  "civic-tech-lab-climate-assemblies-1.md", "civic-tech-lab-climate-assemblies.md",
                  "gemensamt-remissvar-kring-nya-eu-regler-for-ai.md",
                  "gemensamt-remissvar-kring-nya-eu-regler-for-ai-eng.md",
                  "valkommen-till-vart-forum.md", "welcome-to-our-forum.md"}]
    assert len(shared) == 8
    assert len({e.ref for e in shared}) == 4
    assert {"sv", "en"}.isdisjoint(civictech.refs())
    for ref in {e.ref for e in shared}:
        assert set(civictech.versions(ref)) == {"sv", "en"}


def test_a_shared_ref_warning_says_which_ref_was_used(civictech):
    [warning] = [p for p in problems_for(civictech, "civic-tech-demodag-en.md") if p.field == "ref"]
    assert warning.severity == "warning"
    assert "ref 'en' is used by 4 en files" in warning.message
    assert "civic-tech-demodag.md" in warning.message
    assert warning.message.endswith("using ref 'civic-tech-demodag'")


def test_event_without_lang_gets_the_site_default(civictech):
    assert by_source(civictech, "meetup-6.md").lang == "sv"
    assert by_source(civictech, "meetup-6-en.md").lang == "en"
    assert [p.field for p in problems_for(civictech, "meetup-6.md")] == ["image-alt"]


def test_an_image_under_uploads_resolves_to_the_file(civictech):
    event = by_source(civictech, "meetup-6.md")
    assert event.image == FIXTURES.resolve() / "_uploads" / "debian-cake-meetup-6.jpeg"


def test_a_missing_image_file_is_a_warning_and_the_event_posts_without_image(civictech):
    event = by_source(civictech, "civic-tech-demodag.md")
    assert event.image is None
    [problem] = [p for p in problems_for(civictech, "civic-tech-demodag.md") if p.field == "image"]
    assert str(problem) == ("warning: _events/civic-tech-demodag.md: image: image file "
                            "_uploads/folk.jpg not found; the post goes without this image")


def test_an_empty_image_means_no_image_and_no_complaint(civictech):
    event = by_source(civictech, "meetup-4.md")
    assert event.image is None
    assert problems_for(civictech, "meetup-4.md") == []


def test_a_missing_place_is_empty_text(civictech):
    assert by_source(civictech, "valkommen-till-vart-forum.md").place == ""


def test_titles_keep_hashes_dashes_and_accents(civictech):
    assert by_source(civictech, "meetup-13.md").title == (
        "Civic Tech Sthlm #11 – Vilken framtid har öppna data i Sverige?")
    assert by_source(civictech, f"{MEETUP_2026}.md").title == "Open Knowledge Sweden Meetup 2026 #1"


def test_the_excerpt_has_its_whitespace_normalised(civictech):
    event = by_source(civictech, "civic-tech-lab-climate-assemblies.md")
    assert event.excerpt.startswith(
        "Welcome to our 2-part lab about climate assemblies! Climate assemblies is a method")
    assert "  " not in event.excerpt and not event.excerpt.endswith(" ")


def test_the_default_url_is_the_file_name_under_the_site(civictech):
    assert by_source(civictech, "meetup-6-en.md").url == "https://civictech.se/meetup-6-en/"


def test_a_file_permalink_wins_over_the_site_pattern(civictech):
    assert by_source(civictech, "hackathon-1-en.md").url == "https://civictech.se/en/hackathon-1/"
    assert by_source(civictech, "hackathon-1.md").url == "https://civictech.se/hackathon-1/"


def test_the_permalink_pattern_fills_in_every_placeholder():
    pattern = "/:collection/:year/:month/:day/:lang/:ref/:slug/:title/"
    site = load_site(SiteConfig(root=FIXTURES, permalink=pattern, url="https://example.org/"))
    assert by_source(site, "meetup-6-en.md").url == (
        "https://example.org/events/2019/08/16/en/meetup-6/meetup-6-en/meetup-6-en/")


def test_problems_come_in_file_order(civictech):
    names = sorted(p.name for p in (FIXTURES / "_events").glob("*.md"))
    positions = [names.index(p.source.removeprefix("_events/")) for p in civictech.problems]
    assert positions == sorted(positions)


# --- the historical files ------------------------------------------------------------------------

def test_the_historical_govtech_day_file_is_a_draft():
    path = history_file("govtech-day-2020.md")
    event, problems = parse(path.read_text(encoding="utf-8"), path.name)
    assert event.published is False
    assert event.title == "GovTech Day 2020"
    assert [p.field for p in problems] == ["image-alt"]


def test_a_draft_goes_to_drafts_and_not_to_the_published_versions(tmp_path):
    draft = history_file("govtech-day-2020.md").read_text(encoding="utf-8")
    site = load_site(make_site(tmp_path, {"govtech-day-2020.md": draft}))
    assert [e.source for e in site.drafts] == ["_events/govtech-day-2020.md"]
    assert site.versions("govtechday2020") == {}
    assert "govtechday2020" not in site.refs()


def test_a_date_prefix_in_the_file_name_is_left_out_of_the_url():
    path = history_file("2025-10-23-open-knowledge-meetup-1-en.md")
    event, _ = parse(path.read_text(encoding="utf-8"), path.name)
    assert event.url == "https://civictech.se/open-knowledge-meetup-1-en/"


def test_an_unquoted_hash_in_a_title_is_pointed_out():
    path = history_file("2025-10-23-open-knowledge-meetup-1-en.md")
    event, problems = parse(path.read_text(encoding="utf-8"), path.name)
    assert event.title == "Open Knowledge Sweden Meetup"
    [warning] = [p for p in problems if p.field == "title"]
    assert warning.severity == "warning"
    assert "'Open Knowledge Sweden Meetup #1'" in warning.message


# --- single files --------------------------------------------------------------------------------

def test_a_time_without_offset_is_site_clock_time():
    event, problems = parse(event_text(date="2026-03-10 18:00:00"))
    assert event.start == stockholm(2026, 3, 10, 18, 0)
    assert problems == []


def test_a_date_without_time_is_a_date_only_event_starting_at_midnight():
    event, problems = parse(event_text(date="2026-03-10"))
    assert event.start == stockholm(2026, 3, 10, 0, 0) and event.date_only
    assert problems == []           # `herald validate` explains what it assumed


@pytest.mark.parametrize("written", ["2021-02-19 00:00:00 +0100", "2021-02-19 00:00",
                                     "2021-02-19T00:00:00Z", "2021-02-19 00:00:00 +02:00"])
def test_a_start_written_at_midnight_is_a_date_alone_whatever_its_offset(written):
    event, problems = parse(event_text(date=written))
    assert event.date_only and event.start == stockholm(2021, 2, 19, 0, 0)
    assert problems == []


@pytest.mark.parametrize("written", ["2021-02-19 00:00:01 +0100", "2021-02-19 00:30:00 +0100",
                                     "2021-02-19 09:00:00 +0100"])
def test_a_start_with_any_other_time_has_a_time_of_day(written):
    event, _ = parse(event_text(date=written))
    assert not event.date_only


def test_a_correct_offset_in_the_repeated_autumn_hour_picks_the_second_one():
    event, problems = parse(event_text(date="2025-10-26 02:30:00 +01:00"))
    assert event.start.utcoffset() == timedelta(hours=1)
    assert event.start.astimezone(ZoneInfo("UTC")).hour == 1
    assert problems == []


def test_a_clock_time_skipped_in_spring_moves_forward_with_a_warning():
    event, problems = parse(event_text(date="2026-03-29 02:30:00"))
    assert event.start == stockholm(2026, 3, 29, 3, 30)
    assert "02:30 does not exist in Europe/Stockholm" in problems[0].message


def test_an_event_without_lang_gets_whichever_default_the_site_sets():
    event, _ = parse(event_text(), default_lang="en")
    assert event.lang == "en"


def test_a_missing_ref_uses_the_file_name_with_a_warning():
    event, problems = parse("---\ntitle: Fika\nevent-date: 2026-03-10 15:00:00\n---\n",
                            "2026-03-10-fika.md")
    assert event.ref == "fika"
    assert [(p.field, p.severity) for p in problems] == [("ref", "warning")]
    assert "'fika'" in problems[0].message


def test_titles_keep_emoji_and_curly_quotes_and_lose_surrounding_spaces():
    event, _ = parse(event_text(title="'  Hackdag 🎉 “öppen” #3  '"))
    assert event.title == "Hackdag 🎉 “öppen” #3"


def test_the_excerpt_loses_html_tags_and_markdown_link_syntax():
    extra = ("excerpt: 'Kom till <b>Goto 10</b>, läs [mer här](https://example.org/a)"
             " &amp; fika.<br>Välkommen!'\n")
    event, _ = parse(event_text(extra=extra))
    assert event.excerpt == "Kom till Goto 10, läs mer här & fika. Välkommen!"


def test_the_excerpt_falls_back_to_the_ingress_text():
    event, _ = parse(event_text(extra="ingress-text: Vi ses!\n"))
    assert event.excerpt == "Vi ses!"


def test_image_alt_is_read_from_either_spelling():
    dash, _ = parse(event_text(extra="image-alt: En tårta\n"))
    underscore, _ = parse(event_text(extra="image_alt: En tårta\n"))
    assert dash.image_alt == underscore.image_alt == "En tårta"


def test_an_image_path_relative_to_the_site_root_is_accepted():
    event, problems = parse(event_text(extra="image: _uploads/good-tech-hack.jpg\n"
                                             "image-alt: Hackare vid bord\n"))
    assert event.image == FIXTURES.resolve() / "_uploads" / "good-tech-hack.jpg"
    assert problems == []


def test_an_image_on_another_site_is_a_warning():
    event, problems = parse(event_text(extra="image: https://example.org/cake.jpg\n"))
    assert event.image is None
    assert [(p.field, p.severity) for p in problems] == [("image", "warning")]
    assert "the post goes without this image" in problems[0].message


def test_a_file_with_a_permalink_and_placeholders_expands_them():
    event, _ = parse(event_text(extra="lang: en\npermalink: /:lang/:title/\n"))
    assert event.url == "https://civictech.se/en/hackdag/"


# --- broken files in a site ----------------------------------------------------------------------

BROKEN = {
    "bad YAML": ('---\ntitle: "Hackdag\nevent-date: 2026-03-10 18:00:00\n---\n',
                 "front matter", "invalid YAML", False),
    "missing title": ("---\nref: x\nevent-date: 2026-03-10 18:00:00 +01:00\n---\n",
                      "title", "missing", False),
    "unparseable date": (event_text(date="next tuesday"), "event-date", "'next tuesday'", False),
    "list front matter": ("---\n- a\n- b\n---\n", "front matter", "got a list", False),
    "image outside the site": (event_text(extra="image: ../../etc/passwd\n"), "image",
                               "../../etc/passwd is outside the site folder", True),
    "image escaping uploads": (event_text(extra='image: "/uploads/../../../etc/passwd"\n'), "image",
                               "is outside the site folder", True),
}


@pytest.mark.parametrize("text, field, words, loads", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_file_gives_one_error_and_the_others_still_load(tmp_path, text, field, words,
                                                                 loads):
    site = load_site(make_site(tmp_path, {"broken.md": text}))
    [error] = errors(site)
    assert (error.source, error.field) == ("_events/broken.md", field)
    assert words in error.message
    assert str(error).startswith(f"error: _events/broken.md: {field}: ")
    assert set(site.versions("meetup-6")) == {"sv", "en"}
    loaded = [e for e in site.events if e.source == "_events/broken.md"]
    assert len(loaded) == (1 if loads else 0)
    if loads:
        assert loaded[0].image is None


def test_an_absolute_image_path_outside_the_site_is_an_error(tmp_path):
    secret = tmp_path / "elsewhere" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(b"not for posting")
    text = event_text(extra=f"image: {secret}\n")
    site = load_site(make_site(tmp_path / "site", {"hackdag.md": text}))
    [error] = errors(site)
    assert (error.source, error.field) == ("_events/hackdag.md", "image")
    assert site.versions("hackdag")["sv"].image is None
    assert set(site.versions("meetup-6")) == {"sv", "en"}


def test_an_image_symlink_pointing_outside_the_site_is_an_error(tmp_path):
    secret = tmp_path / "elsewhere" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(b"not for posting")
    config = make_site(tmp_path / "site", {
        "hackdag.md": event_text(extra='image: "/uploads/link.jpg"\n')})
    (tmp_path / "site" / "_uploads" / "link.jpg").symlink_to(secret)
    site = load_site(config)
    [error] = errors(site)
    assert (error.source, error.field) == ("_events/hackdag.md", "image")
    assert "/uploads/link.jpg is outside the site folder" in error.message
    assert site.versions("hackdag")["sv"].image is None


def test_a_file_that_is_not_utf8_is_one_error(tmp_path):
    text = event_text(title="Caf\xe9").encode("latin-1")
    site = load_site(make_site(tmp_path, {"latin1.md": text}))
    [error] = errors(site)
    assert error.source == "_events/latin1.md"
    assert "not UTF-8" in error.message
    assert set(site.versions("meetup-6")) == {"sv", "en"}


def test_a_shared_ref_whose_file_name_is_taken_gets_a_numbered_ref(tmp_path):
    day = "event-date: 2026-05-01 10:00:00 +02:00\n"
    site = load_site(make_site(tmp_path, {
        "party.md": f"---\ntitle: Fest\nlang: sv\nref: sv\n{day}---\n",
        "party-en.md": f"---\ntitle: Party\nlang: en\nref: en\n{day}---\n",
        "picnic.md": "---\ntitle: Picknick\nref: sv\nevent-date: 2026-06-01 12:00:00\n---\n",
        "zoo.md": "---\ntitle: Zoo\nref: party\nevent-date: 2026-07-01 12:00:00\n---\n",
        "lunch.md": "---\ntitle: Lunch\nlang: en\nref: en\nevent-date: 2026-08-01 12:00\n---\n",
    }))
    assert {lang: e.title for lang, e in site.versions("party-2").items()} == {
        "sv": "Fest", "en": "Party"}
    assert site.versions("party")["sv"].title == "Zoo"
    assert site.versions("picnic")["sv"].title == "Picknick"
    assert site.versions("lunch")["en"].title == "Lunch"
    [lone] = [p for p in site.problems if p.source == "_events/picnic.md"]
    assert "no other language version has the same date and image" in lone.message


def test_a_site_without_an_events_folder_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_site(SiteConfig(root=tmp_path))
    assert str(raised.value) == f"site.events_dir: _events/ not found in the site folder {tmp_path}"
    assert raised.value.exit_code == 3


def test_an_image_without_alt_text_is_a_warning_and_alt_text_is_read_when_given(civictech):
    (warning,) = problems_for(civictech, "meetup-6.md")
    assert warning.field == "image-alt" and warning.severity == "warning"
    event, problems = parse(event_text(extra="image: _uploads/good-tech-hack.jpg\n"
                                             "image_alt: Tårta med Debians logga\n"))
    assert event.image_alt == "Tårta med Debians logga" and problems == []


def test_a_language_the_site_does_not_have_is_an_error_and_the_event_is_left_out():
    event, problems = parse(event_text(extra="lang: se\n"))
    assert event is None
    (problem,) = problems
    assert (problem.field, problem.severity) == ("lang", "error")
    assert "'se' is not one of the site's languages (sv, en)" in problem.message


def test_a_language_in_capitals_is_read_in_lower_case():
    event, problems = parse(event_text(extra="lang: SV\n"))
    assert event.lang == "sv" and problems == []
