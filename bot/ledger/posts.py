"""The ledger's rows of posts: reserve before sending, record after, and every move between.

Each change asks `bot.lifecycle` whether the move is allowed and what it leads to; this module
only stores the answer. One post identity is (ref, stage, account, lang, generation);
generation 0 is the normal post and a deliberate `again` makes the next one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from .. import lifecycle
from ..errors import LedgerError
from ..lifecycle import State, Step
from ..model import PostKey, Published
from .place import sqlite_problem
from .entries import AlreadyPosted, Entry, LedgerConflict, Reservation, idempotency_key
from .schema import parse, stamp


class PostRows:
    """The `posts` table (a part of `Ledger`)."""

    _conn: sqlite3.Connection
    path: Path

    def _write(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    # -- sending -----------------------------------------------------------------------------

    def reserve(self, key: PostKey, *, text: str | None, now: datetime, again: bool = False,
                reply_to: str | None = None, requested: bool = False) -> Reservation:
        """Reserve the current generation of `key` for sending, or a new one with `again=True`.

        Raises AlreadyPosted when that generation is posted and `again` is false, and
        LedgerConflict when it was skipped or deleted. A row still reserved, or failed with an
        unknown outcome, is handed out as CHECKING: look it up before sending. `requested`
        marks a deliberate request; without it, a request the user left failed is passed over.
        `text` None keeps the text the row has (a lookup of a post in doubt needs it).
        """
        moment = stamp(now)
        with self._write():
            row = self.current(key, requested=requested)
            life = State.NEW if row is None else row.life
            if row is None or (again and life in lifecycle.DONE):
                state = lifecycle.move(life, Step.RESERVE if row is None else Step.AGAIN)
                generation, ikey = self._insert(
                    key, state="reserved", text=text, reply_to=reply_to, attempts=1,
                    created_at=moment, reserved_at=moment, updated_at=moment,
                    requested=int(requested))
                return Reservation(key, generation, ikey, 1, state, reply_to, now, requested)
            if life is State.POSTED:
                raise AlreadyPosted(row)
            if not lifecycle.allowed(life, Step.RESERVE):
                raise LedgerConflict(f"{key} was {life.value} ({row.reason}); post it "
                                     f"deliberately (herald announce --again) to send it", row)
            state = lifecycle.move(life, Step.RESERVE)
            reply = reply_to if reply_to is not None else row.reply_to
            self._conn.execute(
                "UPDATE posts SET state = 'reserved', text = COALESCE(?, text), reply_to = ?,"
                " attempts = attempts + 1, reserved_at = ?, next_attempt_at = NULL,"
                " updated_at = ? WHERE idempotency_key = ?",
                (text, reply, moment, moment, row.idempotency_key))
            return Reservation(key, row.generation, row.idempotency_key, row.attempts + 1,
                               state, reply, row.created_at, row.requested)

    def record(self, reservation: Reservation, published: Published, now: datetime, *,
               step: Step | None = None, event: str | None = None) -> Entry:
        """Mark a reserved post as posted with the platform's id and URL.

        `step` is ANSWERED (the platform took it; the default where allowed) or FOUND (a lookup
        or a duplicate answer named it). `event` (JSON) is what the post said about its event,
        stored in the same transaction. Recording is idempotent for the same platform id; a
        different id for a post already recorded raises AlreadyPosted (the platform now holds
        two copies).
        """
        if step is None:
            step = Step.ANSWERED if lifecycle.may_send(reservation.state) else Step.FOUND
        lifecycle.move(reservation.state, step)
        moment = stamp(now)
        with self._write():
            row = self._by_idempotency_key(reservation.idempotency_key)
            if row.state == "posted":
                if row.platform_id == published.id:
                    return row
                raise AlreadyPosted(row)
            self._set_posted(reservation.idempotency_key, published, moment, event)
            return self._by_idempotency_key(reservation.idempotency_key)

    def fail(self, reservation: Reservation, error: BaseException, now: datetime,
             retry_at: datetime | None = None, *, step: Step | None = None) -> Entry:
        """Record that an attempt failed; `retry_at` None means: do not retry by itself.

        `step` (by default what `lifecycle.step_for` makes of the error after sending) decides
        the new state: an attempt that may have reached the platform leaves the outcome
        unknown, and a reservation made while it was unknown stays unknown whatever the error.
        A rate limit or a failed lookup does not count as an attempt.
        """
        step = step or lifecycle.step_for(error, sent=True)
        state = lifecycle.move(reservation.state, step)
        _, unknown = lifecycle.stored(state)
        uncounted = 0 if lifecycle.counts_as_attempt(error, step) else 1
        moment = stamp(now)
        with self._write():
            row = self._by_idempotency_key(reservation.idempotency_key)
            if row.state == "posted":
                raise AlreadyPosted(row)
            self._conn.execute(
                "UPDATE posts SET state = 'failed', error = ?, error_kind = ?,"
                " outcome_unknown = ?, gave_up = ?, next_attempt_at = ?,"
                " attempts = MAX(attempts - ?, 0), updated_at = ? WHERE idempotency_key = ?",
                (str(error), type(error).__name__, int(unknown), int(state is State.GIVEN_UP),
                 stamp(retry_at) if retry_at else None, uncounted, moment,
                 reservation.idempotency_key))
            return self._by_idempotency_key(reservation.idempotency_key)

    def settle(self, entry: Entry, found: Published | None, now: datetime) -> Entry:
        """Record what a lookup said about an uncertain post without reserving it.

        Found: it is posted. Not found: nothing is out, and it may be sent or skipped.
        """
        step = Step.FOUND if found is not None else Step.NOT_FOUND
        moment = stamp(now)
        with self._write():
            row = self._by_idempotency_key(entry.idempotency_key)
            lifecycle.move(row.life, step)
            if found is not None:
                self._set_posted(row.idempotency_key, found, moment)
            else:
                self._conn.execute(
                    "UPDATE posts SET state = 'failed', outcome_unknown = 0, gave_up = 0,"
                    " error = ?, error_kind = 'NotFound', updated_at = ?"
                    " WHERE idempotency_key = ?",
                    ("not on the platform after an attempt whose outcome was unknown", moment,
                     row.idempotency_key))
            return self._by_idempotency_key(row.idempotency_key)

    def lookup_failed(self, entry: Entry, error: BaseException, now: datetime,
                      retry_at: datetime | None = None) -> Entry:
        """Record that a lookup of a post in doubt (made without reserving it) failed.

        The post stays uncertain; the error and `retry_at` are kept, so `history` and `status`
        show them and the account is asked nothing before `retry_at`.
        """
        moment = stamp(now)
        with self._write():
            row = self._by_idempotency_key(entry.idempotency_key)
            state = lifecycle.move(row.life, Step.LOOKUP_FAILED)
            _, unknown = lifecycle.stored(state)
            self._conn.execute(
                "UPDATE posts SET state = 'failed', error = ?, error_kind = ?,"
                " outcome_unknown = ?, gave_up = 0, next_attempt_at = ?, updated_at = ?"
                " WHERE idempotency_key = ?",
                (str(error), type(error).__name__, int(unknown),
                 stamp(retry_at) if retry_at else None, moment, row.idempotency_key))
            return self._by_idempotency_key(row.idempotency_key)

    def skip(self, key: PostKey, reason: str, now: datetime) -> Entry:
        """Mark the latest generation of `key` as skipped, so it is never sent.

        Raises AlreadyPosted for a posted post and LedgerConflict for an uncertain one (it may
        already be out). Skipping a skipped post changes nothing.
        """
        return self._skip(key, reason, now, new_generation=False, event=None)

    def skip_generation(self, key: PostKey, reason: str, now: datetime, *,
                        event: str | None = None) -> Entry:
        """Mark `key` as skipped; when its latest generation is done, skip a new generation.

        This is how a post that belongs to an event's new date (a reminder re-planned after the
        date changed) is skipped without touching the post made for the old date. Raises
        LedgerConflict for an uncertain post, which may already be out.
        """
        return self._skip(key, reason, now, new_generation=True, event=event)

    def delete(self, entry: Entry, now: datetime) -> Entry:
        """Record that a posted post was taken down again; its id and URL stay for the record."""
        moment = stamp(now)
        with self._write():
            row = self._by_idempotency_key(entry.idempotency_key)
            lifecycle.move(row.life, Step.DELETE)
            self._conn.execute("UPDATE posts SET state = 'deleted', updated_at = ?"
                               " WHERE idempotency_key = ?", (moment, row.idempotency_key))
            return self._by_idempotency_key(row.idempotency_key)

    def deleted_all(self, reservation: Reservation, reason: str, now: datetime) -> Entry:
        """Record a cancellation carried out by deleting the event's posts, and why."""
        lifecycle.move(reservation.state, Step.DELETE)
        moment = stamp(now)
        with self._write():
            self._conn.execute(
                "UPDATE posts SET state = 'deleted', reason = ?, error = NULL, error_kind = NULL,"
                " outcome_unknown = 0, gave_up = 0, next_attempt_at = NULL, updated_at = ?"
                " WHERE idempotency_key = ?", (reason, moment, reservation.idempotency_key))
            return self._by_idempotency_key(reservation.idempotency_key)

    def describe(self, key: PostKey, event: str) -> None:
        """Store what the latest generation of `key` said about its event (a JSON text)."""
        with self._write():
            self._conn.execute(
                "UPDATE posts SET event = ? WHERE ref = ? AND stage = ? AND account = ?"
                " AND lang = ? AND generation = (SELECT MAX(generation) FROM posts"
                " WHERE ref = ? AND stage = ? AND account = ? AND lang = ?)",
                (event, *_key_tuple(key), *_key_tuple(key)))

    def schedule_retry(self, key: PostKey, at: datetime) -> None:
        """Set when the failed latest generation of `key` is tried again."""
        with self._write():
            self._conn.execute(
                "UPDATE posts SET next_attempt_at = ? WHERE state = 'failed' AND ref = ?"
                " AND stage = ? AND account = ? AND lang = ? AND generation = (SELECT"
                " MAX(generation) FROM posts WHERE ref = ? AND stage = ? AND account = ?"
                " AND lang = ?)", (stamp(at), *_key_tuple(key), *_key_tuple(key)))

    # -- reading ---------------------------------------------------------------------------

    def entry(self, key: PostKey, generation: int | None = None) -> Entry | None:
        """Return one generation of `key` (the latest when None), or None if never seen."""
        if generation is None:
            return self._one("WHERE ref = ? AND stage = ? AND account = ? AND lang = ?"
                             " ORDER BY generation DESC LIMIT 1", _key_tuple(key))
        return self._one("WHERE ref = ? AND stage = ? AND account = ? AND lang = ?"
                         " AND generation = ?", (*_key_tuple(key), generation))

    def current(self, key: PostKey, *, requested: bool = False) -> Entry | None:
        """The generation a reservation of `key` would take (before `again`).

        Without `requested` (the daemon), a deliberate request the user left failed is passed
        over: the generation before it counts.
        """
        rows = self._many("WHERE ref = ? AND stage = ? AND account = ? AND lang = ?"
                          " ORDER BY generation DESC", _key_tuple(key))
        return next((r for r in rows if requested or not r.left_to_user), None)

    def posted_keys(self) -> set[PostKey]:
        """Return the identities whose normal post is done (generation 0)."""
        rows = self._conn.execute(
            "SELECT ref, stage, account, lang FROM posts"
            " WHERE generation = 0 AND state IN ('posted', 'skipped', 'deleted')")
        return {PostKey(*row) for row in rows}

    def history(self, ref: str | None = None) -> list[Entry]:
        """Return every entry (of one event when `ref` is given), oldest change first."""
        if ref is None:
            return self._many("ORDER BY updated_at, id", ())
        return self._many("WHERE ref = ? ORDER BY updated_at, id", (ref,))

    def revision(self) -> int:
        """The number of the latest change to any post's row (0 when there is none)."""
        (top,) = self._conn.execute("SELECT MAX(revision) FROM posts").fetchone()
        return top or 0

    def changed_since(self, revision: int) -> tuple[list[tuple[int, Entry]], int]:
        """Return the rows changed after `revision`, as (row id, entry), and the latest revision.

        Read through the revision index: only the rows changed, however long the history.
        `changed_since(0)` reads every row.
        """
        try:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS}, id, revision FROM posts WHERE revision > ?"
                f" ORDER BY revision", (revision,)).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot read the ledger: "
                              f"{sqlite_problem(exc, self.path)}") from exc
        return [(row[24], _entry(row)) for row in rows], rows[-1][25] if rows else revision

    def posting_times(self, account: str, since: datetime) -> list[datetime]:
        """When `account` made a new post after `since`, oldest first (as `survey.posting_times`).

        An edit of an earlier post (a row with the same platform id) does not count; a post
        deleted since does. Read through the index of posting times: only the window.
        """
        rows = self._conn.execute(
            "SELECT p.posted_at FROM posts p WHERE p.account = ? AND p.posted_at > ?"
            " AND p.state IN ('posted', 'deleted') AND (p.platform_id IS NULL"
            " OR p.platform_id = '' OR NOT EXISTS (SELECT 1 FROM posts q"
            " WHERE q.account = p.account AND q.platform_id = p.platform_id"
            " AND q.state IN ('posted', 'deleted') AND q.posted_at IS NOT NULL"
            " AND (q.posted_at < p.posted_at OR (q.posted_at = p.posted_at AND q.id < p.id))))"
            " ORDER BY p.posted_at", (account, stamp(since)))
        return [parse(moment) for (moment,) in rows]

    def uncertain(self) -> list[Entry]:
        """Return the entries that may be on a platform without being recorded."""
        return self._many("WHERE state = 'reserved' OR (state = 'failed' AND outcome_unknown)"
                          " ORDER BY updated_at, id", ())

    def failures(self) -> list[Entry]:
        """Return the entries whose last attempt failed, oldest first."""
        return self._many("WHERE state = 'failed' ORDER BY updated_at, id", ())

    # -- internals -------------------------------------------------------------------------

    def _skip(self, key: PostKey, reason: str, now: datetime, *, new_generation: bool,
              event: str | None) -> Entry:
        with self._write():
            ikey = self._skip_row(key, reason, stamp(now), new_generation=new_generation,
                                  event=event)
            return self._by_idempotency_key(ikey)

    def skip_all(self, items: Iterable[tuple[PostKey, str, str | None]],
                 now: datetime) -> list[LedgerConflict]:
        """Skip many posts at once, as `skip_generation` skips one, in one transaction.

        `items` are (key, reason, event details as JSON). The posts that may already be out
        are left as they are and returned as LedgerConflicts, to be looked up first. A post
        the ledger has no row for yet (most of a first run's backlog) is inserted with the
        others in one statement.
        """
        moment = stamp(now)
        conflicts: list[LedgerConflict] = []
        new: list[tuple] = []
        with self._write():
            for key, reason, event in items:
                if self._conn.execute(
                        "SELECT 1 FROM posts WHERE ref = ? AND stage = ? AND account = ?"
                        " AND lang = ? LIMIT 1", _key_tuple(key)).fetchone() is None:
                    new.append((*_key_tuple(key), idempotency_key(key, 0), reason, moment,
                                moment, event))
                    continue
                try:
                    self._skip_row(key, reason, moment, new_generation=True, event=event)
                except LedgerConflict as exc:
                    conflicts.append(exc)
            if new:     # numbered here: the trigger would look up the latest for each row
                (top,) = self._conn.execute("SELECT MAX(revision) FROM posts").fetchone()
                self._conn.executemany(
                    "INSERT INTO posts (ref, stage, account, lang, generation,"
                    " idempotency_key, state, reason, created_at, updated_at, event, revision)"
                    " VALUES (?, ?, ?, ?, 0, ?, 'skipped', ?, ?, ?, ?, ?)",
                    [(*row, (top or 0) + n) for n, row in enumerate(new, start=1)])
        return conflicts

    def _skip_row(self, key: PostKey, reason: str, moment: str, *, new_generation: bool,
                  event: str | None) -> str:
        """Skip `key` inside the caller's transaction; return the idempotency key of the row."""
        row = self.current(key)
        if row is None or (new_generation and row.done):
            _, ikey = self._insert(key, state="skipped", reason=reason, created_at=moment,
                                   updated_at=moment, event=event)
            return ikey
        if row.life in (State.POSTED, State.DELETED):
            raise AlreadyPosted(row)
        if row.uncertain:
            raise LedgerConflict(f"{key} may already be posted; reconcile it before skipping",
                                 row)
        if row.life is State.SKIPPED:
            return row.idempotency_key
        lifecycle.move(row.life, Step.SKIP)
        self._conn.execute(
            "UPDATE posts SET state = 'skipped', reason = ?, next_attempt_at = NULL,"
            " event = COALESCE(?, event), updated_at = ? WHERE idempotency_key = ?",
            (reason, event, moment, row.idempotency_key))
        return row.idempotency_key

    def _set_posted(self, ikey: str, published: Published, moment: str,
                    event: str | None = None) -> None:
        self._conn.execute(
            "UPDATE posts SET state = 'posted', platform_id = ?, url = ?, error = NULL,"
            " error_kind = NULL, outcome_unknown = 0, gave_up = 0, reason = NULL,"
            " posted_at = ?, next_attempt_at = NULL, event = COALESCE(?, event),"
            " updated_at = ? WHERE idempotency_key = ?",
            (published.id, published.url, moment, event, moment, ikey))

    def _insert(self, key: PostKey, **columns: object) -> tuple[int, str]:
        """Insert the next generation of `key`; return its number and idempotency key."""
        generation = self._next_generation(key)
        ikey = idempotency_key(key, generation)
        names = ("ref", "stage", "account", "lang", "generation", "idempotency_key", *columns)
        self._conn.execute(f"INSERT INTO posts ({', '.join(names)})"
                           f" VALUES ({', '.join('?' * len(names))})",
                           (*_key_tuple(key), generation, ikey, *columns.values()))
        return generation, ikey

    def _next_generation(self, key: PostKey) -> int:
        (top,) = self._conn.execute(
            "SELECT MAX(generation) FROM posts WHERE ref = ? AND stage = ? AND account = ?"
            " AND lang = ?", _key_tuple(key)).fetchone()
        return 0 if top is None else top + 1

    def _by_idempotency_key(self, ikey: str) -> Entry:
        entry = self._one("WHERE idempotency_key = ?", (ikey,))
        if entry is None:
            raise LedgerError(f"{self.path}: no reservation with idempotency key {ikey}")
        return entry

    def _one(self, where: str, params: tuple) -> Entry | None:
        found = self._many(where, params)
        return found[0] if found else None

    def _many(self, where: str, params: tuple) -> list[Entry]:
        try:
            cursor = self._conn.execute(f"SELECT {_COLUMNS} FROM posts {where}", params)
            return [_entry(row) for row in cursor]
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot read the ledger: "
                              f"{sqlite_problem(exc, self.path)}") from exc


