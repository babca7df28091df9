"""`herald announce`, `post` and `history` as a user runs them, against the three fake platforms."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.auth_hints import hinted_auth
from tests.conftest import SAMPLE

EVENT = "varmote-2027"
LINK_SV = "https://civictech.se/varmote-civic-tech/"
LINK_EN = "https://civictech.se/spring-meetup-civic-tech-en/"
ALT_SV = "Färgglada cirklar mot en blå bakgrund, Civic Tech Stockholms mötesbanner"


def herald(platforms, *args):
    return CliRunner().invoke(main, ["--verbose", *args[:1], "--config", str(platforms.config),
                                     *args[1:]], catch_exceptions=False)


def bluesky_posts(pds):
    return [stored.value for stored in pds.records.values()]


def test_announce_puts_text_image_alt_text_and_link_on_every_platform(platforms):
    result = herald(platforms, "announce", EVENT)
    assert result.exit_code == 0, result.output
    assert result.output.count("posted: ") == 6

    statuses = platforms.mastodon.status_list()
    assert {s["language"] for s in statuses} == {"sv", "en"}
    sv = next(s for s in statuses if s["language"] == "sv")
    assert LINK_SV in sv["text"] and "Vårmöte: Civic Tech Stockholm #1" in sv["text"]
    (media_id,) = sv["media_ids"]
    assert platforms.mastodon.media[media_id].description == ALT_SV

    tweets = platforms.x.posts
    assert len(tweets) == 2 and any(LINK_SV in t.text for t in tweets)
    assert all(t.media_ids for t in tweets)
    assert ALT_SV in {m.alt_text for m in platforms.x.media.values()}

    records = bluesky_posts(platforms.bluesky)
    assert {tuple(r["langs"]) for r in records} == {("sv",), ("en",)}
    sv_record = next(r for r in records if r["langs"] == ["sv"])
    link = next(f for f in sv_record["facets"]
                if f["features"][0]["$type"] == "app.bsky.richtext.facet#link")
    text = sv_record["text"].encode()
    start, end = link["index"]["byteStart"], link["index"]["byteEnd"]
    assert text[start:end].decode() == LINK_SV == link["features"][0]["uri"]
    assert sv_record["embed"]["images"][0]["alt"] == ALT_SV


def test_announcing_twice_says_it_was_already_posted_and_posts_nothing(platforms):
    herald(platforms, "announce", EVENT)
    again = herald(platforms, "announce", EVENT)
    assert again.exit_code == 0
    assert again.output.count("already posted: ") == 6
    assert len(platforms.mastodon.status_list()) == 2
    assert len(platforms.x.posts) == 2
    assert len(platforms.bluesky.records) == 2


def test_again_posts_a_new_copy_on_purpose(platforms):
    herald(platforms, "announce", EVENT, "--account", "mastodon", "--lang", "sv")
    result = herald(platforms, "announce", EVENT, "--account", "mastodon", "--lang", "sv",
                    "--again")
    assert result.exit_code == 0 and "posted: mastodon sv announcement" in result.output
    assert len(platforms.mastodon.status_list()) == 2


def test_history_shows_where_each_post_went_with_its_url(platforms):
    herald(platforms, "announce", EVENT)
    result = herald(platforms, "history", "--event", EVENT, "--json")
    entries = json.loads(result.output)["entries"]
    assert len(entries) == 6 and {e["state"] for e in entries} == {"posted"}
    urls = {e["account"]: e["url"] for e in entries if e["lang"] == "sv"}
    assert urls["x"].startswith("https://x.com/i/web/status/")
    assert urls["bluesky"].startswith("https://bsky.app/profile/herald.example.com/post/")
    assert urls["mastodon"].startswith(platforms.mastodon.url)
    text = herald(platforms, "history").output
    assert all(url in text for url in urls.values())


def test_a_free_text_post_with_an_image_reaches_every_platform(platforms):
    image = SAMPLE / "_uploads" / "demo-day.png"
    result = herald(platforms, "post", "Välkomna till vårens möten! https://civictech.se/",
                    "--image", str(image), "--alt", "Röd triangel och vit cirkel")
    assert result.exit_code == 0, result.output
    (status,) = platforms.mastodon.status_list()
    assert platforms.mastodon.media[status["media_ids"][0]].description == \
        "Röd triangel och vit cirkel"
    (tweet,) = platforms.x.posts
    assert tweet.text.startswith("Välkomna")
    (record,) = bluesky_posts(platforms.bluesky)
    assert record["embed"]["images"][0]["alt"] == "Röd triangel och vit cirkel"
    repeat = herald(platforms, "post", "Välkomna till vårens möten! https://civictech.se/",
                    "--image", str(image), "--alt", "Röd triangel och vit cirkel")
    assert repeat.output.count("already posted") == 3


def test_a_wrong_token_is_one_line_naming_the_account_and_exit_code_6(platforms, monkeypatch):
    monkeypatch.setenv("HERALD_MASTODON_ACCESS_TOKEN", "not-the-right-token-123")
    result = CliRunner().invoke(
        main, ["announce", EVENT, "--config", str(platforms.config), "--account", "mastodon",
               "--lang", "sv"])
    assert result.exit_code == 6
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("failed: mastodon sv announcement: mastodon: ")
    assert "not-the-right-token-123" not in result.output
    assert platforms.mastodon.status_list() == []


def test_a_dry_run_sends_nothing_and_records_nothing(platforms):
    result = herald(platforms, "announce", EVENT, "--dry-run")
    assert result.exit_code == 0
    assert result.output.count("would post: ") == 6
    assert "Vårmöte: Civic Tech Stockholm #1" in result.output
    assert platforms.mastodon.status_list() == [] and platforms.x.posts == []
    assert herald(platforms, "announce", EVENT).output.count("posted: ") == 6


def test_killing_herald_between_sending_and_recording_never_posts_twice(platforms):
    platforms.mastodon.hold_after_post = True
    command = [sys.executable, "-m", "bot", "announce", EVENT, "--config",
               str(platforms.config), "--account", "mastodon"]
    env = {**os.environ, **platforms.env}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not platforms.mastodon.status_list() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert len(platforms.mastodon.status_list()) == 1
    platforms.mastodon.release()

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert "recovered: mastodon" in rerun.stdout
    statuses = platforms.mastodon.status_list()
    assert sorted(s["language"] for s in statuses) == ["en", "sv"]


def test_check_verifies_every_account_and_prints_its_limits(platforms):
    result = herald(platforms, "check")
    assert result.exit_code == 0, result.output
    assert "mastodon: ok, @herald@" in result.output
    assert "x: ok, @herald_events; 280 characters" in result.output
    assert "bluesky: ok, @herald.example.com; 300 characters" in result.output


def test_check_names_the_account_whose_credentials_fail(platforms, monkeypatch):
    monkeypatch.setenv("HERALD_BLUESKY_APP_PASSWORD", "wrong-wrong-wrong-wrong")
    result = herald(platforms, "check")
    assert result.exit_code == 6
    assert "bluesky: FAILED: bluesky:" in result.output
    assert "wrong-wrong-wrong-wrong" not in result.output


def test_auth_bluesky_stores_the_credentials_in_a_private_secrets_file(platforms, monkeypatch):
    monkeypatch.delenv("HERALD_BLUESKY_HANDLE")
    monkeypatch.delenv("HERALD_BLUESKY_APP_PASSWORD")
    pds = platforms.bluesky
    result = CliRunner().invoke(main, ["auth", "bluesky", "--config", str(platforms.config)],
                                input=f"{pds.handle}\n{pds.app_password}\n")
    assert result.exit_code == 0, result.output
    secrets = platforms.ledger.parent / "secrets.toml"
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert pds.app_password not in result.output
    assert herald(platforms, "announce", EVENT, "--account", "bluesky").exit_code == 0
    assert len(pds.records) == 2


def test_preview_leaves_out_what_the_ledger_says_was_posted(platforms):
    herald(platforms, "announce", EVENT, "--account", "mastodon")
    result = herald(platforms, "preview", "--event", EVENT, "--now", "2027-01-01T09:00",
                    "--json")
    planned = {(p["account"], p["stage"]) for p in json.loads(result.output)["posts"]}
    assert ("mastodon", "announcement") not in planned
    assert ("x", "announcement") in planned and ("mastodon", "reminder-1d") in planned


def test_a_date_change_after_a_manual_announcement_is_corrected_by_the_next_run(
        platforms, tmp_path):

    for path in (platforms.site / "_events").glob("*.md"):
        if EVENT not in path.read_text(encoding="utf-8"):
            path.unlink()
    run = CliRunner().invoke
    config = platforms.config
    assert run(main, ["announce", EVENT, "--config", str(config)]).exit_code == 0
    moved = platforms.start + timedelta(days=1, minutes=30)
    for path in (platforms.site / "_events").glob("*.md"):
        path.write_text(path.read_text(encoding="utf-8").replace(
            f"event-date: {platforms.start:%Y-%m-%d %H:%M:%S %z}",
            f"event-date: {moved:%Y-%m-%d %H:%M:%S %z}"), encoding="utf-8")
    result = run(main, ["run", "--once", "--config", str(config)])
    assert result.exit_code == 0, result.output
    (sv_status,) = [s for s in platforms.mastodon.status_list() if s["language"] == "sv"]
    assert f"kl. {moved:%H:%M}" in sv_status["text"] and sv_status["edited_at"] is not None
    replies = [t for t in platforms.x.posts if t.text.startswith("✏\ufe0f")]
    assert len(replies) == 2 and all(f"{moved:%H:%M}" in t.text for t in replies)
    announced = {t.id for t in platforms.x.posts[:2]}
    assert {t.reply_to for t in replies} == announced


def test_accounts_without_credentials_reach_no_server(platforms, monkeypatch):
    for name in platforms.env:
        monkeypatch.delenv(name)
    result = herald(platforms, "announce", EVENT)
    assert result.exit_code == 6
    # the English version replies to the Swedish one: where that failed, it is not sent either
    assert result.output.count("failed: ") + result.output.count("not sent: ") == 6
    assert platforms.mastodon.received() == []
    assert platforms.x.received() == []
    assert platforms.bluesky.requests == []


def test_an_announcement_skipped_by_the_first_run_is_posted_with_again(platforms):
    first = herald(platforms, "run", "--once")
    assert first.exit_code == 0 and platforms.mastodon.status_list() == []
    refused = herald(platforms, "announce", EVENT, "--account", "mastodon", "--lang", "sv")
    assert refused.exit_code == 1
    assert "skipped earlier: mastodon sv announcement:" in refused.output
    assert "use --again to post it anyway" in refused.output
    again = herald(platforms, "announce", EVENT, "--account", "mastodon", "--lang", "sv",
                   "--again")
    assert again.exit_code == 0 and len(platforms.mastodon.status_list()) == 1


def test_a_one_off_post_before_the_first_run_does_not_make_it_post_the_backlog(platforms):
    assert herald(platforms, "post", "Hej! Herald är här.", "--account", "mastodon"
                  ).exit_code == 0
    preview = json.loads(herald(platforms, "preview", "--json").output)
    announcements = [p for p in preview["posts"] if p["stage"] == "announcement"]
    assert announcements and all(p["state"] == "skipped" for p in announcements)
    first = herald(platforms, "run", "--once")
    assert first.exit_code == 0, first.output
    assert len(platforms.mastodon.status_list()) == 1          # the one-off post, no flood
    assert platforms.x.posts == [] and platforms.bluesky.records == {}
    entries = json.loads(herald(platforms, "history", "--json").output)["entries"]
    skipped = [e for e in entries if e["state"] == "skipped"]
    assert skipped and all("already on the site" in e["reason"] for e in skipped)


def test_announcing_one_event_before_the_first_run_posts_only_that_event(platforms):
    assert herald(platforms, "announce", EVENT).exit_code == 0
    first = herald(platforms, "run", "--once")
    assert first.exit_code == 0, first.output
    assert len(platforms.mastodon.status_list()) == 2          # sv and en of EVENT only
    assert len(platforms.x.posts) == 2 and len(platforms.bluesky.records) == 2
    entries = json.loads(herald(platforms, "history", "--json").output)["entries"]
    others = [e for e in entries if e["ref"] != EVENT and e["stage"] == "announcement"]
    assert others and all(e["state"] == "skipped" and "already on the site" in e["reason"]
                          for e in others)


def nothing_reached_a_server(platforms):
    return (platforms.mastodon.status_list() == [] and platforms.mastodon.media == {}
            and platforms.x.posts == [] and platforms.x.media == {}
            and platforms.bluesky.records == {})


def test_a_text_too_long_for_one_platform_is_posted_on_none(platforms):
    text = "Välkomna till vårens möten! " * 11                  # 308: over X's and Bluesky's
    result = herald(platforms, "post", text)
    assert result.exit_code == 2, result.output
    refused = [line for line in result.output.splitlines() if line.startswith("failed: ")]
    assert [line.split(":")[1].strip() for line in refused] == ["x sv manual",
                                                                "bluesky sv manual"]
    assert all("does not fit" in line and "nothing was sent" in line for line in refused)
    assert "posted: " not in result.output
    assert nothing_reached_a_server(platforms)
    assert json.loads(herald(platforms, "history", "--json").output)["entries"] == []


def test_an_event_too_long_for_one_platform_is_announced_on_none(platforms):
    title = "Civic Tech Stockholm: " + "öppna data och öppen källkod för alla " * 7
    (platforms.site / "_events" / "long-title.md").write_text(f"""---
