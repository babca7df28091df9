import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "civictech"
EXAMPLE = ROOT / "config.example.toml"
MEETUP = "2026-02-open-knowledge-sweden-meetup-1"


def herald(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_preview_of_the_real_site_shows_the_february_meetup_in_both_languages_on_every_platform():
    result = herald("preview", "--site", str(FIXTURES), "--now", "2026-02-12T12:00+01:00",
                    "--json")
    assert result.exit_code == 0, result.output
    posts = [p for p in json.loads(result.output)["posts"] if p["ref"] == MEETUP]
    announced = {(p["platform"], p["lang"]) for p in posts if p["stage"] == "announcement"}
    assert announced == {(p, l) for p in ("mastodon", "x", "bluesky") for l in ("sv", "en")}
    for post in posts:
        assert post["fits"] and post["length"] <= post["limit"]
        assert "18:00" in post["text"]
    sv = next(p for p in posts if p["lang"] == "sv" and p["stage"] == "announcement")
    # the year is left out in February of the same year; the end comes from event-date-desc
    assert "🗓\ufe0f tisdag 24 februari kl. 18:00–20:00\n" in sv["text"]
    assert "📝 Anmälan: contact@okfn.se\n" in sv["text"]
    en = next(p for p in posts if p["lang"] == "en" and p["stage"] == "announcement")
    assert "🗓\ufe0f Tuesday 24 February, 18:00–20:00\n" in en["text"]
    assert "📝 Register: contact@okfn.se\n" in en["text"]
    reminder = next(p for p in posts if p["stage"] == "reminder-1d" and p["lang"] == "sv")
    assert reminder["due"] == "2026-02-23T18:00:00+01:00"


def test_preview_text_lists_posts_in_time_order_with_counts():
    result = herald("preview", "--config", str(EXAMPLE), "--now", "2027-01-01T09:00+01:00")
    assert result.exit_code == 0, result.output
    assert "Vårmöte: Civic Tech Stockholm #1" in result.output
    headers = [line for line in result.output.splitlines() if " · " in line and "/" in line
               and line[:4].isdigit()]
    assert headers and headers == sorted(headers, key=lambda h: h[:16])
    assert "/500" in result.output and "/280" in result.output and "/300" in result.output


def test_preview_can_be_narrowed_to_one_event_platform_and_language():
    result = herald("preview", "--site", str(FIXTURES), "--now", "2026-02-12T12:00+01:00",
                    "--event", MEETUP, "--platform", "x", "--lang", "en", "--json")
    posts = json.loads(result.output)["posts"]
    assert posts and {(p["ref"], p["platform"], p["lang"]) for p in posts} == {(MEETUP, "x", "en")}


def test_preview_shows_the_estimated_cost_of_posts_on_x():
    result = herald("preview", "--site", str(FIXTURES), "--now", "2026-02-12T12:00+01:00",
                    "--event", MEETUP, "--platform", "x")
    assert "cost: about $" in result.output


def test_an_unknown_event_ref_is_one_line():
    result = herald("preview", "--site", str(FIXTURES), "--event", "no-such-event")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: unknown event ref 'no-such-event'; `herald validate --refs` lists them"]


def test_an_event_ref_close_to_a_real_one_gets_a_suggestion():
    result = herald("preview", "--site", str(FIXTURES), "--event", MEETUP + "-en")
    assert result.exit_code == 2
    assert f"did you mean '{MEETUP}'" in result.output


def test_validate_lists_the_refs_on_request():
    result = herald("validate", "--site", str(FIXTURES), "--refs")
    assert f"event: {MEETUP}: 2026-02-24 18:00 CET (en, sv)" in result.output


def test_a_bad_now_is_one_line_naming_the_option():
    result = herald("preview", "--site", str(FIXTURES), "--now", "yesterday-ish")
    assert result.exit_code == 2
    assert "--now" in result.output and "ISO 8601" in result.output
    assert "Traceback" not in result.output


def test_a_missing_config_file_is_one_line(tmp_path):
    result = herald("preview", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 3
    assert result.output.strip() == f"Error: {tmp_path / 'nope.toml'}: config file not found"


def test_an_invalid_config_value_names_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\ntimezone = "Europe/Stockhlm"\n')
    result = herald("validate", "--config", str(bad))
    assert result.exit_code == 3
    assert "site.timezone" in result.output and "Europe/Stockhlm" in result.output


def test_validate_on_the_real_site_reports_warnings_and_exits_clean_unless_strict():
    result = herald("validate", "--site", str(FIXTURES), "--now", "2026-02-12T12:00+01:00")
    assert result.exit_code == 0, result.output
    assert ("warning: _events/2026-02-open-knowledge-sweden-meetup-1-en.md, "
            "_events/2026-02-open-knowledge-sweden-meetup-1.md: event-date: offset "
            "+02:00 differs from Europe/Stockholm (+01:00) on 2026-02-24") in result.output
    assert herald("validate", "--site", str(FIXTURES), "--strict").exit_code == 1


def test_validate_exits_2_when_a_file_cannot_be_read(tmp_path):
    events = tmp_path / "site" / "_events"
    events.mkdir(parents=True)
    (events / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    (events / "fine.md").write_text("---\ntitle: Fine\nevent-date: 2027-01-01 18:00:00 +01:00\n---\n")
    result = herald("validate", "--site", str(tmp_path / "site"), "--json")
    assert result.exit_code == 2
    report = json.loads(result.output)
    assert report["files"] == 1
    assert [p["file"] for p in report["problems"] if p["severity"] == "error"] == [
        "_events/broken.md"]


def test_validate_lists_drafts():
    result = herald("validate", "--config", str(EXAMPLE))
    assert "draft: _events/utkast-sommarfest-2027.md" in result.output


def test_preview_does_not_import_any_platform_sdk():
    code = ("import sys; from bot.cli import main\n"
            "try:\n main(['preview', '--config', sys.argv[1], '--now', '2027-01-01T09:00'])\n"
            "except SystemExit: pass\n"
            "bad = [m for m in ('atproto', 'atproto_client', 'tweepy', 'mastodon') if m in sys.modules]\n"
            "print('IMPORTED', bad)")
    out = subprocess.run([sys.executable, "-c", code, str(EXAMPLE)], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().endswith("IMPORTED []")


def test_python_dash_m_bot_is_the_same_command():
    out = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "Exit codes:" in out and "preview" in out


def test_preview_images_writes_the_exact_prepared_images(tmp_path):
    from PIL import Image

    folder = tmp_path / "out"
    result = herald("preview", "--config", str(EXAMPLE), "--now", "2027-01-01T09:00+01:00",
                    "--event", "varmote-2027", "--platform", "bluesky", "--lang", "sv",
                    "--images", str(folder), "--json")
    assert result.exit_code == 0, result.output
    posts = [p for p in json.loads(result.output)["posts"] if p["goes"]]
    first = posts[0]
    (written,) = first["written"]
    (media,) = first["media"]
    with Image.open(written) as image:
        assert image.size == (media["width"], media["height"])
        assert not image.getexif()
    assert Path(written).stat().st_size == media["bytes"] <= 2_000_000
    assert media["alt"].startswith("Färgglada cirklar")


def test_preview_shows_a_drawn_card_for_an_event_without_an_image():
    result = herald("preview", "--config", str(EXAMPLE), "--now", "2027-01-01T09:00+01:00",
                    "--event", "hackathon-2028", "--platform", "mastodon", "--lang", "sv")
    assert "image: drawn card → 1200x675 PNG" in result.output
    assert "alt: Kort med texten: Öppna data-hackathon 2028" in result.output


def test_post_with_an_image_in_a_dry_run_shows_the_prepared_image():
    image = ROOT / "content" / "_uploads" / "meetup-banner.jpg"
    result = herald("post", "Hej från Herald! https://civictech.se/", "--config", str(EXAMPLE),
                    "--image", str(image), "--alt", "Färgglada cirklar", "--account", "bluesky",
                    "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would post: bluesky sv manual" in result.output
    assert "image: 1600x900 image/jpeg" in result.output and "alt: Färgglada cirklar" in result.output


def test_post_with_an_image_but_no_alt_text_is_refused():
    image = ROOT / "content" / "_uploads" / "meetup-banner.jpg"
    result = herald("post", "Hej", "--config", str(EXAMPLE), "--image", str(image), "--dry-run")
    assert result.exit_code == 2 and "--image needs --alt" in result.output


def test_every_commented_option_in_the_example_config_is_valid_when_uncommented(tmp_path):
    import re

    from bot.config import load_config

    text = EXAMPLE.read_text(encoding="utf-8")
    opened = re.sub(r'^# (\[\[?[\w.]+\]\]?|[a-z_]+ = (?!""").*)$', r"\1", text,
                    flags=re.MULTILINE)
    assert opened.count("\n") == text.count("\n") and opened != text
    path = tmp_path / "all.toml"
    path.write_text(opened.replace('path = "content"', f'path = "{ROOT / "content"}"'),
                    encoding="utf-8")
    config = load_config(path)
    assert config.ledger is not None and config.secrets is not None
    assert config.account("x").options["daily_cap"] == 5
    assert config.stages[0].before is not None
    assert [d.name for d in config.digests] == ["weekly"]


def test_preview_says_so_when_every_event_has_started():
    result = herald("preview", "--site", str(FIXTURES), "--now", "2026-03-01T12:00+01:00")
    assert result.output.strip().splitlines()[-1] == (
        "0 planned posts (every event has started; the last one on 2026-02-24: "
        "use --now to look from an earlier time)")


def test_validate_warns_about_an_image_file_that_is_not_an_image(tmp_path):
    import shutil

    site = tmp_path / "site"
    shutil.copytree(ROOT / "content", site)
    (site / "_uploads" / "meetup-banner.jpg").write_text("not an image")
    result = herald("validate", "--site", str(site))
    assert ("warning: _events/2027-04-15-spring-meetup-civic-tech-en.md, "     # both versions
            "_events/2027-04-15-varmote-civic-tech.md: image: meetup-banner.jpg: not an "
            "image Herald can read") in result.output
    assert "a drawn card goes instead" in result.output


def test_preview_charges_xs_link_price_only_when_the_text_holds_a_link(tmp_path):
    """X's price list: Content: Create $0.015, with URL $0.200, Media Metadata $0.005."""
    config = tmp_path / "herald.toml"
    config.write_text(f'''
[site]
path = "{FIXTURES}"
[templates.announcement]
sv = "{{title}}"
en = "{{title}} {{link}}"
[accounts.x]
platform = "x"
languages = ["sv", "en"]
''', encoding="utf-8")
    result = herald("preview", "--config", str(config), "--now", "2026-02-12T12:00+01:00",
                    "--event", MEETUP, "--catch-up", "--images", str(tmp_path / "out"), "--json")
    posts = {p["lang"]: p for p in json.loads(result.output)["posts"]
             if p["stage"] == "announcement"}
    alt_texts = len(posts["sv"]["media"])               # one Media Metadata call per alt text
    assert posts["sv"]["link"] and "https://" not in posts["sv"]["text"]
    assert posts["sv"]["cost"] == pytest.approx(0.015 + 0.005 * alt_texts)
    assert posts["en"]["cost"] == pytest.approx(0.200 + 0.005 * alt_texts)


@pytest.mark.parametrize("text, reason", [
    ("å" * 300, None),                                                 # 300 graphemes, 600 bytes
    ("👩\u200d👩\u200d👧" * 200, "600 bytes over the 3000-byte limit"),  # 200 graphemes, 3600 bytes
    ("a" * 301, "1 character over the 300 limit"),
])
def test_post_checks_blueskys_graphemes_and_bytes_before_sending(text, reason):
    """app.bsky.feed.post: text maxGraphemes 300, maxLength 3000 (bytes)."""
    result = herald("post", text, "--config", str(EXAMPLE), "--account", "bluesky", "--dry-run")
    if reason is None:
        assert result.exit_code == 0 and "would post: bluesky" in result.output
    else:
        assert result.exit_code == 2, result.output             # Herald refuses it: too long
        assert f"the text does not fit bluesky: {reason}" in result.output
        assert "would post" not in result.output


def test_post_refuses_a_text_x_calls_invalid_before_sending():
    result = herald("post", "Välkomna\ufeff!", "--config", str(EXAMPLE), "--account", "x",
                    "--dry-run")
    assert result.exit_code == 2                                # Herald refuses it itself
    assert "holds U+FEFF, which X refuses in any post" in result.output
