"""Give a ref of its own to every file whose ref another file of the same language also has."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import NamedTuple

from ..config import SiteConfig
from ..model import Event
from .fields import _slug


class Candidate(NamedTuple):
    """A published event file, with what pairs it with its other language versions."""

    key: str
    event: Event
    twin_key: Hashable


def pair_shared_refs(files: Sequence[Candidate], site: SiteConfig) -> dict[str, tuple[str, str]]:
    """Return key -> (new ref, warning) for every file whose ref is shared within a language.

    Such files (whatever their shared ref) are paired across languages by the same start and
    the same image as written; a lone file or an ambiguous match stands alone. A pair's ref is
    the slug of its default-language file, made unique.
    """
    by_ref: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in files:
        by_ref[candidate.event.ref].append(candidate)
    shared = {ref for ref, group in by_ref.items()
              if len({c.event.lang for c in group}) < len(group)}
    if not shared:
        return {}
    taken = set(by_ref) - shared
    buckets: dict[Hashable, list[Candidate]] = defaultdict(list)
    for candidate in files:
        if candidate.event.ref in shared:
            buckets[candidate.twin_key].append(candidate)
    units: list[list[Candidate]] = []
    for bucket in buckets.values():
        langs = [c.event.lang for c in bucket]
        units.extend([bucket] if len(set(langs)) == len(langs) else [[c] for c in bucket])
    renamed: dict[str, tuple[str, str]] = {}
    for unit in units:
        first = min(unit, key=lambda c: (_lang_rank(c.event.lang, site), c.key))
        new_ref = _unique(_slug(first.event.source), taken)
        for candidate in unit:
            event = candidate.event
            same = sum(c.event.lang == event.lang for c in by_ref[event.ref])
            others = [posixpath.basename(c.event.source) for c in unit if c is not candidate]
            if others:
                how = f"paired with {', '.join(others)} (same date and image)"
            else:
                how = "no other language version has the same date and image"
            renamed[candidate.key] = (
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
