"""The bound `herald validate` trusts instead of composing is never below a post's exact length.

`bot.content.checks` lets a post pass without composing it when an upper bound of its length
(without excerpt and hashtags) fits the platform. A bound below the exact length would let a
post pass that every run then fails to send, so every shape of every template is held against
the exact count, under every counting rule, over the real civictech.se events and over
generated texts full of the characters that count oddly: ones NFC turns into three, CJK and
emoji, refused characters, dots that may start a web address, links X takes partly or not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.composer import event_fields
from bot.templates import DATE_ONLY_TEMPLATES, DEFAULT_TEMPLATES, parse_template, render_template
from bot.config import DEFAULT_STAGES, parse_config
from bot.content import load_site
from bot.content.checks import _Bound, _shape
from bot.counting import byte_length, length, refused
from bot.model import Event, Limits

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "civictech"
ZONE = ZoneInfo("Europe/Stockholm")
START = datetime(2026, 9, 23, 18, 30, tzinfo=ZONE)

RULES = [Limits("x", 280, "twitter", url_weight=23),
         Limits("mastodon", 500, "mastodon", url_weight=23),
         Limits("gotosocial", 500, "codepoints", url_weight=23),
         Limits("unknown", 500, "strictest", url_weight=23),
         Limits("bluesky", 300, "graphemes", max_bytes=3000)]
"""Every counting rule Herald knows, each at its platform's limit."""

ODD_TEMPLATES = [
    "{title} civictech.{place}\n{link}",          # a dot that meets the field after it
    "({link}) {title}",                            # a link against punctuation
    "{title}{link}\n{signup}.",                     # a link against another field
    "Läs mer på{link} och {signup}",
    "{place}.{title}\n\n{when_desc}\n{link}",
    "⏰ {title}\n🗓\ufe0f {relative} {time}\n{date}\n{link}",
]
"""Templates a site may configure that put fields where they meet other characters."""


def _templates() -> list[str]:
    builtin = [text for source in (DEFAULT_TEMPLATES, DATE_ONLY_TEMPLATES)
               for texts in source.values() for text in texts.values()]
    return builtin + ODD_TEMPLATES


def _exact(event: Event, template: str, limits: Limits, due: datetime) -> tuple[int, int]:
    """The length and bytes of the post as the composer renders it without excerpt and tags."""
    values = {**event_fields(event, event.lang, due), "excerpt": "", "hashtags": ""}
    text = render_template(parse_template(template), values)
    return length(text, limits), byte_length(text)


def _assert_bounded(event: Event, due: datetime) -> None:
    for template in _templates():
        for limits in RULES:
            upper = _Bound([limits], [_shape(template)]).upper(event)
            values = {**event_fields(event, event.lang, due), "excerpt": "", "hashtags": ""}
            text = render_template(parse_template(template), values)
            if refused(text, limits):
                assert upper is None, (template, limits.counting, text)
                continue
            if upper is None:       # a refused character the composer's fields left out
                continue
            (weight, size), = upper
            exact, exact_bytes = _exact(event, template, limits, due)
            assert weight >= exact, (template, limits.counting, text)
            assert size >= exact_bytes, (template, limits.counting, text)


def _real_events() -> list[Event]:
    config = parse_config({"site": {"path": str(FIXTURES)}}, base=ROOT)
    loaded = load_site(config.site)
    return list(loaded.events + loaded.drafts)


REAL = _real_events()


@pytest.mark.parametrize("event", REAL, ids=[e.source for e in REAL])
def test_the_bound_is_never_below_the_exact_length_of_a_real_events_post(event):
    for stage in DEFAULT_STAGES:
        _assert_bounded(event, event.start - (stage.before or timedelta(0)))


