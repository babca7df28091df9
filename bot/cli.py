"""The `herald` command: thin commands over the library, one-line errors, documented exit codes."""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import traceback
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from .errors import HeraldError

EXIT_CODES = """\b
Exit codes:
  0  success
  1  warnings found (validate --strict), or a post was refused
  2  content errors (validate), a post that cannot fit (preview), or a usage
     error (an unknown event, stage or language; an event that has started)
  3  configuration error
  4  a platform did not take a post
  5  the ledger is unusable or held by another process
  6  credentials missing or rejected
"""


class HeraldGroup(click.Group):
    """Turn every Herald error into one `Error: ...` line and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HeraldError as exc:
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


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
    from .config import load_config

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


@main.command()
@config_options
@click.option("--now", "now_text", metavar="TIME", help="Pretend it is this time (ISO 8601).")
@click.option("--event", "event", metavar="REF", help="Only this event.")
@click.option("--platform", type=click.Choice(["mastodon", "x", "bluesky"]), help="Only this platform.")
@click.option("--account", metavar="NAME", help="Only this account.")
@click.option("--lang", metavar="LANG", help="Only this language.")
@click.option("--images", "images_dir", type=click.Path(file_okay=False),
              help="Write the exact prepared images to this folder.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def preview(config_path, site, now_text, event, platform, account, lang, images_dir, as_json):
    """Show every planned post in time order, exactly as it would go out.

    Each post shows when, account, platform, language, stage, the full text, its count against
    the limit, the image that will go out (final pixels and bytes) and its alt text. Nothing is
    posted and no network is used. Exits 2 when a post cannot fit its platform.
    """
    from . import app
    from .content import load_site
    from .service import Selection, preview as build

    config = load(config_path, site)
    now = parse_now(now_text, config)
    if account is not None:
        config.account(account)
    loaded = load_site(config.site)
    selection = Selection(event=event, platform=platform, lang=lang, account=account)
    accounts = {a.name: a for a in config.accounts}
    limits = {a.name: app.declared_limits(a, config) for a in config.accounts}
    posts = build(loaded, config, now=now, selection=selection,
                  limits_for=lambda a: limits[a.name], done=_already_done(config))
    attach = app.attachments(config)
    folder = Path(images_dir) if images_dir else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)

    def described(post):
        account_ = accounts[post.key.account]
        event_ = loaded.versions(post.key.ref)[post.lang]
        extras = attach(post, event_, account_, limits[account_.name])
        written = _write_images(post, extras, folder) if folder is not None else []
        return post, account_, extras, _cost(post, limits[account_.name]), written

    items = map(described, posts)
    if as_json:
        items = list(items)
        click.echo(json.dumps([_post_json(*item) for item in items], ensure_ascii=False,
                              indent=2))
    else:
        items = _print_preview(items, config, loaded, now)
    if any(not post.fits for post, *_ in items):
        sys.exit(2)


def _already_done(config) -> set:
    """The posts the ledger says are made or skipped; none when there is no ledger yet."""
    from . import app
    from .ledger import Ledger

    path = app.ledger_path(config)
    if not path.exists():
        return set()
    with Ledger.open(path) as ledger:
        return ledger.posted_keys()


def _cost(post, limits) -> float:
    """The platform's estimated charge for this post, from its declared prices."""
    return limits.cost_per_link_post if post.link else limits.cost_per_post


def _write_images(post, extras, folder: Path) -> list[str]:
    media = list(extras.media) + ([extras.card.thumb] if extras.card and extras.card.thumb
                                  else [])
    paths = []
    for number, item in enumerate(media, start=1):
        suffix = Path(item.filename).suffix or ".img"
        path = folder / (f"{post.key.ref}.{post.key.stage}.{post.key.account}.{post.key.lang}"
                         f"{'' if number == 1 else f'.{number}'}{suffix}")
        path.write_bytes(item.data)
        paths.append(str(path))
    return paths


def _media_line(item) -> str:
    kind = item.mime.split("/")[-1].upper()
    return f"{item.width}x{item.height} {kind}, {len(item.data):,} bytes"


