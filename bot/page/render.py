"""Render a `Page` as one HTML document and the image files it shows (no clock; the only files
read are the page's own style, script and emoji font, shipped with Herald).

Every piece of content goes through `html.escape`; the style and script are inline, allowed by
the page's Content-Security-Policy through their hashes, so nothing else can run or load.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections import Counter
from datetime import datetime
from functools import lru_cache
from html import escape
from importlib import resources
from itertools import islice

from ..localize import plural
from ..model import Media, Problem
from . import Entry, Page
from .text import rich

IMAGE_NAME = re.compile(r"[a-z0-9-]{1,40}-[0-9a-f]{12}\.(?:png|jpg|gif|webp|img)")
FONT = "NotoEmoji-Medium.ttf"
EAGER_IMAGES = 12
PLATFORM_NAMES = {"mastodon": "Mastodon", "x": "X", "bluesky": "Bluesky"}
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def render(page: Page) -> tuple[str, dict[str, bytes]]:
    """Return the page's HTML and its images by file name (to go in `images/` beside it)."""
    images: dict[str, bytes] = {}
    groups = _groups(page)
    days: dict[str, list] = {}
    for group in groups:
        days.setdefault(_local(group[0].at, page).date().isoformat(), []).append(group)
    body = [_header(page), '<main id="timeline">']
    for day, day_groups in days.items():
        label = _day_label(_local(day_groups[0][0].at, page))
        body.append(f'<section class="day" aria-labelledby="day-{day}">'
                    f'<h2 id="day-{day}"><time datetime="{day}">{label}</time></h2>')
        body.extend(_group(group, page, images) for group in day_groups)
        body.append("</section>")
    body.append('<p class="empty" id="none-shown" hidden>No posts match these filters.</p>')
    body.append(_other_problems(page))
    body.append("</main>")
    style, script = _asset("page.css"), _asset("page.js")
    csp = ("default-src 'none'; img-src 'self'; font-src 'self'; "
           f"style-src '{_hash(style)}'; script-src '{_hash(script)}'; base-uri 'none'; "
           "form-action 'none'")
    html = "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>Herald preview · {escape(page.site)}</title>",
        f"<style>{style}</style>",
        "</head>",
        "<body>",
        '<a class="skip" href="#timeline">Skip to the posts</a>',
        *body,
        f"<script>{script}</script>",
        "</body>",
        "</html>",
        "",
    ])
    return html, images


def font() -> tuple[bytes, bytes]:
    """The emoji font the page falls back on, and its licence (bundled with Herald)."""
    folder = resources.files("bot") / "fonts"
    return (folder / FONT).read_bytes(), (folder / "LICENSE-NotoEmoji.txt").read_bytes()


def _groups(page: Page) -> list[list[Entry]]:
    """The posts of one event's stage on one day, earliest group first."""
    order = {lang: i for i, lang in enumerate(page.languages)}
    platforms = {name: i for i, name in enumerate(PLATFORM_NAMES)}
    found: dict[tuple, list[Entry]] = {}
    for item in page.entries:
        day = _local(item.at, page).date()
        found.setdefault((day, item.key.ref, item.key.stage), []).append(item)
    groups = [sorted(g, key=lambda e: (e.at, order.get(e.key.lang, len(order)), e.key.lang,
                                       platforms.get(e.platform, 9), e.key.account))
              for g in found.values()]
    far = datetime.max.replace(tzinfo=page.zone)
    return sorted(groups, key=lambda g: (g[0].at, page.starts.get(g[0].key.ref, far),
                                         g[0].key.ref, g[0].key.stage))


