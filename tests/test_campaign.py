"""The campaign under faults and SIGKILLs, and the counting it is judged by.

The campaign itself takes minutes of real time, so it runs only when asked (CI asks: .ci/run
sets HERALD_CAMPAIGN=1):

    HERALD_CAMPAIGN=1 pytest -m campaign -s                               # 50 kills, 3-6 min
    HERALD_CAMPAIGN=1 HERALD_CAMPAIGN_KILLS=500 pytest -m campaign -s     # the long run

HERALD_CAMPAIGN_SEED picks the random moments and faults (default 1),
HERALD_CAMPAIGN_FAULTS the share of requests that meet a fault (default 0.3); with
HERALD_CAMPAIGN_REPORT=<file> the figures are written there as Markdown.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.faults.campaign import (ACCOUNTS, ANNOUNCEMENT, LANGS, LEAD, STAGES, ZONE, design,
                                   history_entries, run_campaign, write_config, write_event)
from tests.faults.tally import ServerPost, tally

# --- the counting ---------------------------------------------------------------------------

IDENTIFY = {"Träff 1": ("e1", "announcement", "sv"), "Meetup 1": ("e1", "announcement", "en"),
            "Snart: Träff 1": ("e1", "soon", "sv"), "Soon: Meetup 1": ("e1", "soon", "en")}
EXPECTED = [("e1", stage, "masto", lang) for stage in ("announcement", "soon")
            for lang in ("sv", "en")]


def thread(**changes: ServerPost | None) -> list[ServerPost]:
    """A perfect campaign on one account; `changes` replace or (None) remove its posts."""
    posts = {"ann_sv": ServerPost("1", "Träff 1\nmåndag"),
             "ann_en": ServerPost("2", "Meetup 1\nMonday", "1"),
             "soon_sv": ServerPost("3", "Snart: Träff 1", "1"),
             "soon_en": ServerPost("4", "Soon: Meetup 1", "3")}
    posts.update(changes)
    return [p for p in posts.values() if p is not None]


def history_of(posts: list[ServerPost]) -> list[dict]:
    entries = []
    for post in posts:
        if post.text.split("\n")[0] not in IDENTIFY:
            continue
        ref, stage, lang = IDENTIFY[post.text.split("\n")[0]]
        entries.append({"ref": ref, "stage": stage, "account": "masto", "lang": lang,
                        "generation": 0, "state": "posted", "platform_id": post.id,
                        "url": f"https://example.org/{post.id}"})
    return entries


def count(posts: list[ServerPost], history: list[dict] | None = None, early=(), unrecorded=()):
    return tally("masto", EXPECTED, posts, IDENTIFY,
                 history_of(posts) if history is None else history,
                 langs=("sv", "en"), announcement="announcement", early=early,
                 unrecorded=unrecorded)


def test_a_perfect_campaign_counts_no_problem():
    figures = count(thread())
    assert figures.clean and figures.expected == 4


def test_a_post_not_on_the_server_is_missing_and_its_reply_is_in_the_wrong_thread():
    figures = count(thread(soon_sv=None, soon_en=ServerPost("4", "Soon: Meetup 1", "2")))
    assert figures.missing == [("e1", "soon", "masto", "sv")]
    assert figures.wrong_threads == ["e1/soon/masto/en: replies to 2; its parent "
                                     "e1/soon/masto/sv was never posted"]


def test_what_history_says_of_missing_posts_is_summed_up_without_times_or_ports():
    history = history_of(thread())[:2] + [
        {"ref": "e1", "stage": "soon", "account": "masto", "lang": lang, "generation": 0,
         "state": state, "platform_id": None, "url": None, "reason": reason, "error": error}
        for lang, state, reason, error in (
            ("sv", "skipped", "superseded by announcement", None),
            ("en", "failed", None, "127.0.0.1:4567 failed (502) at 2026-12-01 03:41:34 CET"))]
    figures = count(thread(soon_sv=None, soon_en=None), history)
    assert figures.why_missing == {"skipped: superseded by announcement": 1,
                                   "failed: <server> failed (502) at <time>": 1}


def entry(stage: str, lang: str, state: str = "posted", platform_id: str | None = None,
          reason: str | None = None) -> dict:
    """One line of `herald history --json` for event e1 on account masto."""
    return {"ref": "e1", "stage": stage, "account": "masto", "lang": lang, "generation": 0,
            "state": state, "platform_id": platform_id, "reason": reason,
            "url": platform_id and f"https://example.org/{platform_id}"}


def test_a_reminder_given_way_to_a_later_one_that_went_out_is_not_missing():
    identify = {**IDENTIFY, "Sist: Träff 1": ("e1", "last", "sv"),
                "Last: Meetup 1": ("e1", "last", "en")}
    expected = EXPECTED + [("e1", "last", "masto", lang) for lang in ("sv", "en")]
    posts = thread(soon_sv=None, soon_en=None, last_sv=ServerPost("5", "Sist: Träff 1", "1"),
                   last_en=ServerPost("6", "Last: Meetup 1", "5"))
    history = [entry("announcement", "sv", platform_id="1"),
               entry("announcement", "en", platform_id="2"),
               entry("soon", "sv", "skipped", reason="superseded by last"),
               entry("soon", "en", "skipped", reason="superseded by announcement"),
               entry("last", "sv", platform_id="5"), entry("last", "en", platform_id="6")]

    def count_with(server: list[ServerPost]):
        return tally("masto", expected, server, identify, history, langs=("sv", "en"),
                     announcement="announcement", supersedes={"soon": ("last",)})

    figures = count_with(posts)
    assert figures.superseded == [("e1", "soon", "masto", "sv")]
    assert figures.missing == [("e1", "soon", "masto", "en")]       # not by the announcement
    assert ("e1", "soon", "masto", "sv") in count_with(posts[:2]).missing   # "last" never out


def test_a_second_copy_is_a_duplicate_and_history_naming_either_copy_agrees():
    figures = count(thread(again=ServerPost("5", "Meetup 1\nMonday", "1")))
    assert figures.duplicates == [("e1", "announcement", "masto", "en")]
    assert figures.copies == ["e1/announcement/masto/en: 2, 5"]
    assert not figures.wrong_threads and not figures.history and not figures.missing


@pytest.mark.parametrize("changes, problem", [
    ({"ann_en": ServerPost("2", "Meetup 1")},
     "e1/announcement/masto/en: stands alone, should reply to e1/announcement/masto/sv (1)"),
    ({"soon_sv": ServerPost("3", "Snart: Träff 1", "2")},
     "e1/soon/masto/sv: replies to 2, should reply to e1/announcement/masto/sv (1)"),
    ({"ann_sv": ServerPost("1", "Träff 1", "9")},
     "e1/announcement/masto/sv: replies to 9, should stand alone"),
    ({"soon_en": ServerPost("4", "Soon: Meetup 1", "3", root="3")},
     "e1/soon/masto/en: its thread root is 3, should be e1/announcement/masto/sv"),
])
def test_a_reply_to_anything_but_its_parent_is_a_wrong_thread(changes, problem):
    assert count(thread(**changes)).wrong_threads == [problem]


def test_history_must_name_what_the_server_holds():
    posts = thread()
    history = history_of(posts)
    history[0]["platform_id"] = "77"                       # the wrong id
    history[1]["state"], history[1]["platform_id"] = "failed", None
    history[2]["url"] = None                               # posted without a URL
    history.append({**history[3], "generation": 1, "state": "posted", "platform_id": "99"})
    figures = count(posts[:3], history)                    # soon/en is not on the server
    assert figures.history == [
        "e1/announcement/masto/sv: history names '77', the server has 1",
        "e1/announcement/masto/en: on the server, history says failed",
        "e1/soon/masto/sv: posted without a URL in history",
        "e1/soon/masto/en: history says posted (99), the server has no such post"]


def test_posts_that_are_no_post_of_the_campaign_and_early_requests_are_counted():
    figures = count(thread(extra=ServerPost("8", "Hej")), early=["GET /x, 1.5 s early"])
    assert figures.strays == ["masto: 8 'Hej'"] and figures.early == ["GET /x, 1.5 s early"]
    assert not figures.clean


def test_a_request_before_a_reset_only_a_killed_run_heard_of_is_told_apart():
    from tests.faults.campaign import heard_only_by_a_killed_run
    from tests.faults.proxy import Passage

    limited = Passage("masto", 100.0, "GET", "/api/v1/x", "429", 429, None, None, 104.0, 100.01)
    early = Passage("masto", 101.5, "GET", "/api/v2/instance", "early", 429, None, None, 104.0)
    assert heard_only_by_a_killed_run(early, [limited, early], kills=[100.2])
    assert not heard_only_by_a_killed_run(early, [limited, early], kills=[100.9])  # recorded
    assert not heard_only_by_a_killed_run(early, [limited, early], kills=[])       # no kill
    assert not heard_only_by_a_killed_run(early, [limited, early], kills=[101.6])  # after it
    figures = count(thread(), early=["GET /x, 1.5 s early"])
    assert not figures.clean
    assert count(thread(), unrecorded=["GET /x, 1.5 s early"]).clean


# --- the design -----------------------------------------------------------------------------

def test_the_design_leaves_every_post_minutes_before_its_event_starts():
    t0 = time.time()
    campaign = design(t0, 50)
    assert len(campaign.expected()) == 3 * 3 * 4 * 2 == 72
    assert len(campaign.identify()) == 3 * 3 * 2
    for event in campaign.events:
        assert event.start - event.appears >= LEAD
        for _, before in STAGES:
            due = event.appears if before is None else event.start - before
            assert event.appears <= due <= event.start - 8 * 60
    assert campaign.deadline - t0 < 13 * 60                # the campaign ends within minutes
    # a stalled request lands after Herald gave up, and before it may look the post up:
    assert campaign.request_timeout < campaign.stall < 2 * campaign.request_timeout
    assert len(design(t0, 500).events) == 13


def test_herald_plans_exactly_the_expected_posts_and_they_compose_to_known_first_lines(tmp_path):
    """The design agrees with Herald's own planner and templates (no faults, no clock)."""
    from bot.app import declared_limits
    from bot.config import load_config
    from bot.content import load_site
    from bot.planner import plan
    from bot.service import compose_planned
    from bot.timing import arrange

    campaign = design(time.time(), 50)
    site = tmp_path / "site"
    for event in campaign.events:
        write_event(site, event)
    urls = {name: f"http://127.0.0.1:{9000 + n}" for n, name in enumerate(ACCOUNTS)}
    config = load_config(write_config(tmp_path / "herald.toml", campaign, urls))
    loaded = load_site(config.site)
    assert not [p for p in loaded.problems if p.severity == "error"]
    accounts = {a.name: a for a in config.accounts}
    posts = []
    for event in campaign.events:                 # each as Herald sees it when it appears
        now = datetime.fromtimestamp(event.appears, ZONE)
        planned = plan([loaded.versions(event.ref)], config.stages, config.accounts, now=now,
                       grace=config.grace, zone=ZONE, first_seen={event.ref: now})
        arranged = arrange(planned.posts, accounts, now=now, zone=ZONE, grace=config.grace)
        assert not planned.skipped and not arranged.skipped
        posts += planned.posts
    assert sorted((p.key.ref, p.key.stage, p.key.account, p.key.lang)
                  for p in posts) == sorted(campaign.expected())
    identify = campaign.identify()
    for post in posts:
        limits = declared_limits(accounts[post.key.account], config)
        composed = compose_planned(post, loaded, config, limits)
        assert composed.fits, composed.error
        assert identify[composed.text.split("\n")[0]] == (post.key.ref, post.key.stage,
                                                          post.key.lang)
    assert ANNOUNCEMENT == config.stages[0].name and LANGS == config.accounts[0].languages