PIECES = st.sampled_from([
    "Hackdag", " ", "\n", "a.se", "civictech", ".", "se", "https://civictech.se/x",
    "https://civictech.se/a)b", "http://t.co/abc", "www.example.org", "1.2.3.4", "@a@b.se",
    "🎉", "👨\u200d👩\u200d👧", "🇸🇪", "1\ufe0f\u20e3", "©", "©\ufe0f", "漢字", "öppna", "ÅÄÖ",
    "\U0001d160", "\U0001d15e", "\u0958", "\ufb1d", "\u2adc", "\u1100\u1161", "e\u0301",
    "\u0301", "\u0915\u093c", "—", "…", "#civictech", "x" * 40, "\u00a0", "\u3000",
])
TEXTS = st.lists(PIECES, max_size=30).map("".join)
LINKS = st.one_of(TEXTS, st.sampled_from([
    "https://civictech.se/hackdag-2027/", "https://civictech.se/%C3%A5rsm%C3%B6te/",
    "https://civictech.se/en/hack-day/?utm=x", "civictech.se/x", "https://a.se/x)y",
    "https://xn--rksmrgs-5wao1o.se/", "mailto:info@civictech.se", "info@civictech.se",
    "https://" + "a" * 300 + ".se/",
]))


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(title=TEXTS, place=TEXTS, link=LINKS, signup=LINKS, when_desc=TEXTS,
       lang=st.sampled_from(["sv", "en"]), date_only=st.booleans(),
       ahead=st.sampled_from([timedelta(0), timedelta(hours=2), timedelta(days=1),
                              timedelta(days=60)]))
def test_the_bound_is_never_below_the_exact_length_of_generated_texts(
        title, place, link, signup, when_desc, lang, date_only, ahead):
    event = Event(ref="x", lang=lang, title=title, start=START, url=link, source="_events/x.md",
                  place=place, signup=signup, when_desc=when_desc, date_only=date_only)
    _assert_bounded(event, START - ahead)


def test_a_link_x_takes_whole_weighs_23_where_the_template_sets_it_apart():
    x = RULES[0]
    event = Event(ref="x", lang="sv", title="Hackdag", start=START, source="_events/x.md",
                  url="https://civictech.se/" + "hackdag-" * 10)
    apart = _Bound([x], [_shape("{title}\n{link}")]).upper(event)
    against = _Bound([x], [_shape("{title}\n({link})")]).upper(event)
    assert apart[0][0] == len("Hackdag\n") + 23
    assert against[0][0] > len("Hackdag\n()") + len(event.url)    # counted both ways


def _validate(tmp_path, title: str) -> tuple[int, str]:
    events = tmp_path / "site" / "_events"
    events.mkdir(parents=True, exist_ok=True)
    (events / "hackdag.md").write_text(
        f'---\ntitle: "{title}"\nref: hackdag\nlang: en\n'
        f"event-date: 2027-03-01 18:00:00 +01:00\n---\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--site", str(tmp_path / "site"), "--now",
                                       "2027-01-01T09:00+01:00"],
                                env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    return result.exit_code, result.output


def test_validate_reports_a_title_that_x_normalization_makes_three_times_longer(tmp_path):
    # U+1D160 is one character; X counts it after NFC as three, each weighing 2.
    code, output = _validate(tmp_path, "\U0001d160" * 50)
    assert code == 2, output
    assert "cannot fit x (account x): " in output and "over the 280 limit" in output


def test_validate_reports_a_title_holding_a_character_x_refuses(tmp_path):
    code, output = _validate(tmp_path, "Hackdag \\ufeff 2027")
    assert code == 2, output
    assert "cannot fit x (account x): the post holds U+FEFF, which X refuses" in output


def test_every_character_counts_at_least_what_x_counts_for_it_after_normalizing():
    from bot.content.checks import _weight

    for code in list(range(0x80, 0x3400)) + list(range(0x1D100, 0x1D250)) + [
            0xFB1D, 0xFEFF, 0x1F600, 0x1F1F8]:
        char = chr(code)
        assert _weight(char, 23) >= length(char, RULES[0]), hex(code)
