"""Every `--json` output has one documented, versioned shape: checked against docs/json/."""

import json
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "json"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "civictech"
EVENT = "varmote-2027"


def schema(name: str) -> dict:
    found = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(found)
    return found


def check(name: str, output: str) -> dict:
    document = json.loads(output)
    jsonschema.Draft202012Validator(schema(name)).validate(document)
    assert document["schema"] == f"herald.{name}/1"
    return document


def herald(platforms, *args):
    return CliRunner().invoke(main, [*args[:1], "--config", str(platforms.config), *args[1:]],
                              catch_exceptions=False)


def test_every_json_shape_is_documented_and_its_schema_named_in_the_readme():
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    for name in ("preview", "validate", "history", "status"):
        schema(name)
        assert f"`herald.{name}/1`" in readme and f"{name}.schema.json" in readme


def test_preview_status_and_history_json_match_their_schemas_after_real_posts(platforms,
                                                                            tmp_path):
    assert herald(platforms, "announce", EVENT, "--account", "mastodon").exit_code == 0
    now = (platforms.start.replace(hour=12)).isoformat()
    preview = herald(platforms, "preview", "--now", now, "--json", "--images",
                     str(tmp_path / "images"))
    shown = check("preview", preview.output)
    # the day of the meetup, on the ledger's first run: the backlog (the other events'
    # announcements, the 1-day reminder whose time has passed) is skipped, the 2-hour one comes
    assert {"due", "skipped"} <= {p["state"] for p in shown["posts"]}
    assert any(p["media"] for p in shown["posts"] if p["goes"])
    status = herald(platforms, "status", "--now", now, "--json")
    check("status", status.output)
    history = check("history", herald(platforms, "history", "--json").output)
    assert {e["state"] for e in history["entries"]} == {"posted"}
    assert all(e["updated_at"].endswith(("+01:00", "+02:00")) for e in history["entries"])


def test_history_json_keeps_the_reason_the_text_view_shows(platforms):
    from bot.daemon import run_once

    first = datetime.fromisoformat(platforms.start.isoformat()).replace(hour=12)
    run_once(platforms.config, clock=lambda: first)             # the first run skips the backlog
    document = check("history", herald(platforms, "history", "--json").output)
    text = herald(platforms, "history").output
    skipped = [e for e in document["entries"] if e["state"] == "skipped"]
    assert skipped and all(e["reason"] and e["detail"] == e["reason"] for e in skipped)
    assert all(e["detail"] in text for e in skipped)


@pytest.mark.parametrize("args", [(), ("--upcoming",), ("--now", "2026-02-12T12:00+01:00")])
def test_validate_json_matches_its_schema(args):
    result = CliRunner().invoke(main, ["validate", "--site", str(FIXTURES), "--json", *args])
    document = check("validate", result.output)
    assert document["problems"] or args == ("--upcoming",)
    if args == ("--upcoming",):
        assert all(p["upcoming"] for p in document["problems"])


def test_a_time_without_its_offset_does_not_pass_the_schema():
    document = {"schema": "herald.history/1", "ledger": "l", "timezone": "Europe/Stockholm",
                "event": None, "entries": []}
    jsonschema.Draft202012Validator(schema("history")).validate(document)
    entry = {"ref": "r", "stage": "s", "account": "a", "lang": "sv", "generation": 0,
             "state": "posted", "life": "posted", "requested": False, "outcome_unknown": False,
             "left_to_user": False, "url": None, "platform_id": None, "error": None,
             "error_kind": None, "reason": None, "detail": "", "attempts": 1, "retry_at": None,
             "created_at": "2027-04-14T18:00:00+02:00", "updated_at": "2027-04-14T18:00:00",
             "posted_at": None}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema("history")).validate(
            {**document, "entries": [entry]})


# --- validate: grouped by event, past events counted by kind -----------------------------------

def validate(*args):
    return CliRunner().invoke(main, ["validate", "--site", str(FIXTURES), *args])


