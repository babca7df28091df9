"""Load a Jekyll-style site's events: one Event per file, and a Problem for everything wrong.

A bad event file never stops the others: it becomes an error Problem and is left out. An image
outside the site is an error too, but its event still loads, without the image. A flaw Herald
can work around (a wrong UTC offset, a missing image, a ref shared by unrelated files) becomes
a warning that says what Herald did instead.
"""

from __future__ import annotations

import html
import os
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote

import frontmatter
import yaml

from .config import SiteConfig
from .errors import ContentError
from .model import Event, Problem, Severity

_YAML = frontmatter.YAMLHandler()
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}-")
_DATETIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ]\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?"
)
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:br|p|div|li|ul|ol|h[1-6]|tr|td)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_EXAMPLE_DATE = "2026-02-24 18:00:00 +01:00"


@dataclass(frozen=True)
class Site:
    """Everything the site's event files say, and what is wrong with them."""

    events: tuple[Event, ...]
    drafts: tuple[Event, ...]
    problems: tuple[Problem, ...]

    def versions(self, ref: str) -> dict[str, Event]:
        """Return the published language versions of one event, keyed by language."""
        return {event.lang: event for event in self.events if event.ref == ref}

    def refs(self) -> list[str]:
        """Return each published event's ref once, earliest start first."""
        return list(dict.fromkeys(event.ref for event in self.events))


@dataclass(frozen=True)
class _Parsed:
    source: str
    event: Event | None
    problems: tuple[Problem, ...]
    twin_key: tuple[datetime, str] | None = None


def load_site(site: SiteConfig) -> Site:
    """Read every `*.md` file under the events folder; raise only when that folder is missing.

    Like Jekyll, sub-folders are read too and names starting with `.`, `_` or `#` are skipped.
    """
    root = site.root.resolve()
    folder = root / site.events_dir
    if not root.is_dir():
        raise ContentError(str(site.root), None, "site folder not found")
    if not folder.is_dir():
        raise ContentError(str(site.root), None,
                           f"has no events folder ({site.events_dir}/)")
    files = [_read(path, path.relative_to(root).as_posix(), site) for path in _event_files(folder)]
    new_refs = _pair_shared_refs([f for f in files if f.event and f.event.published], site)

    events, drafts, problems = [], [], []
    for parsed in files:
        problems.extend(parsed.problems)
        if parsed.event is None:
            continue
        event = parsed.event
        if parsed.source in new_refs:
            ref, message = new_refs[parsed.source]
            event = replace(event, ref=ref)
            problems.append(Problem(parsed.source, "ref", message))
        (events if event.published else drafts).append(event)
    order = lambda e: (e.start, e.ref, e.lang)  # noqa: E731
    return Site(tuple(sorted(events, key=order)), tuple(sorted(drafts, key=order)),
                tuple(problems))


def parse_event(text: str, source: str, site: SiteConfig) -> tuple[Event | None, list[Problem]]:
    """Turn one event file's text into an Event (None when it is unusable) and its problems.

    `source` is the file's path relative to the site root. Nothing is read from disk except
    whether the event's image file exists.
    """
    parsed = _parse(text, source, site)
    return parsed.event, list(parsed.problems)


def _event_files(folder: Path) -> list[Path]:
    found = []
    for path in folder.rglob("*.md"):
        parts = path.relative_to(folder).parts
        if not any(part[:1] in "._#" for part in parts) and (path.is_file() or path.is_symlink()):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _read(path: Path, source: str, site: SiteConfig) -> _Parsed:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        return _Parsed(source, None, (Problem(source, None, message, "error"),))
    except OSError as exc:
        message = f"cannot read the file ({exc.strerror or exc})"
        return _Parsed(source, None, (Problem(source, None, message, "error"),))
    return _parse(text, source, site)


