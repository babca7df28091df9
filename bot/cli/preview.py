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
@click.option("--catch-up", is_flag=True,
              help="As `herald run --catch-up` would: on a new ledger, post what is already due.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def preview(config_path, site, now_text, event, digest, platform, account, lang, images_dir,
            html_dir, catch_up, as_json):
    """Show every post `herald run` will make, in time order: when it goes out, or why not.

    Asks the same planning and timing code as `herald run`, over the ledger as it is (read
    only: a missing ledger reads as a new one, whose first run skips what is already due) and
    the same clock (--now). Each post shows when it really goes (quiet hours, gaps, the daily
    cap and back-offs included) or why it will not (skipped on a first run, missed,
    superseded, its account stopped), its account, platform, language, stage, the full text,
    its count against the limit, the image that will go out (final pixels and bytes, prepared
    one post at a time; with --json only when --images or --html is given), its alt text and
    its cost; each part of a digest's thread is shown as a post. Posts appear as they are
    composed. Nothing is posted and no network is used. Exits 2 when a post cannot fit its
    platform.
    """
    from .. import app
    from ..errors import UsageError
    from ..service import Selection, forecast
    from ..status import reading
    from ..survey import survey_ledger
    from .progress import Progress
    from .showing import Tally, print_preview, stream_json

    config = load(config_path, site)
    now = parse_now(now_text, config)
    if account is not None:
        config.account(account)
    if lang is not None and lang not in config.site.languages:
        raise UsageError(f"unknown language {lang!r}; the site's languages are "
                         f"{', '.join(config.site.languages)}")
    progress = Progress()
    progress.say(f"reading the events in {config.site.root} ...", force=True)
    loaded = app.read_site(config)
    if event is not None and digest is not None:
        raise UsageError("--event and --digest: give one of the two")
    selection = Selection(event=event, platform=platform, lang=lang, account=account,
                          digest=digest)
    limits = {a.name: app.declared_limits(a, config) for a in config.accounts}
    progress.say(f"planning {plural(len(loaded.refs()), 'event')} ...", force=True)
    with reading(app.ledger_path(config)) as ledger:
        found = survey_ledger(config, loaded, ledger, now=now, catch_up=catch_up)
    folder = Path(images_dir) if images_dir else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    prepare = folder is not None or html_dir is not None or not as_json
    items = forecast(loaded, config, found, now=now, limits_for=lambda a: limits[a.name],
                     selection=selection, attach=app.attachments(config) if prepare else None)
    entries: list = []
    if html_dir is not None:
        items = _collecting(items, entries, now)

    def written(item) -> list[str]:
        if folder is None or item.attachments is None or item.post is None:
            return []
        return _write_images(item.post, item.attachments, folder)

    shown = Tally()
    try:
        if as_json:
            stream_json(items, written, shown, progress, config=config, loaded=loaded,
                         now=now, catch_up=catch_up, ledger=app.ledger_path(config),
                         event=event)
        elif html_dir is None:
            print_preview(items, written, shown, progress, config=config, loaded=loaded,
                           now=now, event=event)
        else:
            for item in items:
                shown.add(item)
                written(item)
                progress.say(f"preview: {plural(shown.posts, 'post')} so far ...")
        if html_dir is not None:
            from ..page import build_page, write_page

            progress.say("writing the page ...", force=True)
            index = write_page(Path(html_dir), build_page(
                entries, loaded=loaded, config=config, now=now,
                problems=_image_problems(loaded, config)))
            progress.clear()
            if not as_json:
                click.echo(f"{shown.summary(cost=False)}: {index}")
    finally:
        progress.clear()
    if shown.unfit:
        sys.exit(2)


def _collecting(items, entries: list, now):
    """Pass the items on, keeping each as an entry of the preview page (`bot.page`)."""
    from dataclasses import replace

    from ..page import Entry, entry, server_of
    from ..service import Attachments
    from .showing import change_note

    for item in items:
        note = change_note(item, now) if item.change is not None else ""
        if item.post is None:
            title = item.change.change.announced.told.title if item.change is not None else ""
            entries.append(Entry(key=item.key, platform=item.platform, at=item.at or item.due,
                                 goes=item.goes, reason=item.reason, title=title, cost=item.cost,
                                 server=server_of(item.account), note=note))
        else:
            entries.append(replace(entry(
                item.post, item.account, item.attachments or Attachments(), item.cost,
                at=item.at or item.due, goes=item.goes, reason=item.reason,
                planned=item.due if item.state == "later" else None), note=note))
        yield item


