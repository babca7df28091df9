"""The X adapter against a local fake X: tweepy runs unmodified over real HTTP on 127.0.0.1."""

from __future__ import annotations

import io
import logging
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
import tweepy
from PIL import Image
from requests_oauthlib import OAuth1

from bot import costs
from bot.errors import AuthFailed, ConfigError, PublishError, RateLimited, Rejected, Unavailable
from bot.model import Account, Media, OutgoingPost, Published
from bot.platforms.x import LIMITS, DuplicateContent, XPublisher, authorize
from tests.auth_hints import hinted_auth
from fakes.x import FakeX, Redirect

ACCOUNT = Account("x-events", "x", ("sv",))


@pytest.fixture
def fake():
    with FakeX() as server:
        yield server


@pytest.fixture
def publisher(fake):
    return XPublisher(ACCOUNT, fake.credentials(), session=fake.session(), timeout=5)


def image(fmt: str = "PNG", colour: str = "navy", frames: int = 1) -> bytes:
    out = io.BytesIO()
    pictures = [Image.new("RGB", (40, 30), c) for c in [colour, "orange", "teal"][:frames]]
    extra = {"save_all": True, "append_images": pictures[1:], "duration": 100} if frames > 1 else {}
    pictures[0].save(out, fmt, **extra)
    return out.getvalue()


def media(alt: str = "A poster for the meetup", fmt: str = "PNG", colour: str = "navy",
          frames: int = 1) -> Media:
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}[fmt]
    return Media(image(fmt, colour, frames), mime, 40, 30, alt, f"poster.{fmt.lower()}")


def post(text: str = "Civic tech meetup tonight in Stockholm", **fields) -> OutgoingPost:
    return OutgoingPost(text=text, lang="sv", idempotency_key="meetup/announcement/x-events/sv",
                        **fields)


# -- what the adapter declares -----------------------------------------------------------------

