"""Prepare an event image for one platform: its formats, bytes and pixels, with no metadata.

The caller builds `Limits` with the byte limit that applies to the account: the Bluesky adapter
puts `ImageConfig.bluesky_bytes` into `Limits.image_bytes` (older servers take 1,000,000 bytes).
Nothing here looks at a platform's name; only the numbers and format names in `Limits` count.

The package is split by responsibility: `source` reads files safely, `strip` removes metadata
by a file's structure, `prepare` fits an image to limits, `shape` says which images belong on
the drawn card, and `cache` keeps results on disk. Every problem with a file is an
`ImageError` naming it; the caller decides what to post instead.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ImageConfig
from ..model import Limits, Media
from .cache import RECIPE, SUFFIX, ImageCache, default_cache_dir
from .prepare import QUALITY_MAX, QUALITY_MIN, Prepared, few_colours, prepare_bytes
from .shape import card_reason
from .source import MAX_SOURCE_BYTES, MAX_SOURCE_PIXELS, open_image, read_source

MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}

__all__ = [
    "MAX_SOURCE_BYTES", "MAX_SOURCE_PIXELS", "MIME", "QUALITY_MAX", "QUALITY_MIN", "RECIPE",
    "SUFFIX", "ImageCache", "Prepared", "card_reason", "cut_alt", "default_cache_dir",
    "few_colours", "media", "open_image", "prepare", "prepare_bytes", "prepare_data",
    "read_source",
]


def prepare(source: Path, limits: Limits, config: ImageConfig, *, alt: str,
            cache: ImageCache | None = None) -> Media:
    """Return the image at `source` ready for a platform with `limits`, from `cache` if there.

    Raises ImageError when the file is missing, not a regular file, unreadable, not an image,
    truncated, too large to decode safely, or cannot be made to fit.
    """
    source = Path(source)
    return prepare_data(read_source(source), str(source), source.stem, limits, config, alt=alt,
                        cache=cache)


def prepare_data(data: bytes, name: str, stem: str, limits: Limits, config: ImageConfig, *,
                 alt: str, cache: ImageCache | None = None) -> Media:
    """Like `prepare`, for bytes already read; `name` is named in errors, `stem` names the file."""
    key = cache.key(data, limits, config) if cache is not None else None
    prepared = cache.get(key) if cache is not None else None
    if prepared is None:
        prepared = prepare_bytes(data, name, limits, config)
        if cache is not None:
            cache.put(key, prepared)
    return media(prepared, alt=cut_alt(alt, limits.alt_chars), stem=stem)


def media(prepared: Prepared, *, alt: str, stem: str) -> Media:
    """Turn prepared bytes into the Media an adapter uploads."""
    return Media(data=prepared.data, mime=MIME[prepared.format], width=prepared.width,
                 height=prepared.height, alt=alt,
                 filename=(stem or "image") + SUFFIX[prepared.format], note=prepared.note)


def cut_alt(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters at a word boundary, ending with … if cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    head = text[:limit - 1]
    if not text[limit - 1].isspace():
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if space > 0:
            head = head[:space]
    return head.rstrip() + "…"
