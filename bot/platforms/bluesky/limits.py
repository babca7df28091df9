"""What a Bluesky PDS accepts, declared as data for the composer and the images."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...model import Limits

LIMITS = Limits("bluesky", 300, "graphemes", max_bytes=3000, image_bytes=2_000_000,
                image_formats=frozenset({"JPEG", "PNG"}), images_per_post=4, alt_chars=2000,
                replies=True, edits=False, link_cards=True,
                card_thumb_bytes=1_000_000)  # app.bsky.embed.external#thumb maxSize

SERVICE = "https://bsky.social"
THUMB_BYTES = 1_000_000          # app.bsky.embed.external: a card's thumb is at most 1 MB


def declared_limits(options: Mapping[str, Any]) -> Limits:
    """The limits of a Bluesky account, known without asking its PDS."""
    return LIMITS
