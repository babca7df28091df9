"""`herald validate`: what is wrong with the site's events, grouped by event (see `validation`).

Answers that need work (whether every post can fit, whether an image can be read) are kept for
files that have not changed (`bot.content.verdicts`), so a second run over a large site reads
the files' times and the parse cache and composes nothing that did not change.
"""

from __future__ import annotations

import gc
import sys

import click

from .common import config_options, load, main, parse_now


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
    from ..content import ParseCache, load_site, scan_events
    from ..content.assumed import control_problems, date_only_problems
    from ..content.checks import fit_problems, ref_problems
    from ..content.verdicts import Verdicts, context
    from ..localize import plural
    from .progress import Progress
    from .validation import VALIDATE_SCHEMA, events_of, lines, upcoming_problems

    config = load(config_path, site)
    now = parse_now(now_text, config)
    zone = config.site.timezone
    progress = Progress()
    progress.say(f"reading the events in {config.site.root} ...", force=True)
    cache = ParseCache.for_site(config.site, config.images.cache_dir)
    scan = scan_events(config.site)
    loaded = load_site(config.site, cache=cache, scan=scan)
    gc.freeze()     # the loaded site lives to the end, holds no cycles: collections skip it
    cache.save()
    limits = {a.name: app.declared_limits(a, config) for a in config.accounts}
    verdicts = Verdicts.beside(cache.path, context(config, list(limits.items())))
    verdicts.know_files(scan.files)
    progress.say(f"checking the images of {plural(len(loaded.events), 'event file')} ...",
                 force=True)
    files = loaded.events + loaded.drafts
    problems = (list(loaded.problems) + image_problems(loaded, config, verdicts)
                + ref_problems(files) + date_only_problems(files, config)
                + control_problems(files, config)
                + fit_problems([e for e in files if e.upcoming_until > now], config,
                               lambda a: limits[a.name], verdicts=verdicts))
    verdicts.save()
    if (click.get_current_context().obj or {}).get("verbose"):
        for note in cache.notes + verdicts.notes:
            click.echo(f"note: {note}", err=True)
    problems.sort(key=lambda p: p.source)         # stable: a file's own problems keep their order
    progress.clear()
    if upcoming:
        problems = upcoming_problems(problems, loaded, now)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    refs = [(ref, next(iter(loaded.versions(ref).values())), sorted(loaded.versions(ref)))
            for ref in loaded.refs()] if as_json or list_refs else []
    drafts = [d for d in loaded.drafts if not upcoming or d.upcoming_until > now]
    if as_json:
        import json

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


def image_problems(loaded, config, verdicts=None) -> list:
    """Warn about event images Herald cannot read (decoding only their headers).

    With `verdicts`, an image file unchanged since an earlier check gets that check's answer
    without being read (nor Pillow imported).
    """
    from ..model import Problem

    found, checked = [], {}
    for event in loaded.events + loaded.drafts:
        if event.image is None:
            continue
        if event.image not in checked:
            checked[event.image] = _image_problem(event.image, verdicts)
        if checked[event.image]:
            fallback = "a drawn card goes instead" if config.images.cards else "posting without it"
            found.append(Problem(event.source, "image", f"{checked[event.image]}; {fallback}"))
    return found


def _image_problem(path, verdicts) -> str:
    """What is wrong with the image at `path` ("" when nothing)."""
    from ..content.verdicts import image_key

    key = image_key(path) if verdicts is not None else None
    if key is not None and (known := verdicts.get("image", key,
                                                   lambda v: isinstance(v, str))) is not None:
        return known
    from ..errors import ImageError
    from ..images import open_image, read_source

    try:
        open_image(read_source(path), path.name).close()
        said = ""
    except ImageError as exc:
        said = str(exc)
    if key is not None:
        verdicts.put("image", key, said)
    return said
