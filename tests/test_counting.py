"""Posts are counted exactly as each platform counts them, checked against the platforms' own suites.

X: twitter-text's conformance suite (tests/data/twitter-text/validate.yml) and the twitter-text
package as an oracle over the real civictech.se texts. Mastodon: the cases of Mastodon's
`spec/validators/status_length_validator_spec.rb`. GoToSocial: its status validation, which
counts `len([]rune(status))`.
"""

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import yaml

from bot import app
from bot.config import load_config
from bot.content import load_site
from bot.counting import byte_length, fits, has_link, length, refusal
from bot.counting.twitter import weighted_length
from bot.model import Limits
from bot.service import Selection, preview

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "shared" / "fixtures" / "civictech"
CONFORMANCE = yaml.safe_load((HERE / "data" / "twitter-text" / "validate.yml")
                             .read_text(encoding="utf-8"))["tests"]

MASTODON = Limits("mastodon", 500, "mastodon", url_weight=23)
X = Limits("x", 280, "twitter", url_weight=23)
BLUESKY = Limits("bluesky", 300, "graphemes", max_bytes=3000)

EVENT_URL = "https://civictech.se/workshop-kring-remissvar-till-oppna-data-utredningen/"
FAMILY = "👩\u200d👩\u200d👧"  # one emoji made of three people joined by zero-width joiners
E_ACUTE = "e\u0301"  # 'e' followed by a combining acute accent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Civic Tech Sthlm #11", 20),
        ("Mer info: " + EVENT_URL, 10 + 23),
        ("https://x.se", 23),  # a short URL still counts as 23
        ("Läs mer: https://civictech.se/x.", 9 + 23 + 1),  # the final full stop is not the URL's
        ("(https://en.wikipedia.org/wiki/Civic_technology_(field))", 1 + 23 + 1),
        ("https://www.youtube.com/watch?v=nN6h4g1RESg&ab_channel=vinnovase", 23),
        ("https://app.element.io/#/room/#civictechse:matrix.org", 23),
        ("Bloggen http://localhost:3000/", 8 + 22),  # no top-level domain: not a URL
        ("hälsa på @okfse@mastodon.social", 9 + 6),  # a remote mention counts as @user
        ("hälsa på @okfse", 9 + 6),
        ("kontakt@okfn.se", 15),  # an e-mail address is neither a mention nor a URL
        (FAMILY, 1),
        (E_ACUTE + "vénement", 9),
        ("🇸🇪 Stockholm", 11),
    ],
)
def test_mastodon_counts_graphemes_with_every_url_as_23(text, expected):
    assert length(text, MASTODON) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Civic Tech Sthlm #11", 20),
        ("Mer info: " + EVENT_URL, 10 + 23),
        ("https://x.se", 23),
        ("Öppna data på svenska", 21),
        ("日本語", 6),  # CJK weighs 2
        ("📍 Goto 10", 2 + 8),  # an emoji weighs 2
        ("🗓\ufe0f fredag", 2 + 7),  # emoji with a presentation selector is still one emoji
        (FAMILY, 2),  # a joined emoji sequence is one emoji
        ("“The Two Money Problems”", 24),  # curly quotes weigh 1
    ],
)
def test_x_counts_weighted_length_with_urls_as_23(text, expected):
    assert length(text, X) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Civic Tech Sthlm #11", 20),
        ("Mer info: " + EVENT_URL, 10 + len(EVENT_URL)),  # Bluesky counts URLs in full
        (FAMILY, 1),
        (E_ACUTE, 1),
        ("🇸🇪", 1),
        ("日本語", 3),
        ("🗓\ufe0f", 1),
    ],
)
def test_bluesky_counts_graphemes(text, expected):
    assert length(text, BLUESKY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Hej", 3), ("åäö", 6), ("€", 3), ("📍", 4), (FAMILY, 18), (E_ACUTE, 3)],
)
def test_byte_length_is_utf8_bytes(text, expected):
    assert byte_length(text) == expected


