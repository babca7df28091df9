"""Notice what changed on the site after an event was announced, and decide what to post.

Pure: the shell passes what the ledger says was posted, the site as it is now, and `now`.
A change of date, time or place of an announced event that has not happened yet asks for a
correction; an announced event that was unpublished, or whose file is gone, asks for a
cancellation. A changed title or body (a typo fix) asks for nothing. A file that cannot be read
is never taken for a removed event, and a missing event is cancelled only once it has been
missing for a while (a checkout in progress, a file being renamed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from .composer import compose
from .model import Event, Limits, PlannedPost, Post, PostKey, Stage
from .templates import DEFAULT_TEMPLATES

CORRECTION = "correction"
CANCELLATION = "cancellation"
CHANGE_STAGES = (CORRECTION, CANCELLATION)

CONFIRM_MISSING = timedelta(minutes=10)
"""How long an announced event must be missing from the site before it is cancelled."""

CHANGE_TEMPLATES: dict[str, dict[str, str]] = {
    # A reply under the announcement (X, Bluesky).
    "correction": {
        "sv": "✏\ufe0f {changed} för {title}\n\n🗓\ufe0f {when}\n📍 {place}\n{link}",
        "en": "✏\ufe0f {changed} for {title}\n\n🗓\ufe0f {when}\n📍 {place}\n{link}",
    },
    # The announcement's new text where it can be edited (Mastodon).
    "updated": {
        "sv": "✏\ufe0f {changed}\n\n" + DEFAULT_TEMPLATES["announcement"]["sv"],
        "en": "✏\ufe0f {changed}\n\n" + DEFAULT_TEMPLATES["announcement"]["en"],
    },
    "cancellation": {
        "sv": "❌ {title} ({when}) har ställts in.",
        "en": "❌ {title} ({when}) has been cancelled.",
    },
}

REPLY_CORRECTION = Stage(CORRECTION, "announcement", None, "correction")
EDIT_CORRECTION = Stage(CORRECTION, "announcement", None, "updated")
CANCEL = Stage(CANCELLATION, "announcement", None, "cancellation")


@dataclass(frozen=True)
class Details:
    """What a post told its readers about the event, kept in the ledger as JSON."""

    ref: str
    lang: str
    title: str
    start: datetime
    place: str
    url: str
    source: str
    date_only: bool = False

    @classmethod
    def of(cls, event: Event) -> Details:
        return cls(event.ref, event.lang, event.title, event.start, event.place, event.url,
                   event.source, event.date_only)

    def to_json(self) -> str:
        data = {"ref": self.ref, "lang": self.lang, "title": self.title,
                "start": self.start.isoformat(), "place": self.place, "url": self.url,
                "source": self.source}
        if self.date_only:
            data["date_only"] = True
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Details | None:
        """Read stored details; None for a post stored without them (or unreadable ones)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            start = datetime.fromisoformat(data["start"])
            return cls(data["ref"], data["lang"], data["title"], start, data.get("place", ""),
                       data.get("url", ""), data.get("source", ""),
                       data.get("date_only") is True)
        except (ValueError, KeyError, TypeError):
            return None

    def as_event(self, zone) -> Event:
        """An Event with these details, to compose a cancellation of a removed event."""
        return Event(self.ref, self.lang, self.title, self.start.astimezone(zone), self.url,
                     self.source, place=self.place, date_only=self.date_only)

    def changes_to(self, event: Event) -> tuple[str, ...]:
        """Which of date, time and place `event` says differently; a title or body never counts."""
        before, after = self.start.astimezone(event.start.tzinfo), event.start
        changed = []
        if before.date() != after.date():
            changed.append("date")
        if before.time() != after.time() or (before != after and not changed):
            changed.append("time")
        if " ".join(self.place.split()) != " ".join(event.place.split()):
            changed.append("place")
        return tuple(dict.fromkeys(changed))


class Row(Protocol):
    """What `announced` reads from a ledger entry."""

    key: PostKey
    generation: int
    state: str
    platform_id: str | None
    url: str | None
    event: str | None


@dataclass(frozen=True)
class Announced:
    """An announcement on one account in one language, and what its readers were last told."""

    key: PostKey
    platform_id: str
    url: str | None
    told: Details
    cancelled: bool = False


def announced(rows: Iterable[Row], announcement_stages: Iterable[str]) -> list[Announced]:
    """Find every posted announcement and the latest details posted about its event.

    The details come from the announcement, or from the newest posted correction after it.
    """
    stages = set(announcement_stages)
    rows = list(rows)
    told: dict[tuple[str, str, str], tuple[int, Details]] = {}
    cancelled: set[tuple[str, str, str]] = set()
    for row in rows:
        thread = (row.key.ref, row.key.account, row.key.lang)
        if row.key.stage == CORRECTION and row.state == "posted":
            details = Details.from_json(row.event)
            if details is not None and row.generation >= told.get(thread, (-1, None))[0]:
                told[thread] = (row.generation, details)
        elif row.key.stage == CANCELLATION and row.state in ("posted", "skipped", "deleted"):
            cancelled.add(thread)
    found = []
    for row in rows:
        if row.key.stage not in stages or row.state != "posted" or not row.platform_id:
            continue
        thread = (row.key.ref, row.key.account, row.key.lang)
        details = told[thread][1] if thread in told else Details.from_json(row.event)
        if details is None:
            continue  # posted before Herald kept details: nothing to compare with
        found.append(Announced(row.key, row.platform_id, row.url, details, thread in cancelled))
    return found


