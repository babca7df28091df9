"""What the campaign needs now, read from the ledger's rows: pure, reads and writes nothing.

`herald run`, `herald status`, `herald preview` and the delivery of one-off posts ask these
functions, so each says the same about what is due, when it goes, what is blocked, what stopped
an account and what was dropped. `fates` turns a survey into one answer per post: when it goes
out, or why it does not.
"""

from __future__ import annotations

import functools
import heapq
from collections import defaultdict
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .changes import Details
from .config import Config
from .content import Site
from .digest import plan_digests, with_digests
from .ledger import Entry
from .lifecycle import State
from .model import Account, Event, PlannedPost, PostKey, Skipped, Stage
from .pending import PendingChange, pending_changes
from .planner import Plan, languages_for, plan
from .timing import PLANNING_HORIZON, Arrangement, arrange

RECENTLY_DROPPED = timedelta(days=7)
"""How long `herald status` shows a post that was dropped (skipped) by the timing rules."""


@dataclass(frozen=True)
class Survey:
    """The campaign as it stands: the plan, when each post goes out, and the ledger's view.

    `horizon` is None when the survey covers the whole campaign. A survey made with a
    `lookahead` covers only the posts that can be due up to `horizon`: every post due by then
    is planned and timed exactly as the whole survey would, and what comes later is left out.
    """

    plan: Plan
    arrangement: Arrangement
    latest: dict[PostKey, Entry]
    blocked: dict[str, datetime]
    stages: tuple[str, ...] = ()
    """The stages' names in the configured order."""
    accounts: tuple[Account, ...] = ()
    horizon: datetime | None = None
    changes: tuple[PendingChange, ...] = ()
    """The corrections and cancellations the site asks for, timed as `herald run` sends them
    (`bot.pending`); only a survey asked for them (`missing` given) has them."""
    held_changes: tuple[tuple[str, str], ...] = ()
    """Events not cancelled yet, and why (`changes.Changes.held`)."""

    def next_after(self, now: datetime, skip: Container[str] = ()) -> datetime | None:
        """When the first post after `now` goes out (on an account not in `skip`), if known.

        None when nothing is planned, or (for a survey with a horizon) when nothing goes out
        by the horizon: survey further ahead to know.
        """
        found = min((s.at for s in self.arrangement.slots
                     if s.at > now and s.post.key.account not in skip), default=None)
        if found is not None and self.horizon is not None and found > self.horizon:
            return None
        return found


STAGE_SLACK = timedelta(days=1)
"""More than a stage's time can differ from `start - before` (a daylight-saving change moves
"1 day before" by an hour): the margin of the earliest time a stage can be due."""


