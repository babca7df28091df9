"""Prepare an event image for one platform: its formats, bytes and pixels, with no metadata.

The caller builds `Limits` with the byte limit that applies to the account: the Bluesky adapter
puts `ImageConfig.bluesky_bytes` into `Limits.image_bytes` (older servers take 1,000,000 bytes).
Nothing here looks at a platform's name; only the numbers and format names in `Limits` count.

An image that already fits goes out byte for byte: a JPEG or PNG in an accepted format, within
the byte and pixel limits and `ImageConfig.max_edge`, 8-bit, and carrying no EXIF, XMP, IPTC,
ICC profile, comment or text chunk. Anything else is decoded (a large JPEG at reduced size),
turned upright by its EXIF orientation, converted to 8-bit sRGB, scaled to the pixel limit and
`max_edge`, and written as PNG (transparency or few colours, when it fits the byte limit) or as
JPEG flattened on `ImageConfig.background` at the best quality that fits. No metadata is ever
written, so location data in the source never reaches a platform.

Animated images always become a still of their first frame, even where GIF is accepted.
Every problem with the file is an `ImageError` naming it; the caller decides what to post instead.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, UnidentifiedImageError

from .config import ImageConfig
from .errors import ImageError
from .model import Limits, Media

MAX_SOURCE_PIXELS = 100_000_000
"""Refuse to decode a source larger than this, whatever the platform takes (decompression bombs)."""

MAX_SOURCE_BYTES = 200 * 1024 * 1024
"""Refuse to read a source file larger than this."""

QUALITY_MAX = 92
QUALITY_MIN = 60
QUALITY_STEP = 4
"""The lossy quality search: the best of QUALITY_MIN..QUALITY_MAX that fits, to within a step."""

MIN_EDGE = 64
"""Give up shrinking an image to fit the byte limit below this longest edge."""

RECIPE = "1"
"""Part of every cache key: change it when the output of `prepare` changes for the same input."""

MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp"}

# The orientation table of ImageOps.exif_transpose, applied after scaling to move fewer pixels.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# PNG chunks that carry pixels or how to show them, and nothing about who made the image or where.
_PLAIN_PNG_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB",
                     b"sBIT", b"pHYs", b"bKGD"}
_RESAMPLE = Image.Resampling.BILINEAR


@dataclass(frozen=True)
class Prepared:
    """Encoded image bytes and what they are, before alt text and file name are attached."""

    data: bytes
    format: str
    width: int
    height: int


def prepare(source: Path, limits: Limits, config: ImageConfig, *, alt: str,
            cache: ImageCache | None = None) -> Media:
    """Return the image at `source` ready for a platform with `limits`, from `cache` if there.

    Raises ImageError when the file is missing, unreadable, not an image, truncated, too large
    to decode safely, or cannot be made to fit.
    """
    source = Path(source)
    data = read_source(source)
    key = cache.key(data, limits, config) if cache is not None else None
    prepared = cache.get(key) if cache is not None else None
    if prepared is None:
        prepared = prepare_bytes(data, str(source), limits, config)
        if cache is not None:
            cache.put(key, prepared)
    return Media(data=prepared.data, mime=MIME[prepared.format], width=prepared.width,
                 height=prepared.height, alt=cut_alt(alt, limits.alt_chars),
                 filename=(source.stem or "image") + SUFFIX[prepared.format])


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


def read_source(source: Path) -> bytes:
    """Read an image file's bytes, or raise ImageError saying why not."""
    try:
        size = source.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise ImageError(f"{source}: image file is {size / 1e6:.0f} MB, over the "
                             f"{MAX_SOURCE_BYTES / 1e6:.0f} MB Herald reads")
        data = source.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{source}: image file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{source}: is a folder, not an image file") from None
    except OSError as exc:
        raise ImageError(f"{source}: cannot read image file ({exc.strerror or exc})") from None
    if not data:
        raise ImageError(f"{source}: image file is empty")
    return data


