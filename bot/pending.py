"""Corrections and cancellations still to go out, and when each goes: reads and writes nothing.

`bot.changes` decides what the site asks for after posting (an announced event that moved, or
went away); this module times each of those with `timing.change_time` and the account's
back-off, exactly as `herald run` sends them. `herald run` carries out the ones due now;
`herald preview` and `herald status` show them all (through the survey), with the same times.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .changes import CANCELLATION, CONFIRM_MISSING, CORRECTION, Announced, Cancellation, \
    Changes, Correction, announced, detect
from .config import Config
from .content import Site
from .model import Event, PostKey, Stage
from .planner import date_only_time
from .timing import RETRYING_AFTER_FAILURE, Rules, change_time, rules_for


class Published(Mapping[str, Mapping[str, Event]]):
    """The site's published events by ref, each one's versions read only when asked for."""

    def __init__(self, site: Site):
        self._site = site

    def __getitem__(self, ref: str) -> Mapping[str, Event]:
        if ref not in self._site:
            raise KeyError(ref)
        return self._site.versions(ref)

    def __iter__(self) -> Iterator[str]:
        return iter(self._site.refs())

    def __len__(self) -> int:
        return len(self._site.refs())


@dataclass(frozen=True)
class PendingChange:
    """A correction or cancellation the site asks for, and when `herald run` sends it.

    `due` is when it is asked for: now, or (for an event missing from the site) when it has
    been missing long enough to be taken as gone. `at` is when it goes out (quiet hours and a
    back-off may hold it), and `why` says why that is later than `due`.
    """

    change: Correction | Cancellation
    due: datetime
    at: datetime
    why: str = ""
    posts: int = 0
    """How many posts about the event its account holds in its language (what deleting it
    removes, with `on_cancel = "delete"`)."""

    @property
    def key(self) -> PostKey:
        """The correction's or cancellation's own identity in the ledger."""
        ann = self.change.announced.key
        stage = CORRECTION if isinstance(self.change, Correction) else CANCELLATION
        return PostKey(ann.ref, stage, ann.account, ann.lang)


def detect_on(site: Site, posted: Iterable[Announced], missing_since: Mapping[str, datetime],
              *, now: datetime, confirm: timedelta = CONFIRM_MISSING) -> Changes:
    """`changes.detect` over the site as loaded: its published events, drafts and bad files."""
    unreadable = {p.source for p in site.problems if p.severity == "error"}
    return detect(list(posted), Published(site), {d.ref for d in site.drafts}, unreadable,
                  missing_since, now=now, confirm=confirm)


def urgent_start(start: datetime, date_only: bool, stages: Iterable[Stage],
                 zone) -> datetime:
    """When an event starts, as far as the urgency of news about it goes.

    An event with a time of day starts then. One without starts, as the planner sees it, at
    the time of day its reminders go (`date_only_time`, the earliest of the reminder stages',
    a morning hour by default) on its day, not at midnight.
    """
    if not date_only:
        return start
    reminders = [s for s in stages if s.kind == "reminder"] or [Stage("day", "reminder")]
    return min(date_only_time(Stage(s.name, s.kind, timedelta(0), s.template,
                                    s.date_only_time), start, zone) for s in reminders)


def change_at(change: Correction | Cancellation, due: datetime, rules: Rules, *,
              stages: Iterable[Stage], zone, blocked: datetime | None = None
              ) -> tuple[datetime, str]:
    """When a change due at `due` goes out on its account, and why then if later.

    It is urgent until the earlier of the start people were told and the start now (a moved
    event's): quiet hours hold it only while they end before that. A back-off holds it until
    the account may be asked again.
    """
    told = change.announced.told
    starts = [urgent_start(told.start, told.date_only, stages, zone)]
    if isinstance(change, Correction):
        starts.append(urgent_start(change.event.start, change.event.date_only, stages, zone))
    at = change_time(due, min(starts), rules, zone)
    why = f"quiet hours {rules.quiet}" if at > due else ""
    if blocked is not None and blocked > at:
        at, why = blocked, RETRYING_AFTER_FAILURE
    return at, why


def timed(found: Changes, config: Config, *, now: datetime,
          blocked: Mapping[str, datetime] | None = None) -> list[PendingChange]:
    """Time every change `found` asks for: the ones due now and the ones still confirming.

    Changes on an account the config no longer has are left out (`herald run` cannot send them).
    """
    zone = config.site.timezone
    accounts = {a.name: a for a in config.accounts}
    rules: dict[str, Rules] = {}
    out = []
    items = [(c, now) for c in (*found.corrections, *found.cancellations)]
    items += list(found.confirming)
    for change, due in items:
        name = change.announced.key.account
        if name not in accounts:
            continue
        if name not in rules:
            rules[name] = rules_for(accounts[name])
        at, why = change_at(change, due, rules[name], stages=config.stages, zone=zone,
                            blocked=(blocked or {}).get(name))
        out.append(PendingChange(change, due.astimezone(zone), at.astimezone(zone), why))
    return out


def pending_changes(config: Config, site: Site, rows: Iterable, *, now: datetime,
                    missing_since: Mapping[str, datetime],
                    blocked: Mapping[str, datetime] | None = None,
                    confirm: timedelta = CONFIRM_MISSING) -> tuple[list[PendingChange], Changes]:
    """Every correction and cancellation the site asks for, timed as `herald run` sends it.

    `rows` are the ledger's entries and `missing_since` its record of events missing from
    the site (`Ledger.missing`). Returns the timed changes and `detect`'s whole answer.
    """
    rows = list(rows)
    stages = [s.name for s in config.stages if s.kind == "announcement"]
    posted = announced(rows, stages)
    if not posted:
        return [], Changes()
    found = detect_on(site, posted, missing_since, now=now, confirm=confirm)
    ids: dict[tuple[str, str, str], set[str]] = {}
    for row in rows:                  # as the runner deletes them: one per platform id
        if row.state == "posted" and row.platform_id and row.key.stage != CANCELLATION:
            ids.setdefault((row.key.ref, row.key.account, row.key.lang), set()).add(
                row.platform_id)
    return [replace(p, posts=len(ids.get((p.key.ref, p.key.account, p.key.lang), ())))
            for p in timed(found, config, now=now, blocked=blocked)], found
