"""Prepared images and drawn cards on disk, so that a second run does not do the work again."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..config import ImageConfig
from ..model import Limits
from .prepare import Prepared

RECIPE = "2"
"""Part of every cache key, with the digest of the code that makes the output (`code_digest`)."""

SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp"}


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
        return self.named({
            "recipe": RECIPE,
            "code": code_digest(Path(__file__).parent, ("prepare.py", "strip.py")),
            "source": hashlib.sha256(data).hexdigest(),
            "platform": limits.platform,
            "image_bytes": limits.image_bytes,
            "image_pixels": limits.image_pixels,
            "image_formats": sorted(limits.image_formats),
            "animation": [limits.animation_size, limits.animation_frames],
            "max_edge": config.max_edge,
            "background": config.background.lower(),
        })

    @staticmethod
    def named(recipe: dict) -> str:
        """Name any result by everything that changes it (a JSON-able dict)."""
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> Prepared | None:
        """Return the stored result for `key`, or None when absent or damaged."""
        try:
            meta = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
            data = (self.directory / f"{key}{SUFFIX[meta['format']]}").read_bytes()
            if hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise ValueError("cached bytes do not match their checksum")
            prepared = Prepared(data, meta["format"], int(meta["width"]), int(meta["height"]),
                                str(meta.get("note", "")))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return prepared

    def put(self, key: str, prepared: Prepared) -> None:
        """Store `prepared` under `key`; the metadata file is written last and marks it complete."""
        meta = {"format": prepared.format, "width": prepared.width, "height": prepared.height,
                "note": prepared.note, "sha256": hashlib.sha256(prepared.data).hexdigest()}
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


@functools.cache
def code_digest(folder: Path, names: tuple[str, ...]) -> str:
    """Name the code that makes a cached result, so that changed code never reads stale output."""
    digest = hashlib.sha256()
    for name in names:
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def default_cache_dir() -> Path:
    """Return the per-user cache folder for prepared images (the caller may use another)."""
    import platformdirs

    return platformdirs.user_cache_path("herald") / "images"