def _print_preview(items, config, loaded, now) -> list:
    errors = sum(1 for p in loaded.problems if p.severity == "error")
    warnings = len(loaded.problems) - errors
    click.echo(f"Herald preview at {now:%Y-%m-%d %H:%M %Z} · {config.site.root} · "
               f"{len(loaded.refs())} events")
    if loaded.problems:
        click.echo(f"({errors} errors, {warnings} warnings in the content: see `herald validate`)")
    seen, total_cost = [], 0.0
    for post, account, extras, cost, written in items:
        seen.append((post, account, extras, cost, written))
        total_cost += cost
        mark = "" if post.fits else "  TOO LONG"
        click.echo("")
        click.echo(click.style(
            f"{post.due:%Y-%m-%d %H:%M %Z} · {account.name} ({account.platform}) · "
            f"{post.key.lang} · {post.key.stage} · {post.key.ref} · "
            f"{post.length}/{post.limit}{mark}", bold=True))
        for line in post.text.splitlines():
            click.echo(f"    {line}" if line else "")
        source = (_site_path(post.image.path, config) if extras.drawn is False and post.image
                  else "drawn card")
        for item in extras.media:
            click.echo(f"  image: {source} → {_media_line(item)}")
            click.echo(f"  alt: {item.alt}")
        if extras.card is not None:
            thumb = (f"; thumbnail {_media_line(extras.card.thumb)}" if extras.card.thumb
                     else "")
            click.echo(f"  link card: {extras.card.title} · {extras.card.url}{thumb}")
        if not extras.media and extras.card is None:
            click.echo("  image: none")
        for path in written:
            click.echo(f"  written: {path}")
        if cost:
            click.echo(f"  cost: about ${cost:.2f}")
        for warning in post.warnings + extras.warnings:
            click.echo(f"  warning: {warning}")
        if post.error:
            click.echo(f"  error: {post.error}")
    click.echo("")
    summary = f"{len(seen)} planned posts"
    if total_cost:
        summary += f"; estimated cost about ${total_cost:.2f}"
    starts = [e.start for e in loaded.events]
    if not seen and starts and max(starts) <= now:
        summary += (f" (every event has started; the last one on {max(starts):%Y-%m-%d}: "
                    f"use --now to look from an earlier time)")
    click.echo(summary)
    return seen


def _site_path(path: Path, config) -> str:
    try:
        return str(path.relative_to(config.site.root))
    except ValueError:
        return str(path)


def _post_json(post, account, extras, cost: float, written: list[str]) -> dict:
    return {
        "due": post.due.isoformat(),
        "ref": post.key.ref,
        "stage": post.key.stage,
        "account": account.name,
        "platform": account.platform,
        "lang": post.key.lang,
        "text_lang": post.lang,
        "text": post.text,
        "length": post.length,
        "limit": post.limit,
        "bytes": post.byte_length,
        "fits": post.fits,
        "link": post.link,
        "image": str(post.image.path) if post.image else None,
        "media": [{"width": m.width, "height": m.height, "bytes": len(m.data), "mime": m.mime,
                   "alt": m.alt, "drawn_card": extras.drawn} for m in extras.media],
        "link_card": ({"url": extras.card.url, "title": extras.card.title,
                       "description": extras.card.description,
                       "thumb": bool(extras.card.thumb)} if extras.card else None),
        "written": written,
        "cost": cost,
        "warnings": list(post.warnings + extras.warnings),
        "error": post.error,
    }


def _image_problems(loaded, config) -> list:
    """Warn about event images Herald cannot read (decoding only their headers)."""
    from .errors import ImageError
    from .images import open_image, read_source
    from .model import Problem

    found, checked = [], {}
    for event in loaded.events + loaded.drafts:
        if event.image is None:
            continue
        if event.image not in checked:
            try:
                open_image(read_source(event.image), event.image.name).close()
                checked[event.image] = None
            except ImageError as exc:
                checked[event.image] = str(exc)
        if checked[event.image]:
            fallback = "a drawn card goes instead" if config.images.cards else "posting without it"
            found.append(Problem(event.source, "image", f"{checked[event.image]}; {fallback}"))
    return found


