"""Which images would look tiny or cropped as a post's own image, and so go on the drawn card."""

from __future__ import annotations

MIN_LONG_EDGE = 600
MIN_SHORT_EDGE = 300
"""Below 600 pixels on its longer edge or 300 on its shorter one, an image is stretched to the
width of a timeline (about 600 CSS pixels, twice that on most phones) and looks blurred and
small; the Open Graph guidance of 600x315 for a large preview is the same line."""

WIDEST = 2.0
TALLEST = 0.5
"""Wider than 2:1 or taller than 1:2, an image is cropped to fit the box a platform shows: X
and most Mastodon apps show a single image in a 16:9 box and crop what overflows, Bluesky
crops anything taller than 1:2 in feeds, and a wide banner shows as a thin strip. Between the
two, every platform shows the whole image."""


def card_reason(width: int, height: int) -> str | None:
    """Say why an image of this size belongs on the drawn card, or None when it can go as it is."""
    if max(width, height) < MIN_LONG_EDGE or min(width, height) < MIN_SHORT_EDGE:
        return (f"{width}x{height} is under {MIN_LONG_EDGE}x{MIN_SHORT_EDGE} pixels; "
                f"platforms would show it small and blurred")
    ratio = width / height
    if ratio > WIDEST or ratio < TALLEST:
        return (f"{width}x{height} is {_ratio(ratio)}, outside the 1:2 to 2:1 that platforms "
                f"show uncropped")
    return None


def _ratio(ratio: float) -> str:
    return f"{ratio:.2f}:1" if ratio >= 1 else f"1:{1 / ratio:.2f}"
