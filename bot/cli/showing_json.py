"""How `herald preview --json` writes its document: one post at a time, as it comes.

The document's shape is docs/json/preview.schema.json. Each post is written as
`json.dumps(..., ensure_ascii=False, indent=2)` would write it, but its containers go through
the standard library's C encoder and the posts are written out in chunks, so that a large
site's preview holds only a few posts' text at a time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from json.encoder import encode_basestring as _json_text

import click

from ..localize import plural
from .showing import Tally, controls

PREVIEW_SCHEMA = "herald.preview/1"
"""The name and version of `herald preview --json`'s shape (docs/json/preview.schema.json)."""


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
