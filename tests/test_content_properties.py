"""Property-based tests: whatever a site holds, Herald names each bad file in one line and goes on.

Generated: front matter with wrong types, missing keys, huge strings, odd Unicode, invalid and
extreme dates, anchors, aliases and tags; files that are empty, binary or not UTF-8; special
files and links; odd file names. Asserted: never an exception or a traceback, a bounded time
per file, one printable line per problem naming its file, the good files still loaded and
planned, and nothing written outside the folders named.

The `ci` profile (the default) keeps this file to about a minute; set HYPOTHESIS_PROFILE=deep
for a longer search.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import parse_config
from bot.content import load_site
from bot.survey import survey
from tests.test_content import make_site

settings.register_profile("ci", max_examples=400, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("deep", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
EXAMPLES = settings.default.max_examples

SECONDS_PER_FILE = 3.0
NOW = datetime(2019, 8, 1, 12, tzinfo=ZoneInfo("Europe/Stockholm"))
KEYS = ["title", "ref", "event-date", "lang", "published", "excerpt", "ingress-text", "image",
        "image-alt", "image_alt", "place", "permalink", "links", "group"]

RAW_YAML = [
    "nested: &a [x, x, x, x, x, x, x, x]\nmore: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    "bomb: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nboom: [*c, *c, *c, *c, *c, *c, *c, *c]\n",
    "loop: &l [1, *l]\n",
    "merge: &m {title: Merged}\n<<: *m\n",
    "object: !!python/object/apply:os.system [echo hello]\n",
    "binary: !!binary aGVsbG8=\n",
    "set: !!set {a, b}\n",
    "sexagesimal: 1" + ":30" * 3000 + "\n",
    "flow: " + "[" * 1200 + "\n",
    "title: *undefined\n",
    "\ttitle: tab\n",
    "event-date: 2026-13-45 25:61\n",
    "event-date: 9999-12-31 23:59:59 -23:59\n",
    "event-date: 0001-01-01 00:00:00 +14:00\n",
    "event-date: 2026-03-29 02:30:00\n",
    "event-date: 2025-10-26 02:30:00 +05:00\n",
    'ref: "../../etc/passwd"\n',
    'ref: "a\\0b\\nc"\n',
    "ref: " + "r" * 300 + "\n",
    "image: /dev/zero\n",
    "image: ../../../../etc/passwd\n",
    'image: "/uploads/\\0x.jpg"\n',
    "image: //evil.example/x.jpg\n",
    "image: [1, 2]\n",
    'permalink: "/:title/../../:nothing/"\n',
    "title: '" + "[<" * 20_000 + "'\n",
    'excerpt: "' + "🎉" * 2000 + '"\n',
    "lang: SV\n",
    "lang: xx\n",
    "published: maybe\n",
    "title: 123456789012345678901234567890\n",
    "big: 0b" + "1" * 20_000 + "\n",
    "? [a, b]\n: c\n",
    "key: value\nkey: again\n",
    "- a list\n- not a map\n",
]

SCALARS = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.integers(), st.floats(), st.booleans(), st.none(),
    st.dates(), st.datetimes(timezones=st.none() | st.just(timezone.utc)),
    st.integers(0, 300_000).map(lambda n: "x" * n),
    st.sampled_from(["", " ", "2026-02-24 18:00:00 +01:00", "yes", "~", "\u202e", "\x1b[31m",
                     "a\nb", "'\"", "#", ":", "- x", "{{title}}"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)


@st.composite
def event_files(draw) -> bytes:
    """One event file's bytes, anything from a plausible event to binary junk."""
    kind = draw(st.sampled_from(["yaml", "yaml", "yaml", "bytes", "empty", "text"]))
    if kind == "bytes":
        return draw(st.binary(max_size=3000))
    if kind == "empty":
        return b""
    if kind == "text":
        return draw(st.text(max_size=500)).encode("utf-8", "surrogatepass")
    fields = draw(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), VALUES,
                                  max_size=8))
    try:
        front = yaml.safe_dump(fields, allow_unicode=True)
    except (yaml.YAMLError, ValueError, TypeError, UnicodeError):
        front = ""
    front += "".join(draw(st.lists(st.sampled_from(RAW_YAML), max_size=3)))
    closing = draw(st.sampled_from(["---\n", "---\n", "", "----  \n"]))
    text = "---\n" + front + closing + draw(st.text(max_size=200))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf-8") else "replace")


