"""Read one event file's fields into an Event, and a Problem for everything wrong with them.

Everything here depends only on the file's bytes, its path and the site configuration, so the
result can be cached by (path, size, mtime). The one thing that depends on other files, whether
the event's image exists, is resolved afterwards (see `uploads.py`).

To read a new front-matter field: write a small function that takes the value (and `report`),
returns the Event's value and reports what it had to change, and call it in `parse_text`.
"""

from __future__ import annotations

import posixpath
import re
from datetime import datetime
from typing import Any, Callable, NamedTuple
from urllib.parse import quote

from ..config import SiteConfig
from ..model import Event, Problem, Severity
from . import front
from .control import read_control
from .dates import read_start
from .links import read_links
from .names import printable
from .values import one_line, plain, shown, text
from .when import read_desc

_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}-")
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_TITLE_LINE = re.compile(r"title:[ \t]*(.*)$")


class Parsed(NamedTuple):
    """What one file says, before its image is looked up.

    `event` is None when the file is unusable; its `image` is always None here. `image` is
    the image path as written when it names a file of this site to look up, and `image_key`
    the image as written (whatever it is), which pairs files that share a ref.
    """

    event: Event | None
    problems: tuple[Problem, ...]
    image: str = ""
    image_key: str = ""


def parse_bytes(data: bytes, source: str, site: SiteConfig) -> Parsed:
    """Decode a file's bytes (UTF-8, with or without a byte-order mark) and parse them."""
    try:
        return parse_text(data.decode("utf-8-sig"), source, site)
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        return Parsed(None, (Problem(source, None, message, "error"),))


def parse_text(content: str, source: str, site: SiteConfig) -> Parsed:
    """Read one event file's text; `source` is its path relative to the site root."""
    problems: list[Problem] = []

    def report(field: str | None, message: str, severity: Severity = "warning") -> None:
        problems.append(Problem(source, field, one_line(message), severity))

    try:
        raw, _body = front.split(content.lstrip("\ufeff"))
        meta = front.load(raw)
    except front.FrontMatterError as exc:
        report("front matter", str(exc), "error")
        return Parsed(None, tuple(problems))
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        report("front matter", f"expected key: value lines, got a {type(meta).__name__}", "error")
        return Parsed(None, tuple(problems))
    meta = {key if isinstance(key, str) else _key(key): value for key, value in meta.items()}

    title = _title(meta.get("title"), raw, report)
    start, date_only = read_start(meta.get("event-date"), site, report)
    if not title or start is None:
        return Parsed(None, tuple(problems))
    lang = _lang(meta.get("lang"), site, report)
    if lang is None:
        return Parsed(None, tuple(problems))
    slug = _slug(source)
    ref = text(meta.get("ref"))
    if not ref:
        ref = slug
        report("ref", f"missing; using the file name {slug!r} as the ref")
    elif not ref.isprintable():
        report("ref", f"holds characters that cannot be shown on one line; using "
                      f"{printable(ref)!r} as the ref")
        ref = printable(ref)
    published = meta.get("published", True)
    if not isinstance(published, bool):
        report("published", f"expected true or false, got {shown(published)}; treating it as "
                            f"published")
        published = True
    excerpt = text(meta.get("excerpt")) or text(meta.get("ingress-text")) or ""
    alt = text(meta.get("image-alt", meta.get("image_alt")))
    image, image_key = _image(meta.get("image"), report)
    url = _url(meta.get("permalink"), source, lang, ref, start, site)
    when_desc = _when_desc(meta.get("event-date-desc"), report)
    end, last_day = read_desc(when_desc, start, date_only) if when_desc else (None, None)
    links, signup = read_links(meta.get("links"), site.url, report)
    event = Event(ref=ref, lang=lang, title=title, start=start, url=url,
                  source=source, excerpt=plain(excerpt), place=text(meta.get("place")) or "",
                  image_alt=alt or None, published=published, date_only=date_only,
                  when_desc=when_desc, end=end, last_day=last_day, links=links,
                  signup="" if signup == url else signup,
                  herald=read_control(meta.get("herald"), report))
    return Parsed(event, tuple(problems), image, image_key)


