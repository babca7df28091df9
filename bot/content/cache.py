"""Keep parsed event files between loads, so an unchanged file is not parsed again.

A file is unchanged when its path, size and modification time (in nanoseconds) are the same,
and the site configuration and Herald's parsing code are too. The cache lives in memory (the
daemon keeps one across reloads) and, when it has a path, in one file per site in the user's
cache folder (never inside the site). The file is written atomically and only by its owner;
one that is unreadable, damaged, written by another version or another user, or writable by
others, is ignored and rewritten, never trusted.

On disk the entries are plain tuples of strings, numbers and None in Python's `marshal`
format, which builds data only (it never imports or runs anything, unlike pickle) and reads
about as fast as Python can make the objects. The file starts with the format's name and a
SHA-256 of the rest, checked before the rest is read: a damaged file is never decoded.

A file changed less than `RECENT_SECONDS` ago is parsed again every time: within one tick of
the file system's clock a second edit of the same size would not change its time.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import marshal
import os
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
from .private import read_private, write_private

FORMAT = "herald-content-cache/3"
MAGIC = FORMAT.encode() + b"\n"
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
        self._stored: dict[str, tuple] = {}
        self._shared: dict = {}         # decoded values that many entries hold (see _decode)
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
        return cls(folder / f"{name.hexdigest()[:24]}.cache")

    # -- used by load_site --------------------------------------------------------------------

    def bind(self, site: SiteConfig) -> None:
        """Use the entries made under this site configuration; forget any others."""
        fingerprint = _fingerprint(site)
        if fingerprint != self._fingerprint:
            self._parsed.clear()
            self.finished = {}
            self._stored.clear()
            self._shared.clear()
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
                parsed = _decode(stored[2], self._zone, self._shared)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError):
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
        same: dict = {}
        for key, (size, mtime_ns, parsed) in self._parsed.items():
            if key not in files:
                files[key] = (size, mtime_ns, _encode_parsed(parsed, same))
        try:
            payload = marshal.dumps((self._fingerprint, files), 4)
            write_private(self.path, MAGIC, hashlib.sha256(payload).digest(), payload,
                          prefix=".content-")
        except (OSError, TypeError, ValueError) as exc:
            self.notes.append(f"cannot write the parse cache {self.path} ({exc})")
            return False
        self._stored = files
        self._dirty = False
        self._forget_json()
        return True

    def _forget_json(self) -> None:
        """Remove the JSON file an earlier Herald kept beside this one (never read now)."""
        assert self.path is not None
        try:
            os.unlink(self.path.with_suffix(".json"))
        except OSError:
            pass

    def _load(self, fingerprint: str) -> dict[str, tuple]:
        try:
            data = read_private(self.path, MAX_CACHE_BYTES)
            if data is None:    # none yet
                return {}
            digest = data[len(MAGIC):len(MAGIC) + 32]
            payload = memoryview(data)[len(MAGIC) + 32:]
            if not data.startswith(MAGIC):
                raise ValueError("not a cache file of this Herald")
            if hashlib.sha256(payload).digest() != digest:
                raise ValueError("damaged")
            document = marshal.loads(payload)
            if not (type(document) is tuple and len(document) == 2
                    and type(document[1]) is dict):
                raise ValueError("not a cache file of this Herald")
            if document[0] != fingerprint:
                self._dirty = True
                return {}
            files = document[1]
            if not all(type(v) is tuple and len(v) == 3 and type(v[0]) is int
                       and type(v[1]) is int for v in files.values()):
                raise ValueError("damaged entries")
            return files
        except (OSError, ValueError, KeyError, TypeError, EOFError, RecursionError) as exc:
            self.notes.append(f"ignored the parse cache {self.path} ({exc}); rewriting it")
            self._dirty = True
            return {}


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


# --- one entry as plain tuples ----------------------------------------------------------------

_EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(model.Event))
_PLAIN = (str, int, bool, float, type(None))
_DATETIME, _DATE, _PATH, _TUPLE, _MODEL = "T", "D", "P", "U", "M"


def _encode_parsed(parsed: Parsed, same: dict) -> tuple:
    """Return (event values in field order or None, problems, image, image key); a value
    that is not a plain string, number or None is a tuple (kind, ...).

    Equal values of several events (the same link in many files) are made one object through
    `same`, which `marshal` then writes once and reads back as one.
    """
    values = None
    if parsed.event is not None:
        values = tuple([_encode(getattr(parsed.event, name), same)
                        for name in _EVENT_FIELDS])
    problems = tuple([(p.source, p.field, p.message, p.severity) for p in parsed.problems])
    return values, problems, parsed.image, parsed.image_key


def _decode(record: tuple, zone: ZoneInfo | None, shared: dict) -> Parsed:
    values, problems, image, image_key = record
    if type(image) is not str or type(image_key) is not str:
        raise TypeError("image")
    event = None
    if values is not None:
        if type(values) is not tuple or len(values) != len(_EVENT_FIELDS):
            raise ValueError("event")
        values = [v if type(v) in _PLAIN else _decode_value(v, zone, shared) for v in values]
        event = _made(model.Event, values)
        if type(event.start) is not datetime or type(event.ref) is not str:
            raise TypeError("event")
    return Parsed(event, tuple([_problem(*p) for p in problems]), image, image_key)


def _problem(source: str, field: str | None, message: str, severity: str) -> Problem:
    if type(source) is not str or type(message) is not str or type(severity) is not str \
            or not (field is None or type(field) is str):
        raise TypeError("problem")
    return _made(Problem, (source, field, message, severity))


_FIELDS: dict[type, tuple[str, ...]] = {}


@functools.cache
def _models() -> dict[str, type]:
    """The dataclasses of Herald's model, by name: the only classes an entry can name."""
    return {name: cls for name, cls in vars(model).items()
            if isinstance(cls, type) and dataclasses.is_dataclass(cls)
            and cls.__module__ == model.__name__}