FILE_NAMES = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]),
            min_size=1, max_size=40),
    st.binary(min_size=1, max_size=30).filter(lambda b: b"/" not in b and b"\x00" not in b),
).map(lambda name: (name if isinstance(name, bytes)
                    else name.encode("utf-8")) + b".md")


@contextmanager
def hostile_site(files: dict[bytes, bytes]):
    """A site with the real meetup-6 pair and `files` (names as bytes) in its events folder."""
    with tempfile.TemporaryDirectory(prefix="herald-prop-") as scratch:
        root = Path(scratch) / "site"
        config = make_site(root, {})
        events = os.fsencode(root / "_events")
        for name, data in files.items():
            if name.lstrip(b".") in (b"", b".md") or len(name) > 250:
                continue
            try:
                with open(events + b"/" + name, "wb") as out:
                    out.write(data)
            except OSError:  # a name this file system refuses
                continue
        yield config, Path(scratch)


def every_file(folder: Path) -> dict[str, int]:
    found = {}
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            found[path] = os.lstat(path).st_mtime_ns
    return found


def assert_one_clear_line_per_problem(site, sources: set[str]) -> None:
    for problem in site.problems:
        line = str(problem)
        assert "\n" not in line and "\r" not in line and line.isprintable(), line
        assert len(line) < 900, line[:200]
        assert problem.source in sources or problem.source.startswith("_events/")


def assert_good_files_still_load(site) -> None:
    assert set(site.versions("meetup-6")) == {"sv", "en"}


@given(st.dictionaries(FILE_NAMES, event_files(), min_size=1, max_size=3))
def test_any_event_files_are_loaded_or_named_in_one_line_in_bounded_time(files):
    with hostile_site(files) as (config, scratch):
        before = every_file(scratch)
        started = time.perf_counter()
        site = load_site(config)
        assert time.perf_counter() - started < SECONDS_PER_FILE * (len(files) + 2)
        assert_good_files_still_load(site)
        assert_one_clear_line_per_problem(site, {e.source for e in site.events + site.drafts})
        assert every_file(scratch) == before
        unusable = {p.source for p in site.problems if p.severity == "error"}
        loaded = {e.source for e in site.events + site.drafts}
        assert all(name.endswith(".md") for name in unusable | loaded)
        for event in site.events:
            assert event.start.tzinfo is not None and event.ref.isprintable()
        planned = survey(parse_config({}, base=config.root), site, [], now=NOW, seen={}).plan
        assert {p.key.lang for p in planned.posts if p.key.ref == "meetup-6"} == {"sv", "en"}


SPECIAL = st.sampled_from(["fifo", "dev-zero", "dev-null", "outside", "dangling", "folder",
                           "loop", "inside", "self"])


def make_special(root: Path, scratch: Path, name: str, kind: str) -> None:
    link = root / "_events" / name
    if kind == "fifo":
        os.mkfifo(link)
    elif kind == "dev-zero":
        link.symlink_to("/dev/zero")
    elif kind == "dev-null":
        link.symlink_to("/dev/null")
    elif kind == "outside":
        secret = scratch / f"secret-{name}"
        secret.write_text("---\ntitle: Secret\nevent-date: 2026-01-01 10:00\n---\n")
        link.symlink_to(secret)
    elif kind == "dangling":
        link.symlink_to(root / "nothing-here")
    elif kind == "folder":
        link.symlink_to(root / "_uploads")
    elif kind == "loop":
        link.symlink_to(link)
    elif kind == "inside":
        (root / f"copy-{name}").write_text(
            f"---\ntitle: Linked\nref: {name}\nevent-date: 2026-01-01 10:00\n---\n")
        link.symlink_to(root / f"copy-{name}")
    elif kind == "self":
        link.symlink_to(root / "_events")


