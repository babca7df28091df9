"""Keep parsed event files between loads, so an unchanged file is not parsed again.

A file is unchanged when its path, size and modification time (in nanoseconds) are the same,
and the site configuration and Herald's parsing code are too. The cache lives in memory (the
daemon keeps one across reloads) and, when it has a path, in one JSON file per site in the
user's cache folder (never inside the site). The file is written atomically and only by its
owner; one that is unreadable, damaged, written by another version or another user, or
readable by others to change, is ignored and rewritten, never trusted.

A file changed less than `RECENT_SECONDS` ago is parsed again every time: within one tick of
the file system's clock a second edit of the same size would not change its time.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import stat
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from .. import model
from ..config import SiteConfig
from ..model import Problem
from .fields import Parsed
from .files import EventFile

FORMAT = "herald-content-cache/2"
RECENT_SECONDS = 2.0
MAX_CACHE_BYTES = 512 * 1024 * 1024


class ParseCache:
    """Parsed event files by path, size and mtime, for one site configuration at a time."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self.notes: list[str] = []
        """Why the file on disk was not used or not written (for --verbose logs)."""
        self.hits = 0
        self.misses = 0
        self.finished: dict[str, tuple] = {}
        """What the last load made of each parse with its image looked up (see site.py)."""
        self._fingerprint: str | None = None
        self._zone: ZoneInfo | None = None
        self._parsed: dict[str, tuple[int, int, Parsed]] = {}
        self._stored: dict[str, list] = {}
        self._read = False
        self._dirty = False

    @classmethod
    def for_site(cls, site: SiteConfig, cache_dir: str | Path | None = None) -> "ParseCache":
        """Return the cache of `site` in `cache_dir/content/` (default: the user's cache folder).

        A folder inside the site is never written: the cache then lives in memory only.
        """
        if cache_dir is not None:
            folder = Path(cache_dir) / "content"
        else:
            import platformdirs

            folder = platformdirs.user_cache_path("herald") / "content"
        root = os.path.realpath(site.root)
        real = os.path.realpath(folder)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            cache = cls(None)
            cache.notes.append(f"{folder} is inside the site; the parse cache stays in memory")
            return cache
        name = hashlib.sha256(f"{root}\0{site.events_dir}".encode("utf-8", "surrogatepass"))
        return cls(folder / f"{name.hexdigest()[:24]}.json")

    # -- used by load_site --------------------------------------------------------------------

    def bind(self, site: SiteConfig) -> None:
        """Use the entries made under this site configuration; forget any others."""
        fingerprint = _fingerprint(site)
        if fingerprint != self._fingerprint:
            self._parsed.clear()
            self.finished = {}
            self._stored.clear()
            self._fingerprint, self._zone = fingerprint, site.timezone
            self._read = False
        if not self._read and self.path is not None:
            self._stored = self._load(fingerprint)
            self._read = True

    def get(self, file: EventFile) -> Parsed | None:
        """Return the parse of `file` when it has not changed since it was kept, else None."""
        entry = self._parsed.get(file.key)
        if entry is not None and entry[0] == file.size and entry[1] == file.mtime_ns:
            self.hits += 1
            return entry[2]
        stored = self._stored.get(file.key)
        if stored is not None and stored[0] == file.size and stored[1] == file.mtime_ns:
            try:
                parsed = _decode(stored[2], self._zone)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError):
                del self._stored[file.key]
                self._dirty = True
            else:
                self._parsed[file.key] = (file.size, file.mtime_ns, parsed)
                self.hits += 1
                return parsed
        self.misses += 1
        return None

    def put(self, file: EventFile, parsed: Parsed) -> None:
        """Keep the parse of `file`, unless the file changed too recently to be trusted."""
        self._stored.pop(file.key, None)
        if time.time_ns() - file.mtime_ns < RECENT_SECONDS * 1e9:
            self._parsed.pop(file.key, None)
        else:
            self._parsed[file.key] = (file.size, file.mtime_ns, parsed)
        self._dirty = True

    def retain(self, keys: set[str]) -> None:
        """Forget the files that are gone."""
        for table in (self._parsed, self._stored):
            for key in [k for k in table if k not in keys]:
                del table[key]
                self._dirty = True

    def forget(self, keys) -> None:
        """Forget these files (gone, or no longer read)."""
        for key in keys:
            for table in (self._parsed, self._stored):
                if table.pop(key, None) is not None:
                    self._dirty = True

    # -- on disk ------------------------------------------------------------------------------

    def save(self) -> bool:
        """Write the cache file if anything changed; return whether it was written.

        A cache that cannot be written is noted in `notes`, never raised: nothing needs it.
        """
        if self.path is None or not self._dirty or self._fingerprint is None:
            return False
        files = dict(self._stored)
        for key, (size, mtime_ns, parsed) in self._parsed.items():
            if key not in files:
                files[key] = [size, mtime_ns, _encode_parsed(parsed)]
        document = {"format": FORMAT, "fingerprint": self._fingerprint, "files": files}
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".content-",
                                             suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="ascii") as out:
                    json.dump(document, out, separators=(",", ":"))
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except (OSError, TypeError, ValueError) as exc:
            self.notes.append(f"cannot write the parse cache {self.path} ({exc})")
            return False
        self._stored = files
        self._dirty = False
        return True

    def _load(self, fingerprint: str) -> dict[str, list]:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0))
        except (FileNotFoundError, NotADirectoryError):  # none yet
            return {}
        except OSError as exc:
            self.notes.append(f"cannot read the parse cache {self.path} ({exc}); rewriting it")
            return {}
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CACHE_BYTES:
                raise ValueError("not a cache file")
            if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
                raise ValueError("written by another user, or writable by others")
            with os.fdopen(os.dup(fd), "rb") as stream:
                document = json.loads(stream.read())
            if not isinstance(document, dict) or document.get("format") != FORMAT:
                raise ValueError("not a cache file of this Herald")
            if document.get("fingerprint") != fingerprint:
                self._dirty = True
                return {}
            files = document["files"]
            if not isinstance(files, dict) or not all(
                    isinstance(v, list) and len(v) == 3 and type(v[0]) is int
                    and type(v[1]) is int for v in files.values()):
                raise ValueError("damaged entries")
            return files
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            self.notes.append(f"ignored the parse cache {self.path} ({exc}); rewriting it")
            self._dirty = True
            return {}
        finally:
            os.close(fd)