def test_importing_the_adapter_loads_neither_tweepy_nor_requests():
    code = ("import sys, bot.platforms.x; print(sorted(m for m in ('tweepy', 'requests', "
            "'requests_oauthlib', 'twitter_text') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_limits_declare_what_x_accepts(publisher):
    limits = publisher.limits()
    assert (limits.platform, limits.max_chars, limits.counting, limits.url_weight) == \
        ("x", 280, "twitter", 23)
    assert limits.image_bytes == 5_000_000 and limits.images_per_post == 4   # X documents 5 MB
    assert limits.image_formats == {"JPEG", "PNG", "GIF", "WEBP"} and limits.alt_chars == 1000
    assert limits.replies and not limits.edits
    assert not limits.idempotent               # X has no idempotency key: look up, never resend
    assert limits.request_timeout == 5         # the adapter's own timeout


def test_limits_declare_xs_prices_from_its_price_list(publisher):
    limits = publisher.limits()
    assert (limits.cost_per_post, limits.cost_per_link_post, limits.cost_per_alt_text,
            limits.cost_per_delete, limits.cost_per_read) == (0.015, 0.200, 0.005, 0.010, 0.005)


@pytest.mark.parametrize("text, images, cost", [
    ("Civic tech meetup tonight", (), 0.015),
    ("Civic tech meetup tonight https://civictech.se/meetup/", (), 0.20),
    ("Civic tech meetup tonight, see civictech.se", (), 0.20),
    ("Civic tech meetup tonight", ("poster", "", "map"), 0.025),
    ("Meetup https://civictech.se/meetup/", ("poster",), 0.205),
])
def test_a_post_costs_the_link_price_only_when_its_text_holds_a_url(text, images, cost):
    assert costs.cost(LIMITS, costs.Calls.publishing(text, images)) == pytest.approx(cost)


def test_a_delete_and_the_posts_a_lookup_reads_are_charged_too():
    calls = costs.Calls(deletes=2, reads=3) + costs.Calls.publishing("Meetup", ["poster"])
    assert costs.cost(LIMITS, calls) == pytest.approx(2 * 0.010 + 3 * 0.005 + 0.015 + 0.005)


def test_daily_cap_comes_from_the_account_options(fake):
    capped = Account("x-events", "x", ("sv",), {"daily_cap": 5})
    assert XPublisher(capped, fake.credentials()).daily_cap == 5
    assert XPublisher(ACCOUNT, fake.credentials()).daily_cap is None
    with pytest.raises(ConfigError, match=r"accounts\.x-events\.daily_cap"):
        XPublisher(Account("x-events", "x", ("sv",), {"daily_cap": "five"}), fake.credentials())


def test_find_answers_none_when_the_account_has_no_such_post(publisher, fake):
    publisher.publish(post("Another event entirely"))
    assert publisher.find(post()) is None
    [lookup] = fake.received("GET", r"/2/users/\d+/tweets")
    assert lookup.path == f"/2/users/{fake.user_id}/tweets"    # the id from the access token
    assert fake.received("GET", "/2/users/me") == []


# -- what X receives ---------------------------------------------------------------------------

def test_a_text_post_reaches_x_and_comes_back_as_published(publisher, fake):
    published = publisher.publish(post("Civic tech meetup tonight https://civictech.se/m/"))

    [sent] = fake.received("POST", "/2/tweets")
    assert sent.json == {"text": "Civic tech meetup tonight https://civictech.se/m/"}
    [stored] = fake.posts
    assert published == Published(stored.id, f"https://x.com/i/web/status/{stored.id}")


def test_a_deleted_post_is_gone_from_x(publisher, fake):
    published = publisher.publish(post())

    publisher.delete(published.id)

    [sent] = fake.received("DELETE", rf"/2/tweets/{published.id}")
    assert sent.header("authorization").startswith("OAuth ") and not sent.body
    assert fake.posts == []


def test_deleting_a_post_twice_is_fine(publisher, fake):
    published = publisher.publish(post())
    publisher.delete(published.id)

    publisher.delete(published.id)
    publisher.delete("1880000000000000001")

    assert len(fake.received("DELETE", r"/2/tweets/\d+")) == 3


def test_a_rate_limited_delete_becomes_rate_limited_until_the_reset_time(publisher, fake):
    published = publisher.publish(post())
    reset = fake.exhaust("/2/tweets/:id", method="DELETE", reset=int(time.time()) + 600)

    with pytest.raises(RateLimited) as caught:
        publisher.delete(published.id)

    assert caught.value.retry_after == datetime.fromtimestamp(reset, timezone.utc)
    assert len(fake.posts) == 1


def test_images_are_uploaded_with_their_alt_text_and_attached_in_order(publisher, fake):
    images = (media("The poster", colour="navy"), media("", fmt="JPEG", colour="red"),
              media("A map to the venue", colour="green"))
    publisher.publish(post(media=images))

    uploads = fake.received("POST", "/2/media/upload")
    assert [u.json["media_category"] for u in uploads] == ["tweet_image"] * 3
    assert [fake.media[m].data for m in fake.posts[0].media_ids] == [i.data for i in images]
    assert fake.posts[0].alt_texts == ["The poster", None, "A map to the venue"]
    metadata = [r.json for r in fake.received("POST", "/2/media/metadata")]
    assert metadata == [
        {"id": fake.posts[0].media_ids[0], "metadata": {"alt_text": {"text": "The poster"}}},
        {"id": fake.posts[0].media_ids[2],
         "metadata": {"alt_text": {"text": "A map to the venue"}}}]
    [sent] = fake.received("POST", "/2/tweets")
    assert sent.json["media"] == {"media_ids": fake.posts[0].media_ids}


def test_alt_text_longer_than_x_takes_is_cut_to_1000_characters(publisher, fake):
    publisher.publish(post(media=(media("word " * 300),)))
    [alt] = fake.posts[0].alt_texts
    assert alt == ("word " * 300).strip()[:1000]


def test_a_reply_names_the_post_it_answers(publisher, fake):
    first = publisher.publish(post("Meetup tonight"))
    publisher.publish(post("Starting in one hour", reply_to=first.id))

    sent = fake.received("POST", "/2/tweets")[1]
    assert sent.json == {"text": "Starting in one hour",
                         "reply": {"in_reply_to_tweet_id": first.id}}
    assert fake.posts[1].reply_to == first.id


def test_an_animated_gif_is_attached_once_x_has_processed_it(fake):
    fake.gif_polls = 2
    publisher = XPublisher(ACCOUNT, fake.credentials(), session=fake.session())
    publisher.publish(post(media=(media("Dancing logo", fmt="GIF", frames=3),)))

    [upload] = fake.received("POST", "/2/media/upload")
    assert upload.json["media_category"] == "tweet_gif"
    polls = fake.received("GET", "/2/media/upload")
    assert [p.query["command"] for p in polls] == [["STATUS"]] * 3   # twice in progress, then done
    assert fake.posts[0].media_ids == [polls[0].query["media_id"][0]]


def test_every_request_is_signed_for_the_app_and_user_and_carries_no_secret(publisher, fake):
    publisher.publish(post(media=(media(),)))

    assert len(fake.received()) == 3
    for request in fake.received():
        header = request.header("authorization")
        assert header.startswith("OAuth ")
        assert f'oauth_consumer_key="{fake.api_key}"' in header
        assert f'oauth_token="{fake.access_token}"' in header
        for secret in (fake.api_secret, fake.access_secret):
            assert secret not in header and secret.encode() not in request.body


# -- what X refuses ----------------------------------------------------------------------------

def test_the_same_text_twice_is_refused_as_duplicate_content_naming_the_first_post(
        publisher, fake):
    first = publisher.publish(post("Meetup tonight"))
    with pytest.raises(DuplicateContent) as caught:
        publisher.publish(post("Meetup tonight"))

    error = caught.value
    assert isinstance(error, Rejected) and not error.retryable
    assert "duplicate" in error.platform_message
    assert error.published == first and error.account == "x-events"
    assert len(fake.posts) == 1


def test_a_resend_after_a_lost_answer_is_refused_as_duplicate_content(publisher, fake):
    fake.fail_next("/2/tweets", 503, after_commit=True)
    with pytest.raises(Unavailable):
        publisher.publish(post())
    with pytest.raises(DuplicateContent):
        publisher.publish(post())
    assert len(fake.posts) == 1


def test_text_over_280_weighted_characters_is_rejected_with_xs_reason(publisher, fake):
    publisher.publish(post("a" * 280))
    with pytest.raises(Rejected) as caught:
        publisher.publish(post("漢" * 141))            # 282 weighted: CJK counts twice
    assert "too long" in caught.value.platform_message
    assert not isinstance(caught.value, DuplicateContent)
    assert len(fake.posts) == 1


def test_more_images_than_x_takes_are_rejected_before_anything_is_sent(publisher, fake):
    with pytest.raises(Rejected, match="at most 4 images"):
        publisher.publish(post(media=tuple(media() for _ in range(5))))
    assert fake.received() == []


def test_a_refused_image_stops_the_post_before_it_is_made(publisher, fake):
    fake.fail_next("/2/media/upload", 400, body={
        "errors": [{"message": "media type unrecognized."}], "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"})
    with pytest.raises(Rejected, match="media type unrecognized"):
        publisher.publish(post(media=(media(),)))
    assert fake.received("POST", "/2/tweets") == [] and fake.posts == []


@pytest.mark.parametrize("status, error", [
    (400, Rejected), (401, AuthFailed), (402, Rejected), (403, Rejected), (404, Rejected),
    (429, RateLimited), (500, Unavailable), (502, Unavailable), (503, Unavailable),
])
def test_every_answer_x_can_give_becomes_a_herald_error(publisher, fake, status, error):
    fake.fail_next("/2/tweets", status)
    with pytest.raises(PublishError) as caught:
        publisher.publish(post())
    assert type(caught.value) is error
    assert isinstance(caught.value.__cause__, tweepy.HTTPException)
    assert caught.value.account == "x-events"


def test_a_rate_limit_becomes_rate_limited_until_the_reset_time(publisher, fake):
    reset = fake.exhaust("/2/tweets", reset=int(time.time()) + 600)
    with pytest.raises(RateLimited) as caught:
        publisher.publish(post())

    assert caught.value.retry_after == datetime.fromtimestamp(reset, timezone.utc)
    assert caught.value.retry_after.tzinfo is not None
    assert caught.value.retryable and fake.posts == []


def test_an_exhausted_daily_allowance_waits_for_the_daily_reset(publisher, fake):
    reset = fake.exhaust_daily(reset=int(time.time()) + 20 * 3600)
    with pytest.raises(RateLimited) as caught:
        publisher.publish(post())
    assert caught.value.retry_after == datetime.fromtimestamp(reset, timezone.utc)


@pytest.mark.parametrize("wrong", ["api_key", "api_secret", "access_token", "access_secret"])
def test_wrong_credentials_are_auth_failed_naming_the_account_and_no_secret(fake, wrong):
    credentials = fake.credentials(**{wrong: "not-the-right-value-123"})
    publisher = XPublisher(ACCOUNT, credentials, session=fake.session())
    with pytest.raises(AuthFailed) as caught:
        publisher.publish(post())

    message = str(caught.value)
    assert message.startswith("x-events: ") and hinted_auth(message) == ("x", "x-events")
    assert not caught.value.retryable
    for value in credentials.values():
        assert value not in message
    assert fake.posts == []


@pytest.mark.parametrize("wrong", ["api_key", "api_secret", "access_token", "access_secret"])
def test_deleting_with_wrong_credentials_is_auth_failed_naming_the_account_and_no_secret(
        publisher, fake, wrong):
    published = publisher.publish(post())
    credentials = fake.credentials(**{wrong: "not-the-right-value-123"})

    with pytest.raises(AuthFailed) as caught:
        XPublisher(ACCOUNT, credentials, session=fake.session()).delete(published.id)

    message = str(caught.value)
    assert message.startswith(f"x-events: X refused the credentials while deleting post "
                              f"{published.id}")
    assert caught.value.account == "x-events"
    for value in credentials.values():
        assert value not in message and value not in repr(caught.value)
    assert [p.id for p in fake.posts] == [published.id]


def test_missing_credentials_say_which_and_how_to_provide_them(fake):
    credentials = fake.credentials(access_secret="")
    publisher = XPublisher(ACCOUNT, credentials, session=fake.session())
    with pytest.raises(AuthFailed) as caught:
        publisher.publish(post())

    message = str(caught.value)
    assert "access_secret" in message and "HERALD_X_EVENTS_ACCESS_SECRET" in message
    assert hinted_auth(message) == ("x", "x-events")
    assert fake.received() == []


def test_a_read_only_app_is_an_auth_failure_not_a_refused_post(publisher, fake):
    fake.fail_next("/2/tweets", 403, body={
        "detail": "Your client app is not configured with the appropriate oauth1 app "
                  "permissions for this endpoint.",
        "type": "https://api.twitter.com/2/problems/oauth1-permissions",
        "title": "Forbidden", "status": 403})
    with pytest.raises(AuthFailed, match="oauth1 app permissions"):
        publisher.publish(post())


def test_a_timeout_is_unavailable():
    with socket.create_server(("127.0.0.1", 0)) as silent:      # accepts, never answers
        session = requests.Session()
        session.mount("https://", Redirect("http://127.0.0.1:%d" % silent.getsockname()[1]))
        publisher = XPublisher(ACCOUNT, FakeX().credentials(), session=session, timeout=0.2)
        with pytest.raises(Unavailable) as caught:
            publisher.publish(post())
    assert isinstance(caught.value.__cause__, requests.Timeout)
    assert caught.value.retryable


def test_an_unreachable_x_is_unavailable():
    with FakeX() as gone:
        address = gone.url
    session = requests.Session()
    session.mount("https://", Redirect(address))
    publisher = XPublisher(ACCOUNT, FakeX().credentials(), session=session, timeout=2)
    with pytest.raises(Unavailable, match="ConnectionError"):
        publisher.publish(post())


# -- credentials -------------------------------------------------------------------------------

def test_check_answers_the_handle(publisher):
    assert publisher.check() == "@herald_events"


def test_check_with_a_revoked_token_is_auth_failed(publisher, fake):
    fake.revoked = True
    with pytest.raises(AuthFailed, match="x-events"):
        publisher.check()


def test_authorize_runs_the_pin_flow_and_returns_the_four_credentials(fake):
    shown: list[str] = []

    def type_pin(question: str) -> str:
        url = re.search(r"https://\S+", shown[0]).group(0)
        assert url.startswith("https://api.twitter.com/oauth/authorize?oauth_token=")
        return fake.approve(parse_qs(urlsplit(url).query)["oauth_token"][0])

    credentials = authorize(api_key=fake.api_key, api_secret=fake.api_secret, prompt=type_pin,
                            echo=shown.append, session=fake.session())

    assert credentials == fake.credentials()
    assert shown[-1] == "Authorised as @herald_events."
    session = fake.session()
    assert XPublisher(ACCOUNT, credentials, session=session).check() == "@herald_events"


def test_authorize_with_a_wrong_pin_is_auth_failed(fake):
    shown: list[str] = []
    with pytest.raises(AuthFailed, match="PIN"):
        authorize(api_key=fake.api_key, api_secret=fake.api_secret, prompt=lambda q: "1234567",
                  echo=shown.append, account="x-events", session=fake.session())


def test_authorize_with_a_wrong_api_secret_fails_before_showing_an_address(fake):
    shown: list[str] = []
    with pytest.raises(AuthFailed) as caught:
        authorize(api_key=fake.api_key, api_secret="wrong-secret-987", prompt=lambda q: "1",
                  echo=shown.append, account="x-events", session=fake.session())
    assert shown == [] and "wrong-secret-987" not in str(caught.value)


def test_secrets_never_show_in_repr_errors_or_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    credentials = fake.credentials()
    publisher = XPublisher(ACCOUNT, credentials, session=fake.session())
    wrong = XPublisher(ACCOUNT, fake.credentials(access_secret="wrong-access-secret-42"),
                       session=fake.session())
    publisher.publish(post(media=(media(),)))
    errors = []
    for attempt in (lambda: publisher.publish(post(media=(media(),))), lambda: wrong.check()):
        with pytest.raises(PublishError) as caught:
            attempt()
        errors += [caught.value, caught.value.__cause__]

    shown = [repr(publisher), str(publisher), repr(wrong)] + [str(e) for e in errors]
    logged = [r.getMessage() for r in caplog.records]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert any("posted" in line for line in ours)
    for secret in (credentials["api_secret"], credentials["access_secret"],
                   "wrong-access-secret-42"):
        assert not any(secret in text for text in shown + logged)
    for value in credentials.values():
        assert not any(value in text for text in shown + ours)


# -- the fake itself ---------------------------------------------------------------------------

def test_the_fake_refuses_and_records_a_request_the_description_does_not_allow(fake):
    auth = OAuth1(fake.api_key, client_secret=fake.api_secret,
                  resource_owner_key=fake.access_token, resource_owner_secret=fake.access_secret)
    answer = fake.session().post("https://api.x.com/2/media/upload", auth=auth, json={
        "media": "aGVsbG8=", "media_category": "tweet_image", "media_type": "image/png"})

    assert answer.status_code == 400
    assert any("media_type" in v for v in fake.violations)
    fake.violations.clear()


def test_the_fake_refuses_a_replayed_signed_request(fake):
    session = fake.session()
    auth = OAuth1(fake.api_key, client_secret=fake.api_secret,
                  resource_owner_key=fake.access_token, resource_owner_secret=fake.access_secret)
    prepared = session.prepare_request(requests.Request(
        "POST", "https://api.twitter.com/2/tweets", json={"text": "Once"}, auth=auth))
    first = session.send(prepared.copy())
    again = session.send(prepared.copy())
    assert (first.status_code, again.status_code) == (201, 401)
    assert again.json() == {"title": "Unauthorized", "detail": "Unauthorized",
                            "type": "about:blank", "status": 401}


# -- a post whose answer was lost (X has no idempotency key) -----------------------------------

LINKED = "Civic tech meetup tonight & tomorrow https://civictech.se/meetup/ #civictech"


def test_find_recovers_a_post_whose_answer_was_lost_from_the_accounts_recent_posts(
        publisher, fake):
    fake.fail_next("/2/tweets", 503, after_commit=True)
    reserved = datetime.now(timezone.utc)
    with pytest.raises(Unavailable):
        publisher.publish(post(LINKED, reserved_at=reserved))
    [stored] = fake.posts

    found = publisher.find(post(LINKED, reserved_at=reserved))

    assert found == Published(stored.id, f"https://x.com/i/web/status/{stored.id}")
    [lookup] = fake.received("GET", rf"/2/users/{fake.user_id}/tweets")
    assert lookup.query["max_results"] == ["10"]
    start = datetime.fromisoformat(lookup.query["start_time"][0].replace("Z", "+00:00"))
    assert reserved - timedelta(minutes=5) < start <= reserved   # only posts since reserving
    assert fake.reads == 1


def test_find_reads_further_pages_until_it_finds_the_post(publisher, fake):
    publisher.publish(post("The one we look for"))
    for number in range(12):
        publisher.publish(post(f"Later post number {number}"))
    found = publisher.find(post("The one we look for"))
    assert found is not None and found.id == fake.posts[0].id
    assert len(fake.received("GET", rf"/2/users/{fake.user_id}/tweets")) == 2
    assert fake.reads == publisher.posts_read == 13          # what X charges "Posts: Read" for


def test_a_duplicate_refusal_after_a_lost_answer_carries_the_earlier_post(publisher, fake):
    fake.fail_next("/2/tweets", 503, after_commit=True)
    with pytest.raises(Unavailable):
        publisher.publish(post(LINKED))
    with pytest.raises(DuplicateContent) as caught:
        publisher.publish(post(LINKED))
    [stored] = fake.posts
    assert caught.value.published == Published(stored.id,
                                               f"https://x.com/i/web/status/{stored.id}")
    assert "duplicate" in caught.value.platform_message


def test_a_failed_lookup_leaves_the_duplicate_refusal_without_a_post(publisher, fake):
    publisher.publish(post(LINKED))
    fake.fail_next(f"/2/users/{fake.user_id}/tweets", 503)
    with pytest.raises(DuplicateContent) as caught:
        publisher.publish(post(LINKED))
    assert caught.value.published is None


# -- signing for the URL that is sent ----------------------------------------------------------

def test_requests_to_another_api_url_are_signed_for_that_url(fake):
    """A server or proxy that checks the signature for the URL it received accepts them."""
    account = Account("x-events", "x", ("sv",), {"api_url": fake.url})
    session = requests.Session()
    session.trust_env = False
    publisher = XPublisher(account, fake.credentials(), session=session, timeout=5)

    published = publisher.publish(post(media=(media(),)))

    assert [p.id for p in fake.posts] == [published.id]
    assert {r.header("host") for r in fake.received()} == {urlsplit(fake.url).netloc}


def test_the_fake_refuses_a_request_signed_for_another_url_than_it_received(fake):
    auth = OAuth1(fake.api_key, client_secret=fake.api_secret,
                  resource_owner_key=fake.access_token, resource_owner_secret=fake.access_secret)
    signed = requests.Request("POST", "https://api.twitter.com/2/tweets", json={"text": "Hej"},
                              auth=auth).prepare()
    signed.url = fake.url + "/2/tweets"          # sent elsewhere than signed for
    session = requests.Session()
    session.trust_env = False
    assert session.send(signed).status_code == 401
    assert fake.posts == []


def test_herald_auth_x_sends_every_step_of_the_pin_flow_to_the_accounts_api_url(
        platforms, monkeypatch):
    """The fake X (at the account's `api_url`) checks each signature for the URL it received."""
    from click.testing import CliRunner

    from bot.cli import main

    fake = platforms.x
    fake.pin = "4711042"
    for name in platforms.env:
        if name.startswith("HERALD_X_"):
            monkeypatch.delenv(name)
    typed = f"{fake.api_key}\n{fake.api_secret}\n{fake.pin}\n"

    result = CliRunner().invoke(main, ["auth", "x", "--config", str(platforms.config)],
                                input=typed)

    assert result.exit_code == 0, result.output
    assert f"{fake.url}/oauth/authorize?oauth_token=" in result.output
    assert "Authorised as @herald_events." in result.output
    assert [r.path for r in fake.received("POST")] == ["/oauth/request_token",
                                                       "/oauth/access_token"]
    assert {r.header("host") for r in fake.received()} == {urlsplit(fake.url).netloc}
    check = CliRunner().invoke(main, ["check", "--account", "x", "--config",
                                      str(platforms.config)])
    assert check.exit_code == 0, check.output
    assert "x: ok, @herald_events" in check.output


# -- no request before a rate limit resets -----------------------------------------------------

def test_after_a_rate_limit_no_request_reaches_x_before_the_reset(publisher, fake):
    reset = fake.exhaust("/2/tweets", reset=int(time.time()) + 600)
    with pytest.raises(RateLimited):
        publisher.publish(post())
    sent = len(fake.received())

    for attempt in (lambda: publisher.publish(post()), lambda: publisher.find(post()),
                    publisher.check, lambda: publisher.delete("1880000000000000100")):
        with pytest.raises(RateLimited) as caught:
            attempt()
        assert caught.value.retry_after == datetime.fromtimestamp(reset, timezone.utc)
    assert len(fake.received()) == sent


def test_requests_go_out_again_once_the_reset_has_passed(fake):
    now = [datetime.now(timezone.utc)]
    publisher = XPublisher(ACCOUNT, fake.credentials(), session=fake.session(),
                           clock=lambda: now[0])
    reset = fake.exhaust("/2/tweets", reset=int(time.time()) + 3)   # ahead even on a busy machine
    with pytest.raises(RateLimited):
        publisher.publish(post())
    now[0] = datetime.fromtimestamp(reset, timezone.utc) + timedelta(seconds=1)
    time.sleep(max(0.0, reset + 1 - time.time()))
    assert publisher.publish(post()).id == fake.posts[0].id


# -- a failure before the post was sent --------------------------------------------------------

def test_a_post_whose_image_upload_failed_goes_out_at_its_retry_without_a_paid_lookup(
        publisher, fake, tmp_path):
    """Nothing of the post reached X: its outcome is known, so it is not looked up (a read X
    charges for) and does not wait out the request timeout first."""
    from bot.delivery import deliver
    from bot.ledger import Ledger
    from bot.model import PostKey

    key = PostKey("meetup", "announcement", "x-events", "sv")
    now = datetime(2027, 4, 1, 12, 0, tzinfo=timezone.utc)
    fake.fail_next("/2/media/upload", 503)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        failed = deliver(key, post(media=(media(),)), publisher=publisher, ledger=ledger,
                         now=now)
        assert failed.status == "failed" and not ledger.entry(key).uncertain
        retried = deliver(key, post(media=(media(),)), publisher=publisher, ledger=ledger,
                          now=now + timedelta(seconds=1))
        assert retried.status == "posted"
    assert fake.received("GET", r"/2/users/\d+/tweets") == [] and len(fake.posts) == 1


# -- retries reuse uploads ---------------------------------------------------------------------

def test_a_retried_post_reuses_the_images_x_already_holds(publisher, fake):
    fake.fail_next("/2/tweets", 503)
    images = (media("A poster"), media("A map", colour="teal"))
    with pytest.raises(Unavailable):
        publisher.publish(post(media=images))
    publisher.publish(post(media=images))

    assert len(fake.received("POST", "/2/media/upload")) == 2      # not four
    assert len(fake.received("POST", "/2/media/metadata")) == 2
    [stored] = fake.posts
    assert stored.alt_texts == ["A poster", "A map"]
    assert set(stored.media_ids) == set(fake.media)                 # nothing left unattached


def test_an_alt_text_that_failed_is_sent_again_with_the_reused_image(publisher, fake):
    fake.fail_next("/2/media/metadata", 503)
    with pytest.raises(Unavailable):
        publisher.publish(post(media=(media("A poster"),)))
    publisher.publish(post(media=(media("A poster"),)))
    assert len(fake.received("POST", "/2/media/upload")) == 1
    assert fake.posts[0].alt_texts == ["A poster"]


def test_the_same_image_with_another_alt_text_is_uploaded_again(publisher, fake):
    publisher.publish(post("Svenska", media=(media("En affisch"),)))
    publisher.publish(post("English", media=(media("A poster"),)))
    assert len(fake.received("POST", "/2/media/upload")) == 2


# -- credentials an error body echoes ----------------------------------------------------------

def test_credentials_x_echoes_in_an_error_are_masked_in_the_error_its_repr_and_logs(
        fake, caplog):
    caplog.set_level(logging.DEBUG, logger="bot")
    credentials = fake.credentials()
    echoed = ("Bad request: " + " ".join(credentials.values())
              + " " + quote(credentials["api_secret"], safe=""))
    fake.fail_next("/2/tweets", 400, body={"errors": [{"message": echoed}],
                                           "title": "Invalid Request", "detail": echoed,
                                           "type": "about:blank"})
    publisher = XPublisher(ACCOUNT, credentials, session=fake.session())
    with pytest.raises(Rejected) as caught:
        publisher.publish(post())

    error = caught.value
    shown = [str(error), repr(error), error.platform_message or "", repr(error.args)]
    shown += [record.getMessage() for record in caplog.records]
    assert "Bad request: ****" in str(error)
    for value in credentials.values():
        assert not any(value in text for text in shown)
