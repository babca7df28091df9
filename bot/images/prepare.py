"""Fit one image to one platform's limits: as is when it already fits, re-encoded only when it must.

An image that already fits goes out with its own pixels and bytes, less its metadata (see
`strip`): a JPEG, PNG or still GIF in a format the platform takes, within its byte and pixel
limits and `ImageConfig.max_edge`, 8-bit, upright (EXIF orientation 1 or none) and in sRGB (no
colour profile, or an sRGB one). Nothing is decoded for it.

Anything else is decoded (a large JPEG at a reduced size, straight from the file), turned
upright by its EXIF orientation, converted to 8-bit sRGB, scaled to the pixel limit and
`max_edge`, and written as PNG (a graphic, or a transparent image whose PNG can fit) or as a
JPEG flattened on `ImageConfig.background`, at the best quality that fits but never above the
source JPEG's own. No metadata is ever written, so location data never reaches a platform.

An animated GIF stays animated where the platform takes GIFs and it is within the platform's
animation limits; anywhere else it becomes a still of its first frame, and its note says so.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms

from ..config import ImageConfig
from ..errors import ImageError
from ..model import Limits
from .source import open_image, reason
from .strip import gif_without_metadata, jpeg_without_metadata, png_chunks, png_without_metadata

QUALITY_MAX = 92
QUALITY_MIN = 60
QUALITY_STEP = 4
"""The lossy quality search: the best of QUALITY_MIN..QUALITY_MAX that fits, to within a step."""

MIN_EDGE = 64
"""Give up shrinking an image to fit the byte limit below this longest edge."""

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
_RESAMPLE = Image.Resampling.BILINEAR
_STRIP = {"JPEG": jpeg_without_metadata, "PNG": png_without_metadata, "GIF": gif_without_metadata}
# The IJG's standard luminance table at quality 50: a JPEG's own table tells its quality.
_IJG_LUMINANCE = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
                  14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
                  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


@dataclass(frozen=True)
class Prepared:
    """Encoded image bytes and what they are, before alt text and file name are attached.

    `note` says in a few words what was done ("as is, metadata removed", "re-encoded: ...").
    """

    data: bytes
    format: str
    width: int
    height: int
    note: str = ""


def prepare_bytes(data: bytes, name: str, limits: Limits, config: ImageConfig) -> Prepared:
    """Fit image bytes to `limits` and `config`; `name` is the file named in errors."""
    im = open_image(data, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                refused = _animation_refused(data, im, frames, limits, config)
                stripped = gif_without_metadata(data) if refused is None else None
                if stripped is not None:
                    return Prepared(stripped, "GIF", im.width, im.height,
                                    f"animated GIF, {frames} frames, as is"
                                    + (", metadata removed" if stripped != data else ""))
                why = [f"animated {im.format} flattened to its first frame "
                       f"({refused or 'its structure is unusual'})"]
            else:
                stripped, why = _as_is(data, im, limits, config)
                if stripped is not None:
                    return Prepared(stripped, im.format, im.width, im.height,
                                    "as is" + (", metadata removed" if stripped != data else ""))
            return _convert(im, name, limits, config, why)
    finally:
        im.close()


def _animation_refused(data: bytes, im: Image.Image, frames: int, limits: Limits,
                       config: ImageConfig) -> str | None:
    """Say why an animation cannot go out as it is, or None when it can."""
    platform = limits.platform
    if im.format != "GIF":
        return f"Herald sends only GIF animations; this is {im.format}"
    if "GIF" not in limits.image_formats:
        return f"{platform} takes no GIF"
    if len(data) > limits.image_bytes:
        return f"{len(data):,} bytes, over the {limits.image_bytes:,} {platform} takes"
    if max(im.size) > config.max_edge:
        return f"{im.width}x{im.height}, over images.max_edge {config.max_edge}"
    if limits.animation_size is not None and (im.width > limits.animation_size[0]
                                              or im.height > limits.animation_size[1]):
        most = "x".join(map(str, limits.animation_size))
        return f"{im.width}x{im.height}, over the {most} {platform} takes for animated GIFs"
    if limits.animation_frames is not None and frames > limits.animation_frames:
        return f"{frames} frames, over the {limits.animation_frames} {platform} takes"
    if limits.image_pixels is not None and im.width * im.height > limits.image_pixels:
        return f"{im.width}x{im.height}, over the {limits.image_pixels:,} pixels {platform} takes"
    return None


def _as_is(data: bytes, im: Image.Image, limits: Limits,
           config: ImageConfig) -> tuple[bytes | None, list[str]]:
    """Return the image's bytes without metadata when they fit as they are, else the reasons."""
    width, height = im.size
    why = []
    if im.format not in _STRIP:
        why.append(f"{im.format} is written as JPEG or PNG")
    elif im.format not in limits.image_formats:
        why.append(f"{limits.platform} takes no {im.format}")
    if max(width, height) > config.max_edge:
        why.append(f"{width}x{height} scaled to images.max_edge {config.max_edge}")
    elif limits.image_pixels is not None and width * height > limits.image_pixels:
        why.append(f"{width}x{height} scaled to the {limits.image_pixels:,} pixels "
                   f"{limits.platform} takes")
    if im.format == "JPEG" and im.mode not in ("L", "RGB"):
        why.append(f"{im.mode} converted to RGB")
    if im.format == "PNG" and len(data) > 24 and data[24] > 8:
        why.append("16-bit samples converted to 8")
    orientation = _orientation(im, data)
    if orientation in _TRANSPOSE:
        why.append(f"turned upright (EXIF orientation {orientation})")
    icc = im.info.get("icc_profile")
    if icc and not _is_srgb_bytes(icc):
        why.append("colours converted to sRGB from the image's colour profile")
    if why:
        return None, why
    stripped = _STRIP[im.format](data)
    if stripped is None:
        return None, [f"an unusual {im.format} structure"]
    if len(stripped) > limits.image_bytes:
        return None, [f"{len(stripped):,} bytes, over the {limits.image_bytes:,} "
                      f"{limits.platform} takes"]
    return stripped, []


