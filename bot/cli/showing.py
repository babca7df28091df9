"""How `herald preview` shows its posts: as text or as one JSON document, one post at a time.

`item_lines` is also how `herald announce --dry-run` shows a post it would send. Every time is
in the site's zone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from json.encoder import encode_basestring as _json_text

import click

from ..localize import plural

PREVIEW_SCHEMA = "herald.preview/1"
"""The name and version of `herald preview --json`'s shape (docs/json/preview.schema.json)."""

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


def stream_json(items, written, shown: Tally, progress, *, config, loaded, now, catch_up,
                 ledger, event=None) -> None:
    """Write preview's JSON document as the posts come (docs/json/preview.schema.json), in
    writes of about `_FLUSH_AT` characters: only those posts' text is held at a time."""
    errors = sum(1 for p in loaded.problems if p.severity == "error")
    head = {"schema": PREVIEW_SCHEMA, "now": now.isoformat(), "site": str(config.site.root),
            "timezone": str(config.site.timezone), "ledger": str(ledger), "catch_up": catch_up,
            "events": len(loaded.refs()),
            "problems": {"errors": errors, "warnings": len(loaded.problems) - errors},
            "herald_blocks": controls(loaded, config, now, event)}
    click.echo("{")
    for name, value in head.items():
        click.echo(f"  {json.dumps(name)}: {json.dumps(value, ensure_ascii=False)},")
    click.echo('  "posts": [', nl=False)
    separator = "\n    "
    waiting: list[str] = []             # posts written since the last flush
    size = 0
    for item in items:
        shown.add(item)
        text = separator + item_text(item, written(item), config)
        waiting.append(text)
        size += len(text)
        if size >= _FLUSH_AT:
            click.echo("".join(waiting), nl=False)
            waiting, size = [], 0
        separator = ",\n    "
        if progress.enabled:
            progress.say(f"preview: {plural(shown.posts, 'post')} so far ...")
    click.echo("".join(waiting) + ("\n  ]," if shown.posts else "],"))
    summary = {"posts": shown.posts, "going": shown.going, "not_going": shown.not_going,
               "unfit": shown.unfit, "cost": round(shown.cost, 6)}
    click.echo(f'  "summary": {json.dumps(summary)}')
    click.echo("}")


def indented(value, pad: str = "") -> str:
    """`json.dumps(value, ensure_ascii=False, indent=2)`, each line after the first led by
    `pad`; a text holding a line separator (U+2028) stays inside its string.

    The same text, written by the C encoder: Python's `indent` takes the pure-Python encoder,
    which is several times slower, but a container of plain values (text, numbers, None, true,
    false, empty containers) comes out of the C encoder indented when its separator is a line
    break and the next level's indentation. Only containers holding containers are taken
    apart here.
    """
    if isinstance(value, dict) and value and all(type(key) is str for key in value):
        inner = pad + "  "
        if not any(isinstance(item, _CONTAINERS) and item for item in value.values()):
            return "{\n" + inner + _flat(inner)(value)[1:-1] + "\n" + pad + "}"
        parts, plain = [], {}
        for key, item in value.items():
            if isinstance(item, _CONTAINERS) and item:
                if plain:
                    parts.append(_flat(inner)(plain)[1:-1])
                    plain = {}
                parts.append(_json_text(key) + ": " + indented(item, inner))
            else:
                plain[key] = item
        if plain:
            parts.append(_flat(inner)(plain)[1:-1])
        return "{\n" + inner + (",\n" + inner).join(parts) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)) and value:
        inner = pad + "  "
        if not any(isinstance(item, _CONTAINERS) and item for item in value):
            return "[\n" + inner + _flat(inner)(value)[1:-1] + "\n" + pad + "]"
        return ("[\n" + inner + (",\n" + inner).join(indented(item, inner) for item in value)
                + "\n" + pad + "]")
    if not isinstance(value, (dict, list, tuple)):
        return _flat("")(value)             # a plain value: no separator is ever written
    lines = json.dumps(value, ensure_ascii=False, indent=2).split("\n")
    return "\n".join(lines[:1] + [pad + line for line in lines[1:]])


_CONTAINERS = (dict, list, tuple)
_FLAT: dict[str, Callable[[object], str]] = {}


def _flat(inner: str) -> Callable[[object], str]:
    """The C encoder writing one container of plain values at the indentation `inner`."""
    encode = _FLAT.get(inner)
    if encode is None:
        encode = _FLAT[inner] = json.JSONEncoder(
            ensure_ascii=False, separators=(",\n" + inner, ": ")).encode
    return encode


_FLUSH_AT = 1 << 16
"""Characters of posts `stream_json` gathers before writing them out."""
_NESTED = ("image", "media", "link_card", "written", "warnings", "change")
"""The keys of `item_json` that may hold a container."""


