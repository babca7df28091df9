from dataclasses import dataclass, field
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


X_LIKE = Limits("x", 280, "twitter", url_weight=23, idempotent=False, request_timeout=30)


@dataclass
class LikeX(RecordingPublisher):
    """Like X: no idempotency key, the same text twice is refused as a duplicate, and a post
    is looked up by listing the account's recent posts. `lose` answers are lost after the post
    is made; lookup number n (from 1) fails when in `failing`, and lists nothing before
    `listed_from`."""

    lose: int = 0
    failing: set = field(default_factory=set)
    listed_from: int = 1
    lookups: int = 0
    calls: list = field(default_factory=list)

    def publish(self, post: OutgoingPost) -> Published:
        self.calls.append(("publish", post))
        if any(p.text == post.text for p in self.sent):
            raise Duplicate("duplicate content", account=self.account)
        self.sent.append(post)
        if self.lose:
            self.lose -= 1
            raise Unavailable("the connection dropped after sending", account=self.account)
        return self._published(len(self.sent))

    def find(self, post: OutgoingPost) -> Published | None:
        self.calls.append(("find", post))
        self.lookups += 1
        if self.lookups in self.failing:
            raise Unavailable("503 while listing recent posts", account=self.account)
        if self.lookups < self.listed_from:
            return None
        for number, earlier in enumerate(self.sent, start=1):
            if earlier.text == post.text:
                return self._published(number)
        return None


def test_a_duplicate_answer_after_a_lost_one_is_looked_up_and_recorded_with_its_id(ledger):
    x = LikeX("x", X_LIKE, lose=1, listed_from=2)      # the first lookup lists it not yet
    assert deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=NOW).status == "failed"
    later = NOW + timedelta(minutes=1)
    retried = deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=later)
    assert retried.status == "recovered" and retried.url == "dry-run://x/1"
    entry = ledger.entry(KEY)
    assert (entry.state, entry.platform_id, entry.url) == ("posted", "dry-1", "dry-run://x/1")
    assert len(x.sent) == 1


def test_after_a_crash_while_sending_a_post_in_doubt_waits_as_long_as_after_a_timeout(ledger):
    """The crashed attempt may have run into its timeout, and a stalled request may land a
    timeout after that, as after any failure: the lookup waits two timeouts from its start."""
    ledger.reserve(KEY, text="Hej!", now=NOW)              # sent, then the process was killed
    x = LikeX("x", X_LIKE)
    one_timeout_later = NOW + timedelta(seconds=31)
    waiting = deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=one_timeout_later)
    assert waiting.status == "waiting" and waiting.until == NOW + timedelta(seconds=60)
    assert x.calls == []
    later = deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=NOW + timedelta(seconds=60))
    assert later.status == "posted" and [call for call, _ in x.calls] == ["find", "publish"]


def test_a_failed_lookup_after_a_duplicate_answer_leaves_the_post_uncertain(ledger):
    x = LikeX("x", X_LIKE, lose=1, failing={2}, listed_from=3)
    deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=NOW)
    retried = deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=NOW + timedelta(minutes=1))
    assert retried.status == "failed" and retried.error.retryable
    entry = ledger.entry(KEY)
    assert entry.state == "failed" and entry.uncertain and not entry.platform_id
    found = deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=NOW + timedelta(minutes=2))
    assert found.status == "recovered" and ledger.entry(KEY).platform_id == "dry-1"
    assert len(x.sent) == 1


def test_a_post_in_doubt_on_a_platform_without_idempotency_waits_out_the_request_timeout(ledger):
    x = LikeX("x", X_LIKE, lose=1)
    deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=NOW)
    calls = len(x.calls)
    early = deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=NOW + timedelta(seconds=10))
    assert early.status == "waiting" and early.ok
    assert early.until == NOW + timedelta(seconds=30)
    assert len(x.calls) == calls                          # nothing was asked of the platform
    on_time = deliver(KEY, outgoing(), publisher=x, ledger=ledger, now=early.until)
    assert on_time.status == "recovered" and len(x.sent) == 1


def test_a_copy_the_platform_already_held_is_reported_as_such_not_as_posted(ledger):
    @dataclass
    class HoldsAnOldRecord(RecordingPublisher):
        def publish(self, post: OutgoingPost) -> Published:
            raise Duplicate("a record with this key exists", account=self.account,
                            published=Published("at://old/1", "https://bsky.app/old/1"))

    result = deliver(KEY, outgoing(), publisher=HoldsAnOldRecord("bsky", LIMITS),
                     ledger=ledger, now=NOW)
    assert result.status == "already on the platform" and result.url == "https://bsky.app/old/1"
    assert ledger.entry(KEY).platform_id == "at://old/1"


def test_every_attempt_carries_the_time_the_post_was_first_reserved(ledger):
    @dataclass
    class LimitedOnce(RecordingPublisher):
        attempts: list = field(default_factory=list)

        def publish(self, post: OutgoingPost) -> Published:
            self.attempts.append(post)
            if len(self.attempts) == 1:
                raise RateLimited("429", account=self.account)
            return super().publish(post)

    publisher = LimitedOnce("bsky", LIMITS)
    deliver(KEY, outgoing(), publisher=publisher, ledger=ledger, now=NOW)
    deliver(KEY, outgoing(), publisher=publisher, ledger=ledger, now=NOW + timedelta(hours=1))
    assert [p.reserved_at for p in publisher.attempts] == [NOW, NOW]
    assert ledger.entry(KEY).state == "posted"
