"""The life of one post: its states, the steps that move it, and the table of allowed moves.

One generation of one post (a row of the ledger) lives like this; the ledger, the service and the
runner ask this module what a step does instead of deciding it in their error handlers:

    NEW ─reserve─> SENDING ─answered─> POSTED ─delete─> DELETED
                     ├─lost (sent, no usable answer)──> UNCERTAIN ─reserve─> CHECKING
                     ├─deferred (429; failed before sending)──> RETRYING ─reserve─> SENDING
                     └─refused (rejected content, bad token)──> GIVEN_UP ─reserve─> SENDING
    CHECKING ─found─> POSTED          CHECKING ─not found─> CHECKED ─answered─> POSTED
    CHECKING, CHECKED ─any failure─> UNCERTAIN          (once unknown, stays unknown)
    UNCERTAIN, IN_FLIGHT ─lookup failed─> UNCERTAIN     (a lookup made without reserving)
    IN_FLIGHT (a stored reservation never recorded: a crash) ─reserve─> CHECKING
    NEW, RETRYING, GIVEN_UP ─skip─> SKIPPED          POSTED, SKIPPED, DELETED ─again─> SENDING

SENDING, CHECKING and CHECKED are the states of a reservation in hand; the ledger stores each of
them as "reserved", which every other process reads as IN_FLIGHT. A post whose outcome is
unknown is never sent blindly: it is looked up first, and on a platform that cannot recognise a
repeated post (`Limits.idempotent` false) only after a stalled request can no longer land.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from .errors import AuthFailed, Duplicate, PublishError, RateLimited, Rejected
from .model import Limits


class State(Enum):
    NEW = "new"                  # nothing recorded yet
    SENDING = "sending"          # reserved; nothing of it is out: send it
    CHECKING = "checking"        # reserved; an earlier attempt may be out: look it up first
    CHECKED = "checked"          # reserved, looked up and not found: send it
    IN_FLIGHT = "in flight"      # stored as reserved: being sent, or its process died sending it
    UNCERTAIN = "uncertain"      # may be out; stays so until a lookup or the platform settles it
    POSTED = "posted"
    RETRYING = "retrying"        # failed, nothing went out; tried again at its retry time
    GIVEN_UP = "given up"        # failed in a way retrying cannot cure; waits for a fix
    SKIPPED = "skipped"          # never to be sent (missed, superseded, first run), with why
    DELETED = "deleted"          # taken down again (on_cancel = "delete")


class Step(Enum):
    RESERVE = "reserve"          # begin an attempt on the same generation
    AGAIN = "again"              # begin a deliberate new generation of a done post
    ANSWERED = "answered"        # the platform took the post and named it
    FOUND = "found"              # a lookup, or the platform's duplicate answer, named the post
    NOT_FOUND = "not found"      # a lookup says the post is not on the platform
    LOST = "lost"                # sent, but no usable answer came back: it may be out
    DEFERRED = "deferred"        # not taken and nothing went out; try again later
    REFUSED = "refused"          # not taken; retrying will not help
    DUPLICATE = "duplicate"      # the platform says it holds this post, and no lookup finds it
    LOOKUP_FAILED = "lookup failed"  # a lookup could not answer
    SKIP = "skip"
    DELETE = "delete"            # taken down; or a cancellation carried out by deleting


S, T = State, Step

DONE = frozenset({S.POSTED, S.SKIPPED, S.DELETED})
"""Nothing more is sent for a generation in these states (without a deliberate `again`)."""

UNSETTLED = frozenset({S.CHECKING, S.CHECKED})
"""Reservations made while an earlier attempt's outcome was unknown."""

FAILURES = frozenset({T.LOST, T.DEFERRED, T.REFUSED, T.DUPLICATE, T.LOOKUP_FAILED})

MOVES: dict[tuple[State, Step], State] = {
    (S.NEW, T.RESERVE): S.SENDING,
    (S.RETRYING, T.RESERVE): S.SENDING,
    (S.GIVEN_UP, T.RESERVE): S.SENDING,
    (S.UNCERTAIN, T.RESERVE): S.CHECKING,
    (S.IN_FLIGHT, T.RESERVE): S.CHECKING,
    (S.POSTED, T.AGAIN): S.SENDING,          # a new generation, with a new idempotency key
    (S.SKIPPED, T.AGAIN): S.SENDING,
    (S.DELETED, T.AGAIN): S.SENDING,
    (S.SENDING, T.ANSWERED): S.POSTED,
    (S.CHECKED, T.ANSWERED): S.POSTED,
    (S.SENDING, T.FOUND): S.POSTED,          # a duplicate answer named an existing copy
    (S.CHECKING, T.FOUND): S.POSTED,
    (S.CHECKED, T.FOUND): S.POSTED,
    (S.UNCERTAIN, T.FOUND): S.POSTED,        # settled without sending (before a skip)
    (S.IN_FLIGHT, T.FOUND): S.POSTED,
    (S.CHECKING, T.NOT_FOUND): S.CHECKED,
    (S.UNCERTAIN, T.NOT_FOUND): S.RETRYING,
    (S.IN_FLIGHT, T.NOT_FOUND): S.RETRYING,
    (S.UNCERTAIN, T.LOOKUP_FAILED): S.UNCERTAIN,     # a lookup before skipping could not answer
    (S.IN_FLIGHT, T.LOOKUP_FAILED): S.UNCERTAIN,
    (S.SENDING, T.LOST): S.UNCERTAIN,
    (S.SENDING, T.DEFERRED): S.RETRYING,
    (S.SENDING, T.REFUSED): S.GIVEN_UP,
    (S.SENDING, T.DUPLICATE): S.GIVEN_UP,    # refused as a copy of a post no lookup finds
    (S.SENDING, T.LOOKUP_FAILED): S.UNCERTAIN,   # a duplicate answer: a copy is out, unnamed
    (S.NEW, T.SKIP): S.SKIPPED,
    (S.RETRYING, T.SKIP): S.SKIPPED,
    (S.GIVEN_UP, T.SKIP): S.SKIPPED,
    (S.SKIPPED, T.SKIP): S.SKIPPED,
    (S.POSTED, T.DELETE): S.DELETED,
    (S.DELETED, T.DELETE): S.DELETED,
    (S.SENDING, T.DELETE): S.DELETED,        # a cancellation carried out by deleting the posts
    (S.CHECKING, T.DELETE): S.DELETED,       # ...after a crash: deleting again is harmless
}
# Once an attempt's outcome is unknown it stays unknown until a lookup or the platform settles it:
MOVES.update({(state, step): S.UNCERTAIN for state in UNSETTLED for step in FAILURES})


