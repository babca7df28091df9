"""How `herald validate` groups what it found: by event, upcoming first, past events by kind.

A site's history holds years of events that can no longer be posted; their problems are
summed up by kind (with counts), so the ones that still matter stand out. The problems of
one event's language versions that say the same thing are one line naming every file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from ..localize import plural
from ..model import Problem

VALIDATE_SCHEMA = "herald.validate/1"
"""The name and version of `herald validate --json`'s shape (docs/json/validate.schema.json)."""

SHOWN_REFS = 4
"""How many events a line about past events names before "and N more"."""


@dataclass
class Group:
    """The problems of one event (or of files Herald could not read as an event)."""

    ref: str | None
    start: datetime | None
    problems: list[Problem] = field(default_factory=list)
    until: datetime | None = None
    """When the event stops being upcoming (the end of the day of one without a time)."""

    def upcoming(self, now: datetime) -> bool:
        """Can this event still be posted? Unreadable files count: they may be upcoming."""
        return self.start is None or (self.until or self.start) > now


def events_of(loaded) -> dict[str, tuple[str, datetime]]:
    """Each event file's (ref, upcoming until), drafts included (see `Event.upcoming_until`)."""
    return {e.source: (e.ref, e.upcoming_until)
            for e in tuple(loaded.events) + tuple(loaded.drafts)}


def group(problems: list[Problem], loaded) -> list[Group]:
    """Group the problems by event: unreadable files first, then the events by start."""
    files = {e.source: e for e in tuple(loaded.events) + tuple(loaded.drafts)}
    groups: dict[str | None, Group] = {}
    for problem in problems:
        event = files.get(problem.source)
        ref = event.ref if event is not None else None
        if ref not in groups:
            groups[ref] = Group(ref, event.start if event else None,
                                until=event.upcoming_until if event else None)
        groups[ref].problems.append(problem)
    return sorted(groups.values(),
                  key=lambda g: (g.start is not None, g.start or datetime.min, g.ref or ""))


def merged(problems: list[Problem]) -> list[tuple[Problem, list[str]]]:
    """One line per distinct finding, with every file it is in: errors first."""
    files: dict[tuple, list[str]] = defaultdict(list)
    for p in problems:
        files[(p.severity, p.field, p.message)].append(p.source)
    order = sorted(files, key=lambda k: (k[0] != "error", k[1] or "", k[2]))
    return [(Problem(", ".join(sorted(set(files[k]))), k[1], k[2], k[0]), sorted(set(files[k])))
            for k in order]


def lines(problems: list[Problem], loaded, *, now: datetime, zone, upcoming_only: bool,
          everything: bool) -> list[str]:
    """The text of validate's findings, grouped; past events summed up by kind unless
    `everything`, and left out with `upcoming_only`."""
    out: list[str] = []
    past: list[Group] = []
    for found in group(problems, loaded):
        if not found.upcoming(now):
            past.append(found)
            continue
        out.append(_heading(found, zone))
        out.extend(f"  {problem}" for problem, _ in merged(found.problems))
    if past and not upcoming_only:
        if out:
            out.append("")
        out.append(f"Past events, no longer posted: {_tally(g.problems for g in past)} about "
                   f"{plural(len(past), 'event')}"
                   + ("" if everything else " (--all lists them)"))
        if everything:
            for found in past:
                out.append(_heading(found, zone))
                out.extend(f"  {problem}" for problem, _ in merged(found.problems))
        else:
            kinds: dict[tuple[str, str], list[str]] = defaultdict(list)
            for found in past:
                for problem in found.problems:
                    kinds[(problem.severity, problem.field or "file")].append(found.ref or "")
            for (severity, kind), refs in sorted(kinds.items(),
                                                 key=lambda item: (-len(item[1]), item[0])):
                names = list(dict.fromkeys(refs))
                shown = ", ".join(names[:SHOWN_REFS])
                more = f" and {len(names) - SHOWN_REFS} more" if len(names) > SHOWN_REFS else ""
                out.append(f"  {kind}: {plural(len(refs), severity)} in "
                           f"{plural(len(names), 'event')} ({shown}{more})")
    return out


def _heading(found: Group, zone) -> str:
    if found.ref is None:
        return "Files Herald cannot use as events:"
    start = found.start.astimezone(zone)
    if found.until is not None and found.until != found.start:      # a day without a time
        return f"{found.ref} · {start:%Y-%m-%d}:"
    return f"{found.ref} · {start:%Y-%m-%d %H:%M %Z}:"


def _tally(lists) -> str:
    counted = Counter(p.severity for problems in lists for p in problems)
    parts = [plural(counted[s], s) for s in ("error", "warning") if counted[s]]
    return " and ".join(parts)


def upcoming_problems(problems: list[Problem], loaded, now: datetime) -> list[Problem]:
    """Only the problems that can still matter: upcoming events' and unreadable files'."""
    files = events_of(loaded)
    return [p for p in problems
            if p.source not in files or files[p.source][1] > now]