def test_url_weight_is_read_from_the_limits():
    text = "Se " + EVENT_URL
    assert length(text, Limits("m", 500, "mastodon", url_weight=30)) == 3 + 30
    assert length(text, Limits("t", 280, "twitter", url_weight=30)) == 3 + 30


def test_bluesky_text_within_300_graphemes_can_still_be_over_3000_bytes():
    text = FAMILY * 200
    assert length(text, BLUESKY) == 200
    assert byte_length(text) == 3600
    assert not fits(text, BLUESKY)


def test_text_at_exactly_the_limit_fits():
    assert fits("a" * 280, X)
    assert not fits("a" * 281, X)


def test_an_unknown_counting_rule_is_reported_by_name():
    with pytest.raises(ValueError, match="'bytes'"):
        length("hej", Limits("odd", 100, "bytes"))  # type: ignore[arg-type]


# -- X: twitter-text's conformance suite and the twitter-text package as an oracle --------------

WEIGHTED_CASES = [pytest.param(case, id=case["description"])
                  for group in ("WeightedTweetsWithDiscountedEmojiCounterTest",
                                "UnicodeDirectionalMarkerCounterTest")
                  for case in CONFORMANCE[group]]


@pytest.mark.parametrize("case", WEIGHTED_CASES)
def test_x_counts_every_weighted_case_of_the_twitter_text_conformance_suite(case):
    assert length(case["text"], X) == case["expected"]["weightedLength"]
    assert fits(case["text"], X) is case["expected"]["valid"]


@pytest.mark.parametrize("text", ["Öppet hus\ufeff på Goto 10", "Meetup \ufffe", "Meetup \uffff"])
def test_a_text_twitter_text_calls_invalid_does_not_fit_x_whatever_its_length(text):
    assert length(text, X) < 280
    assert not fits(text, X)
    bad = next(c for c in text if c in "\ufffe\ufeff\uffff")
    assert refusal(text, X) == f"holds U+{ord(bad):04X}, which X refuses in any post"


def test_the_invalid_characters_fit_mastodon_and_bluesky_which_take_them():
    assert fits("Öppet hus\ufeff", MASTODON) and fits("Öppet hus\ufeff", BLUESKY)


def _real_texts():
    """Every text field of the real events, and every X post Herald composes from them."""
    config = load_config(None, site=FIXTURES)
    site = load_site(config.site)
    texts = set()
    for event in site.events:
        texts.update((event.title, event.excerpt, event.place, event.url,
                      f"{event.title} {event.url}"))
    for ref in site.refs():
        start = next(iter(site.versions(ref).values())).start
        texts.update(post.text for post in preview(
            site, config, now=start - timedelta(days=7),
            selection=Selection(event=ref, platform="x"),
            limits_for=lambda a: app.declared_limits(a, config)))
    return sorted(t for t in texts if t)


def test_x_counts_the_real_events_texts_exactly_as_twitter_text_does():
    from twitter_text import parse_tweet

    texts = _real_texts()
    assert len(texts) > 300
    differ = [(t, length(t, X), parse_tweet(t).weightedLength) for t in texts
              if length(t, X) != parse_tweet(t).weightedLength]
    assert differ == []


def test_x_counts_every_emoji_of_twitter_texts_list_as_twitter_text_does():
    import twitter_text
    from twitter_text import parse_tweet

    listed = Path(twitter_text.__file__).parent / "regexp" / "emoji-test.txt"
    emoji = ["".join(chr(int(code, 16)) for code in line.split(";")[0].split())
             for line in listed.read_text(encoding="utf-8").splitlines()
             if re.match(r"[0-9A-F]{4}", line)]
    assert len(emoji) > 3000
    differ = [e for e in emoji for text in (e, f"a{e}b", e + e, f"{e}\ufe0f")
              if length(text, X) != parse_tweet(text).weightedLength]
    assert differ == []


