"""The ledger's rows as Herald reads them: an entry, a reservation, and the refusals."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from .. import lifecycle
from ..errors import HeraldError
from ..lifecycle import State, Step
from ..model import PostKey


def idempotency_key(key: PostKey, generation: int = 0) -> str:
    """Return the stable idempotency key of one generation of one post (32 hex characters)."""
    identity = f"{key.ref}/{key.stage}/{key.account}/{key.lang}/{generation}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Entry:
    """One row of the ledger: one generation of one post and what became of it.

    `state` is the stored column ("reserved", "posted", "failed", "skipped", "deleted");
    `life` is the post's state in `bot.lifecycle`, which tells a retry from a stop.
    """

    key: PostKey
    generation: int
    idempotency_key: str
    state: str
    text: str | None
    platform_id: str | None
    url: str | None
    reply_to: str | None
    error: str | None
    error_kind: str | None
    outcome_unknown: bool
    reason: str | None
    attempts: int
    created_at: datetime
    reserved_at: datetime | None
    posted_at: datetime | None
    next_attempt_at: datetime | None
    updated_at: datetime
    event: str | None = None
    requested: bool = False
    """Made by a deliberate request (`announce --again`, `post`): the daemon never completes it."""
    gave_up: bool = False

    @functools.cached_property
    def life(self) -> State:
        """Worked out once per entry (an entry never changes): a tick asks it of every row."""
        return lifecycle.state_of(self.state, self.outcome_unknown, self.gave_up)

    @property
    def done(self) -> bool:
        """True when nothing more should be sent for this generation."""
        return self.life in lifecycle.DONE

    @property
    def uncertain(self) -> bool:
        """True when the post may exist on the platform although it was never recorded."""
        return lifecycle.uncertain(self.life)

    @property
    def left_to_user(self) -> bool:
        """A deliberate request that has not gone out: only the user asks for it again."""
        return lifecycle.left_to_user(self.life, self.requested)


@dataclass(frozen=True)
class Reservation:
    """The right to send one post; `state` says whether to look it up first (CHECKING)."""

    key: PostKey
    generation: int
    idempotency_key: str
    attempts: int
    state: State
    reply_to: str | None = None
    first_reserved_at: datetime | None = None
    """When this generation was first reserved: stable across retries."""
    requested: bool = False

    @property
    def uncertain(self) -> bool:
        """True when an earlier attempt's outcome was unknown when this one began."""
        return self.state in lifecycle.UNSETTLED

    def moved(self, step: Step) -> Reservation:
        """This reservation after a step that the ledger need not store (a lookup found nothing)."""
        return replace(self, state=lifecycle.move(self.state, step))


class LedgerConflict(HeraldError):
    """The ledger refuses a change that would contradict what it already knows."""

    def __init__(self, message: str, entry: Entry):
        self.entry = entry
        super().__init__(message)


class AlreadyPosted(LedgerConflict):
    """This post is already on the platform; `entry.url` says where."""

    def __init__(self, entry: Entry):
        super().__init__(f"{entry.key} was already posted: {entry.url or entry.platform_id}", entry)