# --- what a fingerprint covers ---------------------------------------------------------------

@functools.cache
def _code_version() -> str:
    """Hash the parsing code itself, so that a changed Herald never reads an older parse."""
    digest = hashlib.sha256(FORMAT.encode())
    digest.update(f"{yaml.__version__} {getattr(yaml, '__with_libyaml__', False)}".encode())
    here = Path(__file__).resolve().parent
    for path in sorted(here.glob("*.py")) + [Path(model.__file__)]:
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(path.name.encode())
    return digest.hexdigest()


def _fingerprint(site: SiteConfig) -> str:
    settings = repr([(f.name, getattr(site, f.name)) for f in dataclasses.fields(site)])
    return hashlib.sha256(f"{_code_version()}\0{settings}".encode("utf-8", "surrogatepass")
                          ).hexdigest()


# --- one entry as JSON -----------------------------------------------------------------------

_EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(model.Event))


def _encode_parsed(parsed: Parsed) -> list:
    """Return [event values in field order or None, the positions of values that are not
    plain JSON, problems, image, image key]."""
    values, tagged = None, []
    if parsed.event is not None:
        values = [_encode(getattr(parsed.event, name)) for name in _EVENT_FIELDS]
        tagged = [i for i, value in enumerate(values) if type(value) is dict]
    problems = [[p.source, p.field, p.message, p.severity] for p in parsed.problems]
    return [values, tagged, problems, parsed.image, parsed.image_key]


def _decode(record: list, zone: ZoneInfo | None) -> Parsed:
    values, tagged, problems, image, image_key = record
    if not isinstance(image, str) or not isinstance(image_key, str):
        raise TypeError("image")
    event = None
    if values is not None:
        if len(values) != len(_EVENT_FIELDS):
            raise ValueError("event")
        values = list(values)
        for i in tagged:
            values[i] = _decode_value(values[i], zone)
        event = model.Event(*values)
        if not isinstance(event.start, datetime) or not isinstance(event.ref, str):
            raise TypeError("event")
    return Parsed(event, tuple([Problem(*p) for p in problems]), image, image_key)


def _encode(value: Any) -> Any:
    """Return `value` as JSON: plain values as they are, others as {"kind": text}."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Path):
        return {"path": str(value)}
    if isinstance(value, (tuple, list)):
        return {"tuple": [_encode(v) for v in value]}
    if dataclasses.is_dataclass(value) and getattr(model, type(value).__name__, None) is type(
            value):
        return {"model": type(value).__name__,
                "fields": {f.name: _encode(getattr(value, f.name))
                           for f in dataclasses.fields(value)}}
    raise TypeError(f"cannot keep a {type(value).__name__} in the parse cache")


def _decode_value(value: Any, zone: ZoneInfo | None) -> Any:
    if type(value) is not dict:
        return value
    (kind, text), = value.items() if len(value) == 1 else ((None, None),)
    if kind == "datetime":
        return datetime.fromisoformat(text).astimezone(zone)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "path":
        return Path(text)
    if kind == "tuple":
        return tuple(_decode_value(v, zone) for v in text)
    if value.keys() == {"model", "fields"}:
        cls = getattr(model, value["model"])
        if not dataclasses.is_dataclass(cls):
            raise TypeError(value["model"])
        return cls(**{k: _decode_value(v, zone) for k, v in value["fields"].items()})
    raise ValueError(f"unknown value {value!r:.40}")