def survey(config: Config, site: Site, rows: Iterable[Entry], *, now: datetime,
           seen: Mapping[str, datetime], safe_since: datetime | None = None,
           paused: Mapping[str, datetime] | None = None, lookahead: int | None = None,
           latest: Mapping[PostKey, Entry] | None = None,
           history: Mapping[str, Sequence[datetime]] | None = None,
           done: Collection[PostKey] | None = None,
           missing: Mapping[str, datetime] | None = None) -> Survey:
    """Plan every event and digest and time every post, from the ledger's rows.

    `paused` adds back-off times the ledger does not hold (a failure before a post was
    reserved, such as an unreachable server while reading its limits).

    With `lookahead`, only what can be due by a horizon is planned and timed: the stages that
    can be due by `now`, and the next `lookahead` stages after it (the earliest each can be due,
    over every event). That costs what is near, not the whole campaign; what it answers up to
    `horizon` is exactly what the whole survey answers (`herald run` widens the look-ahead
    until it knows when to wake next). `latest`, `history` and `done` may be given when the
    caller already has them from the same rows (`latest_entries`, `posting_times`,
    `done_keys`).

    With `missing` (the ledger's events missing from the site, `Ledger.missing`), the survey
    also holds the corrections and cancellations still to go out (`Survey.changes`), timed as
    `herald run` times them; `rows` must then be all of the ledger's rows.
    """
    accounts = config.accounts
    zone = config.site.timezone
    if latest is None or history is None or missing is not None:
        rows = list(rows)
    if latest is None:
        latest = latest_entries(rows)
    # The planner cuts nothing for lateness: whether a post was missed depends on when the
    # account's rules (quiet hours, the gap, the daily cap) first let it go, which `arrange`
    # alone knows; a post they hold back for a day is waiting its turn, not missed.
    events = [site.versions(ref) for ref in site.refs()]
    grace = PLANNING_HORIZON
    if done is None:
        done = done_keys(latest, site, config.stages)
    result, horizon = _plan_ahead(events, config, now=now, grace=grace, done=done, seen=seen,
                                  lookahead=lookahead, safe_since=safe_since)
    result = with_digests(result, *plan_digests(config.digests, accounts, events, now=now,
                                                zone=zone, grace=grace, latest=latest))
    blocked = blocked_until(latest.values(), now)
    for name, until in (paused or {}).items():
        if until > now:
            blocked[name] = max(until, blocked.get(name, until))
    arrangement = arrange(result.posts, {a.name: a for a in accounts}, now=now, zone=zone,
                          grace=config.grace,
                          history=posting_times(rows) if history is None else history,
                          blocked_until=blocked, safe_since=safe_since, until=horizon)
    changes, found = (pending_changes(config, site, rows, now=now, missing_since=missing,
                                      blocked=blocked) if missing is not None else ([], None))
    return Survey(result, arrangement, dict(latest), blocked,
                  tuple(s.name for s in config.stages), tuple(accounts), horizon,
                  tuple(changes), found.held if found is not None else ())


def _plan_ahead(events: list[Mapping[str, Event]], config: Config, *, now: datetime,
                grace: timedelta, done: Collection[PostKey], seen: Mapping[str, datetime],
                lookahead: int | None,
                safe_since: datetime | None = None) -> tuple[Plan, datetime | None]:
    """Plan the whole campaign, or (with `lookahead`) what can be due by a horizon.

    Each stage of each upcoming event can be due no earlier than a bound: when the event was
    first seen (an announcement at first sight), else its time before the start less
    `STAGE_SLACK` (and not before first seen, for an announcement). The horizon is the
    `lookahead`-th bound after `now`; only the stages bound by then are planned. The planner
    plans each event's stages independently, except the ones due at once by `now`, which are
    all bound by then: so each post due by the horizon is planned exactly as in the whole plan.
    """
    stages, accounts, zone = tuple(config.stages), tuple(config.accounts), config.site.timezone
    whole = lambda chosen: plan(chosen, stages, accounts, now=now, grace=grace,  # noqa: E731
                                zone=zone, done=done, first_seen=seen, safe_since=safe_since)
    if lookahead is None:
        return whole(events), None
    finished = done.threads if isinstance(done, Done) else Done(done).threads
    bounds: list[tuple[Mapping[str, Event], list[datetime | None]]] = []
    later: list[datetime] = []
    for versions in events:
        if not versions:
            continue
        first = next(iter(versions.values()))
        ref, start = first.ref, first.start
        if first.upcoming_until <= now:
            continue           # the planner plans nothing for an event no longer upcoming
                               # (a date alone is upcoming all its day: its reminders go then)
        visible = seen.get(ref, now)
        threads = [(a.name, lang) for a in accounts for lang in languages_for(a, versions)]
        mine: list[datetime | None] = []
        for stage in stages:
            if stage.before is None:
                bound = visible
            else:
                bound = start - stage.before - STAGE_SLACK
                if stage.kind == "announcement":
                    bound = max(bound, visible)
            if bound <= now and all((ref, stage.name, account, lang) in finished
                                    for account, lang in threads):
                bound = None   # done on every account and language: nothing to plan
            elif bound > now:
                later.append(bound)
            mine.append(bound)
        bounds.append((versions, mine))
    if len(later) <= lookahead:
        return whole(events), None
    horizon = max(now, heapq.nsmallest(lookahead, later)[-1])
    groups: dict[tuple[int, ...], list[Mapping[str, Event]]] = defaultdict(list)
    for versions, mine in bounds:
        chosen = tuple(n for n, bound in enumerate(mine) if bound is not None and bound <= horizon)
        if chosen:
            groups[chosen].append(versions)
    posts: list[PlannedPost] = []
    skipped: list[Skipped] = []
    for chosen, group in groups.items():
        part = plan(group, [stages[n] for n in chosen], accounts, now=now, grace=grace,
                    zone=zone, done=done, first_seen=seen, safe_since=safe_since)
        posts.extend(part.posts)
        skipped.extend(part.skipped)
    order = {a.name: {lang: i for i, lang in enumerate(a.languages)} for a in accounts}
    posts.sort(key=lambda p: (p.due, p.key.ref, p.key.stage, p.key.account,
                              order[p.key.account].get(p.key.lang, 99), p.key.lang))
    return Plan(tuple(posts), tuple(skipped)), horizon


