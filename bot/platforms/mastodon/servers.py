"""Which server speaks Mastodon's API, and what it accepts: Mastodon's limits as data, the
instance answer read into Limits, and the account option `software` for when there is no answer.

Other servers speak Mastodon's client API but count and deduplicate differently; the instance
answer (`version`, `source_url`) says which one Herald talks to:

    server                      counts                              Idempotency-Key
    Mastodon (and its forks)    graphemes, URLs as 23 (`mastodon`)  honoured
    GoToSocial                  code points, URLs in full           ignored
    any other                   the stricter of the two             not relied on

Preview asks no server, so it counts the way the account's `software` option says (Mastodon's
by default); posting counts the way the instance answer says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ...model import Limits

LIMITS = Limits("mastodon", 500, "mastodon", url_weight=23, image_bytes=16 * 1024 * 1024,
                image_pixels=33_177_600, image_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
                images_per_post=4, alt_chars=1500, replies=True, edits=True)

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}

# How each kind of server counts, and whether it honours Idempotency-Key (see the module doc).
SERVER_RULES: dict[str, tuple[str, bool]] = {
    "mastodon": ("mastodon", True),
    "gotosocial": ("codepoints", False),
    "other": ("strictest", False),
}
SERVER_NAMES = {"mastodon": "Mastodon", "gotosocial": "GoToSocial",
                "other": "another Mastodon-API server"}


def server_kind(info: Mapping[str, Any]) -> str:
    """Say which server an `/api/v2/instance` answer comes from: mastodon, gotosocial or other.

    Mastodon and its forks (glitch-soc, Hometown) give a plain version such as "4.3.0" or
    "4.3.0+glitch"; GoToSocial names itself in its version or source URL; others (Pleroma,
    Akkoma, Pixelfed, Friendica, Misskey...) say "(compatible; ...)" in their version.
    """
    version = str(info.get("version") or "")
    source = str(info.get("source_url") or "").lower()
    if "gotosocial" in version.lower() or "gotosocial" in source:
        return "gotosocial"
    if re.fullmatch(r"\d+\.\d+\.\d+[^\s()]*", version):
        return "mastodon"
    return "other"


def declared_software(options: Mapping[str, Any]) -> str:
    """The server kind the account's `software` option names (mastodon when it is not set)."""
    return str(options.get("software") or "mastodon")


def declared_limits(options: Mapping[str, Any]) -> Limits:
    """The limits of a Mastodon-API account without asking its server: Mastodon's defaults,
    counted the way the server the `software` option names counts."""
    counting, idempotent = SERVER_RULES[declared_software(options)]
    return replace(LIMITS, counting=counting, idempotent=idempotent)


def limits_from_instance(info: Mapping[str, Any]) -> Limits:
    """Read a `/api/v2/instance` answer into Limits; absent values keep Mastodon's defaults."""
    counting, idempotent = SERVER_RULES[server_kind(info)]
    config = info.get("configuration") or {}
    statuses = config.get("statuses") or {}
    media = config.get("media_attachments") or {}
    formats = LIMITS.image_formats
    mime_types = media.get("supported_mime_types")
    if isinstance(mime_types, list):
        formats = frozenset(FORMATS[m] for m in mime_types if m in FORMATS)
    return replace(
        LIMITS,
        counting=counting,
        idempotent=idempotent,
        max_chars=_positive(statuses.get("max_characters"), LIMITS.max_chars),
        url_weight=_positive(statuses.get("characters_reserved_per_url"), LIMITS.url_weight),
        images_per_post=_positive(statuses.get("max_media_attachments"), LIMITS.images_per_post),
        image_bytes=_positive(media.get("image_size_limit"), LIMITS.image_bytes),
        image_pixels=_positive(media.get("image_matrix_limit"), LIMITS.image_pixels),
        alt_chars=_positive(media.get("description_limit"), LIMITS.alt_chars),
        image_formats=formats,
    )


def _positive(value: Any, default: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else default
