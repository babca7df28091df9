"""Remember what `herald validate` found about files that have not changed since it last looked.

Whether every post of an event can fit its platform, and whether an event's image can be read,
depend only on the files, the configuration and Herald itself. So each answer is kept under
the fingerprint of the files it is about (path, size and modification time in nanoseconds, as
the parse cache keeps parsed files), in a small JSON file beside the parse cache (never inside
the site: without a parse cache file there is none). The file also names what every answer
assumed: Herald's code, Python's and its libraries' versions, and the configuration's values
(the accounts' limits included); when any of them differs the whole file is set aside.

Like the parse cache, the file is written atomically and only by its owner, and one that is
unreadable, damaged, too large, written by another user or writable by others is ignored and
rewritten, never trusted. A file changed less than `RECENT_SECONDS` ago gets no remembered
answer: within one tick of the file system's clock a second edit of the same size would not
change its time. Only the answers asked for or given in a run are written back, so answers
about files that are gone do not pile up.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..model import Event
from .cache import RECENT_SECONDS
from .files import EventFile
from .private import read_private, write_private

FORMAT = "herald-verdicts/1"
MAX_BYTES = 64 * 1024 * 1024
LIBRARIES = ("babel", "PIL", "grapheme")
"""Libraries whose version can change an answer: dates written, images read, characters counted."""


class Verdicts:
    """Answers about unchanged files, under one context (code, versions, configuration)."""

    def __init__(self, path: str | Path | None, context: str):
        self.path = Path(path) if path is not None else None
        self.context = context
        self.notes: list[str] = []
        """Why the file on disk was not used or not written (for --verbose logs)."""
        self.hits = 0
        self.misses = 0
        self.files: dict[str, tuple[int, int]] = {}
        """Each event file's (size, mtime_ns) by its source, when it may be trusted."""
        self._stored: dict[str, dict[str, Any]] = {}
        self._used: dict[str, dict[str, Any]] = {}
        self._read = False
        self._dirty = False

    @classmethod
    def beside(cls, cache_path: str | Path | None, context: str) -> "Verdicts":
        """The verdicts kept next to the parse cache file `cache_path` (none when it is None:
        a cache that would be inside the site stays in memory, and so do these)."""
        if cache_path is None:
            return cls(None, context)
        cache_path = Path(cache_path)
        return cls(cache_path.with_name(cache_path.stem + ".verdicts.json"), context)

    def know_files(self, files: Iterable[EventFile], *, now_ns: int | None = None) -> None:
        """Note the fingerprint of each event file, leaving out those changed too recently
        and sources two files share."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        seen: dict[str, tuple[int, int] | None] = {}
        for file in files:
            recent = now_ns - file.mtime_ns < RECENT_SECONDS * 1e9
            shared = file.source in seen        # two names printed alike: trust neither
            seen[file.source] = None if recent or shared else (file.size, file.mtime_ns)
        self.files = {source: print_ for source, print_ in seen.items() if print_ is not None}

    def key(self, versions: Mapping[str, Event]) -> str | None:
        """The key of an answer about an event's language versions, or None when one of its
        files has no trusted fingerprint."""
        parts: list[str] = []
        for lang in sorted(versions):
            event = versions[lang]
            found = self.files.get(event.source)
            if found is None:
                return None
            parts.append(repr((event.source, lang, event.ref, event.published, *found,
                               None if event.image is None else str(event.image))))
        text = "\n".join(parts).encode("utf-8", "surrogatepass")
        return hashlib.blake2b(text, digest_size=16).hexdigest()

    def get(self, kind: str, key: str, valid: Callable[[Any], bool] = lambda value: True) -> Any:
        """The answer kept under `key`, or None (also when it is not `valid`: damaged)."""
        self._load()
        value = self._stored.get(kind, {}).get(key)
        if value is None or not valid(value):
            self.misses += 1
            self._dirty = self._dirty or value is not None
            return None
        self.hits += 1
        self._used.setdefault(kind, {})[key] = value
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        """Keep `value` (plain JSON, never None) under `key`."""
        self._used.setdefault(kind, {})[key] = value
        if self._stored.get(kind, {}).get(key) != value:
            self._dirty = True

    def save(self) -> bool:
        """Write the answers of this run if anything changed; return whether it was written.

        A file that cannot be written is noted in `notes`, never raised: nothing needs it.
        """
        if self.path is None:
            return False
        self._load()
        stale = any(set(self._stored.get(kind, {})) != set(self._used.get(kind, {}))
                    for kind in {*self._stored, *self._used})
        if not self._dirty and not stale:
            return False
        document = {"format": FORMAT, "context": self.context, "answers": self._used}
        try:
            data = json.dumps(document, separators=(",", ":")).encode("utf-8")
            write_private(self.path, data, prefix=".verdicts-")
        except (OSError, TypeError, ValueError) as exc:
            self.notes.append(f"cannot write the validate cache {self.path} ({exc})")
            return False
        self._stored = {kind: dict(used) for kind, used in self._used.items()}
        self._dirty = False
        return True

    def _load(self) -> None:
        if self._read:
            return
        self._read = True
        if self.path is None:
            return
        try:
            data = read_private(self.path, MAX_BYTES)
            if data is None:    # none yet
                return
            document = json.loads(data)
            if not isinstance(document, dict) or document.get("format") != FORMAT:
                raise ValueError("not a validate cache of this Herald")
            if document.get("context") != self.context:
                self._dirty = True      # another configuration or Herald: start again
                return
            answers = document["answers"]
            if not isinstance(answers, dict) or not all(
                    isinstance(kind, dict) and all(isinstance(k, str) for k in kind)
                    for kind in answers.values()):
                raise ValueError("damaged entries")
            self._stored = answers
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            self.notes.append(f"ignored the validate cache {self.path} ({exc}); rewriting it")
            self._dirty = True


def context(*parts: Any) -> str:
    """The context answers are kept under: Herald's code, Python's and the libraries' versions
    and `parts` (the configuration's values), as one digest."""
    return _digest([FORMAT, _code_version(), sys.version, _libraries(), _plain(parts)])


def image_key(path: str | os.PathLike) -> str | None:
    """The key of an answer about the image file at `path`, or None when it cannot be trusted
    (missing, unreadable, or changed too recently)."""
    try:
        link = os.lstat(path)
        target = os.stat(path)
    except (OSError, ValueError):
        return None
    if time.time_ns() - max(link.st_mtime_ns, target.st_mtime_ns) < RECENT_SECONDS * 1e9:
        return None
    return _digest([os.fspath(path), *(
        [st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns] for st in (link, target))])


def _digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@functools.cache
def _code_version() -> str:
    """Hash every module of Herald, so that a changed Herald never reads an older answer."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for folder, names, files in sorted(os.walk(package)):
        names.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, package).encode("utf-8", "surrogatepass"))
                try:
                    with open(path, "rb") as source:
                        digest.update(source.read())
                except OSError:
                    digest.update(b"unreadable")
    return digest.hexdigest()


def _libraries() -> list:
    """Where each library of `LIBRARIES` lives, with its size and time (found without importing
    it): an upgrade rewrites the files."""
    from importlib.util import find_spec

    found = []
    for name in LIBRARIES:
        try:
            spec = find_spec(name)
            origin = spec.origin if spec is not None else None
            st = os.stat(origin) if origin else None
        except (ImportError, ValueError, OSError):
            spec, origin, st = None, None, None
        found.append([name, origin, st.st_size if st else None, st.st_mtime_ns if st else None])
    return found


def _plain(value: Any) -> Any:
    """`value` as plain JSON that is the same in every process (sets sorted)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__,
                {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}]
    if isinstance(value, Mapping):
        return [[_plain(k), _plain(v)] for k, v in value.items()]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return [type(value).__name__, str(value)]
