"""Hostile sites: every bad file is one clear line, nothing hangs, nothing outside is read or written."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import SiteConfig
from bot.content import MAX_EVENT_BYTES, load_site, scan_events
from bot.content.files import UnreadableFile, read_event_file
from bot.errors import ConfigError
from tests.test_content import errors, event_text, make_site

ALIAS_BOMB = """---
title: Hackdag
ref: hackdag
event-date: 2026-03-10 18:00:00 +01:00
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
{use}---
"""


def finishes(action, seconds: float = 10.0):
    """Run `action` in a thread; fail (instead of hanging the suite) if it takes too long."""
    result: dict = {}

    def run():
        try:
            result["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in result:
        raise result["error"]
    return result["value"]


def herald(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def only_error(site, name: str):
    found = [p for p in errors(site) if p.source == f"_events/{name}"]
    assert len(found) == 1, found
    return found[0]


# --- YAML bombs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("use", ["", "excerpt: *i\n", "title: *i\n"],
                         ids=["unused", "used by the excerpt", "used by the title"])
def test_an_alias_bomb_is_refused_before_anything_is_built_and_names_the_file(tmp_path, use):
    config = make_site(tmp_path, {"bomb.md": ALIAS_BOMB.format(use=use)})
    started = time.perf_counter()
    site = finishes(lambda: load_site(config))
    assert time.perf_counter() - started < 5
    error = only_error(site, "bomb.md")
    assert error.field == "front matter"
    assert "alias bomb" in error.message and "skipped" in error.message
    assert len(str(error)) < 300
    assert set(site.versions("meetup-6")) == {"sv", "en"}
    assert site.versions("hackdag") == {}


def test_an_anchor_used_inside_itself_is_refused(tmp_path):
    text = "---\ntitle: Hackdag\nevent-date: 2026-03-10 18:00\nloop: &a [1, *a]\n---\n"
    site = load_site(make_site(tmp_path, {"loop.md": text}))
    assert "used inside itself" in only_error(site, "loop.md").message


def test_a_few_aliases_are_still_read(tmp_path):
    text = ("---\ntitle: &t Hackdag\nevent-date: 2026-03-10 18:00\nimage-alt: *t\n"
            "links: [&l {url: 'https://a.se'}, *l]\n---\n")
    site = load_site(make_site(tmp_path, {"ok.md": text}))
    assert [e.title for e in site.events if e.source == "_events/ok.md"] == ["Hackdag"]


def test_a_sexagesimal_number_of_a_million_characters_is_refused_quickly(tmp_path):
    text = event_text(extra="count: 1" + ":30" * 300_000 + "\n")
    site = finishes(lambda: load_site(make_site(tmp_path, {"number.md": text})), 5)
    error = only_error(site, "number.md")
    assert "a number of 900,001 characters" in error.message
    assert len(str(error)) < 300


def test_a_wrong_value_is_shown_briefly_however_large_it_is(tmp_path):
    text = event_text(extra="published: [" + ", ".join(["yes"] * 50_000) + "]\n")
    site = load_site(make_site(tmp_path, {"big.md": text}))
    [warning] = [p for p in site.problems if p.source == "_events/big.md"]
    assert warning.field == "published" and len(warning.message) < 200
    assert "treating it as published" in warning.message


def test_a_million_opening_brackets_in_an_excerpt_cost_linear_time(tmp_path):
    text = event_text(extra="excerpt: '" + "[<" * 400_000 + "'\n")
    site = finishes(lambda: load_site(make_site(tmp_path, {"brackets.md": text})), 5)
    assert [e.source for e in site.events if e.ref == "hackdag"] == ["_events/brackets.md"]


# --- files that are not plain event files ---------------------------------------------------

def test_a_link_to_a_fifo_is_reported_and_never_opened(tmp_path):
    config = make_site(tmp_path / "site", {})
    os.mkfifo(tmp_path / "site" / "pipe")
    (tmp_path / "site" / "_events" / "pipe.md").symlink_to(tmp_path / "site" / "pipe")
    site = finishes(lambda: load_site(config))
    error = only_error(site, "pipe.md")
    assert "FIFO" in error.message and error.message.endswith("skipped")
    assert set(site.versions("meetup-6")) == {"sv", "en"}


def test_a_fifo_named_like_an_event_file_is_reported(tmp_path):
    config = make_site(tmp_path, {})
    os.mkfifo(tmp_path / "_events" / "pipe.md")
    site = finishes(lambda: load_site(config))
    assert str(only_error(site, "pipe.md")) == (
        "error: _events/pipe.md: is a FIFO (named pipe), not a regular file; skipped")


def test_a_file_swapped_for_a_fifo_after_the_scan_is_not_read(tmp_path):
    config = make_site(tmp_path, {"swap.md": event_text()})
    [file] = [f for f in scan_events(config).files if f.key == "_events/swap.md"]
    (tmp_path / "_events" / "swap.md").unlink()
    os.mkfifo(tmp_path / "_events" / "swap.md")
    with pytest.raises(UnreadableFile, match="FIFO"):
        finishes(lambda: read_event_file(file))


def test_a_link_to_dev_zero_is_reported_and_not_read(tmp_path):
    config = make_site(tmp_path, {})
    (tmp_path / "_events" / "zero.md").symlink_to("/dev/zero")
    site = finishes(lambda: load_site(config))
    message = only_error(site, "zero.md").message
    assert "/dev/zero, outside the site folder" in message


def test_a_link_to_a_file_outside_the_site_is_not_read_or_announced(tmp_path):
    outside = tmp_path / "private.md"
    outside.write_text(event_text(title="Hemligt"), encoding="utf-8")
    config = make_site(tmp_path / "site", {})
    (tmp_path / "site" / "_events" / "leak.md").symlink_to(outside)
    site = load_site(config)
    assert "outside the site folder" in only_error(site, "leak.md").message
    assert all(e.title != "Hemligt" for e in site.events)


def test_a_link_to_an_event_file_elsewhere_in_the_site_is_read(tmp_path):
    config = make_site(tmp_path, {})
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "real.md").write_text(event_text(), encoding="utf-8")
    (tmp_path / "_events" / "linked.md").symlink_to(tmp_path / "drafts" / "real.md")
    site = load_site(config)
    assert site.versions("hackdag")["sv"].source == "_events/linked.md"
    assert errors(site) == []


def test_a_file_over_the_size_cap_is_reported_and_skipped(tmp_path):
    huge = event_text(extra=f"excerpt: '{'x' * MAX_EVENT_BYTES}'\n")
    site = load_site(make_site(tmp_path, {"huge.md": huge}))
    message = only_error(site, "huge.md").message
    assert f"more than the {MAX_EVENT_BYTES:,} bytes Herald reads" in message
    assert site.versions("hackdag") == {}


def test_a_file_name_that_is_not_utf8_is_escaped_and_the_rest_loads(tmp_path):
    config = make_site(tmp_path, {})
    os.rename(_write(tmp_path / "_events" / "x.md", b"not front matter"),
              os.fsencode(tmp_path / "_events") + b"/caf\xe9.md")
    site = load_site(config)
    assert only_error(site, "caf\\xe9.md").field == "front matter"
    assert set(site.versions("meetup-6")) == {"sv", "en"}
    result = herald("validate", "--site", str(tmp_path))
    assert "error: _events/caf\\xe9.md: front matter: missing" in result.output
    assert result.exit_code == 2


def test_a_newline_in_a_file_name_cannot_forge_a_line_of_output(tmp_path):
    config = make_site(tmp_path, {"evil\nwarning: meetup-6.md: forged.md":
                                  event_text(date="soon")})
    site = load_site(config)
    [error] = errors(site)
    assert error.source == "_events/evil\\nwarning: meetup-6.md: forged.md"
    result = herald("validate", "--site", str(tmp_path))
    assert not any(line.startswith("warning: meetup-6.md")
                   for line in result.output.splitlines())
    assert "error: _events/evil\\nwarning: meetup-6.md: forged.md: event-date: cannot read" \
        in result.output


def test_a_ref_with_a_newline_is_escaped_with_a_warning(tmp_path):
    text = event_text().replace("ref: hackdag", 'ref: "hack\\ndag"')
    site = load_site(make_site(tmp_path, {"hackdag.md": text}))
    assert site.versions("hack\\ndag")["sv"].source == "_events/hackdag.md"
    [warning] = [p for p in site.problems if p.source == "_events/hackdag.md"]
    assert warning.field == "ref" and "cannot be shown on one line" in warning.message


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- the site and events folders --------------------------------------------------------------

@pytest.mark.parametrize("events_dir", ["../elsewhere", "/tmp"], ids=["relative", "absolute"])
def test_an_events_folder_outside_the_site_is_a_configuration_error(tmp_path, events_dir):
    (tmp_path / "elsewhere").mkdir()
    make_site(tmp_path / "site", {})
    with pytest.raises(ConfigError, match="site.events_dir: .* is outside the site folder"):
        load_site(SiteConfig(root=tmp_path / "site", events_dir=events_dir))


def test_an_events_folder_that_links_outside_the_site_is_a_configuration_error(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "_events").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="outside the site folder"):
        load_site(SiteConfig(root=tmp_path / "site"))


def test_a_missing_site_folder_exits_3(tmp_path):
    result = herald("validate", "--site", str(tmp_path / "nowhere"))
    assert result.exit_code == 3
    assert result.output.strip() == (
        f"Error: site.path: the site folder {tmp_path / 'nowhere'} not found")


def test_an_events_dir_that_is_a_file_exits_3(tmp_path):
    (tmp_path / "_events").write_text("not a folder", encoding="utf-8")
    result = herald("validate", "--site", str(tmp_path))
    assert result.exit_code == 3
    assert "site.events_dir: _events/ is not a folder" in result.output


# --- refs that cannot name a file, titles that cannot fit ----------------------------------

HOSTILE_REFS = {
    "dotdot.md": "../../x",
    "absolute.md": "/tmp/herald-absolute-ref",
    "slash.md": "a/b",
    "nul.md": "nul\\0byte",
    "long.md": "r" * 300,
}


def hostile_site(root: Path) -> Path:
    files = {name: event_text(date="2026-06-10 18:00:00 +02:00").replace(
        "ref: hackdag", f'ref: "{ref}"') for name, ref in HOSTILE_REFS.items()}
    make_site(root, files)
    return root


def test_preview_images_writes_every_file_inside_its_folder_whatever_the_ref(tmp_path):
    site = hostile_site(tmp_path / "site")
    out = tmp_path / "out" / "images"
    before = {p for p in tmp_path.rglob("*")}
    result = herald("preview", "--site", str(site), "--now", "2026-05-01T12:00+02:00",
                    "--platform", "mastodon", "--images", str(out), "--json")
    assert result.exit_code == 0, result.output
    written = [Path(p) for post in json.loads(result.output)["posts"] for p in post["written"]]
    assert len(written) >= len(HOSTILE_REFS)
    assert all(p.parent == out and p.is_file() for p in written)
    assert all(len(p.name.encode()) < 200 for p in written)
    new = {p for p in tmp_path.rglob("*")} - before
    assert {p for p in new if out not in (p, *p.parents)} <= {tmp_path / "out"}
    assert not Path("/tmp/herald-absolute-ref").exists()


def test_validate_warns_about_refs_that_cannot_name_a_file_and_says_what_herald_does(tmp_path):
    site = hostile_site(tmp_path / "site")
    result = herald("validate", "--site", str(site), "--now", "2026-05-01T12:00+02:00")
    lines = [line.strip() for line in result.output.splitlines() if "cannot name a file" in line]
    assert len(lines) == len(HOSTILE_REFS)
    dotdot = next(line for line in lines if "dotdot.md" in line)
    assert dotdot.startswith("warning: _events/dotdot.md: ref: '../../x' cannot name a file")
    assert "preview --images names its files 'x-" in dotdot


def test_a_title_that_can_never_fit_is_a_validate_error_naming_file_and_platform(tmp_path):
    title = "Hackdag " + "med öppna data " * 22
    make_site(tmp_path, {"long-title.md": event_text(title=title.strip())})
    result = herald("validate", "--site", str(tmp_path), "--now", "2026-01-01T12:00+01:00")
    assert result.exit_code == 2
    lines = [line.strip() for line in result.output.splitlines() if "long-title.md" in line]
    assert any(line.startswith("error: _events/long-title.md: title: the announcement post "
                               "cannot fit x (account x):") for line in lines)
    assert any("cannot fit bluesky (account bluesky)" in line for line in lines)
    assert not any("cannot fit mastodon" in line for line in lines)
    assert "shorten the title" in lines[0]


def test_a_title_that_cannot_fit_matters_no_more_once_the_event_is_past(tmp_path):
    title = "Hackdag " + "med öppna data " * 22
    make_site(tmp_path, {"long-title.md": event_text(title=title.strip())})
    result = herald("validate", "--site", str(tmp_path), "--now", "2026-06-01T12:00+02:00")
    assert result.exit_code == 0
    assert "cannot fit" not in result.output


def test_validate_does_not_flag_the_real_site(tmp_path):
    result = herald("validate", "--site", str(Path(__file__).resolve().parents[2] / "shared"
                                              / "fixtures" / "civictech"))
    assert result.exit_code == 0
    assert " 0 errors" in result.output
    assert "cannot fit" not in result.output and "cannot name a file" not in result.output


def test_events_in_a_folder_two_thousand_levels_deep_are_found(tmp_path):
    config = make_site(tmp_path, {})
    deep = tmp_path / "_events"
    for _ in range(2000):  # deeper than Python's recursion limit
        deep = deep / "d"
        try:
            deep.mkdir()
        except OSError:  # the file system's own limit on path length
            break
    (deep / "hackdag.md").write_text(event_text(), encoding="utf-8")
    try:
        assert load_site(config).versions("hackdag")["sv"].title == "Hackdag"
    finally:
        _remove_chain(tmp_path / "_events", deep)


def _remove_chain(top: Path, bottom: Path) -> None:
    """Remove a folder chain bottom-up without recursion (pytest's clean-up would recurse)."""
    for entry in bottom.iterdir():
        entry.unlink()
    while bottom != top:
        bottom.rmdir()
        bottom = bottom.parent


def test_an_events_dir_with_a_nul_byte_is_a_configuration_error(tmp_path):
    make_site(tmp_path, {})
    with pytest.raises(ConfigError, match="site.events_dir: cannot use"):
        load_site(SiteConfig(root=tmp_path, events_dir="_ev\0ents"))
