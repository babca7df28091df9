"""`herald preview`: what Herald would post, when, and why not."""

from __future__ import annotations

import sys
from pathlib import Path

import click

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
    from ..localize import plural
    from ..service import Selection, forecast
    from ..status import reading
    from ..survey import survey_ledger
    from .progress import Progress
    from .showing import Tally, print_preview
    from .showing_json import stream_json

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
            from .validate import image_problems

            progress.say("writing the page ...", force=True)
            index = write_page(Path(html_dir), build_page(
                entries, loaded=loaded, config=config, now=now,
                problems=image_problems(loaded, config)))
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