def test_validate_groups_by_event_and_counts_the_past_by_kind():
    result = validate("--now", "2026-02-12T12:00+01:00")
    lines = result.output.splitlines()
    assert lines[0] == "2026-02-open-knowledge-sweden-meetup-1 · 2026-02-24 18:00 CET:"
    # both language versions say the same: one line naming both files
    assert lines[1] == ("  warning: _events/2026-02-open-knowledge-sweden-meetup-1-en.md, "
                        "_events/2026-02-open-knowledge-sweden-meetup-1.md: event-date: offset "
                        "+02:00 differs from Europe/Stockholm (+01:00) on 2026-02-24; using the "
                        "clock time 18:00 (by the offset it would be 17:00)")
    past = lines.index("Past events, no longer posted: 85 warnings about 32 events "
                       "(--all lists them)")
    kinds = lines[past + 1:-1]
    assert [line.split(":")[0].strip() for line in kinds] == ["image", "event-date",
                                                              "image-alt", "ref"]
    assert kinds[2].startswith("  image-alt: 20 warnings in 11 events (meetup-6, ")
    assert lines[-1] == "74 event files (39 events), 0 drafts, 0 errors, 89 warnings"
    assert len(lines) < 15


def test_validate_upcoming_shows_only_what_can_still_be_posted():
    result = validate("--now", "2026-02-12T12:00+01:00", "--upcoming", "--strict")
    assert "Past events" not in result.output and "meetup-6" not in result.output
    assert result.output.splitlines()[-1].endswith(", 4 warnings")
    assert result.exit_code == 1                                    # --strict: warnings left
    assert validate("--now", "2026-03-01T12:00+01:00", "--upcoming", "--strict").exit_code == 0


def test_validate_all_lists_every_problem_of_past_events_under_their_event():
    result = validate("--now", "2026-02-12T12:00+01:00", "--all")
    assert "meetup-6 · 2019-" in result.output
    assert ("  warning: _events/meetup-6-en.md, _events/meetup-6.md: image-alt: missing"
            in result.output)


def test_preview_json_is_written_as_json_dumps_writes_it_and_keeps_a_line_separator_in_its_string():
    from bot.cli.showing_json import indented

    item = {"ref": "möte", "text": "Rad ett\u2028rad två\u2029\x85slut", "goes": True,
            "at": None, "length": 12, "cost": 0.0015, "media": [], "image": {},
            "warnings": ["a", "b"], "link_card": {"url": "https://x.se/", "thumb": False},
            "nested": [[1, 2], {"x": [None]}]}
    text = indented(item, "    ")
    assert json.loads(text) == item
    plain = {k: v for k, v in item.items() if k != "text"}
    lines = json.dumps(plain, ensure_ascii=False, indent=2).split("\n")
    assert indented(plain, "    ") == "\n".join(lines[:1] + ["    " + line for line in lines[1:]])


def test_preview_json_of_corrections_and_cancellations_matches_its_schema(platforms):
    from datetime import timedelta

    from bot.daemon import run_once
    from tests.conftest import add_event

    text = platforms.config.read_text(encoding="utf-8")
    platforms.config.write_text(text.replace(
        '[accounts.bluesky]\nplatform = "bluesky"\n',
        '[accounts.bluesky]\nplatform = "bluesky"\non_cancel = "delete"\n'), encoding="utf-8")
    day = (platforms.start - timedelta(days=20)).replace(hour=12, minute=0)
    run_once(platforms.config, clock=lambda: day)               # the first run: no backlog
    autumn, winter = day + timedelta(days=10), day + timedelta(days=12)
    add_event(platforms.site, "autumn", autumn)
    add_event(platforms.site, "winter", winter)
    later = day + timedelta(hours=1)
    for moment in (later, later + timedelta(hours=1)):
        run_once(platforms.config, clock=lambda moment=moment: moment)
    add_event(platforms.site, "autumn", autumn + timedelta(hours=1))
    for lang in ("sv", "en"):
        (platforms.site / "_events" / f"winter-{lang}.md").unlink()
    now = (later + timedelta(hours=2)).isoformat()
    shown = check("preview", herald(platforms, "preview", "--now", now, "--json").output)
    changes = {(p["ref"], p["account"], p["change"]["action"]) for p in shown["posts"]
               if p["kind"] != "post"}
    assert changes == {("autumn", "mastodon", "edit"), ("autumn", "x", "reply"),
                       ("autumn", "bluesky", "reply"), ("winter", "mastodon", "reply"),
                       ("winter", "x", "reply"), ("winter", "bluesky", "delete")}
    assert {p["kind"] for p in shown["posts"]} == {"post", "correction", "cancellation"}
    deleting = [p for p in shown["posts"] if p["kind"] == "cancellation"
                and p["change"]["action"] == "delete"]
    assert all(p["text"] is None and p["change"]["deletes"] == 1 and p["goes"]
               for p in deleting)
    status = check("status", herald(platforms, "status", "--now", now, "--json").output)
    assert any(n["stage"] == "correction" for a in status["accounts"] for n in a["next"])