class IllegalMove(Exception):
    """A step the table does not allow from a state: a bug in the caller, never user input."""

    def __init__(self, state: State, step: Step):
        self.state, self.step = state, step
        super().__init__(f"a post that is {state.value} cannot take the step {step.value!r}")


def move(state: State, step: Step) -> State:
    """Return the state `step` leads to from `state`, or raise IllegalMove."""
    try:
        return MOVES[(state, step)]
    except KeyError:
        raise IllegalMove(state, step) from None


def allowed(state: State, step: Step) -> bool:
    """True when the table has a move for `step` from `state`."""
    return (state, step) in MOVES


def may_send(state: State) -> bool:
    """May a reservation in this state be sent now (nothing of it is known to be out)?"""
    return state in (S.SENDING, S.CHECKED)


def must_look_up(state: State) -> bool:
    """Must a reservation in this state look the post up before anything is sent?"""
    return state is S.CHECKING


def uncertain(state: State) -> bool:
    """May a stored post be on the platform although the ledger never recorded it?"""
    return state in (S.UNCERTAIN, S.IN_FLIGHT)


# --- errors as steps ---------------------------------------------------------------------------

def step_for(error: BaseException, *, sent: bool) -> Step:
    """The step an error means: `sent` says whether the request may have reached the platform.

    A duplicate answer is DUPLICATE (the caller looks the post up first). An error that is
    not an answer from the platform (a network failure, a timeout, a 5xx, a bug) after sending
    is LOST: the post may be out. A rate limit, and any failure before sending, is DEFERRED.
    """
    if isinstance(error, Duplicate):
        return T.DUPLICATE
    definite = isinstance(error, (RateLimited, AuthFailed, Rejected))
    if sent and not definite:
        return T.LOST
    if isinstance(error, PublishError) and not error.retryable:
        return T.REFUSED
    return T.DEFERRED


def counts_as_attempt(error: BaseException, step: Step) -> bool:
    """Does this failure count towards the back-off? A rate limit or a lookup does not."""
    return not isinstance(error, RateLimited) and step is not T.LOOKUP_FAILED


# --- the ledger's columns ----------------------------------------------------------------------

def stored(state: State) -> tuple[str, bool]:
    """The ledger's (state, outcome_unknown) columns for a state."""
    if state in (S.SENDING, S.CHECKING, S.CHECKED, S.IN_FLIGHT):
        return "reserved", False
    if state is S.UNCERTAIN:
        return "failed", True
    if state in (S.RETRYING, S.GIVEN_UP):
        return "failed", False
    if state is S.NEW:
        raise ValueError("a new post has no row to store")
    return state.value, False


def state_of(stored_state: str, outcome_unknown: bool, gave_up: bool) -> State:
    """The state of a stored row, read from its columns."""
    if stored_state == "reserved":
        return S.IN_FLIGHT
    if stored_state == "failed":
        if outcome_unknown:
            return S.UNCERTAIN
        return S.GIVEN_UP if gave_up else S.RETRYING
    return State(stored_state)


def left_to_user(state: State, requested: bool) -> bool:
    """Is this row a deliberate request (announce --again, post) that has not gone out?

    The daemon never completes such a row: it stays as the user left it until asked again.
    """
    return requested and state not in DONE


# --- when an unknown outcome may be looked up --------------------------------------------------

def lookup_after(state: State, *, failed_at: datetime, reserved_at: datetime | None,
                 limits: Limits) -> datetime | None:
    """When an uncertain post may be looked up, or None when it may be looked up now.

    A platform that recognises a repeated post makes a lookup, and a retry, safe at once. On one
    that does not (X, servers that ignore Idempotency-Key), a request that stalled may still
    land after the client gave up: the lookup waits `request_timeout` past the failure. An
    attempt cut short by a crash may have run into its timeout before that, so its lookup waits
    twice `request_timeout` past its start.
    """
    if limits.idempotent or not uncertain(state):
        return None
    timeout = timedelta(seconds=limits.request_timeout)
    if state is S.UNCERTAIN:
        return failed_at + timeout
    return (reserved_at or failed_at) + 2 * timeout
