"""Keep a loaded site up to date file by file, so that a change costs what changed.

`herald run` looks at the site every minute. `LiveSite.refresh` lists the event files again,
comparing each one's size and time with the last listing (`files.Listing.changes`: one
`lstat` per file and nothing else for a file that did not change), parses only the files
that changed (through the parse cache), looks each distinct image up again (as every load
does: an image may appear or vanish), and updates the events, drafts, problems and the index
by ref in place. The Site it returns equals the one `load_site` would make from scratch:
the same events, drafts and problems in the same order, and the same refs and versions
(`tests/test_live_site.py` checks it over random sequences of edits).

Each file's part of the Site is kept with the key it sorts by, so a changed file is taken out
and put back by bisection. A ref shared by files of one language (`pairing.py`) is resolved
over every file, as `load_site` does; only sites that have such refs pay for it.
"""

from __future__ import annotations

import gc
import time
from bisect import bisect_left
from collections import Counter
from dataclasses import replace
from operator import itemgetter

from ..config import SiteConfig
from ..model import Event, Problem
from .cache import RECENT_SECONDS, ParseCache
from .fields import Parsed
from .files import Changes, Listing, list_events
from .pairing import Candidate, pair_shared_refs
from .site import Site, _parse_files, _with_image
from .uploads import Uploads

_UNLISTED = "\0unlisted"
"""The key the folders that could not be listed keep their problems under (no file's key
holds a NUL)."""

_SCAN, _UNUSABLE, _LOADED = 0, 1, 2
"""The order in which `load_site` lists problems of one file name: the listing's, those of a
file that gives no event, those of a file that does."""


_first, _second = itemgetter(0), itemgetter(1)


class _Sorted:
    """Values kept in the order of their sort keys, taken out and put in by bisection."""

    def __init__(self) -> None:
        self.keys: list[tuple] = []
        self.values: list = []

    def fill(self, pairs: list[tuple[tuple, object]]) -> None:
        pairs.sort(key=_first)
        self.keys = list(map(_first, pairs))
        self.values = list(map(_second, pairs))

    def add(self, key: tuple, value) -> None:
        at = bisect_left(self.keys, key)
        self.keys.insert(at, key)
        self.values.insert(at, value)

    def remove(self, key: tuple) -> None:
        at = bisect_left(self.keys, key)
        del self.keys[at]
        del self.values[at]


