"""The parse cache: an unchanged file is not parsed again, and a cache is never trusted blindly."""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
from pathlib import Path

import pytest
import yaml

from bot.config import SiteConfig
from bot.content import ParseCache, load_site
from bot.content import front
from tests.test_content import FIXTURES, event_text, make_site

HOUR_AGO = 3600 * 10**9


def age(path: Path, ns: int = HOUR_AGO) -> int:
    """Set a file's times an hour back (a cache trusts only files not changed just now)."""
    mtime = os.stat(path).st_mtime_ns - ns
    os.utime(path, ns=(mtime, mtime))
    return mtime


def swap_keeping_size_and_time(path: Path, old: str, new: str) -> None:
    """Change a file's text without changing its size or time: only a re-parse would see it."""
    assert len(old.encode()) == len(new.encode())
    mtime = os.stat(path).st_mtime_ns
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    os.utime(path, ns=(mtime, mtime))


@pytest.fixture
def site(tmp_path):
    config = make_site(tmp_path / "site", {"hackdag.md": event_text(title="Hackdag")})
    for path in (tmp_path / "site" / "_events").iterdir():
        age(path)
    return config


def title(site_config, cache=None):
    return load_site(site_config, cache=cache).versions("hackdag")["sv"].title


def test_an_unchanged_file_is_not_parsed_again_by_the_same_process(site):
    cache = ParseCache()
    assert title(site, cache) == "Hackdag"
    swap_keeping_size_and_time(site.root / "_events" / "hackdag.md", "Hackdag", "Fikadag")
    assert title(site, cache) == "Hackdag"
    age(site.root / "_events" / "hackdag.md", -10**9)
    assert title(site, cache) == "Fikadag"


def test_an_unchanged_file_is_not_parsed_again_by_the_next_process(site, tmp_path):
    first = ParseCache.for_site(site, tmp_path / "cache")
    assert title(site, first) == "Hackdag" and first.save()
    swap_keeping_size_and_time(site.root / "_events" / "hackdag.md", "Hackdag", "Fikadag")
    later = ParseCache.for_site(site, tmp_path / "cache")
    assert title(site, later) == "Hackdag"
    assert later.hits == 3 and later.misses == 0
    assert title(site) == "Fikadag"


def test_a_cached_site_is_the_same_site_as_a_freshly_read_one(tmp_path):
    fresh = load_site(SiteConfig(root=FIXTURES))
    ParseCache.for_site(SiteConfig(root=FIXTURES), tmp_path)
    writer = ParseCache.for_site(SiteConfig(root=FIXTURES), tmp_path)
    load_site(SiteConfig(root=FIXTURES), cache=writer)
    writer.save()
    reader = ParseCache.for_site(SiteConfig(root=FIXTURES), tmp_path)
    cached = load_site(SiteConfig(root=FIXTURES), cache=reader)
    assert reader.misses == 0 and reader.hits == 74
    assert (cached.events, cached.drafts, cached.problems) == (
        fresh.events, fresh.drafts, fresh.problems)
    assert [e.start.tzinfo for e in cached.events] == [e.start.tzinfo for e in fresh.events]


def test_another_site_configuration_parses_every_file_again(site):
    cache = ParseCache()
    load_site(site, cache=cache)
    swap_keeping_size_and_time(site.root / "_events" / "hackdag.md", "Hackdag", "Fikadag")
    other = SiteConfig(root=site.root, url="https://example.org")
    assert load_site(other, cache=cache).versions("hackdag")["sv"].title == "Fikadag"


def test_a_file_changed_within_the_last_seconds_is_always_parsed_again(site):
    path = site.root / "_events" / "hackdag.md"
    age(path, -HOUR_AGO)  # "now", give or take
    os.utime(path, ns=(os.stat(path).st_mtime_ns,) * 2)
    cache = ParseCache()
    assert title(site, cache) == "Hackdag"
    swap_keeping_size_and_time(path, "Hackdag", "Fikadag")
    assert title(site, cache) == "Fikadag"