def open_image(data: bytes, name: str) -> Image.Image:
    """Open image bytes lazily (nothing decoded yet), refusing decompression bombs by their size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: image has more pixels than Herald will decode "
                         f"({MAX_SOURCE_PIXELS // 1_000_000} megapixels); it may be a "
                         f"decompression bomb") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image Herald can read (the content is not JPEG, PNG, "
                         f"GIF, WEBP or another known image format)") from None
    except Exception as exc:  # Pillow raises many kinds for broken headers
        raise ImageError(f"{name}: corrupt image ({_reason(exc)})") from None
    width, height = im.size
    if width * height > MAX_SOURCE_PIXELS:
        im.close()
        raise ImageError(f"{name}: image is {width}x{height} ({width * height / 1e6:.0f} "
                         f"megapixels), over the {MAX_SOURCE_PIXELS // 1_000_000} megapixels "
                         f"Herald will decode; it may be a decompression bomb")
    if width < 1 or height < 1:
        im.close()
        raise ImageError(f"{name}: image has no pixels ({width}x{height})")
    return im


def prepare_bytes(data: bytes, name: str, limits: Limits, config: ImageConfig) -> Prepared:
    """Fit image bytes to `limits` and `config`; `name` is the file named in errors."""
    im = open_image(data, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if _fits_as_is(data, im, limits, config):
                width, height = im.size
                _decode(im, name, im.size, check_only=True)
                return Prepared(data, im.format, width, height)
            return _convert(im, name, limits, config)
    finally:
        im.close()


def _fits_as_is(data: bytes, im: Image.Image, limits: Limits, config: ImageConfig) -> bool:
    width, height = im.size
    if im.format not in ("JPEG", "PNG") or im.format not in limits.image_formats:
        return False
    if len(data) > limits.image_bytes or max(width, height) > config.max_edge:
        return False
    if limits.image_pixels is not None and width * height > limits.image_pixels:
        return False
    if im.format == "JPEG":
        return im.mode in ("L", "RGB") and _plain_jpeg(im)
    return _plain_png(data)


def _plain_jpeg(im: Image.Image) -> bool:
    """True when the only APP segments are JFIF (no thumbnail) and Adobe, and no comment."""
    for marker, payload in getattr(im, "applist", []):
        if marker == "APP0" and payload.startswith(b"JFIF\0") and payload[12:14] == b"\0\0":
            continue
        if marker == "APP14" and payload.startswith(b"Adobe"):
            continue
        return False
    return "comment" not in im.info


def _plain_png(data: bytes) -> bool:
    """True for a still, at most 8-bit PNG whose chunks say nothing but how to show the pixels."""
    if data[24] > 8:  # IHDR bit depth
        return False
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind not in _PLAIN_PNG_CHUNKS:
            return False
        if kind == b"IEND":
            return True
        pos += 12 + length
    return False


def _decode(im: Image.Image, name: str, size: tuple[int, int], *, check_only: bool = False) -> None:
    """Decode the pixels, a JPEG at the smallest scale no smaller than `size`; map errors."""
    if im.format == "JPEG":
        if check_only:  # every byte is still read and checked, at an eighth of the work
            size = (max(1, im.width // 8), max(1, im.height // 8))
        if size != im.size:
            im.draft("RGB", size)
    try:
        im.load()
    except Exception as exc:  # truncated data, bad checksums, broken streams
        raise ImageError(f"{name}: corrupt or truncated image ({_reason(exc)})") from None


def _convert(im: Image.Image, name: str, limits: Limits, config: ImageConfig) -> Prepared:
    width, height = im.size
    target = _target_size(width, height, limits.image_pixels, config.max_edge)
    orientation = _orientation(im)
    icc = im.info.get("icc_profile")
    _decode(im, name, target)
    out = _eight_bit(im)
    graphic = _few_colours(out)
    if out.size != target:
        out = out.resize(target, _RESAMPLE)
    if orientation in _TRANSPOSE:
        out = out.transpose(_TRANSPOSE[orientation])
    out = _to_srgb(out, icc)
    out.info = {}  # nothing from the source may reach the encoder
    return _encode(out, graphic, limits, config, name)


def _target_size(width: int, height: int, max_pixels: int | None, max_edge: int) -> tuple[int, int]:
    scale = min(1.0, max_edge / max(width, height))
    if max_pixels is not None and width * height > max_pixels:
        scale = min(scale, math.sqrt(max_pixels / (width * height)))
    if scale >= 1.0:
        return width, height
    size = max(1, round(width * scale)), max(1, round(height * scale))
    if max(size) > max_edge or (max_pixels is not None and size[0] * size[1] > max_pixels):
        size = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    return size


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # unreadable EXIF is dropped like any other; the image stays as stored
        return 1


def _eight_bit(im: Image.Image) -> Image.Image:
    """Return the frame as L, LA, RGB, RGBA or CMYK with 8 bits a channel."""
    mode = im.mode
    if mode in ("L", "RGB") and "transparency" in im.info:
        return im.convert("RGBA")
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return im
    if mode in ("P", "PA"):
        return im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode == "I" or mode.startswith("I;16"):  # 16-bit samples: keep the top 8 bits
        return im.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if mode in ("RGBa", "La"):
        return im.convert("RGBA" if mode == "RGBa" else "LA")
    return im.convert("RGBA" if "A" in mode else "RGB")


def _few_colours(im: Image.Image) -> bool:
    """True for a graphic: in a sample of the pixels, at most 256 colours, and flat areas.

    A black-and-white photo also has at most 256 colours, but spread thinly: a graphic's 16
    commonest colours cover most of it.
    """
    sample = im if im.width * im.height <= 65536 else im.resize(
        (min(im.width, 256), min(im.height, 256)), Image.Resampling.NEAREST)
    colours = sample.getcolors(256)
    if colours is None:
        return False
    common = sum(count for count, _ in sorted(colours, reverse=True)[:16])
    return common >= 0.8 * sample.width * sample.height


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Return RGB or RGBA in sRGB, using the source's ICC profile when it has a usable one."""
    alpha = im.getchannel("A") if im.mode in ("LA", "RGBA") else None
    colour = im.convert(im.mode[:-1]) if alpha is not None else im
    converted = None
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if not (colour.mode == "RGB" and _is_srgb(profile)):
                converted = ImageCms.profileToProfile(colour, profile, _srgb(), outputMode="RGB")
        except Exception:  # a broken or mismatched profile: fall back to plain conversion
            converted = None
    if converted is None:
        converted = colour if colour.mode == "RGB" else colour.convert("RGB")
    if alpha is not None:
        if alpha.getextrema()[0] == 255:
            return converted
        converted.putalpha(alpha)
    return converted


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    return ImageCms.getProfileDescription(profile).strip().startswith("sRGB")


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _encode(im: Image.Image, graphic: bool, limits: Limits, config: ImageConfig,
            name: str) -> Prepared:
    """Write PNG for graphics and transparency when it fits, else the best lossy that fits."""
    formats = limits.image_formats
    png_first = "PNG" in formats and (graphic or im.mode == "RGBA")
    if png_first:
        data = _save(im, "PNG")
        if len(data) <= limits.image_bytes:
            return Prepared(data, "PNG", im.width, im.height)
    lossy = next((fmt for fmt in ("JPEG", "WEBP") if fmt in formats), None)
    if lossy == "JPEG" and im.mode == "RGBA":
        flat = Image.new("RGB", im.size, config.background)
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    if lossy is None and "PNG" not in formats:
        raise ImageError(f"{name}: the platform accepts only {', '.join(sorted(formats))}; "
                         f"Herald writes JPEG, PNG or WEBP")
    fmt = lossy or "PNG"
    while True:
        data, smallest = _best_fit(im, fmt, limits.image_bytes)
        if data is not None:
            return Prepared(data, fmt, im.width, im.height)
        if max(im.size) <= MIN_EDGE:
            raise ImageError(f"{name}: cannot make the image fit in {limits.image_bytes} bytes")
        factor = min(0.9, max(0.5, 0.95 * math.sqrt(limits.image_bytes / smallest)))
        im = im.resize((max(1, int(im.width * factor)), max(1, int(im.height * factor))),
                       _RESAMPLE)


