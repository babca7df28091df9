"""Find a site's event files and read them safely.

An event file is treated like an image: Herald reads only regular files inside the site, of at
most `MAX_EVENT_BYTES`. A link is followed only to such a file; a link to a FIFO, a device, a
folder or anything outside the site is reported in one line and skipped, never opened. Files
are opened without blocking and checked again once open, so a file swapped for a FIFO between
the scan and the read cannot hang Herald either.

Like Jekyll, sub-folders are read too, and names starting with `.`, `_` or `#` are skipped.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import NamedTuple

from ..config import SiteConfig
from ..errors import ConfigError
from ..model import Problem
from .names import printable

MAX_EVENT_BYTES = 1_000_000
"""The largest event file Herald reads (1 MB; the real ones are under 10 kB)."""

_SKIPPED_PREFIXES = "._#"
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) \
    | getattr(os, "O_CLOEXEC", 0)


class EventFile(NamedTuple):
    """One event file found under the events folder.

    `key` is its path relative to the site root exactly as on disk (it may hold bytes that are
    not UTF-8, as surrogate escapes); `source` is the same path made safe to print (see
    `names.printable`), used in every message. `path` is the real file to open (a link already
    followed); `size` and `mtime_ns` are that file's.
    """

    key: str
    source: str
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Scan:
    """The event files of a site, in order, and one problem per file Herald will not read."""

    files: tuple[EventFile, ...]
    problems: tuple[Problem, ...]

    def state(self) -> frozenset[tuple[str, int, int]]:
        """Return (key, size, mtime_ns) of every readable file, and the skipped ones' names."""
        return frozenset([(f.key, f.size, f.mtime_ns) for f in self.files]
                         + [(p.source, -1, -1) for p in self.problems])


class UnreadableFile(Exception):
    """An event file that cannot be read; the message says why, in words for a user."""


def events_folder(site: SiteConfig) -> tuple[str, str]:
    """Return the real site root and events folder; raise ConfigError when either is unusable.

    The events folder must be a folder inside the site (a link is followed only if it stays
    inside): `events_dir = "../elsewhere"` or an absolute path outside is a configuration error.
    """
    try:
        return _events_folder(site)
    except ValueError as exc:  # a NUL byte in a path
        raise ConfigError(f"site.events_dir: cannot use {printable(site.events_dir)!r} "
                          f"({exc})") from None


def _events_folder(site: SiteConfig) -> tuple[str, str]:
    root = os.path.realpath(site.root)
    if not os.path.isdir(root):
        what = "is not a folder" if os.path.exists(root) else "not found"
        raise ConfigError(f"site.path: the site folder {printable(str(site.root))} {what}")
    folder = os.path.realpath(os.path.join(root, site.events_dir))
    if not _inside(folder, root):
        raise ConfigError(f"site.events_dir: {printable(site.events_dir)!s} is outside the site "
                          f"folder {printable(root)}; the events folder must be inside the site")
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "not found"
        raise ConfigError(f"site.events_dir: {printable(site.events_dir)}/ {what} in the site "
                          f"folder {printable(root)}")
    return root, folder


def scan_events(site: SiteConfig) -> Scan:
    """List the site's event files (sorted by path) without reading them: one stat per file.

    Raises ConfigError when the site or its events folder is unusable (see `events_folder`).
    """
    return list_events(site).scan()


def list_events(site: SiteConfig) -> Listing:
    """Return the site's event files by key, to scan again cheaply later (`Listing.changes`).

    Raises ConfigError when the site or its events folder is unusable (see `events_folder`).
    """
    root, folder = events_folder(site)
    listing = Listing(root, folder)
    _walk(folder, _prefix(site, root, folder), root, listing)
    return listing


def _prefix(site: SiteConfig, root: str, folder: str) -> str:
    if os.path.isabs(site.events_dir):
        prefix = os.path.relpath(folder, root)
    else:  # as configured, even when the folder is a link to another folder of the site
        prefix = os.path.normpath(site.events_dir)
    prefix = prefix.replace(os.sep, "/")
    return "" if prefix == "." else prefix + "/"


class Changes(NamedTuple):
    """What differs from an earlier listing: files new or changed, files newly skipped (or
    skipped for another reason), and the keys of files now neither read nor skipped."""

    files: list[EventFile]
    skipped: list[tuple[str, Problem]]
    gone: list[str]
    stamps: dict[str, tuple[int, int]]
    """Size and time of the new or changed files that are not links."""

    def __bool__(self) -> bool:
        return bool(self.files or self.skipped or self.gone)


