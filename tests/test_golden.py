"""The exact posts users will see, per platform and language, for a set of real civictech.se events.

The expected texts live in tests/golden/. After a deliberate change to templates or fitting,
regenerate them with `HERALD_UPDATE_GOLDEN=1 pytest tests/test_golden.py` and review the diff.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot import app
from bot.config import load_config
from bot.content import load_site
from bot.service import Selection, preview

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
FIXTURES = HERE.parents[1] / "shared" / "fixtures" / "civictech"
DATES_SITE = HERE / "data" / "dates-site"
REFS = (
    "2026-02-open-knowledge-sweden-meetup-1",
    "govtechday2020",
    "gemensamt-remissvar-kring-nya-eu-regler-for-ai",
    "meetup-6",
    "kopplingssprint",
    "civic-tech-demodag",
)
DATES_REFS = (
    "goodtechhack2021",                         # a date alone, two days, a registration link
    "hackathon-1",                              # a date alone; herald: platforms, hashtags
    "2026-02-open-knowledge-sweden-meetup-1",   # an end time; herald: its own text on X
)
"""Events of tests/data/dates-site (real files with `herald:` blocks added, see its README)."""


@pytest.fixture(scope="module")
def site_and_config():
    config = load_config(None, site=FIXTURES)
    return load_site(config.site), config


@pytest.fixture(scope="module")
def dates_site_and_config():
    config = load_config(None, site=DATES_SITE)
    return load_site(config.site), config


def golden_posts(site, config, ref):
    start = next(iter(site.versions(ref).values())).start
    return list(preview(site, config, now=start - timedelta(days=7),
                        selection=Selection(event=ref),
                        limits_for=lambda a: app.declared_limits(a, config)))


def check_golden(posts, folder: Path) -> None:
    for post in posts:
        name = f"{post.key.ref}.{post.key.stage}.{post.platform}.{post.key.lang}.txt"
        actual = f"{post.length}/{post.limit}\n{post.text}\n"
        path = folder / name
        if os.environ.get("HERALD_UPDATE_GOLDEN"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(actual, encoding="utf-8")
        assert path.exists(), f"missing golden file {name}; run with HERALD_UPDATE_GOLDEN=1"
        assert actual == path.read_text(encoding="utf-8"), name
        assert post.fits and post.length <= post.limit


@pytest.mark.parametrize("ref", REFS)
def test_posts_for_real_events_match_the_golden_files(site_and_config, ref):
    site, config = site_and_config
    posts = golden_posts(site, config, ref)
    assert posts, f"no posts planned for {ref}"
    check_golden(posts, GOLDEN)


@pytest.mark.parametrize("ref", DATES_REFS)
def test_dates_and_herald_blocks_of_real_events_match_the_golden_files(dates_site_and_config,
                                                                      ref):
    site, config = dates_site_and_config
    posts = golden_posts(site, config, ref)
    assert posts, f"no posts planned for {ref}"
    check_golden(posts, GOLDEN / "dates-site")


def test_the_golden_files_hold_no_post_that_is_no_longer_made(site_and_config,
                                                              dates_site_and_config):
    made = set()
    for (site, config), refs, folder in ((site_and_config, REFS, GOLDEN),
                                         (dates_site_and_config, DATES_REFS,
                                          GOLDEN / "dates-site")):
        for ref in refs:
            made |= {folder / f"{p.key.ref}.{p.key.stage}.{p.platform}.{p.key.lang}.txt"
                     for p in golden_posts(site, config, ref)}
    if os.environ.get("HERALD_UPDATE_GOLDEN"):
        for stale in set(GOLDEN.rglob("*.txt")) - made:
            stale.unlink()
    assert set(GOLDEN.rglob("*.txt")) == made
