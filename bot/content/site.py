"""Load a site's events: one Event per usable file, a Problem for everything wrong, an index by ref."""

from __future__ import annotations

import functools
import gc
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from ..config import SiteConfig
from ..model import Event, Problem
from .cache import ParseCache
from .fields import Parsed, parse_bytes
from .files import EventFile, Scan, UnreadableFile, read_event_file, scan_events
from .pairing import Candidate, pair_shared_refs
from .parallel import parse_all
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
    _refs: tuple[str, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, dict[str, Event]] = {}
        for event in self.events:
            index.setdefault(event.ref, {})[event.lang] = event
        object.__setattr__(self, "_index", MappingProxyType(index))
        object.__setattr__(self, "_refs", tuple(index))

    @classmethod
    def _made(cls, events: tuple[Event, ...], drafts: tuple[Event, ...],
              problems: tuple[Problem, ...], index: dict[str, dict[str, Event]]) -> "Site":
        """Return a Site whose index by ref is already made (its refs' order is worked out
        when first asked): what `live.LiveSite` keeps up to date. `index` is not copied."""
        site = object.__new__(cls)
        for name, value in (("events", events), ("drafts", drafts), ("problems", problems),
                            ("_index", MappingProxyType(index)), ("_refs", None)):
            object.__setattr__(site, name, value)
        return site

    def versions(self, ref: str) -> dict[str, Event]:
        """Return the published language versions of one event, keyed by language."""
        return dict(self._index.get(ref, {}))

    def refs(self) -> list[str]:
        """Return each published event's ref once, earliest start first."""
        if self._refs is None:
            object.__setattr__(self, "_refs", tuple(dict.fromkeys([e.ref for e in self.events])))
        return list(self._refs)

    def __contains__(self, ref: object) -> bool:
        return ref in self._index


def load_site(site: SiteConfig, *, cache: ParseCache | None = None,
              scan: Scan | None = None) -> Site:
    """Read every `*.md` file under the events folder (see `files.py` for which are read).

    Raises ConfigError only when the site or its events folder is unusable; a bad file becomes
    a Problem and the others load. With a `cache`, a file unchanged since it was kept is not
    parsed again (the caller saves the cache). `scan` reuses a scan the caller already made.

    Python's cycle collector is paused while loading: a load makes many objects and no cycles,
    and each full collection walks every object alive, which doubled the time of a 20,000-file
    load.
    """
    collecting = gc.isenabled()
    gc.disable()  # many objects and no cycles: a full collection would walk them all, often
    try:
        return _load(site, cache, scan or scan_events(site))
    finally:
        if collecting:
            gc.enable()


def _load(site: SiteConfig, cache: ParseCache | None, scan: Scan) -> Site:
    if cache is not None:
        cache.bind(site)
        cache.retain({f.key for f in scan.files})
    parsed_files = _parse_files(scan.files, site, cache)
    uploads = Uploads(site)
    problems: list[Problem] = list(scan.problems)
    finished: list[tuple[str, Event, tuple[Problem, ...], str]] = []
    finished_before = cache.finished if cache is not None else {}
    finished_now: dict[str, tuple] = {}
    for file, parsed in parsed_files:
        event, found = _with_image(parsed, file.source, uploads,
                                   finished_before.get(file.key), finished_now, file.key)
        problems_of_file = parsed.problems + found
        if event is None:
            problems.extend(problems_of_file)
            continue
        finished.append((file.key, event, problems_of_file, parsed.image_key))
    if cache is not None:
        cache.finished = finished_now
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


def _parse_files(files: tuple[EventFile, ...], site: SiteConfig,
                 cache: ParseCache | None) -> list[tuple[EventFile, Parsed]]:
    """Return each file with its parse: from the cache when unchanged, else read and parsed."""
    found: list[Parsed | None] = [cache.get(file) if cache is not None else None
                                  for file in files]
    missing = [file for file, parsed in zip(files, found) if parsed is None]
    fresh = iter(parse_all(missing, functools.partial(parse_file, site=site)))
    result = []
    for file, parsed in zip(files, found):
        if parsed is None:
            parsed = next(fresh)
            if cache is not None:
                cache.put(file, parsed)
        result.append((file, parsed))
    return result


def parse_file(file: EventFile, site: SiteConfig) -> Parsed:
    """Read and parse one event file (no cache)."""
    try:
        return parse_bytes(read_event_file(file), file.source, site)
    except UnreadableFile as exc:
        return Parsed(None, (Problem(file.source, None, str(exc), "error"),))


def _with_image(parsed: Parsed, source: str, uploads: Uploads, before: tuple | None = None,
                memo: dict | None = None, key: str = "") -> tuple[Event | None, tuple[Problem, ...]]:
    """Look up the event's image in the site; return the event and what that found.

    `before` is what the last load made of the same parse; it is reused when the image lookup
    found the same, and what this load makes is put in `memo` under `key`.
    """
    event = parsed.event
    if event is None or not parsed.image:
        return event, ()
    lookup = uploads.find(parsed.image)
    if before is not None and before[0] is parsed and before[1] == lookup:
        result = before[2]
    else:
        path, finding = lookup
        found: tuple[Problem, ...] = ()
        if finding is not None:
            message, severity = finding
            found = (Problem(source, "image", one_line(message), severity),)
        if path is None:
            result = event, found
        else:
            if not event.image_alt:
                found += (Problem(source, "image-alt", ALT_MISSING),)
            result = _with_path(event, path), found
    if memo is not None:
        memo[key] = (parsed, lookup, result)
    return result


def _with_path(event: Event, path) -> Event:
    """Return a copy of `event` with its image: `dataclasses.replace` without re-running
    `__init__` (a third of the time; an Event's fields need no checking)."""
    copy = object.__new__(Event)
    copy.__dict__.update(event.__dict__, image=path)
    return copy