class Listing:
    """A site's event files by key as last listed, and the files skipped, with why.

    `changes` lists the site again and says only what differs, comparing each regular file's
    size and time with those kept here (one `lstat` each, and one dictionary lookup);
    `apply` brings the listing up to date with what it found.
    """

    def __init__(self, root: str, folder: str):
        self.root, self.folder = root, folder
        self.files: dict[str, EventFile] = {}
        self.skipped: dict[str, Problem] = {}
        self.unlisted: list[Problem] = []
        """A problem for each folder that could not be listed."""
        self._stamps: dict[str, tuple[int, int]] = {}

    def add(self, found: EventFile | Problem, key: str, link: bool) -> None:
        if type(found) is EventFile:
            self.files[key] = found
            if not link:
                self._stamps[key] = (found.size, found.mtime_ns)
        else:
            self.skipped[key] = found

    def same_as(self, other: Listing) -> bool:
        """Whether both list the same files, alike, and skip the same ones for the same reasons."""
        return (self.files == other.files and self.skipped == other.skipped
                and self.unlisted == other.unlisted and self.root == other.root
                and self.folder == other.folder)

    def scan(self) -> Scan:
        """The same listing as a Scan: the files sorted by key, the problems by file name."""
        problems = list(self.skipped.values()) + self.unlisted
        problems.sort(key=lambda p: p.source)
        return Scan(tuple(sorted(self.files.values(), key=lambda f: f.key)), tuple(problems))

    def changes(self, site: SiteConfig) -> Changes | None:
        """List the site again and return what differs; None when only a whole new listing
        can tell (a folder could not be listed, now or before, or the events folder moved).

        Raises ConfigError when the site or its events folder is unusable.
        """
        if self.unlisted or events_folder(site) != (self.root, self.folder):
            return None
        root, files, skipped, stamps = self.root, self.files, self.skipped, self._stamps
        changed: list[EventFile] = []
        skips: list[tuple[str, Problem]] = []
        fresh: dict[str, tuple[int, int]] = {}
        seen: list[str] = []
        lstat, regular = os.lstat, stat.S_IFREG
        pending = [(self.folder, _prefix(site, self.root, self.folder))]
        while pending:
            folder, prefix = pending.pop()
            try:
                names = os.listdir(folder)
            except OSError:
                return None
            for name in names:
                if name[:1] in _SKIPPED_PREFIXES:
                    continue
                key, path = prefix + name, folder + os.sep + name
                try:
                    st = lstat(path)
                except OSError as exc:
                    if name.endswith(".md"):
                        seen.append(key)
                        if skipped.get(key) != (problem := _unreadable(key, exc)):
                            skips.append((key, problem))
                    continue
                mode = st.st_mode
                if stamps.get(key) == (st.st_size, st.st_mtime_ns) \
                        and stat.S_IFMT(mode) == regular:
                    seen.append(key)        # the common case: a regular file as it was
                    continue
                if stat.S_ISDIR(mode):
                    pending.append((path, key + "/"))
                    continue
                if not name.endswith(".md"):
                    continue
                seen.append(key)
                found = _examined(path, key, root, st)
                if type(found) is EventFile:
                    if files.get(key) != found:
                        changed.append(found)
                        if not stat.S_ISLNK(mode):
                            fresh[key] = (found.size, found.mtime_ns)
                elif skipped.get(key) != found:
                    skips.append((key, found))
        gone: list[str] = []
        new = sum(1 for f in changed if f.key not in files and f.key not in skipped) + sum(
            1 for key, _ in skips if key not in files and key not in skipped)
        if len(seen) - new != len(files) + len(skipped):    # each key is seen once
            now = set(seen)
            gone = [key for key in (*files, *skipped) if key not in now]
        return Changes(changed, skips, gone, fresh)

    def apply(self, changes: Changes) -> None:
        """Bring the listing up to date with `changes` (from `changes`)."""
        for key in changes.gone:
            self.files.pop(key, None)
            self.skipped.pop(key, None)
            self._stamps.pop(key, None)
        for file in changes.files:
            self.skipped.pop(file.key, None)
            self._stamps.pop(file.key, None)
            self.add(file, file.key, file.key not in changes.stamps)
        for key, problem in changes.skipped:
            self.files.pop(key, None)
            self._stamps.pop(key, None)
            self.skipped[key] = problem


