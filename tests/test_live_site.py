"""The daemon's site, updated in place file by file, equals the site loaded afresh.

`herald run` keeps its site up to date by putting each changed file's event and problems in
place (`content.live`). Whatever sequence of edits, additions, deletions, renames, ref changes
(shared refs too), drafts, broken files, sub-folders and images that appear or vanish, the
updated site must be the one `load_site` reads from scratch (an image that appears or vanishes
is seen once an event file changes, as before: the daemon looks at the event files): the same events, drafts and
problems in the same order, the same refs in the same order, the same versions of each.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.content import ParseCache, load_site
from bot.content.live import LiveSite
from tests.test_content import FIXTURES, make_site

NAMES = ["a.md", "b.md", "c.md", "d.md", "sub/e.md", "sub/f.md", "_hidden.md", "g.txt"]
REFS = ["hack", "meet", "talk", "meetup-6"]
DATES = ["2026-03-10 18:00:00 +01:00", "2026-03-10", "2027-01-05 09:30:00 +01:00",
         "2019-05-01 18:00:00 +02:00"]
IMAGES = ["", "/uploads/debian-cake-meetup-6.jpeg", "/uploads/extra.jpeg", "/uploads/none.png"]
IMAGE = FIXTURES / "_uploads" / "debian-cake-meetup-6.jpeg"


def event(ref: str, lang: str, date: str, image: str, title: str, published: bool) -> str:
    lines = [f"title: {title}", f"ref: {ref}", f"lang: {lang}", f"event-date: {date}"]
    if image:
        lines.append(f"image: {image}")
    if not published:
        lines.append("published: false")
    return "---\n" + "\n".join(lines) + "\n---\nBody.\n"


texts = st.builds(event, st.sampled_from(REFS), st.sampled_from(["sv", "en"]),
                  st.sampled_from(DATES), st.sampled_from(IMAGES),
                  st.sampled_from(["Hackdag", "Möte", "A talk"]), st.booleans()) | \
    st.sampled_from(["---\ntitle: [unclosed\n---\n", "no front matter at all\n",
                     "---\ntitle: Only a title\n---\n"])
steps = st.lists(st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), texts),
    st.tuples(st.just("delete"), st.sampled_from(NAMES), st.none()),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("image"), st.sampled_from(["add", "remove"]), st.none()),
    st.tuples(st.just("look"), st.none(), st.none()),    # nothing changed
), min_size=1, max_size=12)


def same(updated, fresh) -> None:
    assert updated.events == fresh.events
    assert updated.drafts == fresh.drafts
    assert updated.problems == fresh.problems
    assert updated.refs() == fresh.refs()
    assert all(updated.versions(ref) == fresh.versions(ref) for ref in fresh.refs())
    assert updated == fresh


class Clock:
    """Distinct file times (in the past, so that the parse cache keeps the files)."""

    def __init__(self) -> None:
        self.ns = 1_700_000_000 * 10**9

    def touch(self, path: Path) -> None:
        self.ns += 10**9
        os.utime(path, ns=(self.ns, self.ns))


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_a_site_updated_in_place_equals_the_site_loaded_afresh(sequence):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "site"
        config = make_site(root, {"a.md": event("hack", "sv", DATES[0], "", "Hackdag", True),
                                  "b.md": event("hack", "en", DATES[0], "", "Hackday", True)})
        (root / "_events" / "sub").mkdir()
        clock = Clock()
        for path in (root / "_events").iterdir():
            if path.is_file():
                clock.touch(path)
        live = LiveSite(config, ParseCache())
        same(live.refresh(), load_site(config))
        for action, first, second in sequence:
            events = root / "_events"
            if action == "write":
                (events / first).write_text(second, encoding="utf-8")
                clock.touch(events / first)
            elif action == "delete" and (events / first).exists():
                (events / first).unlink()
            elif action == "rename" and (events / first).exists() and first != second:
                os.replace(events / first, events / second)
            elif action == "image":
                extra = root / "_uploads" / "extra.jpeg"
                if first == "add":
                    shutil.copyfile(IMAGE, extra)
                elif extra.exists():
                    extra.unlink()
            before, updated = live.site, live.refresh()
            if updated is None:     # no event file changed (an image alone is seen with them)
                assert live.site is before
            else:
                same(updated, load_site(config))


def test_an_unchanged_site_is_not_loaded_again_and_a_change_costs_one_parse(tmp_path):
    config = make_site(tmp_path, {f"e{n}.md": event(f"e{n}", "sv", DATES[0], "", "Hack", True)
                                  for n in range(30)})
    clock = Clock()
    for path in (tmp_path / "_events").iterdir():
        clock.touch(path)
    cache = ParseCache()
    live = LiveSite(config, cache)
    first = live.refresh()
    assert first is not None and live.refresh() is None
    misses = cache.misses
    changed = tmp_path / "_events" / "e7.md"
    changed.write_text(event("e7", "sv", DATES[2], "", "Moved", True), encoding="utf-8")
    clock.touch(changed)
    updated = live.refresh()
    assert cache.misses == misses + 1
    assert updated.versions("e7")["sv"].title == "Moved"
    assert first.versions("e7")["sv"].title == "Hack"       # the earlier site is untouched
    same(updated, load_site(config))


def test_a_folder_that_cannot_be_listed_is_reported_as_a_fresh_load_reports_it(tmp_path):
    config = make_site(tmp_path, {"a.md": event("a", "sv", DATES[0], "", "Hack", True)})
    locked = tmp_path / "_events" / "locked"
    locked.mkdir()
    (locked / "b.md").write_text(event("b", "sv", DATES[0], "", "Hack", True), "utf-8")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("this user reads every folder (root): none can be left unlisted")
        live = LiveSite(config, ParseCache())
        same(live.refresh(), load_site(config))
        assert live.refresh() is None           # still unlisted: nothing changed
        locked.chmod(0o755)
        same(live.refresh(), load_site(config))
    finally:
        locked.chmod(0o755)


def test_a_folder_that_stays_unlisted_does_not_reload_the_site_at_every_look(tmp_path,
                                                                              monkeypatch):
    config = make_site(tmp_path, {"a.md": event("a", "sv", DATES[0], "", "Hack", True)})
    locked = tmp_path / "_events" / "locked"
    locked.mkdir()
    real_scandir, real_listdir = os.scandir, os.listdir

    def refuse(real):
        def listing(path="."):
            if os.fspath(path) == str(locked):
                raise PermissionError(13, "Permission denied")
            return real(path)
        return listing

    # As root nothing is unreadable: refuse the folder as a permission would.
    monkeypatch.setattr(os, "scandir", refuse(real_scandir))
    monkeypatch.setattr(os, "listdir", refuse(real_listdir))
    live = LiveSite(config, ParseCache())
    first = live.refresh()
    assert any("cannot list the folder" in p.message for p in first.problems)
    same(first, load_site(config))
    assert live.refresh() is None and live.refresh() is None
    monkeypatch.setattr(os, "scandir", real_scandir)
    monkeypatch.setattr(os, "listdir", real_listdir)
    same(live.refresh(), load_site(config))