@main.command()
@config_options
@click.option("--strict", is_flag=True, help="Exit 1 when there are warnings.")
@click.option("--refs", "list_refs", is_flag=True,
              help="Also list every event's ref, start and languages.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validate(config_path, site, strict, list_refs, as_json):
    """Check the site's events: errors, warnings and drafts.

    Exits 0 when clean, 1 for warnings only with --strict, 2 when any file has an error.
    """
    from .content import load_site

    config = load(config_path, site)
    loaded = load_site(config.site)
    problems = list(loaded.problems) + _image_problems(loaded, config)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    refs = [(ref, next(iter(loaded.versions(ref).values())).start,
             sorted(loaded.versions(ref))) for ref in loaded.refs()]
    if as_json:
        click.echo(json.dumps({
            "events": len(loaded.refs()),
            "refs": [{"ref": ref, "start": start.isoformat(), "languages": langs}
                     for ref, start, langs in refs],
            "files": len(loaded.events),
            "drafts": [d.source for d in loaded.drafts],
            "problems": [{"severity": p.severity, "file": p.source, "field": p.field,
                          "message": p.message} for p in problems],
        }, ensure_ascii=False, indent=2))
    else:
        for problem in problems:
            click.echo(str(problem))
        for draft in loaded.drafts:
            click.echo(f"draft: {draft.source}: published: false, not announced")
        if list_refs:
            for ref, start, langs in refs:
                click.echo(f"event: {ref}: {start:%Y-%m-%d %H:%M %Z} ({', '.join(langs)})")
        click.echo(f"{len(loaded.events)} event files ({len(loaded.refs())} events), "
                   f"{len(loaded.drafts)} drafts, {len(errors)} errors, {len(warnings)} warnings")
    if errors:
        sys.exit(2)
    if warnings and strict:
        sys.exit(1)


@contextmanager
def _ledger(config, dry_run: bool):
    """Open the real ledger, or for a dry run a throw-away copy of it."""
    from . import app
    from .ledger import Ledger

    path = app.ledger_path(config)
    if not dry_run:
        with Ledger.open(path) as ledger:
            yield ledger
        return
    with tempfile.TemporaryDirectory(prefix="herald-dry-run-") as scratch:
        copy = Path(scratch) / "ledger.sqlite3"
        if path.exists():
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            with sqlite3.connect(copy) as target:
                source.backup(target)
            source.close()
        with Ledger.open(copy) as ledger:
            yield ledger


def _publishers(config, accounts, dry_run: bool) -> dict:
    from . import app
    from .platforms.recording import RecordingPublisher

    if dry_run:
        return {a.name: RecordingPublisher(a.name, app.declared_limits(a, config))
                for a in accounts}
    return {a.name: app.build_publisher(a, config) for a in accounts}


def _report(outcomes, dry_run: bool) -> int:
    """Print one line per outcome; return the exit code of the worst one."""
    code = 0
    for outcome in outcomes:
        where = f"{outcome.key.account} {outcome.key.lang} {outcome.key.stage}"
        if outcome.error is not None:
            click.echo(f"failed: {where}: {outcome.error}", err=True)
            code = max(code, outcome.error.exit_code)
        elif outcome.note is not None:
            click.echo(f"{outcome.status}: {where}: {outcome.note}", err=True)
            code = max(code, 1)
        elif dry_run:
            click.echo(f"would post: {where}")
        else:
            click.echo(f"{outcome.status}: {where}: {outcome.url}")
    return code


@main.command()
@config_options
@click.argument("ref")
@click.option("--stage", metavar="NAME", help="Stage to post (default: the announcement).")
@click.option("--account", metavar="NAME", help="Only this account.")
@click.option("--lang", metavar="LANG", help="Only this language.")
@click.option("--again", is_flag=True, help="Post again even if this was already posted.")
@click.option("--dry-run", is_flag=True, help="Show what would be posted; send nothing.")
def announce(config_path, site, ref, stage, account, lang, again, dry_run):
    """Post one event now, through the same composer, ledger and de-duplication.

    A second identical call says it was already posted; --again makes a new post on purpose.
    """
    from . import app
    from .content import load_site
    from .service import Selection, announce as run

    config = load(config_path, site)
    if account is not None:
        config.account(account)
    selection = Selection(account=account, lang=lang)
    loaded = load_site(config.site)
    now = datetime.now(config.site.timezone)
    publishers = _publishers(config, selection.accounts(config), dry_run)
    with _ledger(config, dry_run) as ledger:
        outcomes = run(loaded, config, ref, now=now, ledger=ledger, publishers=publishers,
                       attach=app.attachments(config), stage=stage, selection=selection,
                       again=again)
    if dry_run:
        _print_sent(publishers)
    sys.exit(_report(outcomes, dry_run))


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


@main.command()
@config_options
@click.argument("text")
@click.option("--image", type=click.Path(dir_okay=False, exists=True), help="Image to attach.")
@click.option("--alt", help="Alt text of the image (required with --image).")
@click.option("--account", metavar="NAME", help="Only this account (default: all).")
@click.option("--lang", metavar="LANG", help="Language of the text (default: the site's).")
@click.option("--again", is_flag=True, help="Post again even if this text was already posted.")
@click.option("--dry-run", is_flag=True, help="Show what would be posted; send nothing.")
def post(config_path, site, text, image, alt, account, lang, again, dry_run):
    """Post a free text now, optionally with an image, on every (or one) account."""
    from .counting import length
    from .errors import PublishError, Rejected
    from .model import OutgoingPost
    from .service import Outcome, Selection, deliver, manual_key

    if not text.strip():
        raise click.UsageError("the text is empty")
    if image and not alt:
        raise click.UsageError("--image needs --alt: describe the image for people who cannot see it")
    if alt and not image:
        raise click.UsageError("--alt describes an image: give the image with --image")
    config = load(config_path, site)
    if account is not None:
        config.account(account)
    lang = lang or config.site.default_lang
    accounts = Selection(account=account).accounts(config)
    publishers = _publishers(config, accounts, dry_run)
    now = datetime.now(config.site.timezone)
    raw = Path(image).read_bytes() if image else None
    outcomes = []
    with _ledger(config, dry_run) as ledger:
        for acc in accounts:
            publisher = publishers[acc.name]
            key = manual_key(text, acc.name, lang, raw)
            try:
                limits = publisher.limits()
            except PublishError as exc:  # a one-off leaves no trace when nothing was sent
                outcomes.append(Outcome(key, "failed", error=exc))
                continue
            count = length(text, limits)
            if count > limits.max_chars:
                outcomes.append(Outcome(key, "failed", error=Rejected(
                    f"{count} characters, over the {limits.max_chars} limit of {acc.platform}",
                    account=acc.name)))
                continue
            media = ()
            if image:
                from . import app
                from .images import prepare

                media = (prepare(Path(image), limits, config.images, alt=alt,
                                 cache=app.image_cache(config)),)
            outgoing = OutgoingPost(text, lang, "", media=media)
            outcomes.append(deliver(key, outgoing, publisher=publisher, ledger=ledger, now=now,
                                    again=again, daily_cap=acc.options.get("daily_cap")))
    if dry_run:
        _print_sent(publishers)
    sys.exit(_report(outcomes, dry_run))


@main.command()
@config_options
@click.option("--event", "ref", metavar="REF", help="Only this event.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def history(config_path, site, ref, as_json):
    """Show what was posted where, with URLs, and what failed and why."""
    from . import app
    from .ledger import Ledger

    config = load(config_path, site)
    path = app.ledger_path(config)
    entries = []
    if path.exists():
        with Ledger.open(path) as ledger:
            entries = ledger.history(ref)
    if as_json:
        click.echo(json.dumps([_entry_json(e) for e in entries], ensure_ascii=False, indent=2))
        return
    if not entries:
        click.echo(f"Nothing posted yet (ledger: {path}).")
    zone = config.site.timezone
    for e in entries:
        when = e.updated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        detail = e.url or e.error or e.reason or ""
        click.echo(f"{when}  {e.state:<8} {e.key.account} {e.key.lang} {e.key.stage} "
                   f"{e.key.ref}  {detail}" + (f" (attempts: {e.attempts})"
                                               if e.state == "failed" else ""))


def _entry_json(e) -> dict:
    return {"ref": e.key.ref, "stage": e.key.stage, "account": e.key.account,
            "lang": e.key.lang, "generation": e.generation, "state": e.state, "url": e.url,
            "platform_id": e.platform_id, "error": e.error, "attempts": e.attempts,
            "updated_at": e.updated_at.isoformat(),
            "posted_at": e.posted_at.isoformat() if e.posted_at else None}


@main.command()
@config_options
@click.option("--account", metavar="NAME", help="Only this account.")
def check(config_path, site, account):
    """Verify each account's credentials and print its limits."""
    from . import app
    from .errors import PublishError

    config = load(config_path, site)
    accounts = [config.account(account)] if account else list(config.accounts)
    code = 0
    for acc in accounts:
        try:
            publisher = app.build_publisher(acc, config)
            handle = publisher.check()
            limits = publisher.limits()
        except PublishError as exc:
            click.echo(f"{acc.name} ({acc.platform}): FAILED: {exc}", err=True)
            code = max(code, exc.exit_code)
            continue
        click.echo(f"{acc.name} ({acc.platform}): ok, {handle}; {limits.max_chars} characters, "
                   f"images up to {limits.image_bytes:,} bytes"
                   + (f" and {limits.image_pixels:,} pixels" if limits.image_pixels else "")
                   + f", alt text up to {limits.alt_chars} characters")
    sys.exit(code)


@main.command()
@config_options
@click.argument("platform", type=click.Choice(["mastodon", "x", "bluesky"]))
@click.option("--account", metavar="NAME",
              help="Account to store credentials for (default: the first on this platform).")
def auth(config_path, site, platform, account):
    """Get credentials interactively and store them in the secrets file (mode 0600).

    Mastodon: registers an app on the instance and asks for the code the instance shows.
    X: asks for your app's API key and secret, then for the PIN X shows.
    Bluesky: asks for the handle and an app password (Settings → App passwords).
    """
    from . import app
    from .platforms import bluesky, mastodon, x

    config = load(config_path, site)
    if account is not None:
        chosen = config.account(account)
    else:
        chosen = next((a for a in config.accounts if a.platform == platform), None)
        if chosen is None:
            raise click.UsageError(f"no {platform} account in the config: add an "
                                   f"[accounts.NAME] block with platform = \"{platform}\"")
    if chosen.platform != platform:
        raise click.UsageError(f"account {chosen.name!r} is on {chosen.platform}, not {platform}")
    options = chosen.options
    if platform == "mastodon":
        values = mastodon.authorize(options.get("instance", "https://mastodon.social"),
                                    prompt=click.prompt, echo=click.echo)
    elif platform == "x":
        api_key = click.prompt("API key of your X app")
        api_secret = click.prompt("API key secret", hide_input=True)
        session = (x.rebased_session(None, options["api_url"]) if options.get("api_url")
                   else None)
        values = x.authorize(api_key=api_key, api_secret=api_secret, prompt=click.prompt,
                             echo=click.echo, account=chosen.name, session=session)
    else:
        handle = click.prompt("Handle (for example name.bsky.social)")
        password = click.prompt("App password", hide_input=True)
        values = bluesky.authorize(service=options.get("service", bluesky.SERVICE),
                                   handle=handle, app_password=password)
    store = app.secrets_store(config)
    store.save(chosen.name, values)
    click.echo(f"Saved credentials for {chosen.name} in {store.path} (readable only by you).")


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
    """
    from .daemon import run_forever, run_once

    verbose = bool(ctx.obj and ctx.obj.get("verbose"))
    if once:
        outcomes = run_once(config_path, site, catch_up=catch_up, verbose=verbose)
        sys.exit(max((o.error.exit_code for o in outcomes if o.error is not None), default=0))
    sys.exit(run_forever(config_path, site, catch_up=catch_up, check_every=check_every,
                         verbose=verbose))


@main.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config_path, site, as_json):
    """Show what is due next on each account, and what failed or stopped an account.

    Reads the config, the site and the ledger; posts nothing and takes no lock, so it works
    while `herald run` is running.
    """
    from .daemon import status as build

    report = build(config_path, site)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(report.format())
