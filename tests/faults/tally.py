"""Count what a campaign did, from the servers' own state: missing, doubled, mis-threaded posts.

Pure: `tally` reads the posts each fake server holds, `herald history --json` and the proxies'
logs, and says per account what went wrong. A post on a server is known by its text; the
campaign's templates make the first line of every post name its event, stage and language.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import reduce
from pathlib import Path
from typing import Any

Key = tuple[str, str, str, str]
"""(ref, stage, account, lang): one post of the campaign."""


@dataclass(frozen=True)
class ServerPost:
    """A post as the server holds it: its id, text, and the posts it replies to."""

    id: str
    text: str
    parent: str | None = None
    root: str | None = None
    """The thread's root, where the platform records it (Bluesky)."""
    at: float | None = None
    """When the server made it (epoch seconds), where the fake says."""


@dataclass
class Figures:
    """What went wrong on one account (or, added up, on all of them)."""

    account: str
    expected: int = 0
    missing: list[Key] = field(default_factory=list)
    duplicates: list[Key] = field(default_factory=list)
    """One entry per extra copy of a post."""
    copies: list[str] = field(default_factory=list)
    """Each doubled post with the ids (and times) of its copies."""
    wrong_threads: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)
    """Posts on the server that are no post of the campaign."""
    history: list[str] = field(default_factory=list)
    """Where `herald history` disagrees with the server."""
    early: list[str] = field(default_factory=list)
    """Requests that came before a reset time the platform had announced."""
    unrecorded: list[str] = field(default_factory=list)
    """Requests before a reset that only a killed run had heard of: the run that got the 429
    was killed moments later, before it could record the reset (no later run can know it)."""
    superseded: list[Key] = field(default_factory=list)
    """Reminders not posted because a later reminder of the event was due by then, and went
    out: Herald's rule (of several reminders due at once only the latest goes out), so not
    missing."""
    why_missing: Counter = field(default_factory=Counter)
    """What history says of each missing post (state and reason, times left out)."""

    @property
    def clean(self) -> bool:
        return not (self.missing or self.duplicates or self.wrong_threads or self.strays
                    or self.history or self.early)

    def __add__(self, other: Figures) -> Figures:
        return Figures("all", self.expected + other.expected, self.missing + other.missing,
                       self.duplicates + other.duplicates, self.copies + other.copies,
                       self.wrong_threads + other.wrong_threads, self.strays + other.strays,
                       self.history + other.history, self.early + other.early,
                       self.unrecorded + other.unrecorded,
                       self.superseded + other.superseded, self.why_missing + other.why_missing)


def expected_parent(key: Key, langs: Sequence[str], announcement: str) -> Key | None:
    """The post `key` must reply to: the first language's, else the announcement (or none)."""
    ref, stage, account, lang = key
    if lang != langs[0]:
        return (ref, stage, account, langs[0])
    if stage != announcement:
        return (ref, announcement, account, lang)
    return None


def tally(account: str, expected: Iterable[Key], posts: Sequence[ServerPost],
          identify: Mapping[str, tuple[str, str, str]], history: Sequence[Mapping],
          *, langs: Sequence[str], announcement: str, early: Sequence[str] = (),
          unrecorded: Sequence[str] = (),
          supersedes: Mapping[str, Collection[str]] | None = None) -> Figures:
    """Compare one account's server with the campaign it should have made and with history.

    `identify` maps a post's first line to (ref, stage, lang); `history` is the parsed output
    of `herald history --json`; `early` describes the requests made before a reset time
    (`unrecorded` those before a reset only a killed run had heard of, counted apart);
    `supersedes` names, per reminder stage, the later reminders that replace it when both are
    due (a post history calls "superseded by" one of those, which is on the server, is not
    missing; one superseded by anything else, the announcement say, is).
    """
    expected = [k for k in expected if k[2] == account]
    figures = Figures(account, expected=len(expected), early=list(early),
                      unrecorded=list(unrecorded))
    copies: dict[Key, list[ServerPost]] = defaultdict(list)
    for post in posts:
        found = identify.get(post.text.split("\n", 1)[0])
        if found is None:
            figures.strays.append(f"{account}: {post.id} {post.text.splitlines()[0]!r}")
            continue
        ref, stage, lang = found
        copies[(ref, stage, account, lang)].append(post)
    for key in expected:
        figures.missing.extend([key] if not copies.get(key) else [])
        figures.duplicates.extend([key] * (len(copies.get(key, ())) - 1))
        if len(copies.get(key, ())) > 1:
            figures.copies.append(f"{_name(key)}: " + ", ".join(
                p.id + (f" made {_utc(p.at)}" if p.at else "") for p in copies[key]))
    ids = {key: {p.id for p in found} for key, found in copies.items()}
    for key, found in copies.items():
        parent = expected_parent(key, langs, announcement)
        root = (key[0], announcement, account, langs[0])
        for post in found:
            problem = _thread_problem(post, parent, ids.get(parent, set()) if parent else None,
                                      ids.get(root, set()), root)
            if problem:
                figures.wrong_threads.append(f"{_name(key)}: {problem}")
    latest = _latest(account, history)
    for key in list(figures.missing):
        later = _superseded_by(latest.get(key))
        ref, stage, _, lang = key
        if later in (supersedes or {}).get(stage, ()) and copies.get((ref, later, account, lang)):
            figures.missing.remove(key)
            figures.superseded.append(key)
    figures.history = _history_problems(expected, ids, latest)
    figures.why_missing = Counter(_why(latest.get(key)) for key in figures.missing)
    return figures


def _superseded_by(entry: Mapping | None) -> str | None:
    """The stage a skipped post was superseded by, as history says, or None."""
    if entry is None or entry["state"] != "skipped":
        return None
    found = re.fullmatch(r"superseded by (\S+)", entry.get("reason") or "")
    return found.group(1) if found else None