def _decode(im: Image.Image, name: str, size: tuple[int, int]) -> None:
    """Decode the pixels, a JPEG at the smallest scale no smaller than `size`; map errors."""
    if im.format == "JPEG" and size != im.size:
        im.draft(im.mode if im.mode in ("L", "RGB") else None, size)
    try:
        im.load()
    except Exception as exc:  # truncated data, bad checksums, broken streams
        raise ImageError(f"{name}: corrupt or truncated image ({reason(exc)})") from None


def _convert(im: Image.Image, name: str, limits: Limits, config: ImageConfig,
             why: list[str]) -> Prepared:
    width, height = im.size
    target = _target_size(width, height, limits.image_pixels, config.max_edge)
    orientation = _orientation(im)
    icc = im.info.get("icc_profile")
    ceiling = _jpeg_quality(im) if im.format == "JPEG" else QUALITY_MAX
    _decode(im, name, target)
    out = _eight_bit(im)
    graphic = im.format != "JPEG" and _few_colours(out)
    if out.size != target:
        out = out.resize(target, _RESAMPLE)
    if orientation in _TRANSPOSE:
        out = out.transpose(_TRANSPOSE[orientation])
    out = _to_srgb(out, icc)
    out.info = {}  # nothing from the source may reach the encoder
    prepared = _encode(out, graphic, limits, config, name, ceiling)
    detail = (f"{prepared.format} at quality {prepared.quality}" if prepared.quality
              else prepared.format)
    if (prepared.width, prepared.height) != target:
        detail += f", scaled to {prepared.width}x{prepared.height} to fit " \
                  f"{limits.image_bytes:,} bytes"
    note = f"re-encoded as {detail}: " + "; ".join(why or ["to fit"])
    return Prepared(prepared.data, prepared.format, prepared.width, prepared.height, note)


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


def _orientation(im: Image.Image, data: bytes | None = None) -> int:
    """The EXIF orientation, read without decoding (Pillow decodes a PNG to find its eXIf)."""
    try:
        if im.format == "PNG" and data is not None:
            chunks = png_chunks(data) or []
            found = next(((start, end) for kind, start, end in chunks if kind == b"eXIf"), None)
            if found is None:
                return 1
            exif = Image.Exif()
            exif.load(data[found[0] + 8:found[1] - 4])
            return int(exif.get(0x0112, 1))
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # unreadable EXIF is dropped like any other; the image stays as stored
        return 1