def _made(cls: type, values) -> Any:
    """Make a frozen dataclass of Herald's model from its field values in order, without
    running `__init__` (a third of the time): the values were checked when they were first
    made, and their types here."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    if len(values) != len(names):
        raise ValueError(cls.__name__)
    made = object.__new__(cls)
    made.__dict__.update(zip(names, values))
    return made


def _encode(value: Any, same: dict) -> Any:
    """Return `value` as plain data: plain values as they are, others as (kind, ...)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, datetime):
        return _DATETIME, value.isoformat()
    if isinstance(value, date):
        return _DATE, value.isoformat()
    if isinstance(value, Path):
        return _PATH, str(value)
    if isinstance(value, (tuple, list)):
        encoded = _TUPLE, tuple([_encode(v, same) for v in value])
        return same.setdefault(encoded, encoded)
    if dataclasses.is_dataclass(value) and getattr(model, type(value).__name__, None) is type(
            value):
        encoded = (_MODEL, type(value).__name__,
                   tuple([_encode(getattr(value, f.name), same)
                          for f in dataclasses.fields(value)]))
        return same.setdefault(encoded, encoded)
    raise TypeError(f"cannot keep a {type(value).__name__} in the parse cache")


def _decode_value(value: Any, zone: ZoneInfo | None, shared: dict) -> Any:
    """Decode one value; a tuple or model of strings alone is made once per cache (`shared`):
    the model is frozen, so every event can hold the same one."""
    if type(value) in _PLAIN:
        return value
    if type(value) is not tuple or not value:
        raise TypeError(f"unknown value {value!r:.40}")
    kind = value[0]
    if kind == _DATETIME:
        return datetime.fromisoformat(value[1]).astimezone(zone)
    if kind == _DATE:
        return date.fromisoformat(value[1])
    if kind == _PATH:
        return Path(value[1])
    if kind == _TUPLE:
        made = shared.get(value)
        if made is None:
            made = tuple([_decode_value(v, zone, shared) for v in value[1]])
            if _strings(value[1]):
                shared[value] = made
        return made
    if kind == _MODEL:
        cls = _models().get(value[1])
        if cls is None:
            raise TypeError(value[1])
        made = shared.get(value)
        if made is None:
            fields = value[2]
            if _strings(fields):
                made = shared[value] = _made(cls, fields)
            else:
                made = _made(cls, [_decode_value(v, zone, shared) for v in fields])
        return made
    raise ValueError(f"unknown value {value!r:.40}")


def _strings(values: tuple) -> bool:
    """Whether the encoded `values` hold only strings, None, dates, paths, and tuples and
    models of those: values whose equal encodings mean equal values (unlike 1, 1.0 and True,
    which are one key of a dict, or a time, which depends on the zone)."""
    for value in values:
        if value is None or type(value) is str:
            continue
        if type(value) is not tuple or not value:
            return False
        kind = value[0]
        if kind == _TUPLE:
            ok = len(value) == 2 and type(value[1]) is tuple and _strings(value[1])
        elif kind == _MODEL:
            ok = len(value) == 3 and type(value[2]) is tuple and _strings(value[2])
        else:
            ok = kind in (_DATE, _PATH)
        if not ok:
            return False
    return True