@given(st.lists(SPECIAL, min_size=1, max_size=4))
def test_special_files_and_links_never_hang_and_are_each_reported(kinds):
    with hostile_site({}) as (config, scratch):
        names = [f"special-{i}.md" for i in range(len(kinds))]
        for name, kind in zip(names, kinds):
            make_special(config.root, scratch, name, kind)
        started = time.perf_counter()
        site = load_site(config)
        assert time.perf_counter() - started < SECONDS_PER_FILE * (len(kinds) + 2)
        assert_good_files_still_load(site)
        assert_one_clear_line_per_problem(site, set())
        assert all(e.title != "Secret" for e in site.events)
        for name, kind in zip(names, kinds):
            reported = [p for p in site.problems if p.source == f"_events/{name}"]
            loaded = [e for e in site.events if e.source == f"_events/{name}"]
            assert len(reported) + len(loaded) >= 1, (name, kind)
            assert bool(loaded) == (kind == "inside")


@settings(max_examples=max(EXAMPLES // 5, 1))
@given(st.dictionaries(FILE_NAMES, event_files(), min_size=1, max_size=2))
def test_validate_never_prints_a_traceback_or_an_unprintable_line(files):
    with hostile_site(files) as (config, _scratch):
        result = CliRunner().invoke(main, ["validate", "--site", str(config.root)])
        assert result.exit_code in (0, 1, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        for line in result.output.splitlines():
            assert line.isprintable(), repr(line)


REFS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["../../x", "/tmp/herald-ref", "a/b", "..", ".", "-", "nul\\0", "r" * 300,
                     "~/x", "C:\\\\x", "%2e%2e%2fx"]),
)


@settings(max_examples=max(EXAMPLES // 10, 1))
@given(st.lists(REFS, min_size=1, max_size=3, unique=True))
def test_preview_images_writes_only_inside_the_folder_named(refs):
    files = {}
    for number, ref in enumerate(refs):
        quoted = ref.replace("\\", "\\\\").replace('"', '\\"')
        files[f"ref-{number}.md".encode()] = (
            f'---\ntitle: Hackdag {number}\nref: "{quoted}"\n'
            f"event-date: 2026-06-1{number} 18:00:00 +02:00\n---\n").encode(
            "utf-8", "surrogatepass")
    with hostile_site(files) as (config, scratch):
        out = scratch / "out"
        before = every_file(scratch)
        result = CliRunner().invoke(main, [
            "preview", "--site", str(config.root), "--now", "2026-05-01T12:00+02:00",
            "--platform", "mastodon", "--lang", "sv", "--images", str(out)])
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.output
        after = every_file(scratch)
        changed = {path for path in after if after[path] != before.get(path)}
        assert all(Path(path).parent == out for path in changed), sorted(changed)
        assert not Path("/tmp/herald-ref").exists()


PIECES = st.sampled_from(["Hackdag", " ", "a.se", "https://civictech.se/x", "t.co", "🎉",
                          "👨\u200d👩\u200d👧", "漢字", "öppna", "ÅÄÖ", "#civictech", "@a@b.se",
                          ".", "1.2.3.4", "x" * 40, "\u0301", "—", "…"])
TEXTS = st.lists(PIECES, max_size=40).map("".join)


@settings(max_examples=max(EXAMPLES // 4, 1))
@given(title=TEXTS.filter(str.strip), place=TEXTS, lang=st.sampled_from(["sv", "en"]))
def test_a_post_validate_lets_pass_without_composing_always_fits(title, place, lang):
    from bot import app
    from bot.composer import compose
    from bot.config import DEFAULT_ACCOUNTS, DEFAULT_STAGES
    from bot.content.checks import _Bound, _shapes
    from bot.model import Event, PlannedPost, PostKey

    config = parse_config({}, base=Path(__file__).resolve().parents[1] / "content")
    start = datetime(2026, 9, 23, 18, 30, tzinfo=ZoneInfo("Europe/Stockholm"))
    event = Event(ref="x", lang=lang, title=title.strip(), start=start, place=place.strip(),
                  url="https://civictech.se/" + "hackdag-" * 3, source="_events/x.md")
    for account in DEFAULT_ACCOUNTS:
        limits = app.declared_limits(account, config)
        for stage in DEFAULT_STAGES:
            bound = _Bound([limits], _shapes(stage, config.templates))
            if bound.fits(event):
                due = start - (stage.before or (start - start))
                post = compose(PlannedPost(PostKey("x", stage.name, account.name, lang), due,
                                           start, stage), {lang: event}, limits,
                               templates=config.templates, hashtags=config.site.hashtags)
                assert post.error is None, (account.platform, stage.name, post.error)