def _best_fit(im: Image.Image, fmt: str, limit: int) -> tuple[bytes | None, int]:
    """Return the best-quality encoding within `limit` bytes, or None and the smallest size tried.

    A bounded binary search: at most five encodes per size.
    """
    if fmt == "PNG":
        data = _save(im, fmt)
        return (data if len(data) <= limit else None), len(data)
    best = _save(im, fmt, QUALITY_MAX)
    if len(best) <= limit:
        return best, len(best)
    low_data = _save(im, fmt, QUALITY_MIN)
    if len(low_data) > limit:
        return None, len(low_data)
    low, high, best = QUALITY_MIN, QUALITY_MAX, low_data
    while high - low > QUALITY_STEP:
        middle = (low + high) // 2
        data = _save(im, fmt, middle)
        if len(data) <= limit:
            low, best = middle, data
        else:
            high = middle
    return best, len(best)


def _save(im: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        im.save(buffer, "PNG")
    else:
        im.save(buffer, fmt, quality=quality)
    return buffer.getvalue()


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class ImageCache:
    """Prepared images on disk, keyed by the source's content, the limits and the image settings.

    Entries live as `<key><suffix>` beside `<key>.json`. They are never expired: delete the
    directory to reclaim space. A cache that cannot be written is skipped and noted in `errors`,
    since a run does not need it to post.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self.errors: list[str] = []

    def key(self, data: bytes, limits: Limits, config: ImageConfig) -> str:
        """Name the result of preparing `data` for `limits` with `config`."""
        recipe = {
            "recipe": RECIPE,
            "source": hashlib.sha256(data).hexdigest(),
            "image_bytes": limits.image_bytes,
            "image_pixels": limits.image_pixels,
            "image_formats": sorted(limits.image_formats),
            "max_edge": config.max_edge,
            "background": config.background.lower(),
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> Prepared | None:
        """Return the stored result for `key`, or None when absent or damaged."""
        try:
            meta = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
            data = (self.directory / f"{key}{SUFFIX[meta['format']]}").read_bytes()
            if hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise ValueError("cached bytes do not match their checksum")
            prepared = Prepared(data, meta["format"], int(meta["width"]), int(meta["height"]))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return prepared

    def put(self, key: str, prepared: Prepared) -> None:
        """Store `prepared` under `key`; the metadata file is written last and marks it complete."""
        meta = {"format": prepared.format, "width": prepared.width, "height": prepared.height,
                "sha256": hashlib.sha256(prepared.data).hexdigest()}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._write(f"{key}{SUFFIX[prepared.format]}", prepared.data)
            self._write(f"{key}.json", json.dumps(meta).encode())
        except OSError as exc:
            self.errors.append(f"{self.directory}: cannot write the image cache ({exc})")

    def _write(self, name: str, data: bytes) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, self.directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def default_cache_dir() -> Path:
    """Return the per-user cache folder for prepared images (the caller may use another)."""
    import platformdirs

    return platformdirs.user_cache_path("herald") / "images"
