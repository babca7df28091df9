from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import AuthFailed, Duplicate, RateLimited, Unavailable
from bot.ledger import Ledger
from bot.model import Limits, OutgoingPost, PostKey, Published
from bot.platforms.recording import RecordingPublisher
from bot.delivery import cap_hold, deliver
from bot.model import Account
from bot.service import manual_key

NOW = datetime(2027, 4, 1, 12, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
LIMITS = Limits("mastodon", 500, "mastodon", url_weight=23)
KEY = PostKey("meetup", "announcement", "masto", "sv")


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger.sqlite3") as opened:
        yield opened


def outgoing(text="Hej!"):
    return OutgoingPost(text, "sv", idempotency_key="")


@dataclass
class TimesOutAfterSending(RecordingPublisher):
    """Takes the post, then loses the answer, like a platform that times out."""

    def publish(self, post: OutgoingPost) -> Published:
        super().publish(post)
        raise Unavailable("timed out waiting for the answer", account=self.account)


@dataclass
class RefusesToken(RecordingPublisher):
    def publish(self, post: OutgoingPost) -> Published:
        raise AuthFailed("the access token was rejected", account=self.account)


def test_a_post_is_sent_once_and_recorded_with_its_url(ledger):
    publisher = RecordingPublisher("masto", LIMITS)
    first = deliver(KEY, outgoing(), publisher=publisher, ledger=ledger, now=NOW)
    second = deliver(KEY, outgoing(), publisher=publisher, ledger=ledger, now=NOW)
    assert first.status == "posted" and first.url == "dry-run://masto/1"
    assert second.status == "already posted" and second.url == first.url
    assert len(publisher.sent) == 1
    assert ledger.entry(KEY).url == first.url


def test_again_makes_a_second_post_on_purpose(ledger):
    publisher = RecordingPublisher("masto", LIMITS)
    deliver(KEY, outgoing(), publisher=publisher, ledger=ledger, now=NOW)
    again = deliver(KEY, outgoing(), publisher=publisher, ledger=ledger, now=NOW, again=True)
    assert again.status == "posted"
    assert len(publisher.sent) == 2
    assert publisher.sent[0].idempotency_key != publisher.sent[1].idempotency_key


def test_a_post_whose_answer_was_lost_is_found_not_sent_again(ledger):
    publisher = TimesOutAfterSending("masto", LIMITS)
    lost = deliver(KEY, outgoing(), publisher=publisher, ledger=ledger, now=NOW)
    assert lost.status == "failed" and lost.error.retryable
    healthy = RecordingPublisher("masto", LIMITS, sent=publisher.sent)
    retried = deliver(KEY, outgoing(), publisher=healthy, ledger=ledger, now=NOW)
    assert retried.status == "recovered"
    assert len(healthy.sent) == 1
    assert ledger.entry(KEY).state == "posted"


def test_a_rejected_token_is_recorded_as_a_failure_with_its_reason(ledger):
    result = deliver(KEY, outgoing(), publisher=RefusesToken("masto", LIMITS), ledger=ledger,
                     now=NOW)
    assert result.status == "failed" and not result.error.retryable
    entry = ledger.entry(KEY)
    assert entry.state == "failed" and "access token was rejected" in entry.error
    assert entry.attempts == 1


def test_the_same_free_text_on_the_same_account_is_one_post():
    assert manual_key("Hej", "masto", "sv") == manual_key("Hej", "masto", "sv")
    assert manual_key("Hej", "masto", "sv") != manual_key("Hej!", "masto", "sv")
    assert manual_key("Hej", "masto", "sv") != manual_key("Hej", "bsky", "sv")


@dataclass
class SaysDuplicate(RecordingPublisher):
    """Like X: cannot look a post up, and refuses the same text twice."""

    def find(self, post: OutgoingPost) -> Published | None:
        return None

    def publish(self, post: OutgoingPost) -> Published:
        if any(p.text == post.text for p in self.sent):
            raise Duplicate("duplicate content", account=self.account)
        return super().publish(post)


def test_a_duplicate_answer_after_a_lost_answer_counts_as_posted(ledger):
    lost = TimesOutAfterSending("x", LIMITS)
    deliver(KEY, outgoing(), publisher=lost, ledger=ledger, now=NOW)
    retried = deliver(KEY, outgoing(), publisher=SaysDuplicate("x", LIMITS, sent=lost.sent),
                      ledger=ledger, now=NOW)
    assert retried.status == "recovered"
    assert len(lost.sent) == 1
    assert ledger.entry(KEY).state == "posted"


def test_a_duplicate_answer_on_a_first_attempt_is_a_failure(ledger):
    publisher = SaysDuplicate("x", LIMITS, sent=[outgoing()])
    result = deliver(KEY, outgoing(), publisher=publisher, ledger=ledger, now=NOW)
    assert result.status == "failed" and isinstance(result.error, Duplicate)


def test_an_account_at_its_daily_cap_waits_until_its_oldest_post_is_24_hours_old(ledger):
    account = Account("x", "x", ("sv",), {"daily_cap": 2})
    publisher = RecordingPublisher("x", LIMITS)
    for n, hour in enumerate((8, 9)):
        key = PostKey(f"event-{n}", "announcement", "x", "sv")
        deliver(key, outgoing(f"Post {n}"), publisher=publisher, ledger=ledger,
                now=NOW.replace(hour=hour))
    late = NOW.replace(hour=23)
    hold = cap_hold(account, ledger, late)
    assert hold.until == NOW.replace(hour=8) + timedelta(days=1)      # rolling, not midnight
    assert "daily cap of 2 posts in 24 hours reached; it can go at 2027-04-02 08:00" in hold.note
    assert cap_hold(account, ledger, NOW.replace(hour=0, minute=1) + timedelta(days=1))
    assert cap_hold(account, ledger, NOW.replace(hour=8) + timedelta(days=1)) is None
    held = hold.outcome(PostKey("event-2", "announcement", "x", "sv"))
    assert held.status == "held" and held.ok and held.until == hold.until


@dataclass
class LookupRateLimited(RecordingPublisher):
    """Cannot answer a lookup right now (429 while reading recent posts)."""

    def find(self, post: OutgoingPost) -> Published | None:
        raise RateLimited("slow down", account=self.account)


def test_a_failed_lookup_keeps_a_possibly_sent_post_uncertain(ledger):
    lost = TimesOutAfterSending("masto", LIMITS)
    deliver(KEY, outgoing(), publisher=lost, ledger=ledger, now=NOW)
    blocked = deliver(KEY, outgoing(), publisher=LookupRateLimited("masto", LIMITS,
                                                                   sent=lost.sent),
                      ledger=ledger, now=NOW)
    assert blocked.status == "failed" and len(lost.sent) == 1
    healthy = RecordingPublisher("masto", LIMITS, sent=lost.sent)
    assert deliver(KEY, outgoing(), publisher=healthy, ledger=ledger,
                   now=NOW).status == "recovered"
    assert len(lost.sent) == 1
