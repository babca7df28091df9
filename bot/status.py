"""`herald status`: what is due next on each account, and what failed or stopped an account.

It asks the same survey as `herald run` over the same ledger, and changes nothing.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from . import errors
from .config import Config, load_config
from .content import Site
from .ledger import MIGRATIONS, Entry, Ledger
from .ledger.schema import open_checked
from .localize import plural
from .model import account_label
from .survey import Fate, blocked_until, dropped, fates, latest_entries, stopped_by, survey_ledger

SHOWN_DROPPED = 5
"""How many dropped posts `herald status` lists per account (the newest); history has all."""


@dataclass(frozen=True)
class AccountStatus:
    """One account: its next posts, its failures, and whether a failure stopped it."""

    name: str
    platform: str
    upcoming: tuple[Fate, ...] = ()
    """The next posts that go out, with when and why then (`survey.fates`, as preview says)."""
    failures: tuple[Entry, ...] = ()
    stopped: Entry | None = None
    blocked_until: datetime | None = None
    uncertain: tuple[Entry, ...] = ()
    dropped: tuple[Entry, ...] = ()
    requested: tuple[Entry, ...] = ()
    """Deliberate requests (announce --again, post) that failed: left to the user."""
    held: tuple[Fate, ...] = ()
    """Posts that wait for the account: stopped, or backing off past their event's start."""


