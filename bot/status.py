"""`herald status`: what is due next on each account, and what failed or stopped an account.

It asks the same survey as `herald run` over the same ledger, and changes nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from . import errors
from .config import Config, load_config
from .content import Site, load_site
from .ledger import Entry, Ledger
from .localize import plural
from .model import account_label
from .survey import blocked_until, dropped, latest_entries, stopped_by, survey
from .timing import Slot

SHOWN_DROPPED = 5
"""How many dropped posts `herald status` lists per account (the newest); history has all."""


@dataclass(frozen=True)
class AccountStatus:
    """One account: its next posts, its failures, and whether a failure stopped it."""

    name: str
    platform: str
    upcoming: tuple[Slot, ...] = ()
    failures: tuple[Entry, ...] = ()
    stopped: Entry | None = None
    blocked_until: datetime | None = None
    uncertain: tuple[Entry, ...] = ()
    dropped: tuple[Entry, ...] = ()
    requested: tuple[Entry, ...] = ()
    """Deliberate requests (announce --again, post) that failed: left to the user."""


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
        """The report as plain data, for `herald status --json`."""
        def entry(e: Entry) -> dict:
            return {"key": str(e.key), "state": e.state, "life": e.life.value,
                    "error": e.error, "error_kind": e.error_kind, "attempts": e.attempts,
                    "retry_at": e.next_attempt_at.isoformat() if e.next_attempt_at else None,
                    "updated_at": e.updated_at.isoformat()}

        return {
            "now": self.now.isoformat(), "ledger": str(self.ledger), "events": self.events,
            "problems": list(self.problems),
            "accounts": [{
                "name": a.name, "platform": a.platform,
                "stopped": entry(a.stopped) if a.stopped else None,
                "backing_off_until": a.blocked_until.isoformat() if a.blocked_until else None,
                "next": [{"at": s.at.isoformat(), "ref": s.post.key.ref,
                          "stage": s.post.key.stage, "lang": s.post.key.lang, "why": s.why}
                         for s in a.upcoming],
                "failed": [entry(e) for e in a.failures],
                "unknown_outcome": [str(e.key) for e in a.uncertain],
                "failed_on_request": [entry(e) for e in a.requested],
                "dropped": [{"key": str(e.key), "reason": e.reason,
                             "at": e.updated_at.isoformat()} for e in a.dropped],
            } for a in self.accounts],
        }

    def format(self) -> str:
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
                             f"({e.updated_at.astimezone(zone):%Y-%m-%d %H:%M}); fix it, then "
                             f"restart herald run or send it SIGHUP")
            if account.blocked_until is not None:
                lines.append(f"  backing off until "
                             f"{account.blocked_until.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}")
            if account.upcoming:
                for slot in _units(account.upcoming):
                    langs = ", ".join(s.post.key.lang for s in slot)
                    first = slot[0]
                    why = f" ({first.why})" if first.why else ""
                    when = "now" if first.at <= self.now else \
                        f"{first.at.astimezone(zone):%Y-%m-%d %H:%M %Z}"
                    lines.append(f"  next {when}: {first.post.key.ref} "
                                 f"{first.post.key.stage} ({langs}){why}")
            else:
                lines.append("  nothing planned")
            for e in account.failures:
                if e is account.stopped or e.uncertain:
                    continue
                retry = (f"; retrying at {e.next_attempt_at.astimezone(zone):%Y-%m-%d %H:%M:%S}"
                         if e.next_attempt_at else "")
                lines.append(f"  failed {e.key}: {e.error} (attempt {e.attempts}){retry}")
            for e in account.uncertain:
                retry = (f" at {e.next_attempt_at.astimezone(zone):%Y-%m-%d %H:%M:%S}"
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


def build_status(config: Config, site: Site, ledger: Ledger, *, now: datetime,
                 upcoming: int = 3) -> StatusReport:
    """Say what is due next per account, what failed and what was dropped; changes nothing.

    A failure is shown while it matters: its post is still planned, it is being retried, its
    outcome is unknown, or it stopped the account. A post the timing rules dropped is shown
    while its event is ahead (or for a week). Older ones are in `herald history`.
    """
    now = now.astimezone(config.site.timezone)
    rows = ledger.history()
    seen = {**{ref: now for ref in site.refs()}, **ledger.seen()}
    found = survey(config, site, rows, now=now, seen=seen,
                   safe_since=ledger.first_run(now, record=False))
    latest = latest_entries(rows)
    stopped = stopped_by(latest.values())
    blocked = blocked_until(latest.values(), now)
    pending = {s.post.key for s in found.arrangement.slots}
    lost = dropped(rows, site, now)
    newest = {}
    for row in rows:                     # the newest generation of each, the user's too
        if row.key not in newest or row.generation > newest[row.key].generation:
            newest[row.key] = row
    accounts = []
    for account in config.accounts:
        mine = [s for s in found.arrangement.slots if s.post.key.account == account.name]
        units = _units(mine)[:upcoming]
        entries = [e for e in latest.values() if e.key.account == account.name]
        failures = [e for e in entries if e.state == "failed" and (
            e.key in pending or e is stopped.get(account.name) or e.uncertain
            or (e.next_attempt_at is not None and e.next_attempt_at > now))]
        accounts.append(AccountStatus(
            account.name, account.platform,
            upcoming=tuple(s for unit in units for s in unit),
            failures=tuple(failures),
            stopped=stopped.get(account.name),
            blocked_until=blocked.get(account.name),
            uncertain=tuple(e for e in entries if e.uncertain),
            dropped=tuple(e for e in lost if e.key.account == account.name),
            requested=tuple(e for e in newest.values() if e.key.account == account.name
                            and e.left_to_user)))
    errors = [str(p) for p in site.problems if p.severity == "error"]
    problems = ((f"{plural(len(errors), 'event file')} cannot be used (see herald validate)",)
                if errors else ())
    return StatusReport(now, ledger.path, len(site.refs()), tuple(accounts), problems)


def status(config_path: str | Path | None = None, site: str | Path | None = None, *,
           now: datetime | None = None) -> StatusReport:
    """`herald status`: read the config, the site and the ledger; post nothing, lock nothing."""
    from . import app

    config = load_config(config_path, site=site)
    loaded = load_site(config.site)
    path = app.ledger_path(config)
    with tempfile.TemporaryDirectory(prefix="herald-status-") as scratch:
        # Without a ledger yet, read an empty one rather than create the real file.
        with Ledger.open(path if path.exists() else Path(scratch) / "ledger.sqlite3") as ledger:
            report = build_status(config, loaded, ledger, now=now or datetime.now(timezone.utc))
    report = replace(report, ledger=path)
    lacking = tuple(f"{a.name} has no {', '.join(missing)} (run `herald auth {a.platform}`)"
                    for a in config.accounts
                    if (missing := app.missing_credentials(a, config)))
    return replace(report, problems=report.problems + lacking)


def _exit_code(kind: str | None) -> int:
    """The exit code of the error class the ledger recorded by name (4 when unknown)."""
    found = getattr(errors, kind or "", None)
    if isinstance(found, type) and issubclass(found, errors.HeraldError):
        return found.exit_code
    return errors.PublishError.exit_code


def _units(slots) -> list[list[Slot]]:
    units: list[list[Slot]] = []
    for slot in slots:
        if units and (units[-1][0].post.key.ref, units[-1][0].post.key.stage,
                      units[-1][0].at) == (slot.post.key.ref, slot.post.key.stage, slot.at):
            units[-1].append(slot)
        else:
            units.append([slot])
    return units