def _parse(text: str, source: str, site: SiteConfig) -> _Parsed:
    problems: list[Problem] = []

    def report(field: str | None, message: str, severity: Severity = "warning") -> None:
        problems.append(Problem(source, field, " ".join(message.split()), severity))

    meta, raw_front_matter = _front_matter(text.lstrip("\ufeff"), report)
    if meta is None:
        return _Parsed(source, None, tuple(problems))

    title = _text(meta.get("title"))
    if not title:
        raw = meta.get("title")
        what = "missing or empty" if title == "" or raw is None else f"expected text, got {raw!r}"
        report("title", f"{what}; every event needs a title", "error")
    else:
        _check_title_comment(raw_front_matter, title, report)
    start = _start(meta.get("event-date"), site, report)
    if not title or start is None:
        return _Parsed(source, None, tuple(problems))

    slug = _slug(source)
    lang = _text(meta.get("lang")) or site.default_lang
    if lang.lower() in site.languages:
        lang = lang.lower()
    else:
        report("lang", f"{lang!r} is not one of the site's languages "
                       f"({', '.join(site.languages)}); the event is left out (fix the file, "
                       f"or add the language to site.languages)", "error")
        return _Parsed(source, None, tuple(problems))
    ref = _text(meta.get("ref"))
    if not ref:
        ref = slug
        report("ref", f"missing; using the file name {slug!r} as the ref")
    published = meta.get("published", True)
    if not isinstance(published, bool):
        report("published", f"expected true or false, got {published!r}; treating it as published")
        published = True
    excerpt = _text(meta.get("excerpt")) or _text(meta.get("ingress-text")) or ""
    alt = _text(meta.get("image-alt", meta.get("image_alt")))
    image, image_key = _image(meta.get("image"), site, report)
    if image is not None and not alt:
        report("image-alt", "missing; the image is described from the title, which says little "
                            "to people who cannot see it")
    url = _url(meta.get("permalink"), source, lang, ref, start, site)
    event = Event(ref=ref, lang=lang, title=title, start=start, url=url, source=source,
                  excerpt=_plain(excerpt), place=_text(meta.get("place")) or "", image=image,
                  image_alt=alt or None, published=published)
    return _Parsed(source, event, tuple(problems), (start, image_key))


def _front_matter(text: str, report) -> tuple[dict[str, Any] | None, str]:
    if not _YAML.detect(text):
        report("front matter", "missing; the file must start with a --- line", "error")
        return None, ""
    try:
        raw, _body = _YAML.split(text)
    except ValueError:
        report("front matter", "no closing --- line", "error")
        return None, ""
    try:
        meta = _YAML.load(raw)
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        report("front matter", f"invalid YAML{where}: {exc.problem or exc.context}", "error")
        return None, raw
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        report("front matter", f"invalid YAML: {' '.join(str(exc).split())}", "error")
        return None, raw
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        report("front matter", f"expected key: value lines, got a {type(meta).__name__}", "error")
        return None, raw
    return {str(key): value for key, value in meta.items()}, raw


