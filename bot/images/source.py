"""Read an image file safely: a regular file under a size cap, opened lazily, bombs refused."""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..errors import ImageError

MAX_SOURCE_PIXELS = 100_000_000
"""Refuse to decode a source larger than this, whatever the platform takes (decompression bombs)."""

MAX_SOURCE_BYTES = 200 * 1024 * 1024
"""Refuse to read a source file larger than this."""

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def read_source(source: Path, *, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """Read an image file's bytes, or raise ImageError saying why not.

    Only a regular file is read (a symbolic link to one is followed): a FIFO, device or socket
    is refused without waiting on it, and so is a file over `limit` bytes.
    """
    source = Path(source)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ImageError(f"{source}: image file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{source}: is a folder, not an image file") from None
    except OSError as exc:
        raise ImageError(f"{source}: cannot read image file ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise ImageError(f"{source}: is {kind}, not a regular file; Herald reads images "
                             f"only from regular files")
        if info.st_size > limit:
            raise ImageError(f"{source}: image file is {info.st_size / 1e6:.0f} MB, over the "
                             f"{limit / 1e6:.0f} MB Herald reads")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ImageError(f"{source}: cannot read image file ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # the file grew while it was read
        raise ImageError(f"{source}: image file is over the {limit / 1e6:.0f} MB Herald reads")
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
        raise ImageError(f"{name}: corrupt image ({reason(exc)})") from None
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


def reason(exc: BaseException) -> str:
    """Say what went wrong in one line."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
