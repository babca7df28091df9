"""The life of one post, walked row by row: every allowed move, and nothing else."""

from datetime import datetime, timedelta, timezone

import pytest

from bot.errors import AuthFailed, Duplicate, RateLimited, Rejected, Unavailable
from bot.lifecycle import (DONE, MOVES, IllegalMove, State, Step, counts_as_attempt,
                           left_to_user, lookup_after, may_send, move, must_look_up, state_of,
                           step_for, stored, uncertain)
from bot.model import Limits

S, T = State, Step

EXPECTED = {
    # starting an attempt
    (S.NEW, T.RESERVE): S.SENDING,
    (S.RETRYING, T.RESERVE): S.SENDING,
    (S.GIVEN_UP, T.RESERVE): S.SENDING,
    (S.UNCERTAIN, T.RESERVE): S.CHECKING,
    (S.IN_FLIGHT, T.RESERVE): S.CHECKING,
    (S.POSTED, T.AGAIN): S.SENDING,
    (S.SKIPPED, T.AGAIN): S.SENDING,
    (S.DELETED, T.AGAIN): S.SENDING,
    # what the platform or a lookup answers
    (S.SENDING, T.ANSWERED): S.POSTED,
    (S.CHECKED, T.ANSWERED): S.POSTED,
    (S.SENDING, T.FOUND): S.POSTED,
    (S.CHECKING, T.FOUND): S.POSTED,
    (S.CHECKED, T.FOUND): S.POSTED,
    (S.UNCERTAIN, T.FOUND): S.POSTED,
    (S.IN_FLIGHT, T.FOUND): S.POSTED,
    (S.CHECKING, T.NOT_FOUND): S.CHECKED,
    (S.UNCERTAIN, T.NOT_FOUND): S.RETRYING,
    (S.IN_FLIGHT, T.NOT_FOUND): S.RETRYING,
    (S.UNCERTAIN, T.LOOKUP_FAILED): S.UNCERTAIN,
    (S.IN_FLIGHT, T.LOOKUP_FAILED): S.UNCERTAIN,
    # failures of a first attempt
    (S.SENDING, T.LOST): S.UNCERTAIN,
    (S.SENDING, T.DEFERRED): S.RETRYING,
    (S.SENDING, T.REFUSED): S.GIVEN_UP,
    (S.SENDING, T.DUPLICATE): S.GIVEN_UP,
    (S.SENDING, T.LOOKUP_FAILED): S.UNCERTAIN,
    # failures of an attempt made while the outcome was unknown: it stays unknown
    **{(state, step): S.UNCERTAIN for state in (S.CHECKING, S.CHECKED)
       for step in (T.LOST, T.DEFERRED, T.REFUSED, T.DUPLICATE, T.LOOKUP_FAILED)},
    # skipping and deleting
    (S.NEW, T.SKIP): S.SKIPPED,
    (S.RETRYING, T.SKIP): S.SKIPPED,
    (S.GIVEN_UP, T.SKIP): S.SKIPPED,
    (S.SKIPPED, T.SKIP): S.SKIPPED,
    (S.POSTED, T.DELETE): S.DELETED,
    (S.DELETED, T.DELETE): S.DELETED,
    (S.SENDING, T.DELETE): S.DELETED,
    (S.CHECKING, T.DELETE): S.DELETED,
}


@pytest.mark.parametrize("state, step", sorted(EXPECTED, key=lambda m: (m[0].value, m[1].value)),
                         ids=lambda v: v.value)
def test_each_allowed_move_leads_where_the_table_says(state, step):
    assert move(state, step) is EXPECTED[(state, step)]


def test_the_table_allows_exactly_these_moves_and_refuses_every_other():
    assert MOVES == EXPECTED
    for state in State:
        for step in Step:
            if (state, step) not in EXPECTED:
                with pytest.raises(IllegalMove):
                    move(state, step)


def test_no_error_clears_an_unknown_outcome_only_a_lookup_or_an_answer_settles_it():
    failures = (T.LOST, T.DEFERRED, T.REFUSED, T.DUPLICATE, T.LOOKUP_FAILED)
    for state in (S.CHECKING, S.CHECKED):
        assert {move(state, step) for step in failures} == {S.UNCERTAIN}
    assert move(move(S.UNCERTAIN, T.RESERVE), T.FOUND) is S.POSTED
    assert move(move(move(S.UNCERTAIN, T.RESERVE), T.NOT_FOUND), T.ANSWERED) is S.POSTED


def test_only_a_post_known_not_to_be_out_may_be_sent_and_one_in_doubt_is_looked_up_first():
    assert {s for s in State if may_send(s)} == {S.SENDING, S.CHECKED}
    assert {s for s in State if must_look_up(s)} == {S.CHECKING}
    assert {s for s in State if uncertain(s)} == {S.UNCERTAIN, S.IN_FLIGHT}
    assert DONE == {S.POSTED, S.SKIPPED, S.DELETED}


@pytest.mark.parametrize("error, sent, step", [
    (Unavailable("timed out"), True, T.LOST),
    (Unavailable("no connection"), False, T.DEFERRED),
    (RuntimeError("a bug in a library"), True, T.LOST),
    (RateLimited("429"), True, T.DEFERRED),
    (AuthFailed("bad token"), True, T.REFUSED),
    (Rejected("too long"), True, T.REFUSED),
    (Duplicate("duplicate content"), True, T.DUPLICATE),
])
def test_an_error_means_the_step_its_kind_and_moment_say(error, sent, step):
    assert step_for(error, sent=sent) is step


def test_a_rate_limit_or_a_lookup_is_no_failed_attempt():
    assert not counts_as_attempt(RateLimited("429"), T.DEFERRED)
    assert not counts_as_attempt(Unavailable("503"), T.LOOKUP_FAILED)
    assert counts_as_attempt(Unavailable("503"), T.LOST)
    assert counts_as_attempt(AuthFailed("no"), T.REFUSED)


@pytest.mark.parametrize("state", [s for s in State if s is not S.NEW], ids=lambda s: s.value)
def test_every_stored_state_reads_back_as_itself_or_as_in_flight(state):
    column, unknown = stored(state)
    read = state_of(column, unknown, state is S.GIVEN_UP)
    if state in (S.SENDING, S.CHECKING, S.CHECKED):
        assert read is S.IN_FLIGHT        # another process sees a reservation in flight
    else:
        assert read is state


def test_a_deliberate_request_that_did_not_go_out_is_left_to_the_user():
    assert left_to_user(S.GIVEN_UP, True) and left_to_user(S.UNCERTAIN, True)
    assert not left_to_user(S.POSTED, True) and not left_to_user(S.GIVEN_UP, False)


def test_a_post_in_doubt_on_a_platform_without_idempotency_is_looked_up_after_the_timeout():
    failed = datetime(2027, 4, 1, 12, 0, 35, tzinfo=timezone.utc)
    begun = failed - timedelta(seconds=35)
    x = Limits("x", 280, "twitter", idempotent=False, request_timeout=30)
    bluesky = Limits("bluesky", 300, "graphemes")
    assert lookup_after(S.UNCERTAIN, failed_at=failed, reserved_at=begun,
                        limits=x) == failed + timedelta(seconds=30)
    assert lookup_after(S.IN_FLIGHT, failed_at=begun, reserved_at=begun,       # a crash
                        limits=x) == begun + timedelta(seconds=60)
    assert lookup_after(S.UNCERTAIN, failed_at=failed, reserved_at=begun, limits=bluesky) is None
    assert lookup_after(S.RETRYING, failed_at=failed, reserved_at=begun, limits=x) is None
