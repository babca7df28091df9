"""`herald preview --html`: the page of planned posts, checked as HTML and in headless Chromium.

The browser tests need Debian's `chromium` (or HERALD_CHROMIUM naming a Chromium binary). They
skip with one line when it is missing, and fail instead when HERALD_REQUIRE_BROWSER=1 (as CI
sets). Chromium runs with its background networking off and every host name unresolvable, so
a page that needed the network would show it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.model import LinkCard, Media, PostKey, Problem
from bot.page import Entry, Page, write_page
from bot.page.render import IMAGE_NAME, render, slug
from bot.page.text import rich

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "civictech"
SAMPLE = ROOT / "content"
MEETUP = "2026-02-open-knowledge-sweden-meetup-1"
WEEK = "2026-02-12T12:00+01:00"
ZONE = ZoneInfo("Europe/Stockholm")


def tiny_png(colour=(29, 53, 87)) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (2, 1), colour).save(out, "PNG")
    return out.getvalue()


PNG = tiny_png()


@dataclass
class Node:
    tag: str
    attrs: dict
    items: list = field(default_factory=list)
    """Text and child nodes, in document order."""

    @property
    def children(self) -> list:
        return [item for item in self.items if isinstance(item, Node)]

    def all(self, tag: str | None = None, cls: str | None = None):
        for child in self.children:
            if (tag is None or child.tag == tag) and (
                    cls is None or cls in child.attrs.get("class", "").split()):
                yield child
            yield from child.all(tag, cls)

    def content(self) -> str:
        return "".join(i if isinstance(i, str) else i.content() for i in self.items)

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attrs


class Tree(HTMLParser):
    """Parse a page into Nodes (the standard library's parser; enough for our own HTML)."""

    VOID = {"meta", "img", "br", "input", "link", "hr", "source", "wbr"}

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs})
        self.stack[-1].items.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].items.append(data)