Report = Callable[..., None]


def _key(key: Any) -> str:
    try:
        return str(key)
    except ValueError:
        return shown(key)


def _title(value: Any, raw: str, report: Report) -> str | None:
    title = text(value)
    if not title:
        what = "missing or empty" if title == "" or value is None else \
            f"expected text, got {shown(value)}"
        report("title", f"{what}; every event needs a title", "error")
        return None
    _check_title_comment(raw, title, report)
    return title


def _check_title_comment(raw_front_matter: str, title: str, report: Report) -> None:
    """Warn when an unquoted title holds ` #`: YAML reads the rest of the line as a comment."""
    for line in raw_front_matter.splitlines():
        match = _TITLE_LINE.match(line)
        if match:
            written = match.group(1).strip()
            if written[:1] not in ("'", '"', "|", ">") and " #" in written:
                report("title", f"YAML reads everything after ' #' as a comment, so the title is "
                                f"{title!r}; put the title in quotes to keep all of {written!r}")
            return


def _when_desc(value: Any, report: Report) -> str:
    """The site's own words for when the event is, on one line."""
    if value is None:
        return ""
    words = text(value)
    if words is None:
        report("event-date-desc", f"expected text such as \"24 februari, kl. 18-20\", got "
                                  f"{shown(value)}; left out")
        return ""
    return " ".join(words.split())


def _lang(value: Any, site: SiteConfig, report: Report) -> str | None:
    lang = text(value) or site.default_lang
    if lang.lower() in site.languages:
        return lang.lower()
    report("lang", f"{shown(lang)} is not one of the site's languages "
                   f"({', '.join(site.languages)}); the event is left out (fix the file, "
                   f"or add the language to site.languages)", "error")
    return None


def _image(value: Any, report: Report) -> tuple[str, str]:
    """Return (the image to look up in the site or "", the image as written, for pairing)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "", ""
    if not isinstance(value, str):
        report("image", f"expected a path like /uploads/photo.jpg, got {shown(value)}; "
                        f"the post goes without this image")
        return "", shown(value)
    written = value.strip()
    if _REMOTE.match(written):
        report("image", f"images on other sites are not supported ({written}); "
                        f"the post goes without this image")
        return "", written
    return written, written


def _slug(source: str) -> str:
    """Return Jekyll's slug for a file: its name without `.md` and any `YYYY-MM-DD-` prefix."""
    return _DATE_PREFIX.sub("", _stem(source))


def _stem(source: str) -> str:
    """Return the file name without its last suffix, as PurePosixPath(source).stem does."""
    name = posixpath.basename(source)
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _url(permalink: Any, source: str, lang: str, ref: str, start: datetime,
         site: SiteConfig) -> str:
    """Return the event's public URL: the file's own `permalink`, else the site's pattern."""
    pattern = permalink.strip() if isinstance(permalink, str) and permalink.strip() else None
    if pattern and pattern.startswith(("http://", "https://")):
        return pattern
    values = {
        "title": _slug(source), "slug": _slug(source), "name": _stem(source),
        "lang": lang, "ref": ref, "year": f"{start:%Y}", "month": f"{start:%m}",
        "day": f"{start:%d}", "i_month": str(start.month), "i_day": str(start.day),
        "short_year": f"{start:%y}",
        "collection": posixpath.basename(site.events_dir.rstrip("/")).lstrip("_"),
        "output_ext": ".html",
    }
    path = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)),
                            pattern or site.permalink)
    path = re.sub(r"/{2,}", "/", "/" + path)
    return site.url.rstrip("/") + quote(path, safe="/-._~!$&'()*+,;=:@%")