def test_an_image_added_later_is_found_although_the_file_is_cached(site):
    path = site.root / "_events" / "hackdag.md"
    path.write_text(event_text(extra="image: /uploads/later.jpg\nimage-alt: Tårta\n"),
                    encoding="utf-8")
    age(path)
    cache = ParseCache()
    assert load_site(site, cache=cache).versions("hackdag")["sv"].image is None
    (site.root / "_uploads" / "later.jpg").write_bytes(b"jpeg")
    loaded = load_site(site, cache=cache)
    assert loaded.versions("hackdag")["sv"].image == (site.root / "_uploads" / "later.jpg")
    assert [p for p in loaded.problems if p.source == "_events/hackdag.md"] == []


def test_a_removed_file_is_forgotten(site, tmp_path):
    cache = ParseCache.for_site(site, tmp_path / "cache")
    load_site(site, cache=cache)
    cache.save()
    (site.root / "_events" / "hackdag.md").unlink()
    assert load_site(site, cache=cache).versions("hackdag") == {}
    assert cache.save()
    _, files = marshal.loads(cache.path.read_bytes().split(b"\n", 1)[1][32:])
    assert sorted(files) == ["_events/meetup-6-en.md", "_events/meetup-6.md"]


def test_the_cache_file_is_private_to_its_owner(site, tmp_path):
    cache = ParseCache.for_site(site, tmp_path / "cache")
    load_site(site, cache=cache)
    cache.save()
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
    assert cache.path.parent == tmp_path / "cache" / "content"


def test_a_cache_folder_inside_the_site_is_never_written(site):
    cache = ParseCache.for_site(site, site.root / "_cache")
    load_site(site, cache=cache)
    assert cache.path is None and not cache.save()
    assert not (site.root / "_cache").exists()
    assert "inside the site" in cache.notes[0]