def herald(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HERALD_CONFIG", raising=False)
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Path:
    """The page of the real site's February week: one meetup, three platforms, sv and en."""
    folder = tmp_path_factory.mktemp("week")
    with pytest.MonkeyPatch.context() as env:
        env.chdir(folder)
        env.delenv("HERALD_CONFIG", raising=False)
        for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
            env.setenv(name, str(folder / name.lower()))
        result = herald("preview", "--site", str(FIXTURES), "--now", WEEK, "--catch-up",
                        "--html", str(folder / "page"))
    assert result.exit_code == 0, result.output
    assert result.output == f"18 planned posts: {folder / 'page' / 'index.html'}\n"
    return folder / "page"


def entry(ref="meetup", account="mastodon", lang="sv", stage="announcement", **changes):
    values = dict(key=PostKey(ref, stage, account, lang), platform=account,
                  at=datetime(2026, 2, 12, 12, 0, tzinfo=ZONE), title="Meetup",
                  text="Meetup\nhttps://civictech.se/meetup/", length=40, limit=500,
                  server="mastodon.social")
    values.update(changes)
    return Entry(**values)


def page_of(*entries, **changes) -> Page:
    values = dict(site="civictech.se", zone=ZONE, now=datetime(2026, 2, 12, 12, tzinfo=ZONE),
                  entries=entries, titles={e.key.ref: e.title for e in entries},
                  languages=("sv", "en"))
    values.update(changes)
    return Page(**values)


def posts(tree: Tree) -> list[Node]:
    return list(tree.root.all("article"))


# The page as HTML ------------------------------------------------------------------------------

def test_the_page_draws_every_planned_post_of_the_week_with_its_account_time_and_count(week):
    tree = Tree((week / "index.html").read_text(encoding="utf-8"))
    articles = posts(tree)
    assert len(articles) == 18
    assert {(a.attrs["data-platform"], a.attrs["data-lang"]) for a in articles} == {
        (p, lang) for p in ("mastodon", "x", "bluesky") for lang in ("sv", "en")}
    for article in articles:
        text = article.content()
        assert "civictech.se" in text
        assert re.search(r"\b\d{2,3}/(500|280|300)\b", text), text
        (when,) = [t for t in article.all("time")]
        moment = datetime.fromisoformat(when.attrs["datetime"])
        assert moment.utcoffset() is not None and moment.tzinfo is not None
        assert when.content() == f"{moment:%H:%M} CET"
    first = articles[0]
    assert first.attrs["data-platform"] == "mastodon" and first.attrs["data-lang"] == "sv"
    assert "tisdag 24 februari kl. 18:00–20:00" in first.content()
    assert [h.content() for h in tree.root.all("h2")][:3] == [
        "Thursday 12 February 2026", "Monday 23 February 2026", "Tuesday 24 February 2026"]
    summary = next(tree.root.all("p", "summary")).content()
    assert summary.startswith("18 posts for 1 event on Mastodon, X and Bluesky in sv and en")
    listed = herald("preview", "--site", str(FIXTURES), "--now", WEEK, "--catch-up", "--json")
    costs = {(p["platform"], p["lang"], p["stage"]): p["cost"]
             for p in json.loads(listed.output)["posts"]}
    assert f"Estimated cost about ${sum(costs.values()):,.3f}." in summary
    for article in articles:
        key = (article.attrs["data-platform"], article.attrs["data-lang"],
               next(article.all("span", "stage")).content())
        if costs[key]:
            assert next(article.all("span", "cost")).content() == f"${costs[key]:.3f}"
        else:
            assert not list(article.all("span", "cost"))


def test_each_post_shows_its_prepared_image_with_alt_text_and_bluesky_a_link_card(week):
    tree = Tree((week / "index.html").read_text(encoding="utf-8"))
    for article in posts(tree):
        images = list(article.all("img"))
        assert len(images) == 1
        src = images[0].attrs["src"]
        assert src.startswith("images/") and IMAGE_NAME.fullmatch(src[len("images/"):])
        assert (week / src).is_file()
        if article.attrs["data-platform"] == "bluesky":
            (card,) = article.all("a", "link-card")
            assert card.attrs["href"].startswith("https://civictech.se/2026-02-open-knowledge")
            assert "Open Knowledge Sweden Meetup 2026 #1" in card.content()
            assert not list(article.all("figure"))
        else:
            (figure,) = article.all("figure")
            alt = images[0].attrs["alt"]
            assert alt.startswith(("Kort med texten:", "Card with the text:"))
            assert alt in figure.content()       # shown on hover and focus
            assert figure.attrs["tabindex"] == "0"


def test_links_hashtags_and_mentions_are_marked_and_the_rest_escaped():
    html = rich("Kom! #civictech #1 @anna@mastodon.social @bob.bsky.social a@b.se "
                "https://civictech.se/x/#top <b>&")
    assert '<span class="tag">#civictech</span>' in html
    assert "#1" in html and '<span class="tag">#1' not in html
    assert '<span class="mention">@anna@mastodon.social</span>' in html
    assert '<span class="mention">@bob.bsky.social</span>' in html
    assert "a@b.se" in html and '<span class="mention">@b.se' not in html
    assert ('<a href="https://civictech.se/x/#top" rel="noopener noreferrer">'
            "https://civictech.se/x/#top</a>") in html
    assert html.endswith(" &lt;b&gt;&amp;")


def test_a_title_with_a_script_tag_shows_as_text_everywhere(tmp_path):
    evil = '<script>document.body.dataset.pwned = "1"</script><img src=x onerror=alert(1)>'
    page = page_of(entry(ref="evil", title=evil, text=f"{evil}\nhttps://civictech.se/e/",
                         warnings=(evil,), reason=evil, goes=False,
                         card=LinkCard("https://civictech.se/e/", evil, evil),
                         media=(Media(PNG, "image/png", 2, 1, alt=evil, note=evil),)),
                   problems={"evil": (Problem("_events/evil.md", "title", evil),)})
    html, _ = render(page)
    assert html.count("<script") == 1 and html.count("</script>") == 1
    assert "<img src=x" not in html
    tree = Tree(html)
    article = posts(tree)[0]
    assert evil in article.content()
    assert evil in next(tree.root.all("h3")).content()
    assert next(article.all("img")).attrs["alt"] == evil


def test_a_post_that_will_not_go_says_why_and_one_that_waits_says_when(tmp_path):
    at = datetime(2026, 2, 13, 8, 0, tzinfo=ZONE)
    page = page_of(
        entry(account="x", platform="x", goes=False, reason="skipped on the first run"),
        entry(lang="en", at=at, planned=datetime(2026, 2, 12, 23, 30, tzinfo=ZONE),
              reason="quiet hours until 08:00"),
        entry(lang="en", account="x", platform="x", at=at,
              planned=datetime(2026, 2, 13, 7, 55, tzinfo=ZONE),
              reason="5 minutes after the last post on this account"),
        entry(ref="long", title="Long", lang="en", error="412 characters, over X's 280"),
        Entry(PostKey("bare", "announcement", "bluesky", "sv"), "bluesky", at, goes=False,
              reason="the event has started"))
    tree = Tree(render(page)[0])
    by_key = {(a.attrs["data-event"], a.attrs["data-platform"], a.attrs["data-lang"]): a
              for a in posts(tree)}
    stopped = by_key["meetup", "x", "sv"]
    assert stopped.attrs["data-goes"] == "no"
    assert "Will not go: skipped on the first run" in stopped.content()
    waiting = by_key["meetup", "mastodon", "en"]
    assert waiting.attrs["data-goes"] == "yes"
    assert "Goes at 08:00, planned for Thu 12 Feb 2026 23:30: quiet hours until 08:00" in \
        waiting.content()
    assert "Goes at 08:00, planned for 07:55: 5 minutes after the last post on this account" in \
        by_key["meetup", "x", "en"].content()
    assert "Will not go: 412 characters, over X's 280" in by_key["long", "mastodon", "en"].content()
    bare = by_key["bare", "bluesky", "sv"]
    assert "Will not go: the event has started" in bare.content()
    assert not list(bare.all("div", "text"))
    assert next(bare.all("span", "handle")).content() == "bluesky"
    summary = next(tree.root.all("p", "summary")).content()
    assert "3 posts will not go." in summary


def test_problems_appear_beside_the_event_they_are_about(week):
    tree = Tree((week / "index.html").read_text(encoding="utf-8"))
    groups = list(tree.root.all("section", "group"))
    assert groups and all(g.attrs["data-event"] == MEETUP for g in groups)
    for group in groups:
        (problems,) = group.all("details", "problems")
        assert "2026-02-open-knowledge-sweden-meetup-1.md" in problems.content()
        assert "group-pic.jpg not found" in problems.content()
    (other,) = tree.root.all("section", "all-problems")
    assert "almedalen2021.md" in other.content()     # a past event: no post on this page


def test_image_files_are_named_by_a_slug_and_stay_inside_the_folder(tmp_path):
    odd = "../../etc/Passwd <Ünïcode> " + "x" * 80
    media = Media(PNG, "image/png", 2, 1, alt="a dot")
    page = page_of(entry(ref=odd, title="Odd", media=(media,)),
                   entry(ref=odd, title="Odd", account="x", platform="x", media=(media,)))
    index = write_page(tmp_path / "out", page)
    files = sorted(p.relative_to(tmp_path / "out").as_posix()
                   for p in (tmp_path / "out").rglob("*") if p.is_file())
    (image,) = [f for f in files if f.startswith("images/")]
    assert IMAGE_NAME.fullmatch(image.split("/")[1])
    assert image.startswith("images/etc-passwd-unicode-xxx")
    assert slug("../../") == "event"
    html = index.read_text(encoding="utf-8")
    assert html.count(f'src="{image}"') == 2          # one file for the same bytes
    assert "fonts/NotoEmoji-Medium.ttf" in files


def test_writing_the_page_again_removes_only_the_images_it_no_longer_shows(tmp_path):
    folder = tmp_path / "out"
    first = Media(PNG, "image/png", 2, 1, alt="one")
    second = Media(tiny_png((230, 57, 70)), "image/png", 2, 1, alt="two")
    write_page(folder, page_of(entry(media=(first,))))
    (folder / "images" / "notes.txt").write_text("mine", encoding="utf-8")
    (folder / "keep.html").write_text("mine", encoding="utf-8")
    old = {p.name for p in (folder / "images").glob("*.png")}
    write_page(folder, page_of(entry(media=(second,))))
    new = {p.name for p in (folder / "images").glob("*.png")}
    assert len(old) == len(new) == 1 and old != new
    assert (folder / "images" / "notes.txt").exists() and (folder / "keep.html").exists()


def test_the_page_loads_nothing_from_elsewhere(week):
    html = (week / "index.html").read_text(encoding="utf-8")
    tree = Tree(html)
    for node in tree.root.all():
        for name in ("src", "srcset", "poster", "data"):
            assert not re.match(r"\w+:|//", node.attrs.get(name, "")), node
        if node.tag == "link":
            raise AssertionError(f"the page links {node.attrs}")
        if "href" in node.attrs and node.tag != "a":
            raise AssertionError(f"a {node.tag} refers to {node.attrs['href']}")
    (csp,) = [m for m in tree.root.all("meta") if m.attrs.get("http-equiv") ==
              "Content-Security-Policy"]
    assert "default-src 'none'" in csp.attrs["content"]
    assert not re.search(r"url\(\s*['\"]?(\w+:|//)", html) and "@import" not in html


def test_with_json_the_page_is_written_and_standard_output_stays_json(tmp_path):
    result = herald("preview", "--site", str(FIXTURES), "--now", WEEK, "--event", MEETUP,
                    "--platform", "bluesky", "--json", "--html", str(tmp_path / "page"))
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)["posts"]
    tree = Tree((tmp_path / "page" / "index.html").read_text(encoding="utf-8"))
    assert len(posts(tree)) == len(listed) == 6