def _why(entry: Mapping | None) -> str:
    """Say in general terms what history holds for a missing post."""
    if entry is None:
        return "not in history"
    said = entry.get("reason") or entry.get("error") or ""
    said = re.sub(r"\d{4}-\d\d-\d\d[ T][\d:.]+( ?(UTC|CET|CEST|[+-]\d\d:?\d\d|Z))?", "<time>",
                  said)
    said = re.sub(r"(127\.0\.0\.1|localhost):\d+", "<server>", said)
    said = re.sub(r"attempt \d+", "attempt <n>", said)
    return f"{entry['state']}: {said[:110]}".rstrip(": ")


def _thread_problem(post: ServerPost, parent: Key | None, parent_ids: set[str] | None,
                    root_ids: set[str], root: Key) -> str | None:
    if parent is None:
        return f"replies to {post.parent}, should stand alone" if post.parent else None
    if not parent_ids:
        where = f"replies to {post.parent}" if post.parent else "stands alone"
        return f"{where}; its parent {_name(parent)} was never posted"
    if post.parent not in parent_ids:
        where = f"replies to {post.parent}" if post.parent else "stands alone"
        return f"{where}, should reply to {_name(parent)} ({', '.join(sorted(parent_ids))})"
    if post.root is not None and post.root not in root_ids:
        return f"its thread root is {post.root}, should be {_name(root)}"
    return None


def _latest(account: str, history: Sequence[Mapping]) -> dict[Key, Mapping]:
    """The latest generation of each of the account's posts in history."""
    latest: dict[Key, Mapping] = {}
    for entry in history:
        key = (entry["ref"], entry["stage"], entry["account"], entry["lang"])
        if key[2] == account and (key not in latest
                                  or entry["generation"] >= latest[key]["generation"]):
            latest[key] = entry
    return latest


def _history_problems(expected: Sequence[Key], ids: Mapping[Key, set[str]],
                      latest: Mapping[Key, Mapping]) -> list[str]:
    problems = []
    for key in expected:
        entry, on_server = latest.get(key), ids.get(key, set())
        state = entry["state"] if entry else "absent"
        if on_server and state != "posted":
            life = f" ({entry['life']})" if entry and entry.get("life") not in (None, state) \
                else ""
            problems.append(f"{_name(key)}: on the server, history says {state}{life}")
        elif on_server and entry["platform_id"] not in on_server:
            problems.append(f"{_name(key)}: history names {entry['platform_id']!r}, the server "
                            f"has {', '.join(sorted(on_server))}")
        elif on_server and not entry.get("url"):
            problems.append(f"{_name(key)}: posted without a URL in history")
        elif not on_server and state == "posted":
            problems.append(f"{_name(key)}: history says posted ({entry['platform_id']}), "
                            f"the server has no such post")
    return problems


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M:%S.%f")[:-3] + " UTC"


def _name(key: Key) -> str:
    return "/".join(key)


@dataclass
class Report:
    """What the campaign measured."""

    design: Any
    """The campaign's design (its `name` and `seed` are shown)."""
    figures: dict[str, Figures]
    kills: int
    seconds: float
    faults: dict[str, Counter]
    exits: list[str] = field(default_factory=list)
    """Runs that ended by themselves, or did not stop on SIGTERM."""
    uploads: list[str] = field(default_factory=list)
    log: Path | None = None

    @property
    def total(self) -> Figures:
        return reduce(lambda a, b: a + b, self.figures.values())

    @property
    def clean(self) -> bool:
        return self.total.clean and not self.exits

    def table(self) -> str:
        """A Markdown table: the campaign's row, then one row per account."""
        rows = ["| campaign | expected posts | missing | duplicates | wrong threads | "
                "requests before reset | history disagrees | superseded by a later reminder |",
                "|---|---|---|---|---|---|---|---|"]
        for name, f in [(self.design.name, self.total)] + [
                (f"  {a}", f) for a, f in self.figures.items()]:
            rows.append(f"| {name} | {f.expected} | {len(f.missing)} | {len(f.duplicates)} | "
                        f"{len(f.wrong_threads)} | {len(f.early)} | {len(f.history)} | "
                        f"{len(f.superseded)} |")
        return "\n".join(rows)

    def summary(self) -> str:
        injected = Counter()
        for counts in self.faults.values():
            injected.update({k: v for k, v in counts.items() if k})
        requests = sum(sum(c.values()) for c in self.faults.values())
        lines = [self.table(), "",
                 f"{self.kills} SIGKILLs in {self.seconds:.0f} s; {requests} requests, faults: "
                 + ", ".join(f"{k} {v}" for k, v in sorted(injected.items())),
                 f"seed {self.design.seed}; Herald's log: {self.log}, every request in "
                 f"proxy-<account>.jsonl beside it"]
        return "\n".join(lines + self.uploads + self.exits)

    def details(self, limit: int = 40) -> str:
        """Every problem found, one per line (at most `limit` of each kind)."""
        total = self.total
        parts = []
        if total.why_missing:
            parts.append("why the missing posts are missing, as history says:\n  " + "\n  ".join(
                f"{n:4d}  {why}" for why, n in total.why_missing.most_common()))
        for title, items in (("missing", ["/".join(k) for k in total.missing]),
                             ("duplicates", total.copies),
                             ("wrong threads", total.wrong_threads),
                             ("not posts of the campaign", total.strays),
                             ("history disagrees", total.history),
                             ("requests before a reset time", total.early),
                             ("requests before a reset only a killed run had heard of",
                              total.unrecorded)):
            if items:
                parts.append(f"{title} ({len(items)}):\n  " + "\n  ".join(items[:limit]))
        return "\n".join(parts)
