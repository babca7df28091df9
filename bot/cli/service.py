"""`herald run`, `herald status` and `herald history`: the daemon and what it did."""

from __future__ import annotations

import json
import sys

import click

from .common import config_options, load, main

@main.command()
@config_options
@click.option("--event", "ref", metavar="REF", help="Only this event.")
@click.option("--digest", "digest", metavar="NAME", help="Only this digest.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def history(config_path, site, ref, digest, as_json):
    """Show what was posted where, with URLs, and what failed and why."""
    from .. import app
    from ..digest import REF_PREFIX
    from ..ledger import Ledger

    if ref is not None and digest is not None:
        raise click.UsageError("--event and --digest: give one of the two")
    config = load(config_path, site)
    if digest is not None:
        ref = REF_PREFIX + config.digest(digest).name
    path = app.ledger_path(config)
    entries = []
    if path.exists():
        with Ledger.open(path) as ledger:
            entries = ledger.history(ref)
    if ref is not None and not entries and digest is None:
        _known_ref(ref, config)
    zone = config.site.timezone
    if as_json:
        click.echo(json.dumps({"schema": HISTORY_SCHEMA, "ledger": str(path),
                               "timezone": str(zone), "event": ref,
                               "entries": [_entry_json(e, zone) for e in entries]},
                              ensure_ascii=False, indent=2))
        return
    if not entries:
        click.echo(f"Nothing posted yet{f' for {ref}' if ref else ''} (ledger: {path}).")
    for e in entries:
        when = e.updated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        click.echo(f"{when}  {e.state:<8} {e.key.account} {e.key.lang} {e.key.stage} "
                   f"{e.key.ref}  {_detail(e)}" + (f" (attempts: {e.attempts})"
                                                  if e.state == "failed" else ""))


def _detail(e) -> str:
    """What one history line says after the post's identity."""
    if e.state == "deleted":
        return e.reason or f"taken down again (was {e.url or e.platform_id})"
    if e.uncertain:
        said = f"{e.error}; " if e.error else ""
        return f"{said}outcome unknown: looked up before anything is sent again"
    if e.left_to_user:
        return f"{e.error or ''} (on request: left until asked again)".strip()
    return e.url or e.error or e.reason or ""


def _known_ref(ref: str, config) -> None:
    """Refuse (exit 2) an event ref the site does not have, naming the closest ones."""
    from .. import app
    from ..service import unknown_ref

    loaded = app.read_site(config)
    if ref not in loaded.refs() and ref not in {d.ref for d in loaded.drafts}:
        raise unknown_ref(ref, loaded)


HISTORY_SCHEMA = "herald.history/1"
"""The name and version of `herald history --json`'s shape (docs/json/history.schema.json)."""


def _entry_json(e, zone) -> dict:
    """One ledger row as `history --json` shows it: every time ISO 8601 in the site's zone."""
    def iso(moment):
        return moment.astimezone(zone).isoformat() if moment is not None else None

    return {"ref": e.key.ref, "stage": e.key.stage, "account": e.key.account,
            "lang": e.key.lang, "generation": e.generation, "state": e.state,
            "life": e.life.value, "requested": e.requested,
            "outcome_unknown": e.uncertain, "left_to_user": e.left_to_user, "url": e.url,
            "platform_id": e.platform_id, "error": e.error, "error_kind": e.error_kind,
            "reason": e.reason, "detail": _detail(e), "attempts": e.attempts,
            "retry_at": iso(e.next_attempt_at), "created_at": iso(e.created_at),
            "updated_at": iso(e.updated_at), "posted_at": iso(e.posted_at)}



@main.command()
@config_options
@click.option("--once", is_flag=True,
              help="Post what is due now, then exit (for cron and scheduled CI jobs).")
@click.option("--catch-up", is_flag=True,
              help="On a new ledger, post what is already due instead of skipping it.")
@click.option("--check-every", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              metavar="SECONDS", help="How often to look for new, changed or removed event files.")
@click.pass_context
def run(ctx, config_path, site, once, catch_up, check_every):
    """Post each event's announcement and reminders on time, until stopped.

    Sleeps until the next post is due and re-reads the site when event files change.
    Corrects announced events whose date, time or place changed and cancels removed or
    unpublished ones. Logs one line per decision to stderr. SIGTERM or Ctrl-C stop it after
    the post in flight; SIGHUP reloads the config and the site. A second `herald run` on the
    same ledger refuses to start (exit 5).

    On a new ledger the first run posts no backlog: announcements of events already on the
    site, and stages already due, are recorded as skipped; --catch-up posts them instead.
    Posts made before by `herald announce` or `herald post` do not count: the first `herald
    run` on a ledger is its first run.
    """
    from ..daemon import run_forever, run_once

    verbose = bool(ctx.obj and ctx.obj.get("verbose"))
    if once:
        sys.exit(run_once(config_path, site, catch_up=catch_up, verbose=verbose).exit_code)
    sys.exit(run_forever(config_path, site, catch_up=catch_up, check_every=check_every,
                         verbose=verbose))


@main.command()
@config_options
@click.option("--now", "now_text", metavar="TIME", help="Pretend it is this time (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config_path, site, now_text, as_json):
    """Show what is due next on each account, and what failed or stopped an account.

    Reads the config, the site and the ledger; posts nothing, writes nothing and takes no lock,
    so it works while `herald run` is running. Its times are those `herald preview` shows.
    Exits 4 while an account is stopped (6 when its credentials were rejected).
    """
    from ..status import status as build
    from .common import parse_now

    now = parse_now(now_text, load(config_path, site)) if now_text else None
    report = build(config_path, site, now=now)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(report.format())
    sys.exit(report.exit_code)
