"""Composing through the composer's memo and the counters' shortcuts gives exactly the posts,
counts and JSON that composing everything anew gives, on real and synthetic sites."""

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from bench.synthetic_site import build_site
from bot import app, templates
from bot.cli.showing_json import indented, item_json, item_text
from bot.config import load_config
from bot.content import load_site
from bot.counting import graphemes, length, twitter
from bot.service import forecast
from bot.survey import survey

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "shared" / "fixtures" / "civictech"
DATES_SITE = HERE / "data" / "dates-site"


def every_item(site_folder, now: str) -> tuple[list, object]:
    """Every post preview shows for the site from `now` on a new ledger, skipped ones too."""
    config = load_config(None, site=site_folder)
    site = load_site(config.site)
    at = datetime.fromisoformat(now).astimezone(config.site.timezone)
    found = survey(config, site, (), now=at, seen={ref: at for ref in site.refs()})
    return list(forecast(site, config, found, now=at,
                         limits_for=lambda a: app.declared_limits(a, config))), config


def forget_counts() -> None:
    """Empty what the counters keep between texts."""
    graphemes._KNOWN.clear()
    twitter._COVERED.clear()
    twitter._last_urls[:] = [None, ()]
    twitter._urls_in.cache_clear()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("synthetic") / "site", 300)


@pytest.mark.parametrize("site, now", [
    (FIXTURES, "2018-01-01T00:00+01:00"),           # the whole history of civictech.se
    (DATES_SITE, "2019-01-01T00:00+01:00"),         # own texts, hashtags, dates alone
    ("synthetic", "2026-03-01T12:00+01:00"),
])
def test_posts_composed_through_the_memo_are_those_composed_without_it(site, now, request):
    folder = request.getfixturevalue("synthetic") if site == "synthetic" else site
    memoized, config = every_item(folder, now)
    with templates.uncached():
        forget_counts()
        anew, _ = every_item(folder, now)
    assert len(memoized) > 20
    assert [item.post for item in memoized] == [item.post for item in anew]
    assert [item.cost for item in memoized] == [item.cost for item in anew]
    limits = {a.name: app.declared_limits(a, config) for a in config.accounts}
    forget_counts()
    for item in reversed(memoized):         # counted again alone, in another order
        if item.post is not None:
            assert length(item.post.text, limits[item.account.name]) == item.post.length


@pytest.mark.parametrize("site, now", [(FIXTURES, "2018-01-01T00:00+01:00"),
                                       (DATES_SITE, "2019-01-01T00:00+01:00"),
                                       ("synthetic", "2026-03-01T12:00+01:00")])
def test_each_post_of_preview_json_is_the_text_json_dumps_writes_with_indent(site, now, request):
    folder = request.getfixturevalue("synthetic") if site == "synthetic" else site
    items, config = every_item(folder, now)
    unfit = [items[0].unfit("cannot compose it: unknown template field {x}"),
             replace(items[1], post=replace(items[1].post, error="3 characters over the limit")),
             replace(items[2], post=replace(items[2].post, warnings=("left out #a",))),
             replace(items[3], fate=replace(items[3].fate, at=None, state="skipped",
                                             reason="already due on a first run"))]
    for item in items + unfit:
        data = item_json(item, [], config)
        lines = json.dumps(data, ensure_ascii=False, indent=2).split("\n")
        expected = "\n".join(lines[:1] + ["    " + line for line in lines[1:]])
        assert item_text(item, [], config) == expected
        assert indented(data, "    ") == expected


def test_a_post_with_nested_values_is_written_as_json_dumps_writes_it():
    data = {"ref": "möte", "image": {"path": "a.jpg", "alt": "Bild\u2028två"}, "media": [
        {"width": 1, "bytes": 2, "alt": "x", "drawn_card": False, "note": ""}],
        "link_card": None, "written": ["a", "b"], "warnings": [], "change": {
            "action": "reply", "changed": ["date", "place"], "deletes": None},
        "cost": 0.0015, "fits": True, "nested": [[], {}, [[1]], {"k": {}}]}
    lines = json.dumps(data, ensure_ascii=False, indent=2).split("\n")
    assert indented(data, "    ") == "\n".join(lines[:1] + ["    " + line for line in lines[1:]])


def test_a_template_in_error_raises_each_time_it_is_used():
    for _ in range(2):
        with pytest.raises(ValueError, match="unknown template field"):
            templates.parse_template("{title} {nope}")
