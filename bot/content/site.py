"""Load a site's events: one Event per usable file, a Problem for everything wrong, an index by ref."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from ..config import SiteConfig
from ..model import Event, Problem
from .cache import ParseCache
from .fields import Parsed, parse_bytes
from .files import EventFile, Scan, UnreadableFile, read_event_file, scan_events
from .pairing import Candidate, pair_shared_refs
from .uploads import Uploads
from .values import one_line

ALT_MISSING = ("missing; the image is described from the title, which says little to people "
               "who cannot see it")


@dataclass(frozen=True)
class Site:
    """Everything the site's event files say, and what is wrong with them.

    Published events are indexed by ref once, when the Site is made: `versions` and `refs`
    cost the same however many events the site has.
    """

    events: tuple[Event, ...]
    drafts: tuple[Event, ...]
    problems: tuple[Problem, ...]
    _index: Mapping[str, Mapping[str, Event]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, dict[str, Event]] = {}
        for event in self.events:
            index.setdefault(event.ref, {})[event.lang] = event
        object.__setattr__(self, "_index", MappingProxyType(index))

    def versions(self, ref: str) -> dict[str, Event]:
        """Return the published language versions of one event, keyed by language."""
        return dict(self._index.get(ref, {}))

    def refs(self) -> list[str]:
        """Return each published event's ref once, earliest start first."""
        return list(self._index)

    def __contains__(self, ref: object) -> bool:
        return ref in self._index


def load_site(site: SiteConfig, *, cache: ParseCache | None = None,
              scan: Scan | None = None) -> Site:
    """Read every `*.md` file under the events folder (see `files.py` for which are read).

    Raises ConfigError only when the site or its events folder is unusable; a bad file becomes
    a Problem and the others load. With a `cache`, a file unchanged since it was kept is not
    parsed again (the caller saves the cache). `scan` reuses a scan the caller already made.
    """
    scan = scan or scan_events(site)
    if cache is not None:
        cache.bind(site)
        cache.retain({f.key for f in scan.files})
    parsed_files = [(file, _parsed(file, site, cache)) for file in scan.files]
    uploads = Uploads(site)
    problems: list[Problem] = list(scan.problems)
    finished: list[tuple[str, Event, tuple[Problem, ...], str]] = []
    for file, parsed in parsed_files:
        event, found = _with_image(parsed, file.source, uploads)
        problems_of_file = parsed.problems + found
        if event is None:
            problems.extend(problems_of_file)
            continue
        finished.append((file.key, event, problems_of_file, parsed.image_key))
    renamed = pair_shared_refs([Candidate(key, event, (event.start, image_key))
                                for key, event, _, image_key in finished if event.published],
                               site)
    events, drafts = [], []
    for key, event, problems_of_file, _ in finished:
        problems.extend(problems_of_file)
        if key in renamed:
            ref, message = renamed[key]
            event = replace(event, ref=ref)
            problems.append(Problem(event.source, "ref", message))
        (events if event.published else drafts).append(event)
    order = lambda e: (e.start, e.ref, e.lang)  # noqa: E731
    problems.sort(key=lambda p: p.source)  # stable: a file's own problems keep their order
    return Site(tuple(sorted(events, key=order)), tuple(sorted(drafts, key=order)),
                tuple(problems))


def parse_event(text: str, source: str, site: SiteConfig) -> tuple[Event | None, list[Problem]]:
    """Turn one event file's text into an Event (None when it is unusable) and its problems.

    `source` is the file's path relative to the site root. Nothing is read from disk except
    whether the event's image file exists.
    """
    from .fields import parse_text

    parsed = parse_text(text, source, site)
    event, found = _with_image(parsed, source, Uploads(site))
    return event, list(parsed.problems + found)


def _parsed(file: EventFile, site: SiteConfig, cache: ParseCache | None) -> Parsed:
    if cache is not None:
        hit = cache.get(file)
        if hit is not None:
            return hit
    try:
        parsed = parse_bytes(read_event_file(file), file.source, site)
    except UnreadableFile as exc:
        return Parsed(None, (Problem(file.source, None, str(exc), "error"),))
    if cache is not None:
        cache.put(file, parsed)
    return parsed


def _with_image(parsed: Parsed, source: str,
                uploads: Uploads) -> tuple[Event | None, tuple[Problem, ...]]:
    """Look up the event's image in the site; return the event and what that found."""
    event = parsed.event
    if event is None or not parsed.image:
        return event, ()
    path, finding = uploads.find(parsed.image)
    found: tuple[Problem, ...] = ()
    if finding is not None:
        message, severity = finding
        found = (Problem(source, "image", one_line(message), severity),)
    if path is None:
        return event, found
    if not event.image_alt:
        found += (Problem(source, "image-alt", ALT_MISSING),)
    return replace(event, image=path), found