def _text(value: Any) -> str | None:
    """Return a scalar front-matter value as stripped text; None for lists, maps and booleans."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float, date)) and not isinstance(value, bool):
        return str(value)
    return None


def _check_title_comment(raw_front_matter: str, title: str, report) -> None:
    """Warn when an unquoted title holds ` #`: YAML reads the rest of the line as a comment."""
    for line in raw_front_matter.splitlines():
        match = re.match(r"title:[ \t]*(.*)$", line)
        if match:
            written = match.group(1).strip()
            if written[:1] not in ("'", '"', "|", ">") and " #" in written:
                report("title", f"YAML reads everything after ' #' as a comment, so the title is "
                                f"{title!r}; put the title in quotes to keep all of {written!r}")
            return


def _start(value: Any, site: SiteConfig, report) -> datetime | None:
    """Return the start in the site's zone, applying `site.offset_policy` to a wrong offset."""
    if value is None or value == "":
        report("event-date", f"missing; write the start like {_EXAMPLE_DATE}", "error")
        return None
    reading = _read_datetime(value)
    if reading is None:
        report("event-date", f"cannot read {value!r} as a date and time; write it like "
                             f"{_EXAMPLE_DATE}", "error")
        return None
    clock, written, has_time = reading
    zone = site.timezone
    if not has_time:
        report("event-date", "no time given, using 00:00")
    local = clock.replace(tzinfo=zone)
    if local.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != clock:
        source = local if written is None else clock.replace(tzinfo=timezone(written))
        start = source.astimezone(timezone.utc).astimezone(zone)
        report("event-date", f"{clock:%H:%M} does not exist in {zone} on {clock:%Y-%m-%d} "
                             f"(the clocks go forward); using {start:%H:%M}")
        return start
    if written is None:
        return local
    by_offset = clock.replace(tzinfo=timezone(written)).astimezone(zone)
    if written in {clock.replace(tzinfo=zone, fold=fold).utcoffset() for fold in (0, 1)}:
        return by_offset
    other_day = "" if by_offset.date() == clock.date() else f" on {by_offset:%Y-%m-%d}"
    mismatch = (f"offset {_offset(written)} differs from {zone} ({_offset(local.utcoffset())}) "
                f"on {clock:%Y-%m-%d}")
    if site.offset_policy == "refuse":
        report("event-date", f"{mismatch}: the clock time says {clock:%H:%M}, the offset says "
                             f"{by_offset:%H:%M}{other_day}; fix the offset (offset_policy is "
                             f"'refuse')", "error")
        return None
    if site.offset_policy == "offset":
        report("event-date", f"{mismatch}; using the offset: {by_offset:%H:%M}{other_day} "
                             f"(the clock time says {clock:%H:%M})")
        return by_offset
    report("event-date", f"{mismatch}; using the clock time {clock:%H:%M} "
                         f"(by the offset it would be {by_offset:%H:%M}{other_day})")
    return local


def _read_datetime(value: Any) -> tuple[datetime, timedelta | None, bool] | None:
    """Return the written clock time, the written offset or None, and whether a time is given."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None), value.utcoffset(), True
    if isinstance(value, date):
        return datetime.combine(value, time()), None, False
    if not isinstance(value, str):
        return None
    match = _DATETIME.fullmatch(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        clock = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                         int(second or 0))
    except ValueError:
        return None
    written = None
    if offset == "Z":
        written = timedelta(0)
    elif offset:
        digits = offset[1:].replace(":", "")
        written = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if written >= timedelta(hours=24):
            return None
        written = -written if offset[0] == "-" else written
    return clock, written, hour is not None


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta(0)).total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _image(value: Any, site: SiteConfig, report) -> tuple[Path | None, str]:
    """Return the image file inside the site (or None) and the image as written, for pairing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ""
    if not isinstance(value, str):
        report("image", f"expected a path like /uploads/photo.jpg, got {value!r}; "
                        f"the post goes without this image")
        return None, repr(value)
    written = value.strip()
    if _REMOTE.match(written):
        report("image", f"images on other sites are not supported ({written}); "
                        f"the post goes without this image")
        return None, written
    root = site.root.resolve()
    path = unquote(written)
    as_url = "/" + path.lstrip("/")
    for prefix, folder in sorted(site.uploads, key=lambda item: -len(item[0])):
        if as_url.startswith(prefix):
            candidate = root / folder / as_url[len(prefix):]
            break
    else:
        candidate = root / path.lstrip("/")
    try:
        if os.path.isabs(path) and not candidate.exists() and os.path.exists(path):
            candidate = Path(path)  # a path on this machine, not a URL path of the site
        resolved = candidate.resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        report("image", f"cannot use {written!r} ({exc}); the post goes without this image")
        return None, written
    if not resolved.is_relative_to(root):
        report("image", f"{written} is outside the site folder; the post goes without this image", "error")
        return None, written
    shown = os.path.relpath(candidate, root).replace(os.sep, "/")
    if not resolved.is_file():
        missing = "is not a file" if resolved.exists() else "not found"
        report("image", f"image file {shown} {missing}; the post goes without this image")
        return None, written
    return resolved, written