@pytest.mark.parametrize(("text", "links"), [
    ("Civic tech meetup tonight", False),
    ("Civic tech meetup tonight https://civictech.se/meetup/", True),
    ("Civic tech meetup tonight, see civictech.se", True),   # X links a bare domain too
    ("Bloggen http://localhost:3000/", False),              # no top-level domain: no link
    ("Klockan 18.30 på Goto 10", False),
])
def test_x_sees_a_link_where_twitter_text_extracts_a_url(text, links):
    from twitter_text import extract_urls

    assert has_link(text, X) is links is bool(extract_urls(text))


def test_counting_for_x_loads_neither_twitter_text_nor_pkg_resources():
    code = ("import sys; from bot.counting import length; from bot.model import Limits; "
            "length('Hej https://civictech.se 📍', Limits('x', 280, 'twitter', url_weight=23)); "
            "print(sorted(m for m in ('twitter_text', 'pkg_resources') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=HERE.parent)
    assert result.stdout.strip() == "[]"


# -- Mastodon: the cases of its StatusLengthValidator spec (limit 500) --------------------------

@pytest.mark.parametrize(("text", "fits_500"), [
    pytest.param("a" * 520, False, id="text over the character limit"),
    pytest.param("a" * 476 + " " + "http://" + "b" * 30 + ".com/example", True,
                 id="reduces calculated length of auto-linkable space-separated URLs"),
    pytest.param("a" * 476 + "http://" + "b" * 30 + ".com/example", False,
                 id="does not reduce calculated length of non-autolinkable URLs"),
    pytest.param("http://example.com/valid?" + "#foo?" * 1000, False,
                 id="does not reduce calculated length of overly long URLs"),
    pytest.param("a" * 475 + " @alice@" + "b" * 30 + ".com", True,
                 id="counts only the front part of remote usernames"),
    pytest.param("@alice@" + "b" * 500 + ".com", False,
                 id="does count both parts of remote usernames for overly long domains"),
    pytest.param("✨" * 500, True, id="counts multi byte emoji as single character"),
    pytest.param("🏳\ufe0f\u200d⚧\ufe0f" * 500, True,
                 id="counts ZWJ sequence emoji as single character"),
])
def test_mastodon_counts_every_case_of_its_status_length_validator_spec(text, fits_500):
    assert fits(text, MASTODON) is fits_500


def test_mastodon_links_a_url_of_exactly_4096_characters_and_counts_a_longer_one_in_full():
    url = "https://civictech.se/?q=" + "a" * (4096 - 24)
    assert len(url) == 4096
    assert length(url, MASTODON) == 23
    assert length(url + "b", MASTODON) == 4097


def test_mastodon_shortens_a_mention_of_a_253_character_domain_but_not_a_longer_one():
    domain = "b" * 249 + ".com"
    assert len(domain) == 253
    assert length(f"@alice@{domain}", MASTODON) == len("@alice")
    assert length(f"@alice@b{domain}", MASTODON) == len(f"@alice@b{domain}")


# -- GoToSocial and the servers Herald does not know ---------------------------------------------

GOTOSOCIAL = Limits("mastodon", 500, "codepoints", url_weight=23)
UNKNOWN = Limits("mastodon", 500, "strictest", url_weight=23)


@pytest.mark.parametrize(("text", "expected"), [
    ("Mer info: " + EVENT_URL, 10 + len(EVENT_URL)),    # the URL in full
    (FAMILY, 5),                                          # code points, not graphemes
    (E_ACUTE, 2),
    ("hälsa på @okfse@mastodon.social", 31),              # the whole mention
])
def test_gotosocial_counts_code_points_with_urls_in_full(text, expected):
    assert length(text, GOTOSOCIAL) == expected


def test_gotosocial_refuses_500_characters_that_mastodon_would_take():
    text = "a" * 476 + " " + EVENT_URL
    assert fits(text, MASTODON)
    assert not fits(text, GOTOSOCIAL)


@pytest.mark.parametrize("text", ["Se https://x.se", "Se " + EVENT_URL, FAMILY * 3,
                                  "hälsa på @okfse@mastodon.social"])
def test_an_unknown_server_is_counted_by_the_stricter_of_the_two_rules(text):
    assert length(text, UNKNOWN) == max(length(text, MASTODON), length(text, GOTOSOCIAL))


def _x_post(title: str, excerpt: str):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.composer import compose
    from bot.model import Event, PlannedPost, PostKey, Stage

    start = datetime(2026, 2, 12, 18, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    event = Event("meetup", "sv", title, start, "https://civictech.se/meetup/", "m.md",
                  excerpt=excerpt, place="Goto 10")
    stage = Stage("announcement", "announcement")
    planned = PlannedPost(PostKey("meetup", "announcement", "x", "sv"), start, start, stage)
    return compose(planned, {"sv": event}, X)


def test_an_excerpt_with_a_character_x_refuses_is_left_out_of_the_x_post():
    post = _x_post("Civic Tech-meetup", "Vi ses\ufeff på Goto 10 för att prata öppna data")
    assert post.fits and "\ufeff" not in post.text
    assert any("left out the excerpt" in w for w in post.warnings)


def test_a_title_with_a_character_x_refuses_makes_the_x_post_an_error_that_names_it():
    post = _x_post("\ufeffCivic Tech-meetup", "")
    assert not post.fits
    assert post.error == ("the post holds U+FEFF, which X refuses in any post, "
                          "even without excerpt and hashtags")


# --- graphemes, fast -------------------------------------------------------------------------

def test_every_character_counted_alone_is_a_grapheme_of_its_own_in_unicodes_tables():
    from grapheme.grapheme_property_group import GraphemePropertyGroup, get_group_ord
    from grapheme.incb_property_group import InCBPropertyGroup
    from grapheme.incb_property_group import get_group_ord as incb

    from bot.counting.graphemes import ALONE

    alone = re.compile(f"[{ALONE}]")
    found = [c for c in range(0x110000) if alone.match(chr(c))]
    assert len(found) > 1000
    for code in found:
        group = get_group_ord(code)
        assert group is GraphemePropertyGroup.OTHER or code == 0x0A, (hex(code), group)
        assert incb(code) is InCBPropertyGroup.OTHER, hex(code)


JOINERS = ["\u0301", "\u200d", "\ufe0f", "\U0001F1F8", "\U0001F1EA", "\U0001F3FD", "\r", "\n",
           "\u1100", "\u1161", "\u11a8", "\uac00", "\u0915", "\u094d", "\u0600", "\u0903",
           "\U0001F468", "\U0001F469", "\U0001F5D3", "\u00a9", "\u200b", "\u00ad", "\u0e33"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(["a", "ö", " ", ".", "—", "Ж", "\n", *JOINERS]), max_size=40)
       .map("".join))
def test_graphemes_are_counted_as_the_grapheme_package_counts_them(text):
    import grapheme

    from bot.counting.graphemes import length as fast

    assert fast(text) == grapheme.length(text)


@pytest.mark.parametrize("text", ["", "x", "\r\n", "🇸🇪🇸", "e\u0301e\u0301", "🗓\ufe0f lördag",
                                  "👨\u200d👩\u200d👧 familj", "\u0600a b", "a\u0903b"])
def test_graphemes_at_the_edges_of_a_text_are_counted_as_the_grapheme_package_counts_them(text):
    import grapheme

    from bot.counting.graphemes import length as fast

    assert fast(text) == grapheme.length(text)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(["a", "civictech", "se", "com", "co", "uk", "xn--p1ai", "-",
                                 ".", "1", "Se", "COM", "_", "é", "ж", "museum", "s", "app",
                                 "/x", " "]), min_size=1, max_size=10).map("".join))
def test_an_ascii_domain_without_protocol_is_one_piece_as_the_long_pattern_finds_it(text):
    from bot.counting import twitter

    for match in twitter._url_pattern().finditer(text):
        domain = match["domain"]
        if match["protocol"] is None and twitter._PLAIN_DOMAIN.fullmatch(domain):
            assert [m.span() for m in twitter._ascii_domain().finditer(domain)] == \
                [(0, len(domain))]
