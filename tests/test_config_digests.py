"""`[[digests]]` and `[templates.digest.LANG]` are checked when the config is loaded."""

import re
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import known_keys, parse_config
from bot.content import load_site
from bot.digest import compose_digest, current
from bot.errors import ConfigError
from bot.platforms.mastodon import LIMITS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "content"
WEEKLY = {"name": "weekly", "every": "monday 09:00"}


def config_error(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, base=SAMPLE)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def digest(**keys) -> dict:
    return {"digests": [{**WEEKLY, **keys}]}


def test_a_digest_needs_only_a_name_and_when_it_goes_out():
    config = parse_config({"digests": [WEEKLY]}, base=SAMPLE)
    (weekly,) = config.digests
    assert (weekly.name, str(weekly.every), weekly.window) == ("weekly", "monday 09:00", None)
    assert weekly.accounts == weekly.languages == ()
    assert weekly.texts["sv"].header == "Kommande evenemang {dates}"
    assert weekly.texts["en"].header == "Upcoming events {dates}"
    assert weekly.texts["sv"].empty is None


def test_the_config_has_no_digests_unless_it_asks_for_them():
    assert parse_config({}, base=SAMPLE).digests == ()


def test_a_digest_reads_its_window_accounts_languages_and_empty_text():
    config = parse_config(digest(window="7d", accounts=["x"], languages=["en"],
                                 empty="Nothing in week {week}."), base=SAMPLE)
    (weekly,) = config.digests
    assert weekly.window == timedelta(days=7)
    assert (weekly.accounts, weekly.languages) == (("x",), ("en",))
    assert list(weekly.texts) == ["en"] and weekly.texts["en"].empty == "Nothing in week {week}."


def test_the_empty_text_may_differ_per_language():
    config = parse_config(digest(empty={"sv": "Inget i veckan.", "en": "Nothing this week."}),
                          base=SAMPLE)
    texts = config.digests[0].texts
    assert (texts["sv"].empty, texts["en"].empty) == ("Inget i veckan.", "Nothing this week.")


def test_a_configured_digest_text_replaces_only_the_keys_it_sets():
    config = parse_config({**digest(), "templates": {
        "digest": {"en": {"header": "This week at Civic Tech ({count})"}},
        "announcement": {"en": "{title} {link}"}}}, base=SAMPLE)
    texts = config.digests[0].texts
    assert texts["en"].header == "This week at Civic Tech ({count})"
    assert texts["en"].line == texts["sv"].line == "• {when} – {title} {link}"
    assert config.templates == {"announcement": {"en": "{title} {link}"}}


@pytest.mark.parametrize("data, message", [
    ({"digests": {"name": "weekly"}}, "digests: expected [[digests]] tables"),
    ({"digests": []}, "digests: expected [[digests]] tables, got []"),
    ({"digests": ["weekly"]}, "digests[0]: expected a table, got 'weekly'"),
    ({"digests": [{"name": "weekly"}]}, "digests[0].every: missing; when the digest goes out"),
    ({"digests": [{"every": "monday 09:00"}]}, "digests[0].name: missing"),
    (digest(name="veckans evenemang"), "digests[0].name: a digest name may hold only letters"),
    ({"digests": [WEEKLY, {**WEEKLY, "every": "day 1 09:00"}]},
     "digests[1].name: 'weekly' is the name of another digest"),
    (digest(every="mondy 09:00"), "digests[0].every: 'mondy' is not a weekday (monday to "
                                  "sunday); did you mean 'monday'?"),
    (digest(every="day 31 09:00"), "digests[0].every: day 31: use a day from 1 to 28"),
    (digest(every="weekly"), "digests[0].every: expected a time such as \"monday 09:00\""),
    (digest(windw="7d"), "digests[0].windw: unknown key; did you mean 'window'?"),
    (digest(window="0d"), "digests[0].window: must be longer than 0 seconds"),
    (digest(window="400d"), "digests[0].window: '400d' is too long; at most 366 days"),
    (digest(window="a week"), "digests[0].window: expected a duration such as '2h' or '14d'"),
    (digest(accounts=["mastadon"]), "digests[0].accounts: 'mastadon' is not a configured "
                                    "account; did you mean 'mastodon'?"),
    (digest(accounts=[]), "digests[0].accounts: list at least one account"),
    (digest(languages=["de"]), "digests[0].languages: 'de' is not one of the site's languages"),
    (digest(empty={"de": "Nichts"}), "digests[0].empty.de: 'de' is not one of the site's"),
    (digest(empty=""), "digests[0].empty: expected a non-empty string"),
    (digest(empty=["x"]), "digests[0].empty: expected a text, or a table of lang = \"text\""),
    (digest(empty="Inget vecka {wek}"), "digests[0].empty: unknown template field {wek}"),
    ({**digest(), "templates": {"digest": {"sv": {"heder": "x"}}}},
     "templates.digest.sv.heder: unknown key; did you mean 'header'?"),
    ({"templates": {"digest": {"header": "x"}}},
     "templates.digest.header: the texts go in one table per language, such as "
     "[templates.digest.sv]"),
    ({"templates": {"digest": {"sv": {"line": "{title} {dates}"}}}},
     "templates.digest.sv.line: unknown template field {dates}"),
    ({"templates": {"digest": {"sv": {"line": ""}}}},
     "templates.digest.sv.line: expected a non-empty string"),
    ({"templates": {"digest": {"sv": {"header": "{title!r}"}}}},
     "templates.digest.sv.header: unknown template field {title!r}"),
    ({"templates": {"digest": "Kommande"}}, "templates.digest: expected tables such as "
                                            "[templates.digest.sv]"),
    ({"stages": [{"name": "digest"}]}, "stages[0].name: 'digest' names the digests' texts"),
    ({"site": {"languages": ["sv", "fi"]}, **digest()},
     "templates.digest.fi.header: missing; Herald has built-in digest texts in sv, en only"),
])
def test_a_bad_digest_key_is_one_line_naming_it(data, message):
    assert config_error(data).startswith(message)