def _header(page: Page) -> str:
    entries = page.entries
    going = [e for e in entries if e.will_go]
    refs = list(dict.fromkeys(e.key.ref for e in entries))
    platforms = _present(PLATFORM_NAMES, (e.platform for e in entries))
    languages = _present(page.languages, (e.key.lang for e in entries))
    cost = sum(e.cost for e in going)
    now = _local(page.now, page)
    summary = [f"{plural(len(entries), 'post')} for {plural(len(refs), 'event')}"]
    if platforms:
        summary.append("on " + _and([PLATFORM_NAMES.get(p, p) for p in platforms]))
    if languages:
        summary.append("in " + _and(languages))
    line = " ".join(summary)
    if entries:
        first, last = _local(min(e.at for e in entries), page), \
            _local(max(e.at for e in entries), page)
        line += (f", on {_short_date(first)}." if first.date() == last.date()
                 else f", {_short_date(first)} to {_short_date(last)}.")
    else:
        line = "No planned posts."
    if len(going) != len(entries):
        line += f" {plural(len(entries) - len(going), 'post')} will not go."
    if cost:
        line += f" Estimated cost about ${cost:,.3f}."
    tied = [p for found in page.problems.values() for p in found]
    if tied:
        line += (f' <a href="#problems">{_findings(tied)} in these events\' files</a>, '
                 "shown with their posts.")
    if page.other_problems:
        other = f"{_findings(page.other_problems)} about files with no post here"
        line += f" {other}." if tied else f' <a href="#problems">{other}</a>.'
    zone = now.tzname() or str(page.zone)
    counts = Counter(e.platform for e in entries)
    by_platform = " · ".join(f"{PLATFORM_NAMES.get(p, escape(p))} {counts[p]}"
                             for p in platforms)
    return "\n".join([
        '<header class="top">',
        f"<h1>Herald preview <span>· {escape(page.site)}</span></h1>",
        f'<p class="summary">{line}</p>',
        f'<p class="as-of">As of {_time(now, f"{_long_date(now)} {now:%H:%M} {zone}")}; '
        f"times in {escape(str(page.zone))}. {by_platform}</p>",
        _filters(page, platforms, languages, refs),
        "</header>",
    ])


def _filters(page: Page, platforms: list[str], languages: list[str], refs: list[str]) -> str:
    def select(name: str, label: str, options: list[tuple[str, str]]) -> str:
        items = "".join(f'<option value="{escape(value)}">{escape(text)}</option>'
                        for value, text in options)
        return (f'<label for="f-{name}">{label}</label>'
                f'<select id="f-{name}" name="{name}">{items}</select>')

    first = {}
    for item in page.entries:
        first.setdefault(item.key.ref, item.at)
    events = [(ref, f"{page.titles.get(ref, ref)} ({_short_date(_local(first[ref], page))})")
              for ref in refs]
    return "\n".join([
        '<form id="filters" class="filters" hidden aria-label="Filter the posts">',
        '<div class="field">' + select("platform", "Platform", [("", "All platforms")] + [
            (p, PLATFORM_NAMES.get(p, p)) for p in platforms]) + "</div>",
        '<div class="field">' + select("lang", "Language", [("", "All languages")] + [
            (lang, lang) for lang in languages]) + "</div>",
        '<div class="field wide">' + select("event", "Event", [("", "All events")] + events)
        + "</div>",
        '<div class="field">' + select("show", "Show", [
            ("", "All posts"), ("go", "Posts that go"), ("not", "Posts that will not go"),
            ("warn", "Posts with warnings")]) + "</div>",
        '<button type="reset">Show all</button>',
        '<p id="shown" class="shown" role="status" aria-live="polite"></p>',
        "</form>",
    ])


def _group(group: list[Entry], page: Page, images: dict[str, bytes]) -> str:
    first = group[0]
    ref, stage = first.key.ref, first.key.stage
    start = _local(first.at, page)
    title = page.titles.get(ref) or first.title or ref
    problems = page.problems.get(ref, ())
    begins = page.starts.get(ref)
    when = ""
    if begins is not None:
        begins = _local(begins, page)
        label = (_short_date(begins) if ref in page.days
                 else f"{_short_date(begins)} {begins:%H:%M}")
        when = f' <span class="starts">event {_time(begins, label)}</span>'
    parts = [f'<section class="group" data-event="{escape(ref)}">',
             f'<h3>{_time(start, f"{start:%H:%M}")} <span class="stage-name">'
             f'{escape(stage)}</span> <span class="title">{escape(title)}</span>{when}</h3>']
    if problems:
        parts.append(_problems(problems, "in this event's files"))
    parts.append('<div class="posts">')
    parts.extend(_post(item, page, images, bool(problems)) for item in group)
    parts.append("</div></section>")
    return "\n".join(parts)


