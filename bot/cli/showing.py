"""How `herald preview` shows its posts as text, one post at a time (the JSON document is
`showing_json`).

`item_lines` is also how `herald announce --dry-run` shows a post it would send. Every time is
in the site's zone.
"""

from __future__ import annotations

import click

from ..localize import plural

MARKS = {"skipped": "WILL NOT GO", "stopped": "ACCOUNT STOPPED", "waiting": "WAITING",
         "unfit": "WILL NOT GO"}


class Tally:
    """What preview showed, counted as it streams by."""

    def __init__(self):
        self.posts = self.going = self.unfit = 0
        self.cost = 0.0
        self.skipped: dict[str, int] = {}

    def add(self, item) -> None:
        self.posts += 1
        if item.post is not None and not item.post.fits or item.state == "unfit":
            self.unfit += 1
        if item.goes:
            self.going += 1
            self.cost += item.cost
        else:
            self.skipped[item.state] = self.skipped.get(item.state, 0) + 1

    @property
    def not_going(self) -> int:
        return self.posts - self.going

    def summary(self, *, cost: bool = True) -> str:
        """"12 planned posts, 6 that will not go; estimated cost about $1.230"."""
        said = plural(self.going, "planned post")
        if self.not_going:
            said += f", {self.not_going} that will not go"
        if self.cost and cost:
            said += f"; estimated cost about ${self.cost:.3f}"
        return said


def print_preview(items, written, shown: Tally, progress, *, config, loaded, now,
                  event=None) -> None:
    errors = sum(1 for p in loaded.problems if p.severity == "error")
    warnings = len(loaded.problems) - errors
    progress.output()
    click.echo(f"Herald preview at {now:%Y-%m-%d %H:%M %Z} · {config.site.root} · "
               f"{plural(len(loaded.refs()), 'event')}")
    if loaded.problems:
        click.echo(f"({plural(errors, 'error')}, {plural(warnings, 'warning')} in the content: "
                   f"see `herald validate`)")
    for line in control_lines(loaded, config, now, event):
        click.echo(line)
    dropped: list = []      # consecutive posts dropped at one time for one reason

    def show(lines: list[str]) -> None:
        progress.clear()
        click.echo("")
        click.echo(click.style(lines[0], bold=True))
        for line in lines[1:]:
            click.echo(line)

    for item in items:
        shown.add(item)
        if dropped and (item.state != "skipped" or (item.due, item.reason) !=
                        (dropped[0].due, dropped[0].reason)):
            show(_dropped_lines(dropped, config))
            dropped = []
        if item.state == "skipped":
            dropped.append(item)
        else:
            show(item_lines(item, config, now, written(item)))
        progress.say(f"preview: {plural(shown.posts, 'post')} so far ...")
    if dropped:
        show(_dropped_lines(dropped, config))
    progress.clear()
    click.echo("")
    summary = shown.summary()
    last = max(loaded.events, key=lambda e: e.upcoming_until, default=None)
    if not shown.posts and last is not None and last.upcoming_until <= now:
        summary += (f" (every event has started; the last one on {last.start:%Y-%m-%d}: "
                    f"use --now to look from an earlier time)")
    click.echo(summary)


def controls(loaded, config, now, event=None) -> list[dict]:
    """What the `herald:` block of each upcoming event asks (one dict per event that has one).

    `goes_on` are the accounts the event goes on; `own_texts` name each account and language
    with the stages whose text the block writes itself.
    """
    from ..composer import own_hashtags, own_text
    from ..planner import allows, control

    found = []
    for ref in loaded.refs():
        versions = loaded.versions(ref)
        first = next(iter(versions.values()))
        blocks = [v for v in versions.values() if v.herald is not None]
        if not blocks or first.upcoming_until <= now or event not in (None, ref):
            continue
        rules = control(versions)
        accounts = [] if rules.skip else [a for a in config.accounts if allows(rules, a)]
        texts = []
        for account in accounts:
            for v in blocks:
                stages = [stage.name for stage in config.stages
                          if own_text(v, stage, account.name, account.platform)]
                if stages:
                    texts.append({"account": account.name, "lang": v.lang, "stages": stages})
        found.append({
            "ref": ref, "files": [v.source for v in blocks], "skip": rules.skip,
            "platforms": None if rules.platforms is None else list(rules.platforms),
            "accounts": None if rules.accounts is None else list(rules.accounts),
            "goes_on": [a.name for a in accounts],
            "hashtags": list(dict.fromkeys(tag for v in versions.values()
                                           for tag in own_hashtags(v, versions))),
            "own_texts": texts})
    return found


def control_lines(loaded, config, now, event=None) -> list[str]:
    """One line per upcoming event whose `herald:` block changes what Herald does with it."""
    from ..content import printable

    labels = {a.name: a.label for a in config.accounts}
    lines = []
    for found in controls(loaded, config, now, event):
        ref, files = found["ref"], ", ".join(found["files"])
        if found["skip"]:
            lines.append(f"herald: {ref} is turned off in its front matter ({files}): "
                         f"nothing is posted about it")
            continue
        if len(found["goes_on"]) < len(config.accounts):
            names = ", ".join(labels[name] for name in found["goes_on"]) or "no account"
            lines.append(f"herald: {ref} goes only on {names} ({files})")
        if found["hashtags"]:
            tags = " ".join(f"#{printable(tag.lstrip('#'))}" for tag in found["hashtags"])
            lines.append(f"herald: {ref} adds its own hashtags {tags} ({files})")
        texts = {f"{labels[t['account']]} ({t['lang']})" for t in found["own_texts"]}
        if texts:
            lines.append(f"herald: {ref} has its own text on {', '.join(sorted(texts))} "
                         f"({files})")
    return lines


