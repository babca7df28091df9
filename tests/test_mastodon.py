"""The Mastodon adapter, with Mastodon.py unmodified over real HTTP against the fake instance."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from jsonschema import Draft202012Validator
from PIL import Image

from bot.errors import AuthFailed, ConfigError, PublishError, RateLimited, Rejected, Unavailable
from bot.model import Account, Media, OutgoingPost, Published
from bot.platforms.mastodon import LIMITS, MastodonPublisher, authorize, map_error, retry_time
from tests.auth_hints import hinted_auth
from tests.fakes.mastodon import FakeMastodon, fake_mastodon  # noqa: F401  (fixture)
from tests.fakes.openapi import _spec
from tests.fakes.server import FakeServer, Response
from tests.faults.proxy import MASTODON, FaultProxy

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "civictech-sv"
TOO_LONG = "Validation failed: Text character limit of 500 exceeded"
TEXT = ("Hack Night: öppen data om kollektivtrafik, torsdag 12 juni 18:00 på Kulturhuset. "
        "https://civictech.se/events/2025/hack-night-oppen-data-kollektivtrafik/ #civictech")


def png(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "#1d3557").save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(width: int = 32, height: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "#e63946").save(buffer, "JPEG")
    return buffer.getvalue()


def make_publisher(fake: FakeMastodon, *, token: str | None = None, timeout: float = 5.0,
                   media_wait: float = 2.0, **options: str) -> MastodonPublisher:
    options.setdefault("instance", fake.url)
    credentials = {} if token == "" else {"access_token": token or fake.token}
    return MastodonPublisher(Account(ACCOUNT, "mastodon", ("sv",), options), credentials,
                             timeout=timeout, media_wait=media_wait, poll_interval=0.01,
                             max_poll_interval=0.05)


def post(text: str = TEXT, **fields) -> OutgoingPost:
    fields.setdefault("lang", "sv")
    fields.setdefault("idempotency_key", "hack-night/announcement/civictech-sv/sv")
    return OutgoingPost(text=text, **fields)


@pytest.fixture
def publisher(fake_mastodon: FakeMastodon) -> MastodonPublisher:
    return make_publisher(fake_mastodon)


def assert_matches_schema(entity: str, body: object) -> None:
    spec, registry = _spec("mastodon")
    validator = Draft202012Validator({"$ref": f"urn:spec#/components/schemas/{entity}"},
                                     registry=registry)
    problems = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]
    assert problems == [], entity


# -- the module and the adapter's shape -----------------------------------------------------------


def test_importing_the_adapter_does_not_import_mastodon_py():
    code = ("import bot.platforms.mastodon, sys; "
            "assert 'mastodon' not in sys.modules; assert 'requests' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_default_limits_are_mastodons_out_of_the_box_limits():
    assert (LIMITS.platform, LIMITS.max_chars, LIMITS.counting, LIMITS.url_weight) == (
        "mastodon", 500, "mastodon", 23)
    assert LIMITS.image_bytes == 16 * 1024 * 1024 and LIMITS.image_pixels == 33_177_600
    assert LIMITS.images_per_post == 4 and LIMITS.alt_chars == 1500
    assert LIMITS.image_formats == {"JPEG", "PNG", "GIF", "WEBP"}
    assert LIMITS.replies and LIMITS.edits


def test_repr_names_account_and_instance_but_never_the_token(fake_mastodon):
    publisher = make_publisher(fake_mastodon)
    assert repr(publisher) == (f"MastodonPublisher(account='{ACCOUNT}', "
                               f"instance='{fake_mastodon.url}', visibility='public')")
    assert fake_mastodon.token not in repr(publisher) + str(publisher)


def test_an_instance_without_a_scheme_means_https():
    account = Account("m", "mastodon", ("sv",), {"instance": "mastodon.social/"})
    assert MastodonPublisher(account, {}).instance == "https://mastodon.social"


def test_a_missing_instance_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"accounts\.m\.instance"):
        MastodonPublisher(Account("m", "mastodon", ("sv",), {}), {"access_token": "t"})


def test_an_unknown_visibility_is_a_config_error_naming_the_key():
    account = Account("m", "mastodon", ("sv",), {"instance": "https://example.org",
                                                  "visibility": "followers"})
    with pytest.raises(ConfigError, match=r"accounts\.m\.visibility: expected one of public"):
        MastodonPublisher(account, {"access_token": "t"})


# -- publishing -----------------------------------------------------------------------------------


def test_publishing_sends_text_language_visibility_and_idempotency_key(fake_mastodon, publisher):
    published = publisher.publish(post())

    [sent] = fake_mastodon.received("POST", "/api/v1/statuses")
    assert sent.form["status"] == [TEXT]
    assert sent.form["language"] == ["sv"]
    assert sent.form["visibility"] == ["public"]
    assert sent.header("Idempotency-Key") == "hack-night/announcement/civictech-sv/sv"
    assert sent.header("Authorization") == f"Bearer {fake_mastodon.token}"
    assert "in_reply_to_id" not in sent.form and "media_ids[]" not in sent.form
    [status] = fake_mastodon.status_list()
    assert published == Published(status["id"], f"{fake_mastodon.url}/@herald/{status['id']}")


def test_the_visibility_comes_from_the_account_options(fake_mastodon):
    make_publisher(fake_mastodon, visibility="unlisted").publish(post())

    [sent] = fake_mastodon.received("POST", "/api/v1/statuses")
    assert sent.form["visibility"] == ["unlisted"]


def test_a_reply_names_the_status_it_answers(fake_mastodon, publisher):
    first = publisher.publish(post())
    reply = publisher.publish(post("Påminnelse: i kväll 18:00!", reply_to=first.id,
                                   idempotency_key="hack-night/reminder/civictech-sv/sv"))

    sent = fake_mastodon.received("POST", "/api/v1/statuses")[-1]
    assert sent.form["in_reply_to_id"] == [first.id]
    assert fake_mastodon.statuses[reply.id]["in_reply_to_id"] == first.id


def test_images_are_uploaded_with_their_bytes_type_and_alt_text_then_attached(fake_mastodon,
                                                                              publisher):
    poster, photo = png(), jpeg()
    published = publisher.publish(post(media=(
        Media(poster, "image/png", 40, 30, "Affisch: Hack Night, torsdag 18:00", "poster"),
        Media(photo, "image/jpeg", 32, 32, "Deltagare runt ett bord", "photo.jpeg"),
    )))

    uploads = fake_mastodon.received("POST", "/api/v2/media")
    assert [u.files["file"].data for u in uploads] == [poster, photo]
    assert [u.files["file"].content_type for u in uploads] == ["image/png", "image/jpeg"]
    assert [u.files["file"].filename for u in uploads] == ["poster.png", "photo.jpg"]
    assert [u.form["description"] for u in uploads] == [
        ["Affisch: Hack Night, torsdag 18:00"], ["Deltagare runt ett bord"]]
    [sent] = fake_mastodon.received("POST", "/api/v1/statuses")
    assert sent.form["media_ids[]"] == list(fake_mastodon.media)
    status = fake_mastodon.statuses[published.id]
    assert [fake_mastodon.media[i].description for i in status["media_ids"]] == [
        "Affisch: Hack Night, torsdag 18:00", "Deltagare runt ett bord"]


def test_publishing_waits_until_media_that_is_still_processing_has_a_url(fake_mastodon,
                                                                         publisher):
    fake_mastodon.processing_polls = 3

    published = publisher.publish(post(media=(Media(png(), "image/png", 40, 30, "Affisch"),)))

    paths = [(r.method, r.path) for r in fake_mastodon.received()]
    [media_id] = fake_mastodon.media
    assert paths == [("POST", "/api/v2/media")] + [("GET", f"/api/v1/media/{media_id}")] * 4 + [
        ("POST", "/api/v1/statuses")]
    assert fake_mastodon.statuses[published.id]["media_ids"] == [media_id]


def test_media_still_processing_after_the_wait_is_unavailable_and_nothing_is_posted(
        fake_mastodon):
    fake_mastodon.processing_polls = 10_000
    publisher = make_publisher(fake_mastodon, media_wait=0.2)

    with pytest.raises(Unavailable, match="media still processing") as caught:
        publisher.publish(post(media=(Media(png(), "image/png", 40, 30, "Affisch"),)))

    assert caught.value.retryable
    assert str(caught.value).startswith(f"{ACCOUNT}: uploading image 1 of 1")
    assert fake_mastodon.received("POST", "/api/v1/statuses") == []


def test_publishing_the_same_post_twice_makes_one_status_and_the_same_answer(fake_mastodon,
                                                                             publisher):
    first = publisher.publish(post())
    again = make_publisher(fake_mastodon).publish(post())

    assert again == first
    assert len(fake_mastodon.status_list()) == 1
    keys = [r.header("Idempotency-Key") for r in fake_mastodon.received("POST", "/api/v1/statuses")]
    assert keys == ["hack-night/announcement/civictech-sv/sv"] * 2


def test_editing_replaces_the_text_of_a_status(fake_mastodon, publisher):
    first = publisher.publish(post())

    edited = publisher.edit(first.id, TEXT.replace("18:00", "18:30"))

    [sent] = fake_mastodon.received("PUT", rf"/api/v1/statuses/{first.id}")
    assert sent.form["status"] == [TEXT.replace("18:00", "18:30")]
    assert edited == first
    assert fake_mastodon.statuses[first.id]["text"] == TEXT.replace("18:00", "18:30")
    assert fake_mastodon.statuses[first.id]["edited_at"] is not None


@pytest.mark.parametrize("software", ["mastodon", "gotosocial"])
def test_a_correction_keeps_the_statuss_images_language_and_sensitive_flag(software):
    """PUT /api/v1/statuses/:id replaces the status: media_ids, language and sensitive are sent
    again, as the Mastodon API description lists them, or the server drops them."""
    with FakeMastodon(software=software) as fake:
        publisher = make_publisher(fake)
        first = publisher.publish(post(media=(
            Media(png(), "image/png", 40, 30, "Affisch för kvällen", "poster.png"),
            Media(jpeg(), "image/jpeg", 32, 32, "Karta till Kulturhuset", "map.jpg"))))
        fake.statuses[first.id]["sensitive"] = True          # marked so by hand afterwards

        publisher.edit(first.id, TEXT.replace("18:00", "18:30"))

        [sent] = fake.received("PUT", rf"/api/v1/statuses/{first.id}")
        status = requests.get(f"{fake.url}/api/v1/statuses/{first.id}", timeout=5).json()
        assert [m["description"] for m in status["media_attachments"]] == [
            "Affisch för kvällen", "Karta till Kulturhuset"]
        assert status["language"] == "sv" and status["sensitive"] is True
        assert sent.form["language"] == ["sv"] and len(sent.form["media_ids[]"]) == 2
        assert fake.violations == []


def test_deleting_a_status_removes_it_from_the_instance(fake_mastodon, publisher):
    first = publisher.publish(post())

    publisher.delete(first.id)

    [sent] = fake_mastodon.received("DELETE", rf"/api/v1/statuses/{first.id}")
    assert sent.header("Authorization") == f"Bearer {fake_mastodon.token}"
    assert fake_mastodon.status_list() == []
    assert requests.get(f"{fake_mastodon.url}/api/v1/statuses/{first.id}",
                        timeout=5).status_code == 404


def test_deleting_a_status_that_is_already_gone_is_fine(fake_mastodon, publisher):
    first = publisher.publish(post())
    publisher.delete(first.id)

    publisher.delete(first.id)
    make_publisher(fake_mastodon).delete("110000000000000001")

    assert len(fake_mastodon.received("DELETE", r"/api/v1/statuses/\d+")) == 3
    assert fake_mastodon.status_list() == []


def test_deleting_with_a_wrong_token_is_auth_failed_naming_the_account_and_never_the_token(
        fake_mastodon, publisher, caplog):
    caplog.set_level(logging.DEBUG)
    first = publisher.publish(post())
    wrong = "wrong-token-Zx81bQ7pLkS"

    with pytest.raises(AuthFailed) as caught:
        make_publisher(fake_mastodon, token=wrong).delete(first.id)

    message = str(caught.value)
    assert message.startswith(f"{ACCOUNT}: deleting status {first.id}: ")
    assert "401: The access token is invalid" in message
    assert caught.value.account == ACCOUNT
    assert wrong not in message and wrong not in repr(caught.value)
    assert all(wrong not in record.getMessage() for record in caplog.records)
    assert [s["id"] for s in fake_mastodon.status_list()] == [first.id]


# -- finding a post whose outcome is unknown ------------------------------------------------------


def test_find_returns_the_status_sent_earlier_even_after_the_idempotency_hour(fake_mastodon,
                                                                               publisher):
    outgoing = post(TEXT + "\n\nVälkommen! <3 & fika", media=(
        Media(png(), "image/png", 40, 30, "Affisch"),))
    published = publisher.publish(outgoing)
    fake_mastodon.advance(2 * 3600)

    found = make_publisher(fake_mastodon).find(outgoing)

    assert found == published
    assert fake_mastodon.received("GET", r"/api/v1/accounts/\d+/statuses")[0].query["limit"] == [
        "20"]


def test_find_returns_none_when_the_post_was_never_sent(fake_mastodon, publisher):
    publisher.publish(post())

    assert publisher.find(post(TEXT.replace("torsdag", "fredag"), idempotency_key="other")) is None
    assert publisher.find(post(lang="en")) is None
    assert publisher.find(post(reply_to=fake_mastodon.status_list()[0]["id"])) is None


def test_a_failed_image_upload_says_the_status_itself_was_never_sent(fake_mastodon):
    with FaultProxy(fake_mastodon.url, MASTODON) as proxy:
        proxy.force("503", method="POST", path="/api/v2/media")
        with pytest.raises(Unavailable) as failed:
            make_publisher(fake_mastodon, instance=proxy.url).publish(
                post(media=(Media(png(), "image/png", 40, 30, "Affisch"),)))
    assert failed.value.before_sending and fake_mastodon.status_list() == []


def test_find_names_a_status_with_images_when_asked_by_its_text_alone(fake_mastodon, publisher):
    """A post in doubt that the timing rules drop is looked up from the ledger, which keeps its
    text but not its images: the status is found, so history says it went out."""
    published = publisher.publish(post(media=(Media(png(), "image/png", 40, 30, "Affisch"),)))
    assert make_publisher(fake_mastodon).find(post()) == published


def test_an_image_found_attached_after_a_lost_answer_is_uploaded_afresh_for_the_next_post(
        fake_mastodon):
    """A status takes its attachments for good: the next post (a reminder with the same image
    and alt text) must not send their ids again, which the server refuses."""
    image = Media(png(), "image/png", 40, 30, "Affisch")
    announcement = post(media=(image,))
    reminder = post("Påminnelse: " + TEXT, media=(image,),
                    idempotency_key="hack-night/reminder/civictech-sv/sv")
    with FaultProxy(fake_mastodon.url, MASTODON) as proxy:
        publisher = make_publisher(fake_mastodon, instance=proxy.url)
        proxy.force("lost", method="POST", path="/api/v1/statuses")
        with pytest.raises(Unavailable):
            publisher.publish(announcement)          # made, but the answer never came
        found = publisher.find(announcement)
        assert found is not None
        publisher.publish(replace(reminder, reply_to=found.id))
    first, second = fake_mastodon.status_list()
    assert len(first["media_ids"]) == len(second["media_ids"]) == 1
    assert first["media_ids"] != second["media_ids"]


# -- what the instance says about itself ----------------------------------------------------------


def test_limits_are_read_from_the_instance_once(fake_mastodon):
    fake_mastodon.max_characters = 1000
    fake_mastodon.characters_reserved_per_url = 20
    fake_mastodon.max_media_attachments = 6
    fake_mastodon.image_size_limit = 8 * 1024 * 1024
    fake_mastodon.image_matrix_limit = 16_777_216
    fake_mastodon.description_limit = 3000
    publisher = make_publisher(fake_mastodon)

    limits = publisher.limits()

    assert (limits.max_chars, limits.url_weight, limits.images_per_post) == (1000, 20, 6)
    assert (limits.image_bytes, limits.image_pixels, limits.alt_chars) == (
        8 * 1024 * 1024, 16_777_216, 3000)
    assert limits.image_formats == {"JPEG", "PNG", "GIF", "WEBP"}
    assert limits.platform == "mastodon" and limits.counting == "mastodon" and limits.edits
    assert publisher.limits() is limits
    assert len(fake_mastodon.received("GET", "/api/v2/instance/?")) == 1


def test_limits_say_mastodon_counts_its_way_honours_idempotency_and_times_out_as_set(
        fake_mastodon):
    limits = make_publisher(fake_mastodon, timeout=7.5).limits()
    assert (limits.counting, limits.idempotent, limits.request_timeout) == ("mastodon", True, 7.5)


def test_a_gotosocial_server_is_counted_in_code_points_and_not_trusted_with_idempotency():
    with FakeMastodon(software="gotosocial") as fake:
        limits = make_publisher(fake).limits()
    assert (limits.counting, limits.idempotent) == ("codepoints", False)
    assert limits.url_weight == 23            # advertised, but GoToSocial does not apply it


def test_text_that_fits_mastodons_count_but_not_gotosocials_is_refused_by_gotosocial():
    """GoToSocial counts len([]rune(status)): 500 code points, URLs in full."""
    from bot.counting import fits

    text = "a" * 400 + " " + "https://civictech.se/" + "b" * 100
    with FakeMastodon() as mastodon, FakeMastodon(software="gotosocial") as gotosocial:
        assert fits(text, make_publisher(mastodon).limits())
        assert not fits(text, make_publisher(gotosocial).limits())
        with pytest.raises(Rejected, match="status too long"):
            make_publisher(gotosocial).publish(post(text))


@pytest.mark.parametrize(("version", "source", "kind"), [
    ("4.3.0", "https://github.com/mastodon/mastodon", "mastodon"),
    ("4.3.2+glitch", "https://github.com/glitch-soc/mastodon", "mastodon"),
    ("4.2.10+hometown-1.1.1", "https://github.com/hometown-fork/hometown", "mastodon"),
    ("0.17.3+git-ccd5b34", "https://codeberg.org/superseriousbusiness/gotosocial", "gotosocial"),
    ("3.5.3 (compatible; GoToSocial 0.16.0)", "", "gotosocial"),
    ("2.7.2 (compatible; Akkoma 3.13.2)", "https://akkoma.dev/AkkomaGang/akkoma", "other"),
    ("3.5.3 (compatible; Pixelfed 0.12.4)", "", "other"),
    ("", "", "other"),
])
def test_the_instance_answer_says_which_server_it_is(version, source, kind):
    from bot.platforms.mastodon import limits_from_instance, server_kind

    info = {"version": version, "source_url": source}
    assert server_kind(info) == kind
    counting = limits_from_instance(info).counting
    assert counting == {"mastodon": "mastodon", "gotosocial": "codepoints",
                        "other": "strictest"}[kind]


def test_limits_keep_the_default_alt_length_when_the_instance_states_none(fake_mastodon,
                                                                           publisher):
    fake_mastodon.description_limit = None

    assert publisher.limits().alt_chars == 1500


def test_check_returns_the_accounts_handle(fake_mastodon, publisher):
    assert publisher.check() == f"@herald@{fake_mastodon.domain}"


# -- errors, mapped at the edge -------------------------------------------------------------------


def test_a_missing_token_fails_with_how_to_provide_one_and_sends_nothing(fake_mastodon):
    publisher = make_publisher(fake_mastodon, token="")

    with pytest.raises(AuthFailed) as caught:
        publisher.publish(post())

    assert str(caught.value).startswith(f"{ACCOUNT}: no Mastodon access token; set "
                                        f"HERALD_CIVICTECH_SV_ACCESS_TOKEN or run `herald auth ")
    assert hinted_auth(str(caught.value)) == ("mastodon", ACCOUNT)
    assert caught.value.account == ACCOUNT
    assert fake_mastodon.received() == []


def test_a_wrong_token_is_auth_failed_naming_the_account_and_never_the_token(fake_mastodon,
                                                                              caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-token-Zx81bQ7pLkS"
    publisher = make_publisher(fake_mastodon, token=wrong)

    with pytest.raises(AuthFailed) as caught:
        publisher.publish(post())

    message = str(caught.value)
    assert message.startswith(f"{ACCOUNT}: posting: ")
    assert "401: The access token is invalid" in message
    assert "HERALD_CIVICTECH_SV_ACCESS_TOKEN" in message
    assert wrong not in message and wrong not in repr(caught.value)
    assert all(wrong not in record.getMessage() for record in caplog.records)
    assert not caught.value.retryable
    assert fake_mastodon.status_list() == []


def test_a_token_without_the_write_scope_is_auth_failed(fake_mastodon):
    publisher = make_publisher(fake_mastodon, token=fake_mastodon.grant("read"))

    with pytest.raises(AuthFailed, match="403: This action is outside the authorized scopes"):
        publisher.publish(post())


def test_a_rate_limit_says_when_to_retry_from_the_reset_header(fake_mastodon, publisher):
    fake_mastodon.rate_limit(120)
    before = datetime.now(timezone.utc)

    with pytest.raises(RateLimited) as caught:
        publisher.publish(post())

    assert caught.value.retryable
    assert caught.value.retry_after is not None
    assert abs(caught.value.retry_after - (before + timedelta(seconds=120))) < timedelta(seconds=3)
    assert str(caught.value).startswith(f"{ACCOUNT}: posting: rate limited by ")


def test_a_rate_limit_waits_for_the_later_of_reset_and_retry_after(fake_mastodon, publisher):
    fake_mastodon.rate_limit(60, retry_after="900")
    before = datetime.now(timezone.utc)

    with pytest.raises(RateLimited) as caught:
        publisher.limits()

    assert abs(caught.value.retry_after - (before + timedelta(seconds=900))) < timedelta(seconds=3)


def test_retry_time_reads_an_epoch_reset_and_corrects_the_servers_clock():
    now = datetime(2025, 6, 12, 12, 0, tzinfo=timezone.utc)
    headers = {"X-RateLimit-Reset": str(int(datetime(2025, 6, 12, 12, 10,
                                                       tzinfo=timezone.utc).timestamp())),
               "Date": "Thu, 12 Jun 2025 11:58:00 GMT"}  # the server's clock is 2 min behind

    assert retry_time(headers, now) == datetime(2025, 6, 12, 12, 12, tzinfo=timezone.utc)
    assert retry_time({"Retry-After": "30"}, now) == now + timedelta(seconds=30)
    assert retry_time({}, now) is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_unavailable(fake_mastodon, publisher, status):
    fake_mastodon.outage = status

    with pytest.raises(Unavailable, match=rf"posting: .* failed \({status}\); the outcome is "
                                          r"unknown") as caught:
        publisher.publish(post())

    assert caught.value.retryable


def test_a_text_over_the_character_limit_is_rejected_with_the_servers_words(fake_mastodon,
                                                                            publisher):
    with pytest.raises(Rejected) as caught:
        publisher.publish(post("x" * 501))

    assert caught.value.platform_message == TOO_LONG
    assert str(caught.value) == (f"{ACCOUNT}: posting: {fake_mastodon.domain} rejected it "
                                 f"(422: {TOO_LONG})")
    assert not caught.value.retryable


def test_a_validation_failure_the_server_reports_is_rejected(fake_mastodon, publisher):
    fake_mastodon.rejection = TOO_LONG

    with pytest.raises(Rejected) as caught:
        publisher.publish(post("kort"))

    assert caught.value.platform_message == TOO_LONG


def test_a_reply_to_a_deleted_status_is_rejected(fake_mastodon, publisher):
    with pytest.raises(Rejected, match="404") as caught:
        publisher.publish(post(reply_to="110000000000000001"))

    assert caught.value.platform_message == (
        "The post you are trying to reply to does not appear to exist.")


def test_a_rejected_image_is_rejected_before_anything_is_posted(fake_mastodon, publisher):
    with pytest.raises(Rejected, match="uploading image 1 of 1") as caught:
        publisher.publish(post(media=(Media(b"not an image", "image/png", 1, 1, "?"),)))

    assert caught.value.platform_message == "Validation failed: File content type is invalid"
    assert fake_mastodon.received("POST", "/api/v1/statuses") == []


def test_a_server_that_does_not_answer_in_time_is_unavailable(fake_mastodon):
    fake_mastodon.delay = 0.5
    publisher = make_publisher(fake_mastodon, timeout=0.1)

    with pytest.raises(Unavailable, match=r"posting: no answer from .* \(timed out\)"):
        publisher.publish(post())


def test_an_unreachable_server_is_unavailable():
    with FakeMastodon() as gone:
        url, token = gone.url, gone.token
    account = Account(ACCOUNT, "mastodon", ("sv",), {"instance": url})

    with pytest.raises(Unavailable, match=r"connection failed"):
        MastodonPublisher(account, {"access_token": token}, timeout=1).check()


def test_an_address_that_is_not_a_mastodon_server_is_unavailable():
    with FakeServer() as web:
        web.route("GET", "/api/v1/accounts/verify_credentials",
                  lambda request, params: Response(200, b"<html>Welcome</html>",
                                                   {"Content-Type": "text/html"}))
        account = Account(ACCOUNT, "mastodon", ("sv",), {"instance": web.url})

        with pytest.raises(Unavailable, match="is .* a Mastodon server"):
            MastodonPublisher(account, {"access_token": "k3y-0f-a-real-length"}).check()


def test_no_mastodon_py_exception_is_left_unmapped():
    import mastodon.errors

    raised = [cls for cls in vars(mastodon.errors).values() if isinstance(cls, type)
              and issubclass(cls, mastodon.errors.MastodonError)]
    for cls in raised:
        for exc in (cls("Mastodon API returned error", 418, "I'm a teapot", "nope"), cls("x")):
            assert isinstance(map_error(exc, what="posting", account="a", host="h"),
                              PublishError), cls
    assert len(raised) > 10


def test_no_error_or_log_record_ever_shows_the_token(fake_mastodon, caplog):
    caplog.set_level(logging.DEBUG)
    publisher = make_publisher(fake_mastodon)
    errors: list[PublishError] = []
    for switch in ({"outage": 500}, {"rejection": "nope"}, {"delay": 0.3}):
        for name, value in switch.items():
            setattr(fake_mastodon, name, value)
        slow = make_publisher(fake_mastodon, timeout=0.1)
        with pytest.raises(PublishError) as caught:
            slow.publish(post())
        errors.append(caught.value)
        fake_mastodon.outage, fake_mastodon.rejection, fake_mastodon.delay = None, None, 0.0
    fake_mastodon.rate_limit(30)
    with pytest.raises(PublishError) as caught:
        publisher.publish(post())
    errors.append(caught.value)

    assert [type(e) for e in errors] == [Unavailable, Rejected, Unavailable, RateLimited]
    shown = [str(e) for e in errors] + [repr(e) for e in errors] + [
        r.getMessage() for r in caplog.records]
    assert all(fake_mastodon.token not in text for text in shown)
    assert all(text.startswith(f"{ACCOUNT}: ") for text in map(str, errors))


# -- herald auth ----------------------------------------------------------------------------------


def test_authorize_registers_the_app_and_exchanges_the_code_the_user_pastes(fake_mastodon):
    shown: list[str] = []
    asked: list[str] = []

    def prompt(question: str) -> str:
        asked.append(question)
        [url] = [word for word in shown[-1].split() if word.startswith("http")]
        return "  " + fake_mastodon.approve(url) + "\n"

    credentials = authorize(fake_mastodon.url, prompt=prompt, echo=shown.append)

    assert set(credentials) == {"access_token", "client_id", "client_secret"}
    [app] = fake_mastodon.received("POST", "/api/v1/apps")
    assert app.form["client_name"] == ["Herald"]
    assert app.form["scopes"] == ["read write:statuses write:media"]
    assert app.form["redirect_uris"] == ["urn:ietf:wg:oauth:2.0:oob"]
    url = next(w for w in shown[0].split() if w.startswith("http"))
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == "/oauth/authorize"
    assert query["client_id"] == [credentials["client_id"]]
    assert query["scope"] == ["read write:statuses write:media"]
    assert query["redirect_uri"] == ["urn:ietf:wg:oauth:2.0:oob"]
    assert query["response_type"] == ["code"] and query["force_login"] == ["True"]
    assert asked == ["Paste the authorization code Mastodon shows"]
    [exchange] = fake_mastodon.received("POST", "/oauth/token")
    assert exchange.form["grant_type"] == ["authorization_code"]
    assert exchange.form["client_secret"] == [credentials["client_secret"]]
    assert exchange.form["redirect_uri"] == ["urn:ietf:wg:oauth:2.0:oob"]
    account = Account(ACCOUNT, "mastodon", ("sv",), {"instance": fake_mastodon.url})
    assert MastodonPublisher(account, credentials).check() == f"@herald@{fake_mastodon.domain}"


def test_authorize_with_a_wrong_code_fails_without_showing_secrets(fake_mastodon):
    with pytest.raises(AuthFailed) as caught:
        authorize(fake_mastodon.url, prompt=lambda question: "not-the-code-3vT9",
                  echo=lambda text: None)

    message = str(caught.value)
    assert message.startswith("exchanging the authorization code: ")
    assert "400: The provided authorization grant is invalid" in message
    assert "not-the-code-3vT9" not in message
    assert all(app.client_secret not in message for app in fake_mastodon.apps.values())


def test_authorize_with_no_code_saves_nothing(fake_mastodon):
    with pytest.raises(AuthFailed, match="no authorization code entered"):
        authorize(fake_mastodon.url, prompt=lambda question: " ", echo=lambda text: None)

    assert fake_mastodon.received("POST", "/oauth/token") == []


# -- the fake itself answers like Mastodon --------------------------------------------------------


def test_the_fakes_answers_match_the_official_entities(fake_mastodon):
    fake = fake_mastodon
    auth = {"Authorization": f"Bearer {fake.token}"}
    fake.processing_polls = 1
    upload = requests.post(f"{fake.url}/api/v2/media", headers=auth,
                           files={"file": ("a.png", png(), "image/png")},
                           data={"description": "alt"})
    media_id = upload.json()["id"]
    processing = requests.get(f"{fake.url}/api/v1/media/{media_id}", headers=auth)
    done = requests.get(f"{fake.url}/api/v1/media/{media_id}", headers=auth)
    status = requests.post(f"{fake.url}/api/v1/statuses", headers=auth,
                           data={"status": TEXT, "media_ids[]": [media_id], "language": "sv"})
    app = requests.post(f"{fake.url}/api/v1/apps", data={
        "client_name": "Herald", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read"})

    assert (upload.status_code, upload.json()["url"]) == (202, None)
    assert (processing.status_code, processing.json()["url"]) == (206, None)
    assert done.status_code == 200 and done.json()["url"].endswith(".png")
    assert status.status_code == 200
    for response in (upload, processing, done, status, app):
        assert set(response.headers) >= {"X-RateLimit-Limit", "X-RateLimit-Remaining",
                                         "X-RateLimit-Reset"}
        assert datetime.fromisoformat(response.headers["X-RateLimit-Reset"]) > datetime.now(
            timezone.utc)
    assert_matches_schema("MediaAttachment", upload.json())
    assert_matches_schema("MediaAttachment", done.json())
    assert_matches_schema("Status", status.json())
    assert_matches_schema("CredentialApplication", app.json())
    assert_matches_schema("Instance", requests.get(f"{fake.url}/api/v2/instance").json())
    assert_matches_schema("CredentialAccount", requests.get(
        f"{fake.url}/api/v1/accounts/verify_credentials", headers=auth).json())
    assert_matches_schema("DiscoverOauthServerConfigurationResponse", requests.get(
        f"{fake.url}/.well-known/oauth-authorization-server").json())


def test_the_fake_counts_a_url_as_23_characters_like_mastodon(fake_mastodon, publisher):
    long_url = "https://civictech.se/" + "a" * 200
    text = "x" * (500 - 24) + " " + long_url

    publisher.publish(post(text))

    assert fake_mastodon.status_list()[0]["text"] == text


def test_the_fake_refuses_and_records_a_request_the_api_description_forbids():
    with FakeMastodon() as fake:
        answer = requests.post(f"{fake.url}/api/v1/statuses", json={"visibility": "everyone"},
                               headers={"Authorization": f"Bearer {fake.token}"})

    assert answer.status_code == 422
    assert fake.violations and "POST /api/v1/statuses" in fake.violations[0]
    assert fake.status_list() == []


# -- no request before a reset, no upload twice, no token in an echoed error ---------------------


def test_after_a_rate_limit_nothing_is_sent_before_the_reset_lookups_included(fake_mastodon,
                                                                            publisher):
    fake_mastodon.rate_limit(120)
    with pytest.raises(RateLimited) as first:
        publisher.publish(post())
    sent = len(fake_mastodon.received())

    for attempt in (lambda: publisher.publish(post()), lambda: publisher.find(post()),
                    publisher.check, publisher.limits):
        with pytest.raises(RateLimited) as caught:
            attempt()
        assert caught.value.retry_after == first.value.retry_after
    assert len(fake_mastodon.received()) == sent


def test_requests_go_out_again_once_the_reset_has_passed(fake_mastodon):
    now = [datetime.now(timezone.utc)]
    publisher = MastodonPublisher(Account(ACCOUNT, "mastodon", ("sv",),
                                          {"instance": fake_mastodon.url}),
                                  {"access_token": fake_mastodon.token}, clock=lambda: now[0])
    fake_mastodon.rate_limit(0.2)
    with pytest.raises(RateLimited) as caught:
        publisher.publish(post())
    now[0] = caught.value.retry_after + timedelta(seconds=1)
    time.sleep(0.3)                               # the fake's own window ends too
    assert publisher.publish(post()).id in fake_mastodon.statuses


def test_a_retried_post_attaches_the_images_it_uploaded_before(fake_mastodon, publisher):
    images = (Media(png(), "image/png", 40, 30, "Affisch", "poster.png"),)
    fake_mastodon.status_outages = 1
    with pytest.raises(Unavailable):
        publisher.publish(post(media=images))
    published = publisher.publish(post(media=images))

    assert len(fake_mastodon.received("POST", "/api/v2/media")) == 1
    [status] = fake_mastodon.status_list()
    assert status["id"] == published.id and len(status["media_ids"]) == 1
    assert all(a.status_id == published.id for a in fake_mastodon.media.values())


def test_an_image_attached_to_a_status_is_uploaded_anew_for_the_next_one(fake_mastodon,
                                                                        publisher):
    image = Media(png(), "image/png", 40, 30, "Affisch", "poster.png")
    publisher.publish(post(media=(image,)))
    publisher.publish(post("Second post", idempotency_key="other", media=(image,)))
    assert len(fake_mastodon.received("POST", "/api/v2/media")) == 2
    assert all(len(s["media_ids"]) == 1 for s in fake_mastodon.status_list())


def test_a_token_the_server_echoes_in_an_error_never_reaches_the_error_or_the_logs(
        fake_mastodon, publisher, caplog):
    caplog.set_level(logging.DEBUG)
    fake_mastodon.rejection = f"Validation failed: token {fake_mastodon.token} is not welcome"
    with pytest.raises(Rejected) as caught:
        publisher.publish(post())
    error = caught.value
    shown = [str(error), repr(error), error.platform_message or "", repr(error.args)]
    shown += [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert "token **** is not welcome" in str(error)
    assert not any(fake_mastodon.token in text for text in shown)