def _post(item: Entry, page: Page, images: dict[str, bytes], problems: bool) -> str:
    platform = escape(item.platform)
    name = PLATFORM_NAMES.get(item.platform, item.platform)
    at = _local(item.at, page)
    lang = item.lang or item.key.lang
    warned = bool(item.warnings or item.error or problems)
    label = f"{name}, {item.key.account}, {item.key.lang}, {item.key.stage}, {at:%Y-%m-%d %H:%M}"
    parts = [
        f'<article class="post {platform}{"" if item.will_go else " not-going"}" '
        f'data-platform="{platform}" data-lang="{escape(item.key.lang)}" '
        f'data-event="{escape(item.key.ref)}" data-goes="{"yes" if item.will_go else "no"}" '
        f'data-warn="{"yes" if warned else "no"}" aria-label="{escape(label)}">',
        '<header class="who">',
        f'<span class="avatar" aria-hidden="true">{escape(_initials(page.site))}</span>',
        f'<span class="name">{escape(page.site)}</span>',
        f'<span class="handle">{escape(item.key.account)}'
        f'{" · " + escape(item.server) if item.server else ""}</span>',
        f'<span class="badge">{escape(name)}</span>',
        "</header>",
    ]
    if item.note:
        parts.append(f'<p class="verdict change">{escape(item.note)}</p>')
    if not item.will_go:
        why = item.reason or item.error or "no reason given"
        parts.append(f'<p class="verdict stop"><strong>Will not go:</strong> {escape(why)}</p>')
    elif item.planned is not None and item.planned != item.at:
        planned = _local(item.planned, page)
        why = f": {escape(item.reason)}" if item.reason else ""
        parts.append(f'<p class="verdict moved"><strong>Goes at {at:%H:%M}</strong>, planned '
                     f'for {_time(planned, _when(planned, at))}{why}</p>')
    elif item.reason:
        parts.append(f'<p class="verdict moved">{escape(item.reason)}</p>')
    if item.text:
        parts.append(f'<div class="text" lang="{escape(lang)}">{rich(item.text)}</div>')
    parts.extend(_figure(media, item, images) for media in item.media)
    if item.card is not None:
        parts.append(_card(item, images))
    parts.append(_meta(item, at, lang))
    if item.warnings:
        parts.append('<ul class="warnings">' + "".join(
            f"<li>{escape(w)}</li>" for w in item.warnings) + "</ul>")
    parts.append("</article>")
    return "\n".join(parts)


def _meta(item: Entry, at: datetime, lang: str) -> str:
    """The post's time, stage and language; then its count against the limit and its cost."""
    zone = at.tzname() or ""
    fields = [_time(at, f"{at:%H:%M} {zone}"),
              f'<span class="stage">{escape(item.key.stage)}</span>',
              f'<span class="lang">{escape(item.key.lang)}'
              + (f" (text in {escape(lang)})" if lang != item.key.lang else "") + "</span>"]
    figures = []
    if item.limit and item.text:
        over = " over" if item.length > item.limit else ""
        bytes_ = f", {item.byte_length:,} bytes" if item.byte_length is not None else ""
        platform = escape(PLATFORM_NAMES.get(item.platform, item.platform))
        figures.append(
            f'<span class="count{over}" title="characters as {platform} counts them{bytes_}">'
            f"{item.length}/{item.limit}"
            f'<meter min="0" max="{item.limit}" low="{item.limit * 0.8:.0f}" '
            f'high="{item.limit}" optimum="0" value="{min(item.length, item.limit)}" '
            f'aria-hidden="true"></meter></span>')
    if item.cost:
        figures.append(f'<span class="cost" title="estimated cost of this post">'
                       f"${item.cost:.3f}</span>")
    if figures:
        fields.append(f'<span class="figures">{" ".join(figures)}</span>')
    return '<footer class="meta">' + " ".join(fields) + "</footer>"


def _figure(media: Media, item: Entry, images: dict[str, bytes]) -> str:
    src, loading = _image(media, item, images)
    what = media.note or ("drawn card" if item.drawn else "")
    size = f"{media.width}×{media.height} {_kind(media)}, {_size(len(media.data))}"
    return (f'<figure class="media" tabindex="0"><span class="frame">'
            f'<img src="images/{src}" alt="{escape(media.alt)}" width="{media.width}" '
            f'height="{media.height}" {loading}>'
            f'<span class="alt-text" aria-hidden="true">{escape(media.alt) or "(no alt text)"}'
            f"</span></span>"
            f'<figcaption><span class="alt-badge" aria-hidden="true" title="Point at or focus '
            f'the image to read its alt text">ALT</span> '
            f'{escape(size)}{" · " + escape(what) if what else ""}</figcaption>'
            f"</figure>")