def item_text(item, written, config) -> str:
    """One post of `herald preview --json` as it is written: `item_json`, indented.

    A post as most are (composed, nothing prepared or written, no warning, not a correction)
    is written straight from the item, the same text without the dict; the tests compare
    the two on real and synthetic sites.
    """
    post = item.post
    if (post is None or item.attachments is not None or written or post.warnings
            or getattr(item, "change", None) is not None):
        return _item_text(item_json(item, written, config))
    zone, key, account, image, text = config.site.timezone, item.key, item.account, \
        post.image, _json_text
    error = post.error or (item.reason if item.state == "unfit" else None)
    image_text = "null" if image is None else (
        f'{{\n        "path": {text(str(image.path))},\n        "alt": {text(image.alt)}\n      }}')
    return (f'{{\n      "ref": {text(key.ref)},\n      "stage": {text(key.stage)},\n'
            f'      "account": {text(account.name)},\n'
            f'      "platform": {text(account.platform)},\n'
            f'      "lang": {text(key.lang)},\n      "state": {text(item.state)},\n'
            f'      "goes": {_scalar(item.goes)},\n'
            f'      "at": {_scalar(_iso(item.at, zone) if item.at else None)},\n'
            f'      "due": {text(_iso(item.due, zone))},\n'
            f'      "reason": {_scalar(item.reason)},\n'
            f'      "text_lang": {text(post.lang)},\n      "text": {text(post.text)},\n'
            f'      "length": {_scalar(post.length)},\n      "limit": {_scalar(post.limit)},\n'
            f'      "bytes": {_scalar(post.byte_length)},\n      "fits": {_scalar(post.fits)},\n'
            f'      "link": {text(post.link)},\n      "image": {image_text},\n'
            f'      "media": null,\n      "link_card": null,\n      "written": [],\n'
            f'      "cost": {_scalar(item.cost)},\n      "warnings": [],\n'
            f'      "error": {_scalar(error)},\n      "kind": "post",\n'
            f'      "change": null\n    }}')


_SCALARS: dict[type, Callable[[object], str]] = {
    str: _json_text, type(None): lambda value: "null", bool: lambda value: "true" if value
    else "false", int: int.__repr__,
    float: lambda value: float.__repr__(value) if math.isfinite(value) else json.dumps(value)}


def _scalar(value) -> str:
    """A plain value as json.dumps writes it."""
    write = _SCALARS.get(type(value))
    return write(value) if write is not None else json.dumps(value, ensure_ascii=False)


_ISO: dict[tuple, str] = {}


def _iso(at, zone) -> str:
    """`at.astimezone(zone).isoformat()`, once per instant (the posts of one event and stage
    share their due time)."""
    text = _ISO.get((at, zone))
    if text is None:
        if len(_ISO) >= 4096:
            _ISO.clear()
        text = _ISO[at, zone] = at.astimezone(zone).isoformat()
    return text


def _item_text(data: dict) -> str:
    """`indented(data, "    ")` for a dict made by `item_json`, checking only the keys that
    may hold a container."""
    if any(data[key] for key in _NESTED):
        return indented(data, "    ")
    return "{\n      " + _flat("      ")(data)[1:-1] + "\n    }"


def item_json(item, written, config) -> dict:
    """One post of `herald preview --json`, every time ISO 8601 with the site's offset."""
    zone = config.site.timezone
    post, extras = item.post, item.attachments
    data = {
        "ref": item.key.ref, "stage": item.key.stage, "account": item.account.name,
        "platform": item.account.platform, "lang": item.key.lang,
        "state": item.state, "goes": item.goes,
        "at": item.at.astimezone(zone).isoformat() if item.at else None,
        "due": item.due.astimezone(zone).isoformat(),
        "reason": item.reason,
        "text_lang": post.lang if post else None,
        "text": post.text if post else None,
        "length": post.length if post else None,
        "limit": post.limit if post else None,
        "bytes": post.byte_length if post else None,
        "fits": post.fits if post else False,
        "link": post.link if post else None,
        "image": ({"path": str(post.image.path), "alt": post.image.alt}
                  if post is not None and post.image else None),
        "media": None if extras is None else [
            {"width": m.width, "height": m.height, "bytes": len(m.data), "mime": m.mime,
             "alt": m.alt, "drawn_card": extras.drawn, "note": m.note} for m in extras.media],
        "link_card": ({"url": extras.card.url, "title": extras.card.title,
                       "description": extras.card.description,
                       "thumb": bool(extras.card.thumb)}
                      if extras is not None and extras.card else None),
        "written": list(written),
        "cost": item.cost,
        "warnings": list((post.warnings if post else ())
                         + (extras.warnings if extras is not None else ())),
        "error": (post.error if post else None) or (item.reason if item.state == "unfit"
                                                    else None),
        "kind": "post" if getattr(item, "change", None) is None else item.key.stage,
        "change": change_json(item, zone),
    }
    return data


def change_json(item, zone) -> dict | None:
    """What a correction or cancellation answers, for `herald preview --json`."""
    from ..changes import Correction

    pending = getattr(item, "change", None)
    if pending is None:
        return None
    change, ann = pending.change, pending.change.announced
    return {"action": item.action,
            "changed": list(change.changed) if isinstance(change, Correction) else [],
            "why": "" if isinstance(change, Correction) else change.reason,
            "announcement": ann.url,
            "told_start": ann.told.start.astimezone(zone).isoformat(),
            "deletes": pending.posts if item.action == "delete" else None}


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