def _walk(top: str, top_prefix: str, root: str, listing: Listing) -> None:
    """Visit the folder and its sub-folders (a list, not recursion: any depth is fine)."""
    pending = [(top, top_prefix)]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            listing.unlisted.append(Problem(printable(prefix.rstrip("/")), None,
                                            f"cannot list the folder ({_reason(exc)}); its "
                                            f"files are skipped", "error"))
            continue
        for entry in entries:
            name = entry.name
            if name[:1] in _SKIPPED_PREFIXES:
                continue
            key = prefix + name
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, key + "/"))
                    continue
            except OSError as exc:
                listing.add(_unreadable(key, exc), key, False)
                continue
            if not name.endswith(".md"):
                continue
            if not entry.is_symlink():      # the common case, as `_examine` and `_regular`
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    listing.add(_unreadable(key, exc), key, False)
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_EVENT_BYTES:
                    listing.files[key] = EventFile(key, printable(key), entry.path,
                                                   st.st_size, st.st_mtime_ns)
                    listing._stamps[key] = (st.st_size, st.st_mtime_ns)
                    continue
            listing.add(_examine(entry, key, root), key, entry.is_symlink())


def _examine(entry: os.DirEntry, key: str, root: str) -> EventFile | Problem:
    """Return the event file `entry` is, or the problem that skips it."""
    try:
        if entry.is_symlink():
            return _linked(entry.path, key, root)
        return _regular(entry.path, key, entry.stat(follow_symlinks=False))
    except _Skip as skip:
        return Problem(printable(key), None, str(skip), skip.severity)
    except OSError as exc:
        return _unreadable(key, exc)


def _examined(path: str, key: str, root: str, st: os.stat_result) -> EventFile | Problem:
    """`_examine` for a file whose `lstat` is `st`."""
    try:
        if stat.S_ISLNK(st.st_mode):
            return _linked(path, key, root)
        return _regular(path, key, st)
    except _Skip as skip:
        return Problem(printable(key), None, str(skip), skip.severity)
    except OSError as exc:
        return _unreadable(key, exc)


def _unreadable(key: str, exc: OSError) -> Problem:
    return Problem(printable(key), None, f"cannot read the file ({_reason(exc)}); skipped",
                   "error")


class _Skip(Exception):
    def __init__(self, message: str, severity: str = "error"):
        super().__init__(message)
        self.severity = severity


def _regular(path: str, key: str, st: os.stat_result) -> EventFile:
    if not stat.S_ISREG(st.st_mode):
        raise _Skip(f"is {_kind(st.st_mode)}, not a regular file; skipped")
    if st.st_size > MAX_EVENT_BYTES:
        raise _Skip(f"is {st.st_size:,} bytes, more than the {MAX_EVENT_BYTES:,} bytes "
                    f"Herald reads in an event file; skipped")
    return EventFile(key, printable(key), path, st.st_size, st.st_mtime_ns)


def _linked(path: str, key: str, root: str) -> EventFile:
    """Follow a link only to a regular file inside the site."""
    target = os.path.realpath(path)
    shown = printable(target)
    if not _inside(target, root):
        raise _Skip(f"is a link to {shown}, outside the site folder; Herald reads only files "
                    f"inside the site; skipped")
    try:
        st = os.stat(target, follow_symlinks=False)
    except FileNotFoundError:
        raise _Skip(f"is a link to {shown}, which does not exist; skipped") from None
    if stat.S_ISDIR(st.st_mode):
        raise _Skip(f"is a link to the folder {shown}; Herald does not follow links to "
                    f"folders; skipped", "warning")
    if not stat.S_ISREG(st.st_mode):
        raise _Skip(f"is a link to {shown}, which is {_kind(st.st_mode)}, not a regular file; "
                    f"skipped")
    return _regular(target, key, st)


def read_event_file(file: EventFile) -> bytes:
    """Return the file's bytes; raise UnreadableFile when it is not a regular file of at most
    `MAX_EVENT_BYTES` once open (it may have changed since the scan)."""
    try:
        fd = os.open(file.path, _OPEN_FLAGS)
    except OSError as exc:
        raise UnreadableFile(f"cannot read the file ({_reason(exc)})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile(f"is {_kind(st.st_mode)}, not a regular file; skipped")
        # A regular file answers a read of more than its size with all of it (one call);
        # only a file that grows meanwhile needs more, and only up to the cap.
        data = os.read(fd, min(st.st_size, MAX_EVENT_BYTES) + 1)
        while len(data) > st.st_size and len(data) <= MAX_EVENT_BYTES:
            more = os.read(fd, MAX_EVENT_BYTES + 1 - len(data))
            if not more:
                break
            data += more
        if len(data) > MAX_EVENT_BYTES:
            raise UnreadableFile(f"is more than the {MAX_EVENT_BYTES:,} bytes Herald reads in "
                                 f"an event file; skipped")
        return data
    except OSError as exc:
        raise UnreadableFile(f"cannot read the file ({_reason(exc)})") from None
    finally:
        os.close(fd)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__