def _slug(source: str) -> str:
    """Return Jekyll's slug for a file: its name without `.md` and any `YYYY-MM-DD-` prefix."""
    return _DATE_PREFIX.sub("", PurePosixPath(source).stem)


def _url(permalink: Any, source: str, lang: str, ref: str, start: datetime,
         site: SiteConfig) -> str:
    """Return the event's public URL: the file's own `permalink`, else the site's pattern."""
    pattern = permalink.strip() if isinstance(permalink, str) and permalink.strip() else None
    if pattern and re.match(r"https?://", pattern):
        return pattern
    values = {
        "title": _slug(source), "slug": _slug(source), "name": PurePosixPath(source).stem,
        "lang": lang, "ref": ref, "year": f"{start:%Y}", "month": f"{start:%m}",
        "day": f"{start:%d}", "i_month": str(start.month), "i_day": str(start.day),
        "short_year": f"{start:%y}", "collection": PurePosixPath(site.events_dir).name.lstrip("_"),
        "output_ext": ".html",
    }
    path = re.sub(r":([a-z_]+)", lambda m: values.get(m.group(1), m.group(0)),
                  pattern or site.permalink)
    path = re.sub(r"/{2,}", "/", "/" + path)
    return site.url.rstrip("/") + quote(path, safe="/-._~!$&'()*+,;=:@%")


def _plain(text: str) -> str:
    """Return text without HTML tags, Markdown link syntax or runs of whitespace."""
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    return " ".join(html.unescape(text).split())


def _pair_shared_refs(files: list[_Parsed], site: SiteConfig) -> dict[str, tuple[str, str]]:
    """Give a ref of its own to every file whose ref another file of the same language also has.

    Such files (whatever their shared ref) are paired across languages by the same start and
    the same image as written; a lone file or an ambiguous match stands alone. A pair's ref is
    the slug of its default-language file, made unique. Return source -> (ref, warning).
    """
    by_ref: dict[str, list[_Parsed]] = defaultdict(list)
    for parsed in files:
        by_ref[parsed.event.ref].append(parsed)
    shared = {ref for ref, group in by_ref.items()
              if len({p.event.lang for p in group}) < len(group)}
    taken = set(by_ref) - shared
    buckets: dict[Any, list[_Parsed]] = defaultdict(list)
    for parsed in files:
        if parsed.event.ref in shared:
            buckets[parsed.twin_key].append(parsed)
    units: list[list[_Parsed]] = []
    for bucket in buckets.values():
        langs = [p.event.lang for p in bucket]
        units.extend([bucket] if len(set(langs)) == len(langs) else [[p] for p in bucket])
    renamed: dict[str, tuple[str, str]] = {}
    for unit in units:
        first = min(unit, key=lambda p: (_lang_rank(p.event.lang, site), p.source))
        new_ref = _unique(_slug(first.source), taken)
        for parsed in unit:
            event = parsed.event
            same = sum(p.event.lang == event.lang for p in by_ref[event.ref])
            others = [PurePosixPath(p.source).name for p in unit if p is not parsed]
            if others:
                how = f"paired with {', '.join(others)} (same date and image)"
            else:
                how = "no other language version has the same date and image"
            renamed[parsed.source] = (
                new_ref, f"ref {event.ref!r} is used by {same} {event.lang} files; {how}; "
                         f"using ref {new_ref!r}")
    return renamed


def _lang_rank(lang: str, site: SiteConfig) -> int:
    if lang == site.default_lang:
        return 0
    return 1 + (site.languages.index(lang) if lang in site.languages else len(site.languages))


def _unique(ref: str, taken: set[str]) -> str:
    candidate, number = ref, 1
    while candidate in taken:
        number += 1
        candidate = f"{ref}-{number}"
    taken.add(candidate)
    return candidate