def _jpeg_quality(im: Image.Image) -> int:
    """Estimate a JPEG's IJG quality from its luminance table, capped at QUALITY_MAX.

    Re-encoding above the source's own quality only makes the file bigger, never better.
    """
    try:
        table = im.quantization[0]
    except (AttributeError, KeyError, IndexError, TypeError):
        return QUALITY_MAX
    scale = sum(table) * 100 / sum(_IJG_LUMINANCE)  # the IJG's scaling factor, in percent
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return max(QUALITY_MIN, min(QUALITY_MAX, round(quality)))


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


def few_colours(im: Image.Image) -> bool:
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


_few_colours = few_colours


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


def _is_srgb_bytes(icc: bytes) -> bool:
    try:
        return _is_srgb(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except Exception:  # an unreadable profile cannot be trusted to be sRGB
        return False


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class _Encoded:
    data: bytes
    format: str
    width: int
    height: int
    quality: int | None


def _encode(im: Image.Image, graphic: bool, limits: Limits, config: ImageConfig, name: str,
            ceiling: int) -> _Encoded:
    """Write PNG for graphics and transparency when it fits, else the best lossy that fits."""
    formats = limits.image_formats
    transparent = im.mode == "RGBA"
    if "PNG" in formats and (graphic or (transparent and _png_may_fit(im, limits.image_bytes))):
        data = _save(im, "PNG")
        if len(data) <= limits.image_bytes:
            return _Encoded(data, "PNG", im.width, im.height, None)
    lossy = next((fmt for fmt in ("JPEG", "WEBP") if fmt in formats), None)
    if lossy == "JPEG" and transparent:
        flat = Image.new("RGB", im.size, config.background)
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    if lossy is None and "PNG" not in formats:
        raise ImageError(f"{name}: the platform accepts only {', '.join(sorted(formats))}; "
                         f"Herald writes JPEG, PNG or WEBP")
    fmt = lossy or "PNG"
    while True:
        data, quality, smallest = _best_fit(im, fmt, limits.image_bytes, ceiling)
        if data is not None:
            return _Encoded(data, fmt, im.width, im.height, quality)
        if max(im.size) <= MIN_EDGE:
            raise ImageError(f"{name}: cannot make the image fit in {limits.image_bytes} bytes")
        factor = min(0.9, max(0.5, 0.95 * math.sqrt(limits.image_bytes / smallest)))
        im = im.resize((max(1, int(im.width * factor)), max(1, int(im.height * factor))),
                       _RESAMPLE)


def _png_may_fit(im: Image.Image, limit: int) -> bool:
    """Guess cheaply whether a transparent image's PNG fits, from a sixteenth of its pixels.

    A photo's PNG grows at least in proportion to its pixels, so a sample that is already too
    big (scaled up) means the full PNG cannot fit: it is written as JPEG without trying.
    """
    if im.width * im.height <= 262_144:
        return True
    sample = im.resize((max(1, im.width // 4), max(1, im.height // 4)),
                       Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    sample.save(buffer, "PNG", compress_level=1)
    return len(buffer.getvalue()) * 16 * 0.5 <= limit


def _best_fit(im: Image.Image, fmt: str, limit: int,
              ceiling: int) -> tuple[bytes | None, int | None, int]:
    """Return the best-quality encoding within `limit` bytes, or None and the smallest size tried.

    A bounded binary search below `ceiling`: at most five encodes per size.
    """
    if fmt == "PNG":
        data = _save(im, fmt)
        return (data if len(data) <= limit else None), None, len(data)
    high = max(QUALITY_MIN, min(QUALITY_MAX, ceiling))
    best = _save(im, fmt, high)
    if len(best) <= limit:
        return best, high, len(best)
    low_data = _save(im, fmt, QUALITY_MIN)
    if len(low_data) > limit:
        return None, None, len(low_data)
    low, best = QUALITY_MIN, low_data
    while high - low > QUALITY_STEP:
        middle = (low + high) // 2
        data = _save(im, fmt, middle)
        if len(data) <= limit:
            low, best = middle, data
        else:
            high = middle
    return best, low, len(best)


def _save(im: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        im.save(buffer, "PNG")
    else:
        im.save(buffer, fmt, quality=quality)
    return buffer.getvalue()