def _card(item: Entry, images: dict[str, bytes]) -> str:
    card = item.card
    host = re.sub(r"^https?://(?:www\.)?", "", card.url).split("/")[0]
    thumb = ""
    if card.thumb is not None:
        src, loading = _image(card.thumb, item, images)
        thumb = (f'<img src="images/{src}" alt="" width="{card.thumb.width}" '
                 f'height="{card.thumb.height}" {loading}>')
    note = ""
    if card.thumb is not None:
        note = (f'<p class="card-note">Thumbnail {card.thumb.width}×{card.thumb.height} '
                f"{_kind(card.thumb)}, {_size(len(card.thumb.data))}"
                + (f" · {escape(card.thumb.note)}" if card.thumb.note else "") + "</p>")
    return (f'<a class="link-card" href="{escape(_safe_url(card.url))}" rel="noopener noreferrer"'
            f">{thumb}<span class=\"card-body\"><span class=\"card-host\">{escape(host)}</span>"
            f'<span class="card-title">{escape(card.title)}</span>'
            f'<span class="card-desc">{escape(card.description)}</span></span></a>{note}')


def _problems(problems: tuple[Problem, ...], where: str) -> str:
    errors = any(p.severity == "error" for p in problems)
    items = "".join(
        f'<li class="{escape(p.severity)}"><code>{escape(p.source)}</code>'
        f'{": " + escape(p.field) if p.field else ""}: {escape(p.message)}</li>'
        for p in problems)
    opened = " open" if errors else ""
    return (f'<details class="problems"{opened}><summary>{_findings(problems)} {escape(where)}'
            f"</summary><ul>{items}</ul></details>")


def _findings(problems) -> str:
    """Say "1 error and 3 warnings"."""
    errors = sum(1 for p in problems if p.severity == "error")
    counts = [plural(errors, "error")] if errors else []
    if len(problems) - errors:
        counts.append(plural(len(problems) - errors, "warning"))
    return " and ".join(counts)


def _other_problems(page: Page) -> str:
    tied = [(ref, found) for ref, found in page.problems.items()]
    if not tied and not page.other_problems:
        return ""
    parts = ['<section id="problems" class="all-problems" aria-labelledby="problems-title">',
             '<h2 id="problems-title">Problems in the content</h2>',
             "<p>The same findings as <code>herald validate</code>. Those about an event on "
             "this page are also shown with its posts.</p>"]
    if page.other_problems:
        parts.append(_problems(page.other_problems, "about files with no post on this page"))
    for ref, found in tied:
        parts.append(_problems(found, f"· {page.titles.get(ref, ref)}"))
    parts.append("</section>")
    return "\n".join(parts)


def _image(media: Media, item: Entry, images: dict[str, bytes]) -> tuple[str, str]:
    """Name an image by a slug of its event and a hash of its bytes; keep its bytes once.

    Return its name and how it loads: the first few images at once and decoded before the page
    shows (so the first screen is whole when it has loaded), later ones as they come into view.
    """
    digest = hashlib.sha256(media.data).hexdigest()[:12]
    name = f"{slug(item.key.ref)}-{digest}.{_EXTENSIONS.get(media.mime, 'img')}"
    images.setdefault(name, media.data)
    if name in islice(images, EAGER_IMAGES):
        return name, 'loading="eager"'
    return name, 'loading="lazy" decoding="async"'


def slug(text: str, limit: int = 40) -> str:
    """Lower-case ASCII letters, digits and single hyphens: safe in any file system and URL."""
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cut = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:limit].strip("-")
    return cut or "event"


def _safe_url(url: str) -> str:
    return url if re.match(r"https?://", url, re.IGNORECASE) else "#"


def _kind(media: Media) -> str:
    return media.mime.split("/")[-1].upper()


def _size(count: int) -> str:
    return f"{count:,} bytes" if count < 10_000 else f"{count / 1000:,.0f} kB"


def _time(moment: datetime, text: str) -> str:
    return f'<time datetime="{moment.isoformat()}">{escape(text)}</time>'


def _local(moment: datetime, page: Page) -> datetime:
    return moment.astimezone(page.zone)


def _when(planned: datetime, at: datetime) -> str:
    if planned.date() == at.date():
        return f"{planned:%H:%M}"
    return f"{_short_date(planned)} {planned:%H:%M}"


def _day_label(moment: datetime) -> str:
    return f"{_DAYS[moment.weekday()]} {_long_date(moment)}"


def _long_date(moment: datetime) -> str:
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _short_date(moment: datetime) -> str:
    day, month = _DAYS[moment.weekday()][:3], _MONTHS[moment.month - 1][:3]
    return f"{day} {moment.day} {month} {moment.year}"


def _initials(name: str) -> str:
    words = re.findall(r"[^\W_]+", name)
    return "".join(w[0] for w in words[:2]).upper() or "H"


def _present(order, found) -> list[str]:
    seen = set(found)
    return [item for item in order if item in seen] + sorted(seen - set(order))


def _and(items: list[str]) -> str:
    items = [escape(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (resources.files("bot.page") / name).read_text(encoding="utf-8")