class LiveSite:
    """A site loaded once and kept up to date by `refresh`, through `cache`."""

    def __init__(self, config: SiteConfig, cache: ParseCache | None = None):
        self.config = config
        self.cache = cache if cache is not None else ParseCache()
        self.site: Site | None = None
        self._reset()

    def _reset(self) -> None:
        self._listing: Listing | None = None
        self._parsed: dict[str, Parsed] = {}
        self._found: dict[str, tuple[Event | None, tuple[Problem, ...], str]] = {}
        """key -> (event with its image looked up, its problems, the image as written)"""
        self._images: dict[str, set[str]] = {}       # image as written -> the files naming it
        self._looked: dict[str, tuple] = {}         # image as written -> what its lookup found
        self._recent: set[str] = set()              # parsed while too recent to be cached
        self._written: dict[tuple[str, str], int] = {}   # (ref, lang) -> published files
        self._crowded: dict[str, int] = {}   # ref -> its languages with more than one file
        self._renamed: dict[str, tuple[str, str]] = {}
        self._parts: dict[str, tuple] = {}          # key -> what `_part` made of it
        self._members: dict[str, dict[str, tuple]] = {}  # ref -> key -> (sort key, event)
        self._index: dict[str, dict[str, Event]] = {}
        self._events, self._drafts, self._problems = _Sorted(), _Sorted(), _Sorted()

    def refresh(self) -> Site | None:
        """Return the site as it is now if any event file changed since the last call, else
        None; the first call loads it all. Raises ConfigError as `load_site` does.

        Python's cycle collector is paused meanwhile, as while loading.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            before = self._listing
            changes = None if before is None else before.changes(self.config)
            if changes is not None and not changes:
                return None
            try:
                if changes is None:
                    listing = list_events(self.config)
                    if before is not None and listing.same_as(before):
                        return None     # a folder that cannot be listed, as before
                    return self._load_all(listing)
                self._listing.apply(changes)
                return self._update(changes, bulk=False)
            except BaseException:
                self._reset()       # the next refresh loads it all again
                raise
        finally:
            if collecting:
                gc.enable()

    def _load_all(self, listing: Listing) -> Site:
        self._reset()                       # start afresh, from the parse cache
        self._listing = listing
        changes = Changes(list(listing.files.values()), list(listing.skipped.items()), [], {})
        return self._update(changes, bulk=True)

    # -- one update --------------------------------------------------------------------------

    def _update(self, changes: Changes, *, bulk: bool) -> Site:
        config, cache, listing = self.config, self.cache, self._listing
        assert listing is not None
        cache.bind(config)
        touched: set[str] = set(changes.gone)
        touched.update(key for key, _ in changes.skipped)
        for key in touched:
            self._parsed.pop(key, None)
        if bulk:
            cache.retain(set(listing.files))
        else:
            cache.forget(touched)
        # A file parsed while too recent to be cached is parsed again, as `load_site` would.
        files = list(changes.files)
        fresh_keys = {f.key for f in files}
        files += [listing.files[k] for k in sorted(self._recent - fresh_keys)
                  if k in listing.files]
        if not bulk:
            files.sort(key=lambda f: f.key)
        self._recent -= {f.key for f in files}
        recent = time.time_ns() - RECENT_SECONDS * 1e9
        for file, parsed in _parse_files(tuple(files), config, cache):
            self._parsed[file.key] = parsed
            touched.add(file.key)
            if file.mtime_ns > recent:
                self._recent.add(file.key)
        self._look_up_images(touched)
        self._pair(touched, bulk)
        self._place(touched, bulk)
        events, drafts, problems = (tuple(self._events.values), tuple(self._drafts.values),
                                    tuple(self._problems.values))
        self.site = Site._made(events, drafts, problems, dict(self._index))
        return self.site

    def _look_up_images(self, touched: set[str]) -> None:
        """Look every distinct image up again; work out again the files whose lookup changed."""
        images, found = self._images, self._found
        for key in touched if found else ():
            before = found.pop(key, None)
            if before is not None and before[2]:
                users = images[before[2]]
                users.discard(key)
                if not users:
                    del images[before[2]]
                    self._looked.pop(before[2], None)
        uploads = Uploads(self.config)
        redo = set(touched)
        for written, users in images.items():
            lookup = uploads.find(written)
            if self._looked.get(written) != lookup:
                self._looked[written] = lookup
                redo.update(users)
        listing, looked = self._listing, self._looked
        assert listing is not None
        for key in redo:
            parsed = self._parsed.get(key)
            if parsed is None:
                found.pop(key, None)
                continue
            file = listing.files[key]
            event, extra = _with_image(parsed, file.source, uploads)
            written = parsed.image if parsed.event is not None else ""
            found[key] = (event, parsed.problems + extra, written or "")
            if written:
                users = images.get(written)
                if users is None:
                    images[written] = {key}
                    looked[written] = uploads.find(written)
                else:
                    users.add(key)
        touched.update(redo)

    def _pair(self, touched: set[str], bulk: bool) -> None:
        """Give a ref of its own to each file whose ref is shared within a language."""
        written, crowded = self._written, self._crowded
        if bulk:
            written.update(Counter([(e.ref, e.lang) for e, _, _ in self._found.values()
                                    if e is not None and e.published]))
            for (ref, _), count in written.items():
                if count > 1:
                    crowded[ref] = crowded.get(ref, 0) + 1
        else:
            for key in touched:
                before = self._parts.get(key)
                if before is not None and before[3] is not None:
                    count = written[before[3]] = written[before[3]] - 1
                    if not count:
                        del written[before[3]]
                    elif count == 1:
                        crowded[before[3][0]] -= 1
                        if not crowded[before[3][0]]:
                            del crowded[before[3][0]]
                found = self._found.get(key)
                if found is not None and found[0] is not None and found[0].published:
                    pair = found[0].ref, found[0].lang
                    count = written[pair] = written.get(pair, 0) + 1
                    if count == 2:
                        crowded[pair[0]] = crowded.get(pair[0], 0) + 1
        shared = crowded
        if not shared and not self._renamed:
            return
        candidates = []
        for key in sorted(self._found):
            event = self._found[key][0]
            if event is not None and event.published:
                candidates.append(Candidate(key, event, (event.start,
                                                         self._parsed[key].image_key)))
        renamed = pair_shared_refs(candidates, self.config)
        before = self._renamed
        touched.update(k for k in renamed.keys() | before.keys()
                       if renamed.get(k) != before.get(k))
        self._renamed = renamed

    def _place(self, touched: set[str], bulk: bool) -> None:
        """Put each touched file's event and problems in their places, in sort order."""
        listing = self._listing
        assert listing is not None
        parts, members, index = self._parts, self._members, self._index
        if bulk:
            self._place_all(touched, listing)
            return
        events, drafts, problems = self._events, self._drafts, self._problems
        refs: set[str] = set()
        for key in touched:
            before = parts.pop(key, None)
            if before is not None:
                order, event, keyed, _ = before
                if order is not None:
                    (events if event.published else drafts).remove(order)
                    if event.published:
                        refs.add(event.ref)
                        del members[event.ref][key]
                for sort_key, _ in keyed:
                    problems.remove(sort_key)
            part = self._part(key, listing)
            if part is None:
                continue
            parts[key] = part
            order, event, keyed, _ = part
            if order is not None:
                (events if event.published else drafts).add(order, event)
                if event.published:
                    refs.add(event.ref)
                    members.setdefault(event.ref, {})[key] = (order, event)
            for sort_key, problem in keyed:
                problems.add(sort_key, problem)
        for ref in refs:
            mine = members.get(ref)
            if not mine:
                members.pop(ref, None)
                index.pop(ref, None)
                continue
            versions: dict[str, Event] = {}
            for _, event in sorted(mine.values(), key=lambda pair: pair[0]):
                versions[event.lang] = event
            index[ref] = versions

    def _place_all(self, keys: set[str], listing: Listing) -> None:
        """`_place` for every file at once: one sort instead of a bisection each."""
        published: list[tuple[tuple, Event]] = []
        drafts: list[tuple[tuple, Event]] = []
        problems: list[tuple[tuple, Problem]] = []
        parts, part_of, found_of, renamed = self._parts, self._part, self._found.get, \
            self._renamed
        for key in keys:
            found = found_of(key)
            # The common case first, as `_part` makes it: an event without problems or rename.
            if found is not None and found[0] is not None and not found[1] \
                    and key not in renamed:
                event = found[0]
                order = (event.start, event.ref, event.lang, key)
                if event.published:
                    parts[key] = (order, event, (), (event.ref, event.lang))
                    published.append((order, event))
                else:
                    parts[key] = (order, event, (), None)
                    drafts.append((order, event))
                continue
            part = part_of(key, listing)
            if part is None:
                continue
            parts[key] = part
            order, event, keyed, _ = part
            if order is not None:
                (published if event.published else drafts).append((order, event))
            if keyed:
                problems.extend(keyed)
        part = part_of(_UNLISTED, listing)
        parts[_UNLISTED] = part
        problems.extend(part[2])
        self._events.fill(published)
        self._drafts.fill(drafts)
        self._problems.fill(problems)
        members, index = self._members, self._index
        for order, event in published:                 # in sort order now
            ref = event.ref
            mine = members.get(ref)
            if mine is None:
                members[ref] = {order[3]: (order, event)}
                index[ref] = {event.lang: event}
            else:
                mine[order[3]] = (order, event)
                index[ref][event.lang] = event

    def _part(self, key: str, listing: Listing) -> tuple | None:
        """Return (sort key or None, event or None, [(problem sort key, problem)], (ref, lang)
        of a published event as written, for pairing) for one file, or None when it is gone."""
        found = self._found.get(key)
        if found is None:
            if key == _UNLISTED:
                return (None, None, [((p.source, _SCAN, "", n), p)
                                     for n, p in enumerate(listing.unlisted)], None)
            skipped = listing.skipped.get(key)
            if skipped is None:
                return None
            return None, None, [((skipped.source, _SCAN, key, 0), skipped)], None
        event, problems, _ = found
        if event is None:
            return None, None, [((p.source, _UNUSABLE, key, n), p)
                                for n, p in enumerate(problems)], None
        written = (event.ref, event.lang) if event.published else None
        renamed = self._renamed.get(key) if self._renamed else None
        if renamed is not None:
            event = replace(event, ref=renamed[0])
            problems += (Problem(event.source, "ref", renamed[1]),)
        keyed = [((p.source, _LOADED, key, n), p) for n, p in enumerate(problems)] \
            if problems else ()
        return (event.start, event.ref, event.lang, key), event, keyed, written