def survey_ledger(config: Config, site: Site, ledger, *, now: datetime,
                  catch_up: bool = False) -> Survey:
    """Survey the campaign as `herald run` would at `now`, only reading `ledger`.

    An event not seen before counts as first seen `now`, and a new ledger's first run is `now`
    (its backlog is skipped), exactly what a run at `now` would record; `catch_up` is `herald
    run --catch-up`. `ledger` needs only `history`, `seen` and `first_run(now, record=False)`.
    """
    now = now.astimezone(config.site.timezone)
    rows = ledger.history()
    seen = {**{ref: now for ref in site.refs()}, **ledger.seen()}
    safe_since = None if catch_up else ledger.first_run(now, record=False)
    return survey(config, site, rows, now=now, seen=seen, safe_since=safe_since,
                  paused=blocked_until(rows, now), missing=ledger.missing())


FATES = {
    "due": "goes out when due (or now, when that has passed)",
    "later": "goes out later than due: quiet hours, the gap between posts, the daily cap or a "
             "back-off; the reason says which",
    "skipped": "will not go: the timing rules drop it (first run, missed, superseded, after the "
               "event started); `herald run` records it as skipped",
    "waiting": "not planned yet: its account is backing off until after the event starts; it "
               "goes only if the back-off ends sooner",
    "stopped": "will not go: a failure that retrying cannot cure stopped its account",
}
"""What can become of a post the campaign needs (`Fate.state`)."""


@dataclass(frozen=True)
class Fate:
    """What becomes of one post the campaign needs: when it goes out, or why it does not.

    `at` is when `herald run` sends it (aware, in the site's zone; `now` for a post already
    due), None when it will not go. `state` is a key of FATES and `reason` says why (empty for
    a post that goes when due). `planned` is None only for a post the planner dropped itself;
    for a correction or cancellation it is the `PendingChange`.
    """

    key: PostKey
    due: datetime
    at: datetime | None
    state: str
    reason: str = ""
    planned: PlannedPost | PendingChange | None = None

    @property
    def when(self) -> datetime:
        """When it goes out, else when it was due: the order preview and status list it in."""
        return self.at or self.due


