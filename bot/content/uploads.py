"""Find an event's image among the site's files: only a file inside the site is ever used."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

from ..config import SiteConfig
from ..model import Severity

Finding = tuple[str, Severity]


class Uploads:
    """Resolve images as written in front matter to files of one site, once per distinct image.

    Looking up an image touches the disk (it may appear or vanish at any time), so it is done
    on every load, after the parsing that a cache may have skipped; each distinct image is
    looked up once per load.
    """

    def __init__(self, site: SiteConfig):
        self.root = os.path.realpath(site.root)
        self.uploads = sorted(site.uploads, key=lambda item: -len(item[0]))
        self._found: dict[str, tuple[Path | None, Finding | None]] = {}

    def find(self, written: str) -> tuple[Path | None, Finding | None]:
        """Return the image file (or None) and what to report about it (or None)."""
        found = self._found.get(written)
        if found is None:
            found = self._found[written] = self._find(written)
        return found

    def _find(self, written: str) -> tuple[Path | None, Finding | None]:
        root = self.root
        path = unquote(written)
        as_url = "/" + path.lstrip("/")
        for prefix, folder in self.uploads:
            if as_url.startswith(prefix):
                candidate = os.path.join(root, folder, as_url[len(prefix):])
                break
        else:
            candidate = os.path.join(root, path.lstrip("/"))
        try:
            if os.path.isabs(path) and not os.path.exists(candidate) and os.path.exists(path):
                candidate = path  # a path on this machine, not a URL path of the site
            resolved = os.path.realpath(candidate)
        except (OSError, ValueError) as exc:
            return None, (f"cannot use {written!r} ({exc}); the post goes without this image",
                          "warning")
        if not (resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)):
            return None, (f"{written} is outside the site folder; the post goes without this "
                          f"image", "error")
        if not os.path.isfile(resolved):
            shown = os.path.relpath(candidate, root).replace(os.sep, "/")
            missing = "is not a file" if os.path.exists(resolved) else "not found"
            return None, (f"image file {shown} {missing}; the post goes without this image",
                          "warning")
        return Path(resolved), None
