"""Time image preparation against the naive Pillow way, in the same run (not part of the tests).

    python bench/bench_images.py [--runs N] [--keep DIR]

Synthesizes a photo-like 6000x4000 JPEG (24 megapixels) and a 4000x3000 RGBA PNG (12
megapixels, a photo with a transparent border), then prints the median of N runs for:

- the naive way a user would write it with Pillow: open, load at full size, turn upright,
  scale to 2048 pixels with Pillow's default filter, flatten transparency on white, then save
  a JPEG at quality 95, 90, 85 ... until it fits the byte limit;
- `bot.images.prepare()` for the same limit, and for the other platforms' limits;
- `prepare()` answered from the cache, and a drawn card (drawn, and read from the cache);

with each row's ratio to the naive way for the same source, measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.card import draw_card  # noqa: E402
from bot.config import ImageConfig  # noqa: E402
from bot.images import ImageCache, prepare  # noqa: E402
from bot.model import Limits  # noqa: E402
from bot.platforms import bluesky, mastodon, x  # noqa: E402


def size(limit: int) -> str:
    """A byte limit as its platform documents it: 5 MB, or 16 MiB."""
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    return f"{limit / 1_000_000:g} MB"


# Each platform's limits as its adapter declares them (what preview and posting prepare for);
# Bluesky also at 1 MB, what an older PDS accepts (`images.bluesky_bytes`).
OLD_PDS = replace(bluesky.LIMITS, image_bytes=1_000_000)
PLATFORMS = {
    f"Bluesky {size(OLD_PDS.image_bytes)}": OLD_PDS,
    f"Bluesky {size(bluesky.LIMITS.image_bytes)}": bluesky.LIMITS,
    f"X {size(x.LIMITS.image_bytes)}": x.LIMITS,
    f"Mastodon {size(mastodon.LIMITS.image_bytes)}": mastodon.LIMITS,
    "a 300 kB limit (quality search)": Limits("tight", 300, "graphemes", image_bytes=300_000,
                                              image_formats=frozenset({"JPEG", "PNG"})),
}
BLUESKY_1MB = next(iter(PLATFORMS))


def synthesize_photo(path: Path, size: tuple[int, int] = (6000, 4000)) -> Image.Image:
    """A photo-like image: gradients, soft blotches and grain (about 9 MB as a JPEG at 90)."""
    red = Image.linear_gradient("L").rotate(30).resize(size, Image.Resampling.BILINEAR)
    blotches = Image.effect_noise((size[0] // 16, size[1] // 16), 60)
    green = blotches.resize(size, Image.Resampling.BICUBIC)
    blue = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    grain = Image.effect_noise(size, 30)
    channels = [Image.blend(channel, grain, 0.25) for channel in (red, green, blue)]
    photo = Image.merge("RGB", channels)
    if path.suffix == ".jpg":
        photo.save(path, "JPEG", quality=90)
    return photo


def synthesize_cutout(path: Path) -> None:
    """A 4000x3000 RGBA PNG: a photo whose border is transparent (a cut-out product shot)."""
    photo = synthesize_photo(path, (4000, 3000)).convert("RGBA")
    mask = Image.new("L", photo.size, 0)
    ImageDraw.Draw(mask).ellipse((300, 200, 3700, 2800), fill=255)
    photo.putalpha(mask)
    photo.save(path, "PNG")


def naive(path: Path, limit: int) -> bytes:
    """What a user would write with Pillow: full decode, default filter, a quality loop."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        scale = 2048 / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)))
        if im.mode == "RGBA":
            flat = Image.new("RGB", im.size, "white")
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        for quality in range(95, 0, -5):
            buffer = io.BytesIO()
            im.save(buffer, "JPEG", quality=quality)
            if buffer.tell() <= limit:
                return buffer.getvalue()
    raise ValueError("does not fit")


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
    parser.add_argument("--keep", type=Path, help="write the synthesized sources to this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        photo, cutout = folder / "photo-24mp.jpg", folder / "cutout-12mp.png"
        synthesize_photo(photo)
        synthesize_cutout(cutout)
        config = ImageConfig()
        rows = []
        for source, label, cases in (
                (photo, "24 MP JPEG", list(PLATFORMS)),
                (cutout, "12 MP RGBA PNG", [BLUESKY_1MB])):
            old_pds = PLATFORMS[BLUESKY_1MB]
            base = median_ms(lambda: naive(source, old_pds.image_bytes), args.runs)
            rows.append((f"{label}: naive Pillow to 1 MB", "", base, base))
            for name in cases:
                limits = PLATFORMS[name]
                media = prepare(source, limits, config, alt="")
                detail = f"{len(media.data):,} B {media.width}x{media.height} " \
                         f"{media.mime.split('/')[1].upper()}"
                ms = median_ms(lambda limits=limits: prepare(source, limits, config, alt=""),
                               args.runs)
                rows.append((f"{label}: prepare() for {name}", detail, ms, base))
            cache = ImageCache(Path(tmp) / "cache")
            prepare(source, old_pds, config, alt="", cache=cache)
            rows.append((f"{label}: prepare() from the cache", "same bytes",
                         median_ms(lambda: prepare(source, old_pds, config, alt="",
                                                   cache=cache), args.runs), base))

        card = dict(title="Civic Tech Sthlm #11 – Vilken framtid har öppna data i Sverige?",
                    when="torsdag 12 december 2019 kl. 18:00", place="Kulturhuset, Stockholm",
                    config=config, lang="sv", site="civictech.se")
        drawn = median_ms(lambda: draw_card(**card), args.runs)
        cards = ImageCache(Path(tmp) / "cards")
        draw_card(**card, cache=cards)
        cached = median_ms(lambda: draw_card(**card, cache=cards), args.runs)
        rows.append(("card: drawn", "1200x675 PNG", drawn, drawn))
        rows.append(("card: read from the cache", "same bytes", cached, drawn))

        print(f"sources: {photo.name} {photo.stat().st_size:,} bytes, {cutout.name} "
              f"{cutout.stat().st_size:,} bytes; median of {args.runs} runs\n")
        print(f"| {'case':<52} | {'output':<28} | {'median ms':>9} | {'vs naive':>9} |")
        print(f"|{'-' * 54}|{'-' * 30}|{'-' * 11}|{'-' * 11}|")
        for name, detail, ms, base in rows:
            ratio = base / ms
            faster = f"{ratio:.1f}x" if ratio >= 1 else f"1/{1 / ratio:.1f}"
            print(f"| {name:<52} | {detail:<28} | {ms:>9.0f} | {faster:>9} |")


if __name__ == "__main__":
    main()