def fates(found: Survey, *, now: datetime) -> list[Fate]:
    """Say for every post of the survey when it goes out, or why not: in time order.

    Posts that go come in the order `herald run` sends them; posts that will not go are placed
    at the time they were due.
    """
    zone = now.tzinfo
    stopped = stopped_by(found.latest.values())
    stages = {name: n for n, name in enumerate(found.stages)}
    accounts = {a.name: n for n, a in enumerate(found.accounts)}
    langs = {(a.name, lang): n for a in found.accounts for n, lang in enumerate(a.languages)}
    out: list[Fate] = []
    # The changes first: at one time, `herald run` sends them before the planned posts.
    for change in sorted(found.changes, key=lambda c: (
            c.at, accounts.get(c.key.account, len(accounts)),
            langs.get((c.key.account, c.key.lang), len(langs)))):
        key = change.key
        if key.account in stopped:
            out.append(Fate(key, change.due, None, "stopped", _stopped(key, stopped), change))
            continue
        later = bool(change.why) and change.at > now
        out.append(Fate(key, change.due, max(change.at, now).astimezone(zone),
                        "later" if later else "due", change.why if later else "", change))
    placed: set[PostKey] = set()
    for slot in found.arrangement.slots:
        post, key = slot.post, slot.post.key
        placed.add(key)
        entry = found.latest.get(key)
        if key.account in stopped:
            out.append(Fate(key, post.due, None, "stopped", _stopped(key, stopped), post))
            continue
        later = bool(slot.why) and slot.at > now
        notes = [slot.why] if later else []
        if entry is not None and entry.uncertain:
            notes.append("an earlier attempt may have gone out: it is looked up first and sent "
                         "only if not found")
        out.append(Fate(key, post.due, max(slot.at, now).astimezone(zone),
                        "later" if later else "due", "; ".join(notes), post))
    planned = {p.key: p for p in found.plan.posts}
    skipped = sorted(list(found.plan.skipped) + list(found.arrangement.skipped),
                     key=lambda s: (s.due, s.key.ref, stages.get(s.key.stage, len(stages)),
                                    accounts.get(s.key.account, len(accounts)),
                                    langs.get((s.key.account, s.key.lang), len(langs))))
    dropped = {s.key for s in skipped}
    for item in skipped:
        out.append(Fate(item.key, item.due.astimezone(zone), None, "skipped", item.reason,
                        planned.get(item.key)))
    for post in found.plan.posts:
        if post.key in placed or post.key in dropped:
            continue
        until = found.blocked.get(post.key.account)
        out.append(Fate(post.key, post.due, None, "waiting",
                        f"{post.key.account} is backing off until "
                        f"{until.astimezone(zone):%Y-%m-%d %H:%M %Z}, after the event starts; it "
                        f"goes only if the back-off ends sooner" if until else
                        "waiting for its account", post))
    out.sort(key=lambda f: f.when)
    return out


def _stopped(key: PostKey, stopped: Mapping[str, Entry]) -> str:
    cause = stopped[key.account]
    return (f"{key.account} is stopped by {cause.key}: {cause.error}; nothing goes out on it "
            f"until that is fixed and herald run is restarted (or sent SIGHUP)")


def latest_entries(rows: Iterable[Entry]) -> dict[PostKey, Entry]:
    """Return the generation of each post identity that the daemon works with.

    That is the latest, passing over a deliberate request the user left unfinished (a failed
    `announce --again`): only the user asks for that again.
    """
    latest: dict[PostKey, Entry] = {}
    for row in rows:
        if row.requested and row.left_to_user:    # only a request can be left to the user
            continue
        before = latest.get(row.key)
        if before is None or row.generation > before.generation:
            latest[row.key] = row
    return latest


class Done(frozenset):
    """The posts the planner must not plan again (`done_keys`)."""

    @functools.cached_property
    def threads(self) -> set[tuple[str, str, str, str]]:
        """The same keys as plain (ref, stage, account, lang): quicker to look up."""
        return {(k.ref, k.stage, k.account, k.lang) for k in self}


def done_keys(latest: Mapping[PostKey, Entry], site: Site,
              stages: Iterable[Stage]) -> Done:
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
    told = {ref: f'"start": "{start.isoformat()}"' for ref, start in starts.items()}
    done = set()
    for key, entry in latest.items():
        if (key.ref, key.account, key.lang) in cancelled:
            done.add(key)
            continue
        if not entry.done:
            continue
        if not (entry.life is State.SKIPPED or key.stage in reminders):
            done.add(key)
            continue
        # A post stored with the start as it is now was made for this start (the details are
        # JSON, where a quote inside a value is escaped: the key and value cannot be faked).
        if key.ref in told and entry.event and told[key.ref] in entry.event:
            done.add(key)
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
    return Done(done)


def blocked_until(entries: Iterable[Entry], now: datetime) -> dict[str, datetime]:
    """Return, per account in back-off, when it may be asked anything again.

    Give it every row, not only `latest_entries`: a rate limit a one-off post met (`herald
    post`, `announce --again`, left to the user) holds the whole account until its reset too.
    """
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