def _dropped_lines(items: list, config) -> list[str]:
    """Posts dropped at one time for one reason: one header, one line per event and stage."""
    if len(items) == 1:
        return item_lines(items[0], config, items[0].due)
    first = items[0]
    lines = [f"{first.due.astimezone(config.site.timezone):%Y-%m-%d %H:%M %Z} · "
             f"{plural(len(items), 'post')}  WILL NOT GO",
             f"  will not go: {first.reason}"]
    units: dict[tuple[str, str], dict[str, list[str]]] = {}
    labels = {}
    for item in items:
        unit = units.setdefault((item.key.ref, item.key.stage), {})
        unit.setdefault(item.account.name, []).append(item.key.lang)
        labels[item.account.name] = item.account.label
    for (ref, stage), accounts in units.items():
        where = ", ".join(f"{labels[name]} ({', '.join(langs)})"
                          for name, langs in accounts.items())
        lines.append(f"  {ref} · {stage}: {where}")
    return lines


def item_lines(item, config, now, written=()) -> list[str]:
    """The lines that show one post: a header, why it goes later or not at all, the text, the
    image and its alt text, the link card, the cost, warnings and errors.

    `herald preview` and `herald announce --dry-run` both show a post this way; every time is
    in the site's zone.
    """
    zone = config.site.timezone
    post = item.post
    stamp = f"{(item.at or item.due).astimezone(zone):%Y-%m-%d %H:%M %Z}"
    if item.at is not None and item.at <= now:
        stamp += " (now)"
    header = (f"{stamp} · {item.account.label} · {item.key.lang} · {item.key.stage} · "
              f"{item.key.ref}")
    if post is not None:
        header += f" · {post.length}/{post.limit}"
        if not post.fits:
            header += "  TOO LONG"
    if item.state in MARKS and not (item.state == "unfit" and post is not None and not post.fits):
        header += f"  {MARKS[item.state]}"
    lines = [header]
    change = getattr(item, "change", None)
    if change is not None:
        lines.append(f"  {change_note(item, now)}")
    if item.state == "later":
        lines.append(f"  later than due ({item.due.astimezone(zone):%Y-%m-%d %H:%M %Z}): "
                     f"{item.reason}")
    elif not item.goes and item.state != "unfit":
        lines.append(f"  will not go: {item.reason}")
    elif item.reason and item.state != "unfit":
        lines.append(f"  note: {item.reason}")
    if post is not None and item.state != "skipped":     # a dropped post: its reason is enough
        lines.extend(f"    {line}" if line else "" for line in post.text.splitlines())
    extras = item.attachments
    if extras is not None:
        for media in extras.media:
            lines.append(f"  image: {_image_line(post, extras, media, config)}")
            lines.append(f"  alt: {media.alt}")
        if extras.card is not None:
            thumb = (f"; thumbnail {_image_line(post, extras, extras.card.thumb, config)}"
                     if extras.card.thumb else "")
            lines.append(f"  link card: {extras.card.title} · {extras.card.url}{thumb}")
        if not extras.media and extras.card is None:
            lines.append("  image: none")
    lines.extend(f"  written: {path}" for path in written)
    if item.cost and item.goes:
        lines.append(f"  cost: about ${item.cost:.3f}")
    if post is not None and item.state != "skipped":
        warnings = post.warnings + (extras.warnings if extras is not None else ())
        lines.extend(f"  warning: {warning}" for warning in warnings)
        if post.error:
            lines.append(f"  error: {post.error}")
    elif item.state == "unfit":
        lines.append(f"  error: {item.reason}")
    return lines


def change_note(item, now) -> str:
    """What a correction or cancellation answers, and how it goes out, in one line."""
    from ..changes import Correction

    pending = item.change
    change, ann = pending.change, pending.change.announced
    where = ann.url or str(ann.key)
    if isinstance(change, Correction):
        what = f"{' and '.join(change.changed)} changed since it was announced"
    else:
        what = f"{change.reason} since it was announced"
        if pending.due > now:
            what += (f" (taken as cancelled if still so at "
                     f"{pending.due.astimezone(now.tzinfo):%Y-%m-%d %H:%M %Z})")
    how = {"edit": f"edits the announcement {where}",
           "reply": f"replies to the announcement {where}",
           "delete": f"deletes {plural(pending.posts, 'post')} about it "
                     f"(on_cancel = \"delete\"), the announcement {where} among them",
           }.get(item.action, "")
    return f"{what}: {how}" if how else what


def _media_line(item) -> str:
    kind = item.mime.split("/")[-1].upper()
    return f"{item.width}x{item.height} {kind}, {len(item.data):,} bytes"


def _image_line(post, extras, item, config) -> str:
    """Where the image comes from, what goes out, and what was done to it (its note)."""
    if extras.drawn or not post.image:
        return f"{item.note or 'drawn card'} → {_media_line(item)}"
    note = f"; {item.note}" if item.note else ""
    from ..app import site_path

    return f"{site_path(post.image.path, config)} → {_media_line(item)}{note}"
