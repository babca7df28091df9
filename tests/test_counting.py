"""Posts are counted exactly as each platform counts them."""

import pytest

from bot.counting import byte_length, fits, length
from bot.model import Limits

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
