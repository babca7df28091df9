"""`herald preview` and `herald validate`: what Herald would post, and what is wrong with the content."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..localize import plural
from .common import config_options, load, main, parse_now

@main.command()
@config_options
@click.option("--now", "now_text", metavar="TIME", help="Pretend it is this time (ISO 8601).")
@click.option("--event", "event", metavar="REF", help="Only this event.")
@click.option("--digest", "digest", metavar="NAME", help="Only this digest.")
@click.option("--platform", type=click.Choice(["mastodon", "x", "bluesky"]), help="Only this platform.")
@click.option("--account", metavar="NAME", help="Only this account.")
@click.option("--lang", metavar="LANG", help="Only this language.")
@click.option("--images", "images_dir", type=click.Path(file_okay=False),
              help="Write the exact prepared images to this folder.")
@click.option("--html", "html_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write a page of the posts, drawn as on their platforms, to DIR/index.html.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def preview(config_path, site, now_text, event, digest, platform, account, lang, images_dir,
            html_dir, as_json):
    """Show every planned post in time order, exactly as it would go out.

    Each post shows when, account, platform, language, stage, the full text, its count against
    the limit, the image that will go out (final pixels and bytes) and its alt text; each part
    of a digest's thread is shown as a post. Nothing is posted and no network is used. Exits 2
    when a post cannot fit its platform.
    """
    from .. import app
    from ..content import load_site
    from ..errors import UsageError
    from ..service import Attachments, Selection, preview as build

    config = load(config_path, site)
    now = parse_now(now_text, config)
    if account is not None:
        config.account(account)
    if lang is not None and lang not in config.site.languages:
        raise UsageError(f"unknown language {lang!r}; the site's languages are "
                         f"{', '.join(config.site.languages)}")
    loaded = load_site(config.site)
    if event is not None and digest is not None:
        raise UsageError("--event and --digest: give one of the two")
    selection = Selection(event=event, platform=platform, lang=lang, account=account,
                          digest=digest)
    accounts = {a.name: a for a in config.accounts}
    limits = {a.name: app.declared_limits(a, config) for a in config.accounts}
    done, latest = _ledger_view(config)
    posts = build(loaded, config, now=now, selection=selection,
                  limits_for=lambda a: limits[a.name], done=done, latest=latest)
    attach = app.attachments(config)
    folder = Path(images_dir) if images_dir else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)

    def described(post):
        account_ = accounts[post.key.account]
        versions = loaded.versions(post.key.ref)
        extras = (attach(post, versions[post.lang], account_, limits[account_.name])
                  if versions else Attachments())     # a digest carries no image
        written = _write_images(post, extras, folder) if folder is not None else []
        return post, account_, extras, _cost(post, extras, limits[account_.name]), written

    items = map(described, posts)
    if html_dir is not None:
        from ..page import write_preview

        items = list(items)
        index = write_preview(Path(html_dir), items, loaded=loaded, config=config, now=now,
                              problems=_image_problems(loaded, config))
        if not as_json:
            click.echo(f"{plural(len(items), 'planned post')}: {index}")
    if as_json:
        items = list(items)
        click.echo(json.dumps([_post_json(*item) for item in items], ensure_ascii=False,
                              indent=2))
    elif html_dir is None:
        items = _print_preview(items, config, loaded, now)
    if any(not post.fits for post, *_ in items):
        sys.exit(2)


def _ledger_view(config) -> tuple[set, dict]:
    """The posts the ledger says are made or skipped, and its latest row of each post (which
    tells how far a digest's thread has got); nothing when there is no ledger yet."""
    from .. import app
    from ..ledger import Ledger
    from ..survey import latest_entries

    path = app.ledger_path(config)
    if not path.exists():
        return set(), {}
    with Ledger.open(path) as ledger:
        return ledger.posted_keys(), latest_entries(ledger.history())


def _cost(post, extras, limits) -> float:
    """What the platform will charge for this post: its text and its images' alt texts."""
    from ..costs import Calls, cost

    return cost(limits, Calls.publishing(post.text, [item.alt for item in extras.media]))


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
               f"{plural(len(loaded.refs()), 'event')}")
    if loaded.problems:
        click.echo(f"({plural(errors, 'error')}, {plural(warnings, 'warning')} in the content: "
                   f"see `herald validate`)")
    seen, total_cost = [], 0.0
    for post, account, extras, cost, written in items:
        seen.append((post, account, extras, cost, written))
        total_cost += cost
        mark = "" if post.fits else "  TOO LONG"
        click.echo("")
        click.echo(click.style(
            f"{post.due:%Y-%m-%d %H:%M %Z} · {account.label} · "
            f"{post.key.lang} · {post.key.stage} · {post.key.ref} · "
            f"{post.length}/{post.limit}{mark}", bold=True))
        for line in post.text.splitlines():
            click.echo(f"    {line}" if line else "")
        for item in extras.media:
            click.echo(f"  image: {_image_line(post, extras, item, config)}")
            click.echo(f"  alt: {item.alt}")
        if extras.card is not None:
            thumb = (f"; thumbnail {_image_line(post, extras, extras.card.thumb, config)}"
                     if extras.card.thumb else "")
            click.echo(f"  link card: {extras.card.title} · {extras.card.url}{thumb}")
        if not extras.media and extras.card is None:
            click.echo("  image: none")
        for path in written:
            click.echo(f"  written: {path}")
        if cost:
            click.echo(f"  cost: about ${cost:.3f}")
        for warning in post.warnings + extras.warnings:
            click.echo(f"  warning: {warning}")
        if post.error:
            click.echo(f"  error: {post.error}")
    click.echo("")
    summary = plural(len(seen), "planned post")
    if total_cost:
        summary += f"; estimated cost about ${total_cost:.3f}"
    starts = [e.start for e in loaded.events]
    if not seen and starts and max(starts) <= now:
        summary += (f" (every event has started; the last one on {max(starts):%Y-%m-%d}: "
                    f"use --now to look from an earlier time)")
    click.echo(summary)
    return seen


def _image_line(post, extras, item, config) -> str:
    """Where the image comes from, what goes out, and what was done to it (its note)."""
    if extras.drawn or not post.image:
        return f"{item.note or 'drawn card'} → {_media_line(item)}"
    note = f"; {item.note}" if item.note else ""
    return f"{_site_path(post.image.path, config)} → {_media_line(item)}{note}"


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
                   "alt": m.alt, "drawn_card": extras.drawn, "note": m.note}
                  for m in extras.media],
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
    from ..errors import ImageError
    from ..images import open_image, read_source
    from ..model import Problem

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
    from ..content import load_site

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
        click.echo(f"{plural(len(loaded.events), 'event file')} "
                   f"({plural(len(loaded.refs()), 'event')}), "
                   f"{plural(len(loaded.drafts), 'draft')}, {plural(len(errors), 'error')}, "
                   f"{plural(len(warnings), 'warning')}")
    if errors:
        sys.exit(2)
    if warnings and strict:
        sys.exit(1)
