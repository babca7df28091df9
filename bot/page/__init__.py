"""The preview page: every planned post drawn like a post on its platform, in one static folder.

The input is plain data. Each `Entry` is one post on the timeline: a post that goes at `at`, or
one that will not go (`goes=False`) and the `reason` why. `build_page` gathers the entries with
the content's problems into a `Page`; `render` turns a `Page` into the HTML and the image files
(pure); `write_page` writes them into the folder the caller names. The page loads nothing from
elsewhere: its style and script are inline and its images sit beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ..model import LinkCard, Media, PostKey, Problem


@dataclass(frozen=True)
class Entry:
    """One post on the timeline: what goes out on which account, and when, or why it will not.

    `at` is when the post will really go (aware; shown in the site's zone). For a post that will
    not go, `goes` is False, `reason` says why, and `at` is when it was due. A post that goes
    later than its stage's own time may give that time as `planned` and say why in `reason`
    ("quiet hours until 08:00"). A row without `text` (a post the planner skipped before
    composing it) shows its reason alone. A post whose text does not fit (`error`) never goes.
    """

    key: PostKey
    platform: str
    at: datetime
    goes: bool = True
    reason: str = ""
    planned: datetime | None = None
    title: str = ""
    text: str = ""
    lang: str = ""
    """The language the text is in (the account's, or the composer's fallback); "" = key.lang."""
    length: int = 0
    limit: int = 0
    byte_length: int | None = None
    link: str = ""
    media: tuple[Media, ...] = ()
    card: LinkCard | None = None
    drawn: bool = False
    """The image is a card Herald drew, not the event's own."""
    cost: float = 0.0
    warnings: tuple[str, ...] = ()
    error: str | None = None
    server: str = ""
    """The account's server, shown beside its name (mastodon.social, bsky.social, x.com)."""
    note: str = ""
    """For a correction or cancellation: what it answers and how it goes out (an edit of the
    announcement, a reply under it, the deletion of the event's posts)."""

    @property
    def will_go(self) -> bool:
        return self.goes and self.error is None


@dataclass(frozen=True)
class Page:
    """Everything the page shows: the entries in time order and what is wrong with the content."""

    site: str
    zone: ZoneInfo
    now: datetime
    entries: tuple[Entry, ...]
    titles: Mapping[str, str] = field(default_factory=dict)
    """Each event's title (in the site's default language), by ref."""
    starts: Mapping[str, datetime] = field(default_factory=dict)
    """When each event starts, by ref."""
    days: frozenset[str] = frozenset()
    """The refs of events without a time of day (their start is shown as a date alone)."""
    problems: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)
    """The content's problems by the ref of the event whose file they are about."""
    other_problems: tuple[Problem, ...] = ()
    """Problems about files with no post on the page (unreadable files, drafts, past events)."""
    languages: tuple[str, ...] = ()
    """The site's languages, in the order the page lists them."""


PLATFORM_SERVER = {"mastodon": "instance", "bluesky": "service", "x": "api_url"}


def entry(post, account, extras, cost: float = 0.0, *, at: datetime | None = None,
          goes: bool = True, reason: str = "", planned: datetime | None = None) -> Entry:
    """Make the entry of a composed post and its attachments (`service.Attachments`).

    Without `at` the post goes at its `due` time; pass the time the timing code gives, or
    `goes=False` and the reason, once preview knows them.
    """
    return Entry(
        key=post.key, platform=account.platform, at=at or post.due, goes=goes, reason=reason,
        planned=planned, title=post.title, text=post.text, lang=post.lang, length=post.length,
        limit=post.limit, byte_length=post.byte_length, link=post.link,
        media=tuple(extras.media), card=extras.card, drawn=extras.drawn, cost=cost,
        warnings=tuple(post.warnings) + tuple(extras.warnings), error=post.error,
        server=server_of(account))


def server_of(account) -> str:
    """The host name of an account's server, from its options, or the platform's own."""
    url = account.options.get(PLATFORM_SERVER.get(account.platform, ""), "")
    host = urlsplit(url).hostname if isinstance(url, str) and url else None
    if account.platform == "x" and (host is None or host == "api.x.com"):
        return "x.com"
    return host or {"mastodon": "mastodon.social", "bluesky": "bsky.social"}.get(
        account.platform, "")


def build_page(entries: Iterable[Entry], *, loaded, config, now: datetime,
               problems: Sequence[Problem] = ()) -> Page:
    """Gather the entries, in time order, with the site's problems tied to their events.

    `loaded` is the `content.Site`; `problems` are found beside its own (say, unreadable images).
    """
    from ..app import site_name

    entries = tuple(entries)
    sources = {e.source: e.ref for e in loaded.events + loaded.drafts}
    shown = {e.key.ref for e in entries}
    tied: dict[str, list[Problem]] = {}
    other = []
    for problem in tuple(loaded.problems) + tuple(problems):
        ref = sources.get(problem.source)
        if ref in shown:
            tied.setdefault(ref, []).append(problem)
        else:
            other.append(problem)
    titles, starts = {}, {}
    for ref in loaded.refs():
        versions = loaded.versions(ref)
        first = versions.get(config.site.default_lang) or next(iter(versions.values()))
        titles[ref], starts[ref] = first.title, first.start
    ranked = sorted(entries, key=lambda e: (e.at, e.key))
    return Page(site=site_name(config) or config.site.url, zone=config.site.timezone, now=now,
                entries=tuple(ranked), titles=titles, starts=starts,
                days=frozenset(ref for ref in loaded.refs()
                               if next(iter(loaded.versions(ref).values())).date_only),
                problems={ref: tuple(found) for ref, found in tied.items()},
                other_problems=tuple(other), languages=tuple(config.site.languages))


def write_preview(folder: Path, items: Iterable[tuple], *, loaded, config, now: datetime,
                  problems: Sequence[Problem] = ()) -> Path:
    """Write the page of preview's posts: `(post, account, attachments, cost, ...)` tuples."""
    entries = [entry(post, account, extras, cost) for post, account, extras, cost, *_ in items]
    return write_page(folder, build_page(entries, loaded=loaded, config=config, now=now,
                                         problems=problems))


def write_page(folder: Path, page: Page) -> Path:
    """Write index.html and the images it shows into `folder`; return the index's path.

    Images are named by a slug of their event and a hash of their bytes, so a file that is
    already there is not written again; other files of that form in `images/` (left by an
    earlier page) are removed. The emoji font the page falls back on, for systems without
    one, goes in `fonts/`. Nothing else in the folder is touched.
    """
    from .render import FONT, IMAGE_NAME, font, render

    html, images = render(page)
    folder.mkdir(parents=True, exist_ok=True)
    pictures = folder / "images"
    pictures.mkdir(exist_ok=True)
    for old in pictures.iterdir():
        if IMAGE_NAME.fullmatch(old.name) and old.name not in images and old.is_file():
            old.unlink()
    files = {pictures / name: data for name, data in images.items()}
    glyphs, licence = font()
    (folder / "fonts").mkdir(exist_ok=True)
    files[folder / "fonts" / FONT] = glyphs
    files[folder / "fonts" / "LICENSE-NotoEmoji.txt"] = licence
    for path, data in files.items():
        if not (path.is_file() and path.stat().st_size == len(data)):
            path.write_bytes(data)
    index = folder / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
