"""What X accepts and charges, declared as data for the composer, the images and the costs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...model import Limits

LIMITS = Limits(
    "x", 280, "twitter", url_weight=23,
    image_bytes=5_000_000,                     # X documents 5 MB for images
    image_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
    images_per_post=4, alt_chars=1000, replies=True, edits=False,
    # X's pay-per-use prices in USD (docs.x.com, "X API pay-per-usage pricing"): "Content:
    # Create", "Content: Create (with URL)", "Media Metadata", "Interaction: Delete" and
    # "Posts: Read" per post returned. Estimates: X changes them, and its Developer Console shows
    # what is charged (reads of the app owner's own posts may be charged less).
    cost_per_post=0.015, cost_per_link_post=0.200, cost_per_alt_text=0.005,
    cost_per_delete=0.010, cost_per_read=0.005,
    idempotent=False,
    animation_size=(1280, 1080), animation_frames=350,  # animated GIFs, uploaded as tweet_gif
)


def declared_limits(options: Mapping[str, Any]) -> Limits:
    """The limits of an X account, known without asking X (every account has the same)."""
    return LIMITS
