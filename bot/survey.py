"""What the campaign needs now, read from the ledger's rows: pure, reads and writes nothing.

`herald run`, `herald status` and the delivery of one-off posts ask these functions, so each
says the same about what is due, what is blocked, what stopped an account and what was dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .changes import Details
from .config import Config
from .content import Site
from .digest import plan_digests, with_digests
from .ledger import Entry
from .lifecycle import State
from .model import PostKey, Stage
from .planner import Plan, plan
from .timing import Arrangement, arrange, planning_grace, rules_for

RECENTLY_DROPPED = timedelta(days=7)
"""How long `herald status` shows a post that was dropped (skipped) by the timing rules."""


@dataclass(frozen=True)
class Survey:
    """The campaign as it stands: the plan, when each post goes out, and the ledger's view."""

    plan: Plan
    arrangement: Arrangement
    latest: dict[PostKey, Entry]
    blocked: dict[str, datetime]


def survey(config: Config, site: Site, rows: Iterable[Entry], *, now: datetime,
           seen: Mapping[str, datetime], safe_since: datetime | None = None,
           paused: Mapping[str, datetime] | None = None) -> Survey:
    """Plan every event and digest and time every post, from the ledger's rows.

    `paused` adds back-off times the ledger does not hold (a failure before a post was
    reserved, such as an unreachable server while reading its limits).
    """
    rows = list(rows)
    accounts = config.accounts
    zone = config.site.timezone
    latest = latest_entries(rows)
    rules = [rules_for(a) for a in accounts]
    events = [site.versions(ref) for ref in site.refs()]
    grace = planning_grace(config.grace, rules)
    result = plan(events, config.stages, accounts, now=now, grace=grace, zone=zone,
                  done=done_keys(latest, site, config.stages), first_seen=seen)
    result = with_digests(result, *plan_digests(config.digests, accounts, events, now=now,
                                                zone=zone, grace=grace, latest=latest))
    blocked = blocked_until(latest.values(), now)
    for name, until in (paused or {}).items():
        if until > now:
            blocked[name] = max(until, blocked.get(name, until))
    arrangement = arrange(result.posts, {a.name: a for a in accounts}, now=now, zone=zone,
                          grace=config.grace, history=posting_times(rows), blocked_until=blocked,
                          safe_since=safe_since)
    return Survey(result, arrangement, latest, blocked)


def latest_entries(rows: Iterable[Entry]) -> dict[PostKey, Entry]:
    """Return the generation of each post identity that the daemon works with.

    That is the latest, passing over a deliberate request the user left unfinished (a failed
    `announce --again`): only the user asks for that again.
    """
    latest: dict[PostKey, Entry] = {}
    for row in rows:
        if row.left_to_user:
            continue
        if row.key not in latest or row.generation > latest[row.key].generation:
            latest[row.key] = row
    return latest


def done_keys(latest: Mapping[PostKey, Entry], site: Site,
              stages: Iterable[Stage]) -> set[PostKey]:
    """The posts the planner must not plan again.

    A posted announcement is done for good (a change is corrected, not re-announced). A posted
    reminder, or any skipped post, is done only for the start time it was made for: when the
    event moves, its reminders are planned again for the new time. After a cancellation
    nothing more is posted about the event on that account and language.
    """
    reminders = {s.name for s in stages if s.kind == "reminder"}
    cancelled = {(k.ref, k.account, k.lang) for k, e in latest.items()
                 if k.stage == "cancellation" and e.done}
    starts = {ref: next(iter(site.versions(ref).values())).start for ref in site.refs()}
    done = set()
    for key, entry in latest.items():
        if (key.ref, key.account, key.lang) in cancelled:
            done.add(key)
            continue
        if not entry.done:
            continue
        details = Details.from_json(entry.event)
        moved = (details is not None and key.ref in starts
                 and details.start != starts[key.ref])
        if moved and (entry.life is State.SKIPPED or key.stage in reminders):
            continue
        done.add(key)
    for thread in cancelled:
        for stage in stages:
            done.add(PostKey(thread[0], stage.name, thread[1], thread[2]))
    return done


def blocked_until(entries: Iterable[Entry], now: datetime) -> dict[str, datetime]:
    """Return, per account in back-off, when it may be asked anything again."""
    blocked: dict[str, datetime] = {}
    for entry in entries:
        when = entry.next_attempt_at
        if entry.state == "failed" and when is not None and when > now:
            blocked[entry.key.account] = max(when, blocked.get(entry.key.account, when))
    return blocked


def posting_times(rows: Iterable[Entry]) -> dict[str, list[datetime]]:
    """Return when each account made a new post (an edit of an earlier post does not count).

    A post deleted since still counts: it was made.
    """
    times: dict[str, list[datetime]] = defaultdict(list)
    ids: set[tuple[str, str]] = set()
    for row in sorted(rows, key=lambda r: r.posted_at or r.updated_at):
        if row.state not in ("posted", "deleted") or row.posted_at is None:
            continue
        if row.platform_id and (row.key.account, row.platform_id) in ids:
            continue
        ids.add((row.key.account, row.platform_id or ""))
        times[row.key.account].append(row.posted_at)
    return times


def stopped_by(entries: Iterable[Entry]) -> dict[str, Entry]:
    """Return, per account, the daemon's latest failure that retrying cannot cure.

    A deliberate request that failed (`announce --again`, `post`) stops nothing: the daemon
    never sends it. A later post shows the cause is gone.
    """
    stopped: dict[str, Entry] = {}
    for entry in sorted(entries, key=lambda e: e.updated_at):
        if entry.life is State.GIVEN_UP and not entry.requested \
                and entry.next_attempt_at is None:
            stopped[entry.key.account] = entry
        elif entry.state == "posted":
            stopped.pop(entry.key.account, None)
    return stopped


def dropped(rows: Iterable[Entry], site: Site, now: datetime) -> list[Entry]:
    """The posts the timing rules dropped for events still ahead, or lately: newest first."""
    upcoming = set(site.refs())
    found = [e for e in latest_entries(rows).values()
             if e.life is State.SKIPPED and e.reason
             and (e.key.ref in upcoming or now - e.updated_at <= RECENTLY_DROPPED)]
    return sorted(found, key=lambda e: e.updated_at, reverse=True)