title: "{title}"
ref: long-title
lang: sv
excerpt: "Kort."
event-date: {platforms.start:%Y-%m-%d %H:%M:%S %z}
place: "Online"
---
Text.
""", encoding="utf-8")
    result = herald(platforms, "announce", "long-title")
    assert result.exit_code == 2, result.output
    refused = [line for line in result.output.splitlines() if line.startswith("failed: ")]
    assert {line.split(":")[1].strip() for line in refused} == {"x sv announcement",
                                                               "bluesky sv announcement"}
    assert all("nothing was sent" in line for line in refused)
    assert nothing_reached_a_server(platforms)


@pytest.mark.parametrize("command", [
    ["post", "Hej! Herald är här."],
    ["announce", EVENT, "--again"],
])
def test_a_rate_limit_met_by_a_one_off_post_holds_the_account_in_status_and_run(
        platforms, command):
    reset = platforms.x.exhaust("/2/tweets", reset=int(time.time()) + 600)
    until = datetime.fromtimestamp(reset, timezone.utc)
    result = herald(platforms, command[0], *command[1:], "--account", "x")
    assert result.exit_code == 4, result.output
    status = json.loads(herald(platforms, "status", "--json").output)
    x = next(a for a in status["accounts"] if a["name"] == "x")
    assert datetime.fromisoformat(x["backing_off_until"]) == until
    asked = len(platforms.x.received())
    run = herald(platforms, "run", "--once", "--catch-up")     # the backlog is due now
    assert len(platforms.x.received()) == asked                # nothing asked of X before reset
    assert len(platforms.mastodon.status_list()) > 0           # the others post
    assert "x" not in {e["account"] for e in json.loads(
        herald(platforms, "history", "--json").output)["entries"] if e["state"] == "posted"}
    assert run.exit_code in (0, 4), run.output


@pytest.mark.parametrize("command", [
    ["post", "Another text, on every account"],
    ["announce", EVENT, "--again"],
])
def test_a_one_off_after_a_rate_limit_asks_that_account_nothing_before_its_reset(
        platforms, command):
    reset = platforms.x.exhaust("/2/tweets", reset=int(time.time()) + 600)
    assert herald(platforms, "post", "Hej! Herald är här.", "--account", "x").exit_code == 4
    asked = len(platforms.x.received())
    result = herald(platforms, *command)            # a new process: its adapters know nothing
    assert len(platforms.x.received()) == asked, "a request reached X before its reset"
    assert result.exit_code == 4, result.output
    reset_at = datetime.fromtimestamp(reset, timezone.utc).astimezone(ZoneInfo("Europe/Stockholm"))
    assert "waiting: x " in result.output and f"{reset_at:%H:%M:%S}" in result.output
    assert len(platforms.mastodon.status_list()) > 0              # the others post at once


def test_status_names_accounts_without_credentials_and_creates_no_ledger(platforms, monkeypatch):
    for name in ("HERALD_X_API_KEY", "HERALD_BLUESKY_APP_PASSWORD"):
        monkeypatch.delenv(name)
    result = herald(platforms, "status")
    assert result.exit_code == 0, result.output
    lacking = {line.split(" has no ")[0].strip(): line for line in result.output.splitlines()
               if " has no " in line}
    assert "api_key" in lacking["x"] and hinted_auth(lacking["x"]) == ("x", "x")
    assert "app_password" in lacking["bluesky"]
    assert hinted_auth(lacking["bluesky"]) == ("bluesky", "bluesky")
    assert "mastodon has no" not in result.output
    assert not platforms.ledger.exists()


def test_a_missing_token_shows_in_history_as_a_failure(platforms, monkeypatch):
    monkeypatch.delenv("HERALD_MASTODON_ACCESS_TOKEN")
    herald(platforms, "announce", EVENT, "--account", "mastodon")
    entries = json.loads(herald(platforms, "history", "--json").output)["entries"]
    assert {(e["account"], e["lang"], e["state"]) for e in entries} == {
        ("mastodon", "sv", "failed"), ("mastodon", "en", "failed")}
    assert all("HERALD_MASTODON_ACCESS_TOKEN" in e["error"] for e in entries)
    monkeypatch.setenv("HERALD_MASTODON_ACCESS_TOKEN", platforms.mastodon.token)
    assert herald(platforms, "announce", EVENT, "--account", "mastodon").exit_code == 0
    assert len(platforms.mastodon.status_list()) == 2


def test_a_failed_repeat_leaves_the_first_announcement_done(platforms, monkeypatch):
    assert herald(platforms, "announce", EVENT, "--account", "mastodon").exit_code == 0
    monkeypatch.delenv("HERALD_MASTODON_ACCESS_TOKEN")
    assert herald(platforms, "announce", EVENT, "--account", "mastodon", "--again").exit_code == 6
    monkeypatch.setenv("HERALD_MASTODON_ACCESS_TOKEN", platforms.mastodon.token)
    report = json.loads(herald(platforms, "status", "--json").output)
    (mastodon,) = [a for a in report["accounts"] if a["name"] == "mastodon"]
    assert (EVENT, "announcement") not in {(n["ref"], n["stage"]) for n in mastodon["next"]}
    assert len(platforms.mastodon.status_list()) == 2


def test_a_post_that_failed_for_a_missing_token_does_not_stop_the_account_once_fixed(
        platforms, monkeypatch):
    monkeypatch.delenv("HERALD_MASTODON_ACCESS_TOKEN")
    herald(platforms, "announce", EVENT, "--account", "mastodon", "--lang", "sv")
    monkeypatch.setenv("HERALD_MASTODON_ACCESS_TOKEN", platforms.mastodon.token)
    assert "STOPPED" in herald(platforms, "status").output
    other = herald(platforms, "announce", "hackathon-2028", "--account", "mastodon")
    assert other.exit_code == 0
    assert "STOPPED" not in herald(platforms, "status").output


# --- announce posts like run: threaded, locked, held by the cap --------------------------------

def threads(platforms) -> dict[str, dict[str, str | None]]:
    """Per platform: which post (announcement or reminder, sv or en) replies to which."""
    def label(text: str, lang: str) -> str:
        return ("reminder-" if text.startswith("⏰") else "ann-") + lang

    found = {}
    statuses = platforms.mastodon.status_list()
    names = {s["id"]: label(s["text"], s["language"]) for s in statuses}
    found["mastodon"] = {names[s["id"]]: names.get(s["in_reply_to_id"]) for s in statuses}
    tweets = platforms.x.posts
    names = {t.id: label(t.text, "sv" if "Civic Tech Stockholm #1\n\nVi" in t.text
                         or "Börjar" in t.text else "en") for t in tweets}
    found["x"] = {names[t.id]: names.get(t.reply_to) for t in tweets}
    records = list(platforms.bluesky.records.values())
    names = {r.uri: label(r.value["text"], r.value["langs"][0]) for r in records}
    found["bluesky"] = {names[r.uri]: names.get(r.value.get("reply", {}).get("parent", {})
                                                .get("uri")) for r in records}
    return found


def test_announce_threads_exactly_like_run_on_every_platform(platforms):
    assert herald(platforms, "announce", EVENT).exit_code == 0
    reminder = herald(platforms, "announce", EVENT, "--stage", "reminder-1d")
    assert reminder.exit_code == 0, reminder.output
    expected = {"ann-sv": None, "ann-en": "ann-sv",           # English replies to Swedish
                "reminder-sv": "ann-sv",                      # the reminder to the announcement
                "reminder-en": "reminder-sv"}
    assert threads(platforms) == {"mastodon": expected, "x": expected, "bluesky": expected}


def test_announce_refuses_in_one_line_while_herald_run_holds_the_ledger(platforms):
    from bot.ledger import acquire_lock

    with acquire_lock(platforms.ledger):
        result = CliRunner().invoke(main, ["announce", EVENT, "--config", str(platforms.config)])
    assert result.exit_code == 5
    assert result.output == (f"Error: another herald run is using {platforms.ledger} "
                             f"(pid {os.getpid()})\n")
    assert platforms.mastodon.status_list() == [] and platforms.x.posts == []


def test_a_failed_repeat_is_never_completed_by_the_daemon(platforms, monkeypatch):
    config = platforms.config.read_text(encoding="utf-8")
    platforms.config.write_text(config.replace('instance = "', 'min_gap = "0s"\ninstance = "'),
                                encoding="utf-8")            # nothing waits for a gap
    assert herald(platforms, "announce", EVENT, "--account", "mastodon").exit_code == 0
    monkeypatch.setenv("HERALD_MASTODON_ACCESS_TOKEN", "a-revoked-token")
    assert herald(platforms, "announce", EVENT, "--account", "mastodon", "--again").exit_code == 6
    monkeypatch.setenv("HERALD_MASTODON_ACCESS_TOKEN", platforms.mastodon.token)   # fixed
    assert herald(platforms, "run", "--once").exit_code == 0

    def announcements():
        return [s for s in platforms.mastodon.status_list()
                if s["text"].startswith(("Vårmöte", "Spring meetup"))]
    assert len(announcements()) == 2                           # the first announcement only
    status = herald(platforms, "status").output
    assert "STOPPED" not in status
    assert "failed on request varmote-2027/announcement/mastodon/sv" in status
    again = herald(platforms, "announce", EVENT, "--account", "mastodon", "--again")
    assert again.exit_code == 0 and len(announcements()) == 4


def test_a_failed_one_off_post_does_not_say_the_account_is_stopped(platforms, monkeypatch):
    monkeypatch.setenv("HERALD_MASTODON_ACCESS_TOKEN", "a-revoked-token")
    assert herald(platforms, "post", "Hej från Herald!", "--account", "mastodon").exit_code == 6
    monkeypatch.setenv("HERALD_MASTODON_ACCESS_TOKEN", platforms.mastodon.token)
    status = herald(platforms, "status").output
    assert "STOPPED" not in status
    assert "failed on request post-" in status and "left as it is until asked again" in status


@pytest.mark.parametrize("account", ["mastodon", "x", "bluesky"])
def test_a_one_off_post_without_credentials_is_in_history_on_every_platform(platforms,
                                                                            monkeypatch, account):
    for name in [n for n in platforms.env if n.startswith(f"HERALD_{account.upper()}_")]:
        monkeypatch.delenv(name)
    assert herald(platforms, "post", "Hej från Herald!", "--account", account).exit_code == 6
    (entry,) = json.loads(herald(platforms, "history", "--json").output)["entries"]
    assert (entry["account"], entry["state"], entry["requested"]) == (account, "failed", True)
    status = herald(platforms, "status").output
    assert "STOPPED" not in status and "failed on request post-" in status


def test_an_account_at_its_daily_cap_holds_the_pair_until_a_time_and_exits_0(platforms):
    config = platforms.config.read_text(encoding="utf-8")
    platforms.config.write_text(config.replace('api_url = "', 'daily_cap = 3\napi_url = "'),
                                encoding="utf-8")
    assert herald(platforms, "post", "Först", "--account", "x").exit_code == 0
    assert herald(platforms, "post", "Sedan", "--account", "x").exit_code == 0
    result = herald(platforms, "announce", EVENT, "--account", "x")
    assert result.exit_code == 0, result.output
    held = [line for line in result.output.splitlines() if line.startswith("held: ")]
    assert len(held) == 2 and all("daily cap of 3 posts in 24 hours reached; it can go at "
                                  in line for line in held)
    assert [t.text for t in platforms.x.posts] == ["Först", "Sedan"]   # the pair waits whole
