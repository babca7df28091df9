"""Time image preparation on a synthesized 24-megapixel photo (not part of the test suite).

    python bench/bench_images.py [--runs N] [--keep FILE]

Prints the median of N runs for: the baseline (decode at full size without `draft`, scale to
2048 px, one JPEG encode), the same with `draft`, `prepare()` for each platform's limits, and
`prepare()` answered from the cache; with each row's ratio to the baseline.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import ImageConfig  # noqa: E402
from bot.images import ImageCache, prepare  # noqa: E402
from bot.model import Limits  # noqa: E402

WIDTH, HEIGHT = 6000, 4000
TARGET = (2048, 1365)

PLATFORMS = {
    "Bluesky 1 MB": Limits("bluesky", 300, "graphemes", max_bytes=3000, image_bytes=1_000_000,
                           image_formats=frozenset({"JPEG", "PNG"}), alt_chars=2000),
    "Bluesky 2 MB": Limits("bluesky", 300, "graphemes", max_bytes=3000, image_bytes=2_000_000,
                           image_formats=frozenset({"JPEG", "PNG"}), alt_chars=2000),
    "X 5 MB": Limits("x", 280, "twitter", url_weight=23, image_bytes=5 * 1024 * 1024,
                     image_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}), alt_chars=1000),
    "Mastodon 16 MB": Limits("mastodon", 500, "mastodon", url_weight=23,
                             image_bytes=16 * 1024 * 1024, image_pixels=33_177_600,
                             image_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
                             alt_chars=1500),
    "a 300 kB limit (quality search)": Limits("tight", 300, "graphemes", image_bytes=300_000,
                                              image_formats=frozenset({"JPEG", "PNG"})),
}


def synthesize_photo(path: Path) -> None:
    """Write a photo-like 6000x4000 JPEG of about 9 MB: gradients, soft blotches and grain."""
    size = (WIDTH, HEIGHT)
    red = Image.linear_gradient("L").rotate(30).resize(size, Image.Resampling.BILINEAR)
    blotches = Image.effect_noise((WIDTH // 16, HEIGHT // 16), 60)
    green = blotches.resize(size, Image.Resampling.BICUBIC)
    blue = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    grain = Image.effect_noise(size, 30)
    channels = [Image.blend(channel, grain, 0.25) for channel in (red, green, blue)]
    Image.merge("RGB", channels).save(path, "JPEG", quality=90)


def baseline(path: Path, *, draft: bool) -> bytes:
    """Decode (at full size unless `draft`), scale to 2048 px and encode once at quality 92."""
    with Image.open(path) as im:
        if draft:
            im.draft("RGB", TARGET)
        im.load()
        small = im.resize(TARGET, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def median_ms(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the synthesized photo here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        photo = args.keep or Path(tmp) / "photo.jpg"
        synthesize_photo(photo)
        config = ImageConfig()
        rows = [("baseline: decode without draft, scale, encode", "",
                 median_ms(lambda: baseline(photo, draft=False), args.runs))]
        rows.append(("decode with draft, scale, encode", "",
                     median_ms(lambda: baseline(photo, draft=True), args.runs)))
        for name, limits in PLATFORMS.items():
            media = prepare(photo, limits, config, alt="")
            detail = f"{len(media.data):,} B {media.width}x{media.height}"
            rows.append((f"prepare() for {name}", detail,
                         median_ms(lambda limits=limits: prepare(photo, limits, config, alt=""),
                                   args.runs)))
        cache = ImageCache(Path(tmp) / "cache")
        bluesky = PLATFORMS["Bluesky 1 MB"]
        prepare(photo, bluesky, config, alt="", cache=cache)
        rows.append(("prepare() for Bluesky 1 MB, from the cache", "same bytes",
                     median_ms(lambda: prepare(photo, bluesky, config, alt="", cache=cache),
                               args.runs)))

        base = rows[0][2]
        source = photo.stat().st_size
        print(f"source: synthesized {WIDTH}x{HEIGHT} JPEG, {source:,} bytes; "
              f"median of {args.runs} runs\n")
        print(f"| {'case':<46} | {'output':<26} | {'median ms':>9} | {'vs baseline':>11} |")
        print(f"|{'-' * 48}|{'-' * 28}|{'-' * 11}|{'-' * 13}|")
        for name, detail, ms in rows:
            print(f"| {name:<46} | {detail:<26} | {ms:>9.0f} | {ms / base:>10.2f}x |")


if __name__ == "__main__":
    main()