def test_a_page_without_posts_says_so(tmp_path):
    result = herald("preview", "--site", str(FIXTURES), "--now", "2031-01-01T12:00+01:00",
                    "--html", str(tmp_path / "page"))
    assert result.exit_code == 0, result.output
    tree = Tree((tmp_path / "page" / "index.html").read_text(encoding="utf-8"))
    assert not posts(tree)
    assert next(tree.root.all("p", "summary")).content().startswith("No planned posts.")
    assert "almedalen2021.md" in next(tree.root.all("section", "all-problems")).content()


def test_the_option_is_listed_in_preview_help():
    result = herald("preview", "--help")
    assert "--html DIR" in result.output


# The page in a browser -------------------------------------------------------------------------

def chromium() -> str:
    """The Chromium to drive: $HERALD_CHROMIUM, else one on PATH; skip or fail when none."""
    found = os.environ.get("HERALD_CHROMIUM") or next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
         if shutil.which(n)), None)
    if found:
        return found
    message = "headless Chromium not found (Debian: apt-get install -y chromium)"
    if os.environ.get("HERALD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message}, and HERALD_REQUIRE_BROWSER=1")
    pytest.skip(message)


def browse(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium once on `url`, with no network and a throw-away profile."""
    profile = tmp_path / "chromium-profile"
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-extensions", "--disable-default-apps",
               "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
               *args, url]
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_in_a_browser_a_platform_filter_in_the_address_shows_only_that_platforms_posts(
        week, tmp_path):
    url = (week / "index.html").as_uri() + "#platform=x"
    tree = Tree(browse(url, tmp_path, "--dump-dom").stdout)
    articles = posts(tree)
    assert len(articles) == 18
    shown = [a for a in articles if not a.hidden]
    assert len(shown) == 6 and {a.attrs["data-platform"] for a in shown} == {"x"}
    assert next(tree.root.all("select")).attrs.get("id") == "f-platform"
    (form,) = tree.root.all("form")
    assert not form.hidden                       # the script ran and showed the filters
    assert next(tree.root.all("p", "shown")).content() == "Showing 6 of 18 posts"


def test_in_a_browser_filters_combine_and_an_unknown_value_shows_everything(week, tmp_path):
    url = (week / "index.html").as_uri() + f"#lang=en&event={MEETUP}&show=go&platform=nope"
    articles = posts(Tree(browse(url, tmp_path, "--dump-dom").stdout))
    shown = [a for a in articles if not a.hidden]
    assert len(shown) == 9 and {a.attrs["data-lang"] for a in shown} == {"en"}


def test_in_a_browser_a_script_in_a_title_stays_text(tmp_path):
    evil = '<script>document.body.dataset.pwned = "1"</script>'
    page = page_of(entry(ref="evil", title=evil, text=evil), entry(ref="ok", title="Fine"))
    index = write_page(tmp_path / "out", page)
    dom = browse(index.as_uri(), tmp_path, "--dump-dom").stdout
    tree = Tree(dom)
    (body,) = tree.root.all("body")
    assert "data-pwned" not in body.attrs
    assert any(evil in a.content() for a in posts(tree))
    assert any(evil in h.content() for h in tree.root.all("h3"))
    assert any(evil in o.content() for o in tree.root.all("option"))


def test_without_chromium_the_browser_tests_skip_unless_ci_requires_them(monkeypatch):
    monkeypatch.delenv("HERALD_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("HERALD_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        chromium()
    monkeypatch.setenv("HERALD_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="HERALD_REQUIRE_BROWSER=1"):
        chromium()


def test_in_a_browser_the_page_draws_in_light_and_dark_and_a_screenshot_is_taken(
        week, tmp_path):
    from PIL import Image

    shots = {}
    for scheme, extra in (("light", ()), ("dark", ("--force-dark-mode",
                                                   "--blink-settings=preferredColorScheme=0"))):
        shot = tmp_path / f"{scheme}.png"
        browse((week / "index.html").as_uri(), tmp_path, "--window-size=1280,1200",
               "--run-all-compositor-stages-before-draw", f"--screenshot={shot}", *extra)
        with Image.open(shot) as image:
            shots[scheme] = image.convert("RGB")
    for image in shots.values():
        assert image.size == (1280, 1200)
        assert len(image.getcolors(1_000_000)) > 500       # text, cards and images, not blank
    light, dark = shots["light"].getpixel((5, 5)), shots["dark"].getpixel((5, 5))
    assert sum(light) > 600 and sum(dark) < 120


def contrast(one: str, two: str) -> float:
    """The WCAG contrast ratio of two #rrggbb colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_reach_wcag_aa_contrast_in_light_and_dark():
    css = (ROOT / "bot" / "page" / "page.css").read_text(encoding="utf-8")
    light_block = css[css.index(":root {"):]
    dark_block = css[css.index("prefers-color-scheme: dark"):]
    schemes = [dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6});", block[:block.index("}")]))
               for block in (light_block, dark_block)]
    pairs = [("text", "panel"), ("text", "bg"), ("muted", "panel"), ("muted", "bg"),
             ("warn", "panel"), ("warn", "bg"), ("stop-text", "stop-bg"),
             ("moved-text", "moved-bg")]
    pairs += [(f"{p}-link", "panel") for p in ("mastodon", "x", "bluesky")]
    pairs += [(p, "panel") for p in ("mastodon", "x", "bluesky")]   # badges and avatars
    for colours in schemes:
        assert len(colours) >= 17
        for fore, back in pairs:
            assert contrast(colours[fore], colours[back]) >= 4.5, (fore, back, colours)


def test_an_event_without_a_time_of_day_is_headed_by_its_date_alone():
    start = datetime(2026, 2, 19, 0, 0, tzinfo=ZONE)
    timed = render(page_of(entry(ref="hack"), starts={"hack": start}))[0]
    alone = render(page_of(entry(ref="hack"), starts={"hack": start}, days={"hack"}))[0]
    heading = lambda html: next(Tree(html).root.all("h3")).content()  # noqa: E731
    assert heading(timed).endswith("event Thu 19 Feb 2026 00:00")
    assert heading(alone).endswith("event Thu 19 Feb 2026")