def test_the_campaign_reads_what_herald_history_json_prints(tmp_path):
    from click.testing import CliRunner

    from bot.cli import main
    from bot.ledger import Ledger
    from bot.model import PostKey

    campaign = design(time.time(), 50)
    config = write_config(tmp_path / "herald.toml", campaign,
                          {name: "http://127.0.0.1:9" for name in ACCOUNTS})
    (tmp_path / "site" / "_events").mkdir(parents=True)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        ledger.skip_generation(PostKey("traff-0", "reminder-early", "x", "sv"),
                               "superseded by reminder-late", datetime.now(ZONE))
    result = CliRunner().invoke(main, ["history", "--json", "--config", str(config)])
    [entry] = history_entries(result.output)
    assert (entry["ref"], entry["stage"], entry["account"], entry["lang"], entry["generation"],
            entry["state"], entry["reason"]) == ("traff-0", "reminder-early", "x", "sv", 0,
                                                 "skipped", "superseded by reminder-late")
    assert {"platform_id", "url", "error"} <= set(entry)


# --- the campaign ---------------------------------------------------------------------------

@pytest.mark.campaign
@pytest.mark.skipif(not os.environ.get("HERALD_CAMPAIGN"),
                    reason="the campaign takes minutes of real time; set HERALD_CAMPAIGN=1")
def test_a_campaign_under_faults_and_kills_posts_everything_once_in_its_thread(tmp_path):
    kills = int(os.environ.get("HERALD_CAMPAIGN_KILLS", "50"))
    seed = int(os.environ.get("HERALD_CAMPAIGN_SEED", "1"))
    rate = float(os.environ.get("HERALD_CAMPAIGN_FAULTS", "0.3"))
    campaign = design(time.time(), kills, seed=seed, fault_rate=rate)
    report = run_campaign(tmp_path, campaign, say=print)
    summary = report.summary()
    print("\n" + summary + "\n" + report.details())
    if os.environ.get("HERALD_CAMPAIGN_REPORT"):
        Path(os.environ["HERALD_CAMPAIGN_REPORT"]).write_text(
            summary + "\n\n" + report.details() + "\n", encoding="utf-8")
    assert report.kills >= 50
    assert report.clean, summary + "\n" + report.details()