_COLUMNS = ("ref, stage, account, lang, generation, idempotency_key, state, text, platform_id,"
            " url, reply_to, error, error_kind, outcome_unknown, reason, attempts, created_at,"
            " reserved_at, posted_at, next_attempt_at, updated_at, event, requested, gave_up")


def _entry(row: tuple) -> Entry:
    """Make the Entry of a row (its first 24 columns), without the checks of a frozen
    dataclass's `__init__`: reading a long history costs half as much."""
    (ref, stage, account, lang, generation, ikey, state, text, platform_id, url, reply_to,
     error, error_kind, outcome_unknown, reason, attempts, created_at, reserved_at, posted_at,
     next_attempt_at, updated_at, event, requested, gave_up) = row[:24]
    key = _new(PostKey)
    _set(key, "__dict__", {"ref": ref, "stage": stage, "account": account, "lang": lang})
    entry = _new(Entry)
    _set(entry, "__dict__", {
        "key": key, "generation": generation, "idempotency_key": ikey, "state": state,
        "text": text, "platform_id": platform_id, "url": url, "reply_to": reply_to,
        "error": error, "error_kind": error_kind, "outcome_unknown": bool(outcome_unknown),
        "reason": reason, "attempts": attempts, "created_at": parse(created_at),
        "reserved_at": None if reserved_at is None else parse(reserved_at),
        "posted_at": None if posted_at is None else parse(posted_at),
        "next_attempt_at": None if next_attempt_at is None else parse(next_attempt_at),
        "updated_at": parse(updated_at), "event": event, "requested": bool(requested),
        "gave_up": bool(gave_up)})
    return entry


_new, _set = object.__new__, object.__setattr__


def _key_tuple(key: PostKey) -> tuple[str, str, str, str]:
    return (key.ref, key.stage, key.account, key.lang)