def _write_images(post, extras, folder: Path) -> list[str]:
    """Write a post's prepared images into `folder`, named from safe slugs, never outside it.

    A name is `<ref>.<stage>.<account>.<lang>[.<n>].<ext>`, each part a `file_slug` (a ref
    such as `../../x`, an absolute path, a NUL byte or 300 characters cannot reach outside);
    an existing link of that name is refused rather than followed.
    """
    import os
    import re

    from ..content import file_slug
    from ..errors import HeraldError

    media = list(extras.media) + ([extras.card.thumb] if extras.card and extras.card.thumb
                                  else [])
    stem = ".".join(file_slug(part) for part in (post.key.ref, post.key.stage,
                                                 post.key.account, post.key.lang))
    paths = []
    for number, item in enumerate(media, start=1):
        suffix = Path(item.filename).suffix.lower()
        if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
            suffix = ".img"
        path = folder / f"{stem}{'' if number == 1 else f'.{number}'}{suffix}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                         | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), 0o644)
            with os.fdopen(fd, "wb") as out:
                out.write(item.data)
        except OSError as exc:
            raise HeraldError(f"--images: cannot write {path} "
                              f"({exc.strerror or type(exc).__name__})") from None
        paths.append(str(path))
    return paths


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
@click.option("--upcoming", is_flag=True,
              help="Only what can still be posted: upcoming events and unreadable files.")
@click.option("--all", "everything", is_flag=True,
              help="List every problem of past events too, not only their count by kind.")
@click.option("--now", "now_text", metavar="TIME",
              help="Pretend it is this time (ISO 8601): what counts as past.")
@click.option("--refs", "list_refs", is_flag=True,
              help="Also list every event's ref, start and languages.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validate(config_path, site, strict, upcoming, everything, now_text, list_refs, as_json):
    """Check the site's events: errors, warnings and drafts, grouped by event.

    Upcoming events come first, each problem once with every file it is in; the problems of
    past events, which can no longer be posted, are counted by kind (--all lists them,
    --upcoming leaves them out). Exits 0 when clean, 1 for warnings only with --strict, 2 when
    any file has an error.
    """
    from .. import app
    from ..content import ParseCache, load_site
    from ..content.assumed import control_problems, date_only_problems
    from ..content.checks import fit_problems, ref_problems
    from .validation import VALIDATE_SCHEMA, events_of, lines, upcoming_problems

    from .progress import Progress

    config = load(config_path, site)
    now = parse_now(now_text, config)
    zone = config.site.timezone
    progress = Progress()
    progress.say(f"reading the events in {config.site.root} ...", force=True)
    cache = ParseCache.for_site(config.site, config.images.cache_dir)
    loaded = load_site(config.site, cache=cache)
    cache.save()
    if (click.get_current_context().obj or {}).get("verbose"):
        for note in cache.notes:
            click.echo(f"note: {note}", err=True)
    progress.say(f"checking the images of {plural(len(loaded.events), 'event file')} ...",
                 force=True)
    files = loaded.events + loaded.drafts
    problems = (list(loaded.problems) + _image_problems(loaded, config) + ref_problems(files)
                + date_only_problems(files, config) + control_problems(files, config)
                + fit_problems([e for e in files if e.upcoming_until > now], config,
                               lambda a: app.declared_limits(a, config)))
    problems.sort(key=lambda p: p.source)         # stable: a file's own problems keep their order
    progress.clear()
    if upcoming:
        problems = upcoming_problems(problems, loaded, now)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    refs = [(ref, next(iter(loaded.versions(ref).values())), sorted(loaded.versions(ref)))
            for ref in loaded.refs()]
    drafts = [d for d in loaded.drafts if not upcoming or d.upcoming_until > now]
    if as_json:
        files = events_of(loaded)
        click.echo(json.dumps({
            "schema": VALIDATE_SCHEMA,
            "now": now.isoformat(),
            "upcoming_only": upcoming,
            "events": len(loaded.refs()),
            "refs": [{"ref": ref, "start": first.start.astimezone(zone).isoformat(),
                      "languages": langs, "upcoming": first.upcoming_until > now}
                     for ref, first, langs in refs],
            "files": len(loaded.events),
            "drafts": [d.source for d in drafts],
            "problems": [{"severity": p.severity, "file": p.source, "field": p.field,
                          "message": p.message,
                          "ref": files.get(p.source, (None, None))[0],
                          "upcoming": p.source not in files or files[p.source][1] > now}
                         for p in problems],
            "counts": {"errors": len(errors), "warnings": len(warnings)},
        }, ensure_ascii=False, indent=2))
    else:
        for line in lines(problems, loaded, now=now, zone=zone, upcoming_only=upcoming,
                          everything=everything):
            click.echo(line)
        for draft in drafts:
            click.echo(f"draft: {draft.source}: published: false, not announced")
        if list_refs:
            for ref, first, langs in refs:
                if upcoming and first.upcoming_until <= now:
                    continue
                start = first.start.astimezone(zone)
                when = f"{start:%Y-%m-%d}" if first.date_only else f"{start:%Y-%m-%d %H:%M %Z}"
                click.echo(f"event: {ref}: {when} ({', '.join(langs)})")
        click.echo(f"{plural(len(loaded.events), 'event file')} "
                   f"({plural(len(loaded.refs()), 'event')}), "
                   f"{plural(len(drafts), 'draft')}, {plural(len(errors), 'error')}, "
                   f"{plural(len(warnings), 'warning')}")
    if errors:
        sys.exit(2)
    if warnings and strict:
        sys.exit(1)
