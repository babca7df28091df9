"""What every `herald` command shares: the group, one-line errors, config and ledger access."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import NoReturn

import click

from ..errors import HeraldError

EXIT_CODES = """\b
Exit codes:
  0  success
  1  warnings found (validate --strict), or a post skipped earlier was not
     sent (announce: use --again)
  2  content errors (validate), a post too long for its platform or holding
     a character it refuses (preview, announce, post: nothing is sent), or a
     usage error (an unknown event, stage, account or language; an event
     that has started)
  3  configuration error
  4  a platform did not take a post, or a post due now still waits after an
     earlier failure (back-off, or a lookup of a post in doubt); an account
     is stopped (status)
  5  the ledger is unusable (not a Herald ledger, unreadable, read-only
     folder, full disk) or held by another process; or a post went out but
     could not be recorded (the next run records it)
  6  credentials missing or rejected
  141  the output was closed early (piped to head): Herald stops quietly
"""

QUIET = ("nothing to post",)
"""Outcomes that send nothing and are no failure (a digest whose window is empty)."""

BROKEN_PIPE = 141
"""The exit code of a command whose output closed early, as for a process stopped by SIGPIPE."""


class HeraldGroup(click.Group):
    """Turn every Herald error into one `Error: ...` line and its exit code.

    Every command also takes `--verbose` after its name; a closed output (`| head`) ends the
    command quietly with exit code 141; `NO_COLOR` turns styling off.
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "verbose" for p in cmd.params):
            cmd.params.append(click.Option(["--verbose"], is_flag=True, expose_value=False,
                                           callback=_set_verbose,
                                           help="Show tracebacks and debug logs."))
        super().add_command(cmd, name)

    def main(self, *args, **kwargs):
        try:
            try:
                return super().main(*args, **kwargs)
            finally:
                sys.stdout.flush()
        except BrokenPipeError:
            _stop_quietly()

    def invoke(self, ctx: click.Context):
        if os.environ.get("NO_COLOR"):
            ctx.color = False
        try:
            try:
                return super().invoke(ctx)
            except HeraldError as exc:
                if ctx.obj and ctx.obj.get("verbose"):
                    import traceback

                    traceback.print_exc()
                click.echo(f"Error: {exc}", err=True)
                ctx.exit(exc.exit_code)
        except BrokenPipeError:
            _stop_quietly()


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(dict)["verbose"] = True


def _stop_quietly() -> NoReturn:
    """Send what is left of the output nowhere and exit 141, as a Unix tool does."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            pass
    raise SystemExit(BROKEN_PIPE)


@click.group(cls=HeraldGroup, help="Announce a site's events on Mastodon, X and Bluesky.\n\n"
             + EXIT_CODES)
@click.option("--verbose", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(package_name="herald")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def config_options(func):
    func = click.option("--site", "site", type=click.Path(file_okay=False),
                        help="Site checkout to read instead of the one the config names.")(func)
    func = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        help="Config file (default: $HERALD_CONFIG, ./herald.toml, built-ins).")(func)
    return func


def load(config_path: str | None, site: str | None):
    from ..config import load_config

    return load_config(config_path, site=site)


def parse_now(text: str | None, config) -> datetime:
    """Parse --now (ISO 8601; a time without offset is in the site's zone)."""
    if text is None:
        return datetime.now(config.site.timezone)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time such as "
                                 f"2026-02-12T12:00+01:00", param_hint="--now") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=config.site.timezone)
    return value.astimezone(config.site.timezone)


@contextmanager
def _ledger(config, dry_run: bool, command: str | None = None):
    """Open the real ledger (holding its lock for `command`), or for a dry run a throw-away
    copy of it; either refuses a ledger it cannot use in one line (exit 5)."""
    import tempfile
    from pathlib import Path

    from .. import app
    from ..ledger import Ledger

    path = app.ledger_path(config)
    if not dry_run:
        with Ledger.open(path, lock=command) as ledger:
            yield ledger
        return
    with tempfile.TemporaryDirectory(prefix="herald-dry-run-") as scratch:
        with Ledger.open_copy(path, Path(scratch) / "ledger.sqlite3") as ledger:
            yield ledger


def _publishers(config, accounts, dry_run: bool) -> dict:
    from .. import app
    from ..platforms.recording import RecordingPublisher

    if dry_run:
        return {a.name: RecordingPublisher(a.name, app.declared_limits(a, config))
                for a in accounts}
    return {a.name: app.build_publisher(a, config) for a in accounts}


def _report(outcomes, dry_run: bool, zone=None) -> int:
    """Print one line per outcome; return the exit code of the worst one.

    A rate limit's reset is said in `zone` (the site's): the adapters' messages name no time.
    """
    code = 0
    for outcome in outcomes:
        where = f"{outcome.key.account} {outcome.key.lang} {outcome.key.stage}"
        if outcome.error is not None:
            retry = getattr(outcome.error, "retry_after", None)
            when = (f"; retry after {retry.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}"
                    if retry is not None and zone is not None else "")
            click.echo(f"failed: {where}: {outcome.error}{when}", err=True)
            code = max(code, outcome.error.exit_code)
        elif outcome.note is not None:
            click.echo(f"{outcome.status}: {where}: {outcome.note}", err=True)
            if outcome.status == "waiting":    # in doubt after a failure: not out yet
                code = max(code, 4)
            elif outcome.until is None and outcome.status not in QUIET:
                code = max(code, 1)            # held by the daily cap until a time: no failure
        elif dry_run:
            click.echo(f"would post: {where}")
        else:
            click.echo(f"{outcome.status}: {where}: {outcome.url}")
    return code



def _print_sent(publishers) -> None:
    for publisher in publishers.values():
        for sent in publisher.sent:
            click.echo(click.style(f"{publisher.account} · {sent.lang}", bold=True))
            for line in sent.text.splitlines():
                click.echo(f"    {line}" if line else "")
            for media in sent.media:
                click.echo(f"  image: {media.width}x{media.height} {media.mime} "
                           f"{len(media.data)} bytes · alt: {media.alt}")
            if sent.card is not None:
                click.echo(f"  link card: {sent.card.title} · {sent.card.url}")
