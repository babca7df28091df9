"""The pure part of posting to Bluesky: facets, record keys, post records and embeds.

No SDK and no network: these build the plain data the PDS receives.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from ...model import LinkCard, Media

COLLECTION = "app.bsky.feed.post"
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"

AT_URI = re.compile(r"at://(?P<repo>[^/?#]+)/(?P<collection>[^/?#]+)/(?P<rkey>[^/?#]+)")
_LINK = re.compile(r"(?:^|(?<=[\s(]))https?://[^\s]+")
_TAG = re.compile(r"(?:^|(?<=\s))[#\uff03](?!\ufe0f)([^\s\u00ad\u2060\u200a-\u200d\u20e2]+)")
_TRAILING = ".,;:!?\"'"


def facets(text: str) -> list[dict]:
    """Return link and hashtag facets of `text`, indexed by UTF-8 byte offsets, in text order.

    Links are http(s) URLs that start a word (or follow "("); trailing punctuation and an
    unbalanced ")" stay outside. A hashtag starts a word, is at most 64 characters, is not all
    digits and keeps no trailing punctuation; its facet covers the "#", its tag does not.
    """
    found: list[tuple[int, int, dict]] = []
    for match in _LINK.finditer(text):
        start, uri = match.start(), match.group()
        while uri and (uri[-1] in _TRAILING or uri[-1] == ")" and "(" not in uri):
            uri = uri[:-1]
        if len(uri) > len("https://"):
            found.append((start, start + len(uri),
                          {"$type": "app.bsky.richtext.facet#link", "uri": uri}))
    for match in _TAG.finditer(text):
        tag = match.group(1)
        while tag and unicodedata.category(tag[-1]).startswith("P"):
            tag = tag[:-1]
        if not tag or len(tag) > 64 or all(c.isdigit() or unicodedata.category(c).startswith("P")
                                           for c in tag):
            continue
        start = match.start()
        found.append((start, start + 1 + len(tag), {"$type": "app.bsky.richtext.facet#tag",
                                                      "tag": tag}))
    found.sort(key=lambda item: item[0])
    return [{"index": {"byteStart": _bytes(text, start), "byteEnd": _bytes(text, end)},
             "features": [feature]} for start, end, feature in found]


def _bytes(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def record_key(idempotency_key: str, reserved_at: datetime | None = None) -> str:
    """Return the record key (a TID) of a post: the same key and time always give the same rkey.

    A TID is 53 bits of microseconds since 1970 and a 10-bit clock id, and other software reads
    its time. With `reserved_at` the time is the reservation's, to the millisecond; the
    microseconds within it and the clock id are taken from sha256(idempotency_key), so posts
    reserved in the same millisecond still get different keys (one pair in a million collides).
    Without it (a post reserved before Herald kept that time) the key is the one earlier Herald
    versions used: the first 8 bytes of the hash, top bit cleared, a time that means nothing.
    """
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    if reserved_at is None:
        value = int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)
    else:
        millis = int(reserved_at.timestamp() * 1000)
        spread = int.from_bytes(digest[:4], "big")
        micros = millis * 1000 + spread % 1000
        value = (micros << 10) | (spread >> 22) % 1024
    return "".join(TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def tid_time(rkey: str) -> datetime:
    """Return the time a TID record key holds."""
    value = 0
    for char in rkey:
        value = value * 32 + TID_ALPHABET.index(char)
    return datetime.fromtimestamp((value >> 10) / 1_000_000, timezone.utc)


def post_url(handle: str, rkey: str) -> str:
    """Return the public bsky.app address of a post."""
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


def build_record(text: str, lang: str, *, created_at: datetime, embed: dict | None = None,
                 reply: dict | None = None) -> dict:
    """Return the app.bsky.feed.post record for a post (blobs and reply refs already resolved)."""
    record: dict[str, Any] = {
        "$type": COLLECTION,
        "text": text,
        "createdAt": created_at.astimezone(timezone.utc).isoformat(timespec="milliseconds")
                               .replace("+00:00", "Z"),
        "langs": [lang],
    }
    found = facets(text)
    if found:
        record["facets"] = found
    if embed is not None:
        record["embed"] = embed
    if reply is not None:
        record["reply"] = reply
    return record


def images_embed(media: Iterable[Media], blobs: Iterable[dict]) -> dict:
    """Return an app.bsky.embed.images embed for uploaded images, with alt text and aspect ratio."""
    images = []
    for item, blob in zip(media, blobs):
        image: dict[str, Any] = {"alt": item.alt, "image": blob}
        if item.width > 0 and item.height > 0:
            image["aspectRatio"] = {"width": item.width, "height": item.height}
        images.append(image)
    return {"$type": "app.bsky.embed.images", "images": images}


def card_embed(card: LinkCard, thumb: dict | None = None) -> dict:
    """Return an app.bsky.embed.external link card built from the event itself."""
    external: dict[str, Any] = {"uri": card.url, "title": card.title,
                                "description": card.description}
    if thumb is not None:
        external["thumb"] = thumb
    return {"$type": "app.bsky.embed.external", "external": external}