def test_the_default_cache_folder_is_the_users(site, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = ParseCache.for_site(site)
    assert cache.path.parent == tmp_path / "xdg" / "herald" / "content"


BAD_CACHES = {
    "not a cache file": b"\x00\xffgarbage",
    "another program's JSON": b'{"format": "something else", "files": {}}',
    "a forged entry": None,
    "a damaged cache file": b"herald-content-cache/3\n" + bytes(32) + b"\xff" * 100,
    "a cache file cut short": "truncated",
}


@pytest.mark.parametrize("content", BAD_CACHES.values(), ids=BAD_CACHES.keys())
def test_a_damaged_or_foreign_cache_file_is_ignored_and_rewritten(site, tmp_path, content):
    first = ParseCache.for_site(site, tmp_path / "cache")
    load_site(site, cache=first)
    first.save()
    if content is None:  # same format and fingerprint, but an entry that is not an event
        magic, rest = first.path.read_bytes().split(b"\n", 1)
        fingerprint, files = marshal.loads(rest[32:])
        files = {key: (size, mtime, (("not", "an", "event"), *record[1:]))
                 for key, (size, mtime, record) in files.items()}
        payload = marshal.dumps((fingerprint, files))
        content = magic + b"\n" + hashlib.sha256(payload).digest() + payload
    if content == "truncated":
        content = first.path.read_bytes()[:-10]
    first.path.write_bytes(content)
    swap_keeping_size_and_time(site.root / "_events" / "hackdag.md", "Hackdag", "Fikadag")
    cache = ParseCache.for_site(site, tmp_path / "cache")
    assert title(site, cache) == "Fikadag"
    assert cache.save()
    assert cache.path.read_bytes().startswith(b"herald-content-cache/3\n")


def test_a_cache_file_others_may_write_is_not_trusted(site, tmp_path):
    first = ParseCache.for_site(site, tmp_path / "cache")
    load_site(site, cache=first)
    first.save()
    first.path.chmod(0o666)
    swap_keeping_size_and_time(site.root / "_events" / "hackdag.md", "Hackdag", "Fikadag")
    cache = ParseCache.for_site(site, tmp_path / "cache")
    assert title(site, cache) == "Fikadag"
    assert any("writable by others" in note for note in cache.notes)
    cache.save()
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600


def test_a_cache_that_cannot_be_written_is_noted_not_raised(site, tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    cache = ParseCache.for_site(site, blocker)
    assert title(site, cache) == "Hackdag"
    assert not cache.save()
    assert "cannot write the parse cache" in cache.notes[0]


def test_validate_twice_reads_the_second_time_from_the_cache(site, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first = CliRunner().invoke(main, ["validate", "--site", str(site.root)])
    swap_keeping_size_and_time(site.root / "_events" / "hackdag.md", "Hackdag", "Fikadag")
    second = CliRunner().invoke(main, ["validate", "--site", str(site.root), "--refs"])
    assert first.exit_code == second.exit_code == 0
    assert list((tmp_path / "xdg" / "herald" / "content").glob("*.cache"))
    assert first.output.splitlines()[-1] == second.output.splitlines()[-1]


# --- what the YAML means -------------------------------------------------------------------------

def real_front_matters() -> list[tuple[str, str]]:
    found = []
    for path in sorted(FIXTURES.rglob("*.md")):
        text = path.read_text(encoding="utf-8-sig")
        if text.startswith("---"):
            found.append((path.name, front.split(text)[0]))
    return found


TRICKY = [
    "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: ~\ng: null\nh: ''",
    "a: 017\nb: 0o17\nc: 0x1F\nd: 0b101\ne: 1_000\nf: 1:30\ng: 190:20:30.15\nh: -0",
    "a: .inf\nb: -.Inf\nc: 1e3\nd: 1.5e-3\ne: 6.8523015e+5\nf: 685.230_15e+03",
    "a: 2026-02-24\nb: 2026-02-24 18:00:00 +02:00\nc: 2026-02-24T18:00:00Z\n"
    "d: 2026-2-4 8:00:00\ne: 2001-12-14t21:59:43.10-05:00\nf: 2026-02-24 18:00:00.123456789",
    'a: "Caf\\u00e9 \\x41 \\t tab"\nb: \'it\'\'s\'\nc: "#not a comment"\nd: text # comment',
    "a: |\n  line one\n  line two\nb: >\n  folded\n  text\n\nc: |-\n  kept\nd: >+\n  more\n\n",
    "base: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  y: 3\nlist: [*b, *b]",
    "a: !!str 2026-02-24\nb: !!int '42'\nc: !!float '1'\nd: !!binary aGVsbG8=\ne: !!bool yes",
    "a: !!set {x, y}\nb: !!omap [{x: 1}, {y: 2}]\nc: !!pairs [{x: 1}, {x: 2}]",
    "? complex key\n: value\n'quoted key': 1\n42: number key\n2026-01-01: date key",
    "title: Meetup #1\nplace: Goto 10: Hammarby\nurl: https://example.org/a?b=c#d",
    "a: 'multi\n  line\n\n  plain'\nb: plain\n  continued\nc: - not a list",
    "emoji: 🎉 “quotes” – dash\nrtl: \u202etxet\nnbsp: a\u00a0b",
    "dup: 1\ndup: 2",
    "",
    "# only a comment",
]


def herald_meaning(text: str) -> str:
    try:
        return repr(front.load(text))
    except front.FrontMatterError:
        return "invalid"


def reference_meaning(text: str) -> str:
    """What PyYAML's pure-Python safe loader makes of `text` (the reference)."""
    try:
        return repr(yaml.load(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return "invalid"


@pytest.mark.parametrize("name, raw", real_front_matters(), ids=lambda v: v[:30])
def test_every_real_front_matter_means_the_same_to_herald_as_to_pyyamls_reference_loader(
        name, raw):
    assert herald_meaning(raw) == reference_meaning(raw) != "invalid"


@pytest.mark.parametrize("raw", TRICKY)
def test_tricky_yaml_means_the_same_to_herald_as_to_pyyamls_reference_loader(raw):
    assert herald_meaning(raw) == reference_meaning(raw)


def test_herald_reads_yaml_with_libyaml_when_pyyaml_has_it():
    assert front._Loader.__mro__[1] is (yaml.CSafeLoader if yaml.__with_libyaml__
                                         else yaml.SafeLoader)