@dataclass(frozen=True)
class StatusReport:
    """What is due next per account, and what failed."""

    now: datetime
    ledger: Path
    events: int
    accounts: tuple[AccountStatus, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return not any(a.stopped or a.failures for a in self.accounts)

    @property
    def exit_code(self) -> int:
        """0; while an account is stopped, the exit code of the error that stopped it (4, 6)."""
        return max((_exit_code(a.stopped.error_kind) for a in self.accounts if a.stopped),
                   default=0)

    def as_dict(self) -> dict:
        """The report as plain data, for `herald status --json` (docs/json/status.schema.json)."""
        zone = self.now.tzinfo

        def iso(moment: datetime | None) -> str | None:
            return moment.astimezone(zone).isoformat() if moment is not None else None

        def entry(e: Entry) -> dict:
            return {"key": str(e.key), "ref": e.key.ref, "stage": e.key.stage,
                    "lang": e.key.lang, "state": e.state, "life": e.life.value,
                    "error": e.error, "error_kind": e.error_kind, "attempts": e.attempts,
                    "retry_at": iso(e.next_attempt_at), "updated_at": iso(e.updated_at)}

        def fate(f: Fate) -> dict:
            return {"at": iso(f.at), "due": iso(f.due), "ref": f.key.ref, "stage": f.key.stage,
                    "lang": f.key.lang, "state": f.state, "why": f.reason}

        return {
            "schema": STATUS_SCHEMA,
            "now": iso(self.now), "ledger": str(self.ledger), "events": self.events,
            "problems": list(self.problems),
            "exit_code": self.exit_code,
            "accounts": [{
                "name": a.name, "platform": a.platform,
                "stopped": entry(a.stopped) if a.stopped else None,
                "backing_off_until": iso(a.blocked_until),
                "next": [fate(f) for f in a.upcoming],
                "held": [fate(f) for f in a.held],
                "failed": [entry(e) for e in a.failures],
                "unknown_outcome": [str(e.key) for e in a.uncertain],
                "failed_on_request": [entry(e) for e in a.requested],
                "dropped": [{"key": str(e.key), "ref": e.key.ref, "stage": e.key.stage,
                             "lang": e.key.lang, "reason": e.reason, "at": iso(e.updated_at)}
                            for e in a.dropped],
            } for a in self.accounts],
        }

    def format(self) -> str:
        """The report as text, every time in the site's zone."""
        zone = self.now.tzinfo
        lines = [f"Herald status at {self.now:%Y-%m-%d %H:%M %Z} · "
                 f"{plural(self.events, 'event')} · "
                 f"ledger {self.ledger}"]
        lines.extend(self.problems)
        for account in self.accounts:
            lines.append(account_label(account.name, account.platform))
            if account.stopped is not None:
                e = account.stopped
                lines.append(f"  STOPPED by {e.key}: {e.error} "
                             f"({e.updated_at.astimezone(zone):%Y-%m-%d %H:%M %Z}); fix it, then "
                             f"restart herald run or send it SIGHUP")
            if account.blocked_until is not None:
                lines.append(f"  backing off until "
                             f"{account.blocked_until.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}")
            for unit in _units(account.upcoming):
                langs = ", ".join(f.key.lang for f in unit)
                first = unit[0]
                why = f" ({first.reason})" if first.reason else ""
                when = "now" if first.at <= self.now else \
                    f"{first.at.astimezone(zone):%Y-%m-%d %H:%M %Z}"
                lines.append(f"  next {when}: {first.key.ref} {first.key.stage} ({langs}){why}")
            stopped = [f for f in account.held if f.state == "stopped"]
            if stopped:
                first = stopped[0]
                lines.append(f"  {plural(len(stopped), 'post')} wait for it, the first due "
                             f"{first.due.astimezone(zone):%Y-%m-%d %H:%M %Z} "
                             f"({first.key.ref} {first.key.stage})")
            for f in account.held:
                if f.state == "waiting":
                    lines.append(f"  waiting {f.key}: {f.reason}")
            if not account.upcoming and not account.held:
                lines.append("  nothing planned")
            for e in account.failures:
                if e is account.stopped or e.uncertain:
                    continue
                retry = (f"; retrying at "
                         f"{e.next_attempt_at.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}"
                         if e.next_attempt_at else "")
                lines.append(f"  failed {e.key}: {e.error} (attempt {e.attempts}){retry}")
            for e in account.uncertain:
                retry = (f" at {e.next_attempt_at.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}"
                         if e.next_attempt_at else "")
                lines.append(f"  unknown outcome {e.key}: looked up on the platform{retry} "
                             f"before anything is sent again")
            for e in account.requested:
                lines.append(f"  failed on request {e.key}: {e.error or e.life.value}; left "
                             f"as it is until asked again")
            for e in account.dropped[:SHOWN_DROPPED]:
                lines.append(f"  dropped {e.key}: {e.reason}")
            if len(account.dropped) > SHOWN_DROPPED:
                lines.append(f"  ... and {len(account.dropped) - SHOWN_DROPPED} more dropped "
                             f"(herald history lists them)")
        return "\n".join(lines)


STATUS_SCHEMA = "herald.status/1"
"""The name and version of `herald status --json`'s shape (docs/json/status.schema.json)."""


def build_status(config: Config, site: Site, ledger: Ledger, *, now: datetime,
                 upcoming: int = 3, catch_up: bool = False) -> StatusReport:
    """Say what is due next per account, what failed and what was dropped; changes nothing.

    The next posts are `survey.fates` over the ledger, the very answer `herald preview` gives.
    A failure is shown while it matters: its post is still planned, it is being retried, its
    outcome is unknown, or it stopped the account. A post the timing rules dropped is shown
    while its event is ahead (or for a week). Older ones are in `herald history`.
    """
    now = now.astimezone(config.site.timezone)
    rows = ledger.history()
    found = survey_ledger(config, site, ledger, now=now, catch_up=catch_up)
    planned = fates(found, now=now)
    latest = latest_entries(rows)
    stopped = stopped_by(latest.values())
    blocked = blocked_until(rows, now)
    pending = {f.key for f in planned if f.state != "skipped"}
    lost = dropped(rows, site, now)
    newest = {}
    for row in rows:                     # the newest generation of each, the user's too
        if row.key not in newest or row.generation > newest[row.key].generation:
            newest[row.key] = row
    accounts = []
    for account in config.accounts:
        mine = [f for f in planned if f.key.account == account.name]
        units = _units([f for f in mine if f.at is not None])[:upcoming]
        entries = [e for e in latest.values() if e.key.account == account.name]
        failures = [e for e in entries if e.state == "failed" and (
            e.key in pending or e is stopped.get(account.name) or e.uncertain
            or (e.next_attempt_at is not None and e.next_attempt_at > now))]
        accounts.append(AccountStatus(
            account.name, account.platform,
            upcoming=tuple(f for unit in units for f in unit),
            failures=tuple(failures),
            stopped=stopped.get(account.name),
            blocked_until=blocked.get(account.name),
            uncertain=tuple(e for e in entries if e.uncertain),
            dropped=tuple(e for e in lost if e.key.account == account.name),
            requested=tuple(e for e in newest.values() if e.key.account == account.name
                            and e.left_to_user),
            held=tuple(f for f in mine if f.state in ("stopped", "waiting"))))
    errors = [str(p) for p in site.problems if p.severity == "error"]
    problems = ((f"{plural(len(errors), 'event file')} cannot be used (see herald validate)",)
                if errors else ())
    timed = {c.key.ref for c in found.changes}
    problems += tuple(f"not cancelling {ref} yet: {why}" for ref, why in found.held_changes
                      if ref not in timed)
    return StatusReport(now, ledger.path, len(site.refs()), tuple(accounts), problems)


def status(config_path: str | Path | None = None, site: str | Path | None = None, *,
           now: datetime | None = None) -> StatusReport:
    """`herald status`: read the config, the site and the ledger; post nothing, lock nothing."""
    from . import app

    config = load_config(config_path, site=site)
    loaded = app.read_site(config)
    path = app.ledger_path(config)
    with reading(path) as ledger:
        report = build_status(config, loaded, ledger, now=now or datetime.now(timezone.utc))
    report = replace(report, ledger=path)
    lacking = tuple(f"{a.name} has no {', '.join(missing)} "
                    f"(run `{errors.auth_command(a.platform, a.name)}`)"
                    for a in config.accounts
                    if (missing := app.missing_credentials(a, config)))
    return replace(report, problems=report.problems + lacking)


@contextmanager
def reading(path: Path) -> Iterator[Ledger]:
    """Open the ledger at `path` only to read it: nothing is created, migrated or written.

    A missing ledger reads as a new, empty one (what a first `herald run` would find). One that
    an older Herald wrote, whose schema is not yet up to date, is read from an up-to-date copy
    in a temporary folder. Its writing methods fail: the connection is read-only.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="herald-read-") as scratch:
        # The real file is checked first, as `herald run` checks it: one that is not Herald's
        # ledger is refused by its own name and left as it was (its journal mode included).
        checked = open_checked(path, create=False)
        if checked is None:
            with Ledger.open(Path(scratch) / "ledger.sqlite3") as ledger:
                yield ledger
            return
        checked.close()
        conn = _read_only(path)
        if conn is not None:
            try:
                yield Ledger(conn, path)
            finally:
                conn.close()
            return
        copy = Path(scratch) / "ledger.sqlite3"
        try:
            source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                with sqlite3.connect(copy) as target:
                    source.backup(target)
            finally:
                source.close()
        except sqlite3.Error as exc:
            raise errors.LedgerError(f"{path}: cannot read the ledger ({exc})") from None
        with Ledger.open(copy) as ledger:       # migrates the copy, or says what is wrong
            yield ledger


def _read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to an up-to-date ledger, or None (read a migrated copy instead)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                               isolation_level=None, timeout=10)
    except sqlite3.Error:
        return None
    try:
        applied = {name for (name,) in conn.execute("SELECT name FROM migrations")}
        if applied == {name for name, _ in MIGRATIONS}:
            return conn
    except sqlite3.Error:
        pass
    conn.close()
    return None


def _exit_code(kind: str | None) -> int:
    """The exit code of the error class the ledger recorded by name (4 when unknown)."""
    found = getattr(errors, kind or "", None)
    if isinstance(found, type) and issubclass(found, errors.HeraldError):
        return found.exit_code
    return errors.PublishError.exit_code


def _units(found: list[Fate] | tuple[Fate, ...]) -> list[list[Fate]]:
    """Group the language versions of one stage that go out together."""
    units: list[list[Fate]] = []
    for fate in found:
        if units and (units[-1][0].key.ref, units[-1][0].key.stage, units[-1][0].at) == \
                (fate.key.ref, fate.key.stage, fate.at):
            units[-1].append(fate)
        else:
            units.append([fate])
    return units