@dataclass(frozen=True)
class Correction:
    """Tell the readers of `announced` that the event's `changed` details are now `event`'s."""

    announced: Announced
    event: Event
    changed: tuple[str, ...]


@dataclass(frozen=True)
class Cancellation:
    """Tell the readers of `announced` that the event will not take place."""

    announced: Announced
    reason: str


@dataclass(frozen=True)
class Changes:
    """What to post, which events to note as missing (or back), and what is held, with why.

    `recheck` is when a missing event's confirmation time is up: the shell must look again then.
    `confirming` are the cancellations that wait for it, each with the moment it is up (the
    event still missing then, they are due).
    """

    corrections: tuple[Correction, ...] = ()
    cancellations: tuple[Cancellation, ...] = ()
    missing: tuple[str, ...] = ()
    back: tuple[str, ...] = ()
    held: tuple[tuple[str, str], ...] = ()
    recheck: datetime | None = None
    confirming: tuple[tuple[Cancellation, datetime], ...] = ()


def detect(posted: Sequence[Announced], events: Mapping[str, Mapping[str, Event]],
           drafts: Iterable[str], unreadable: Iterable[str],
           missing_since: Mapping[str, datetime], *, now: datetime,
           confirm: timedelta = CONFIRM_MISSING) -> Changes:
    """Decide the corrections and cancellations that the site's current state asks for.

    `events` maps each published ref to its language versions, `drafts` are the refs of
    unpublished events, `unreadable` the files that failed to load, and `missing_since` when
    each ref was first noticed missing. An event is corrected until it starts at its new
    time, and cancelled only before the time people were told.
    """
    drafts, unreadable = set(drafts), set(unreadable)
    corrections, cancellations, missing, held, recheck, confirming = [], [], [], [], [], []
    for item in posted:
        if item.cancelled:
            continue
        ref = item.key.ref
        versions = events.get(ref)
        if versions:
            # A correction is due while the event, as it now stands, has not started.
            event = versions.get(item.key.lang) or next(iter(versions.values()))
            changed = item.told.changes_to(event)
            if changed and event.upcoming_until > now:
                corrections.append(Correction(item, event, changed))
            continue
        if item.told.as_event(item.told.start.tzinfo).upcoming_until <= now:
            continue
        if item.told.source in unreadable:
            held.append((ref, f"{item.told.source} cannot be read; not taken for a cancellation"))
            continue
        since = missing_since.get(ref)
        if since is None:
            missing.append(ref)
            since = now
        reason = "unpublished" if ref in drafts else "removed from the site"
        if now - since >= confirm:
            cancellations.append(Cancellation(item, reason))
        else:
            recheck.append(since + confirm)
            if since + confirm < item.told.as_event(item.told.start.tzinfo).upcoming_until:
                confirming.append((Cancellation(item, reason), since + confirm))
            held.append((ref, f"{reason}; cancelled if still so at "
                              f"{(since + confirm).astimezone(item.told.start.tzinfo):%H:%M}"))
    back = tuple(ref for ref in missing_since if ref in events)
    return Changes(tuple(corrections), tuple(cancellations), tuple(dict.fromkeys(missing)),
                   back, tuple(dict.fromkeys(held)), min(recheck, default=None),
                   tuple(confirming))


def change_templates(templates: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """The user's templates with the built-in correction and cancellation texts under them."""
    merged = {name: dict(langs) for name, langs in templates.items()}
    for name, langs in CHANGE_TEMPLATES.items():
        merged[name] = {**langs, **merged.get(name, {})}
    return merged


def correction_post(change: Correction, versions: Mapping[str, Event], limits: Limits, *,
                    edit: bool, templates: Mapping[str, Mapping[str, str]],
                    hashtags: Sequence[str], now: datetime) -> Post:
    """Compose a correction: the announcement's new text (`edit`) or a reply with the details."""
    key = PostKey(change.announced.key.ref, CORRECTION, change.announced.key.account,
                  change.announced.key.lang)
    stage = EDIT_CORRECTION if edit else REPLY_CORRECTION
    return compose(PlannedPost(key, now, change.event.start, stage), versions, limits,
                   templates=change_templates(templates),
                   hashtags=hashtags if edit else (), changed=change.changed, own_texts=False)


def cancellation_post(change: Cancellation, versions: Mapping[str, Event], limits: Limits, *,
                      templates: Mapping[str, Mapping[str, str]], now: datetime) -> Post:
    """Compose the cancellation reply; `versions` may be rebuilt from the stored details."""
    key = PostKey(change.announced.key.ref, CANCELLATION, change.announced.key.account,
                  change.announced.key.lang)
    return compose(PlannedPost(key, now, change.announced.told.start, CANCEL), versions, limits,
                   templates=change_templates(templates), own_texts=False)
