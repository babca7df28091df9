"""The ledger's rows as the service loop keeps them: read once, then only what changed.

Every change to a post's row takes the next revision number in the ledger (whichever process
or thread made it), so each tick asks the ledger only for the rows changed since the last one,
through an index, however long the history has grown. What the tick derives from the rows (the
latest generation of each post, the posting times, the posts done) is worked out again only
after a change.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from ..ledger import Entry, Ledger
from ..model import PostKey
from ..survey import latest_entries

T = TypeVar("T")


class Journal:
    """The rows of one ledger, kept in memory for the life of a Runner."""

    def __init__(self) -> None:
        self.revision = -1
        self._rows: dict[int, Entry] = {}
        self._derived: dict[Hashable, Any] = {}

    def refresh(self, ledger: Ledger) -> bool:
        """Read the rows changed since the last refresh; True when there were any."""
        changed, revision = ledger.changed_since(max(self.revision, 0))
        first = self.revision < 0
        self.revision = revision
        if not changed and not first:
            return False
        for number, entry in changed:
            self._rows[number] = entry
        self._derived.clear()
        return True

    def rows(self) -> list[Entry]:
        """Every row, oldest change first (as `Ledger.history()` orders them)."""
        return self.derived("rows", lambda: [self._rows[n] for n in sorted(
            self._rows, key=lambda n: (self._rows[n].updated_at, n))])

    def latest(self) -> dict[PostKey, Entry]:
        """The generation of each post the daemon works with (`survey.latest_entries`)."""
        return self.derived("latest", lambda: latest_entries(self._rows.values()))

    def derived(self, key: Hashable, compute: Callable[[], T], *, given: object = None) -> T:
        """`compute()`, worked out once until the rows change again (or `given` is another
        object than the last time: a reloaded site)."""
        found = self._derived.get(key)
        if found is None or found[0] is not given:
            found = self._derived[key] = (given, compute())
        return found[1]