def test_a_digest_whose_accounts_post_in_none_of_its_languages_is_refused():
    data = {"accounts": {"x": {"platform": "x", "languages": ["sv"]}},
            **digest(languages=["en"])}
    assert config_error(data) == "digests[0].languages: no account of this digest posts in en"


def test_a_language_without_built_in_texts_needs_only_its_header():
    data = {"site": {"languages": ["sv", "fi"]}, **digest(),
            "templates": {"digest": {"fi": {"header": "Tulevat tapahtumat {dates}"}}}}
    texts = parse_config(data, base=SAMPLE).digests[0].texts["fi"]
    assert texts.header == "Tulevat tapahtumat {dates}"
    assert (texts.line, texts.footer) == ("• {when} – {title} {link}", "{hashtags}")


def test_known_keys_lists_the_digest_keys():
    keys = known_keys()
    for key in ("digests[].every", "digests[].window", "digests[].empty",
                "templates.digest.<lang>.line"):
        assert key in keys


def test_validate_refuses_a_bad_digest_with_one_line_and_exit_code_3(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    path = tmp_path / "herald.toml"
    path.write_text(f'[site]\npath = "{SAMPLE}"\n\n[[digests]]\nname = "weekly"\n'
                    f'every = "friday 25:00"\n', encoding="utf-8")
    for command in ("validate", "preview", "status"):
        result = CliRunner().invoke(main, [command, "--config", str(path)])
        assert result.exit_code == 3, result.output
        assert result.output.strip() == (f"Error: {path}: digests[0].every: 25:00 is not a time "
                                         f"of day; use 00:00 to 23:59")


def test_the_documented_digest_example_is_valid_and_gives_the_post_it_shows():
    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = reference.split("\n## Digests\n", 1)[1].split("\n### ", 1)[0]
    toml, shown = re.findall(r"```(?:toml)?\n(.*?)```", section, re.DOTALL)[:2]
    fixtures = ROOT.parent / "shared" / "fixtures" / "civictech"
    data = {**tomllib.loads(toml), "site": {"path": str(fixtures), "hashtags": ["civictech"]}}
    config = parse_config(data, base=ROOT)
    (weekly,) = config.digests
    assert config.digests[0].texts["en"].header == "This week at Civic Tech ({dates})"
    site = load_site(config.site)
    week = current(weekly, datetime(2020, 11, 30, 9, tzinfo=config.site.timezone),
                   config.site.timezone)
    post = compose_digest(week, weekly, [site.versions(r) for r in site.refs()], "mastodon",
                          "sv", LIMITS, hashtags=config.site.hashtags)
    assert post.parts == (shown.rstrip("\n"),)
