"""The Bluesky adapter against a local PDS: what arrives, sessions, exactly once, errors."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from bot.errors import AuthFailed, ConfigError, PublishError, RateLimited, Rejected, Unavailable
from bot.model import Account, LinkCard, Media, OutgoingPost
from bot.platforms import bluesky
from bot.platforms.bluesky import BlueskyPublisher, authorize, facets, record_key
from tests.auth_hints import hinted_auth
from tests.fakes.bluesky import MAX_GRAPHEMES, THUMB_BYTES, UPLOAD_BYTES, FakePDS, is_tid

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 300
TEXT = "Hej 🎉 Malmö! Läs mer: https://civictech.se/evenemang/hackdag/ #civictech"


@pytest.fixture
def pds():
    with FakePDS() as server:
        yield server


def account(pds: FakePDS | None = None, name: str = "bluesky") -> Account:
    service = pds.url if pds else "http://127.0.0.1:9"
    return Account(name, "bluesky", ("sv", "en"), {"service": service})


def publisher(pds: FakePDS, *, saved: list[str] | None = None, timeout: float = 5.0,
              **credentials: str) -> BlueskyPublisher:
    credentials = credentials or {"handle": pds.handle, "app_password": pds.app_password}
    return BlueskyPublisher(account(pds), credentials, timeout=timeout,
                            save_session=None if saved is None else saved.append)


def post(text: str = TEXT, key: str = "hackdag/announcement/bluesky/sv", **fields) -> OutgoingPost:
    return OutgoingPost(text=text, lang=fields.pop("lang", "sv"), idempotency_key=key, **fields)


def rkey_of(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def created(pds: FakePDS) -> list:
    return pds.received("POST", r"/xrpc/com\.atproto\.repo\.createRecord")


def deleted(pds: FakePDS) -> list:
    return pds.received("POST", r"/xrpc/com\.atproto\.repo\.deleteRecord")


# --- module and pure helpers ---------------------------------------------------------------------

def test_importing_the_adapter_does_not_load_the_atproto_sdk():
    code = ("import sys, bot.platforms.bluesky\n"
            "loaded = [m for m in sys.modules if m.split('.')[0] in "
            "('atproto', 'atproto_client', 'atproto_core', 'atproto_server')]\n"
            "assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_declared_limits_are_the_ones_the_pds_enforces():
    assert bluesky.LIMITS.platform == "bluesky"
    assert bluesky.LIMITS.counting == "graphemes"
    assert bluesky.LIMITS.max_chars == MAX_GRAPHEMES
    assert bluesky.LIMITS.max_bytes == 3000
    assert bluesky.LIMITS.image_bytes == UPLOAD_BYTES
    assert bluesky.LIMITS.images_per_post == 4
    assert (bluesky.LIMITS.replies, bluesky.LIMITS.edits) == (True, False)


def test_facets_point_at_the_utf8_bytes_of_each_link_and_hashtag():
    text = "Fika 🎉 på Café Åkersberg – https://civictech.se/träff/ #civictech #Göteborg"
    raw = text.encode("utf-8")
    found = facets(text)
    assert [raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode() for f in found] == [
        "https://civictech.se/träff/", "#civictech", "#Göteborg"]
    assert found[0]["index"]["byteStart"] != text.index("https")  # bytes, not characters
    assert [f["features"] for f in found] == [
        [{"$type": "app.bsky.richtext.facet#link", "uri": "https://civictech.se/träff/"}],
        [{"$type": "app.bsky.richtext.facet#tag", "tag": "civictech"}],
        [{"$type": "app.bsky.richtext.facet#tag", "tag": "Göteborg"}],
    ]


def test_facets_leave_trailing_punctuation_and_non_tags_out():
    text = "Se (https://example.org/a?b=1). Eller https://example.org/x, #123 x#no #ja! #"
    raw = text.encode("utf-8")
    spans = [raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode() for f in facets(text)]
    assert spans == ["https://example.org/a?b=1", "https://example.org/x", "#ja"]


@pytest.mark.parametrize("text", [
    TEXT,
    "Fika 🎉 på Café Åkersberg – https://civictech.se/träff/ #civictech #Göteborg",
    "Se (https://example.org/a?b=1). Eller https://example.org/x, #123 x#no #ja! #",
    "👩‍👩‍👧 #familj\nhttps://example.org/#fragment\n#sista.",
])
def test_facets_agree_with_the_atproto_sdks_own_detection(text):
    from atproto_client.utils.facet_detection import detect_facets

    theirs = [facet.model_dump(mode="json", by_alias=True, exclude_none=True)
              for facet in detect_facets(text)]
    for facet in theirs:
        facet.pop("$type")
        facet["index"].pop("$type")
    assert facets(text) == theirs


def test_record_keys_are_tids_that_depend_only_on_the_idempotency_key():
    from atproto_client.models.string_formats import TID_RE

    keys = [record_key(f"event-{n}/announcement/bluesky/sv") for n in range(200)]
    assert all(TID_RE.match(key) and is_tid(key) for key in keys)
    assert len(set(keys)) == 200
    assert record_key("a/b/c/sv") == record_key("a/b/c/sv") != record_key("a/b/c/en")


RESERVED = datetime(2026, 2, 10, 9, 30, 15, 123456, tzinfo=timezone.utc)


def test_a_record_key_is_a_tid_whose_time_is_the_reservations():
    """A TID is 53 bits of microseconds and a 10-bit clock id (atproto's record key spec)."""
    from atproto_client.models.string_formats import TID_RE

    rkey = record_key("hackdag/announcement/bluesky/sv", RESERVED)
    assert TID_RE.match(rkey) and is_tid(rkey)
    assert abs(bluesky.tid_time(rkey) - RESERVED) < timedelta(milliseconds=1)
    assert rkey == record_key("hackdag/announcement/bluesky/sv", RESERVED)   # every retry


def test_posts_reserved_in_the_same_millisecond_get_different_keys():
    keys = {record_key(f"event-{n}/announcement/bluesky/{lang}", RESERVED)
            for n in range(500) for lang in ("sv", "en")}
    assert len(keys) == 1000
    assert all(abs(bluesky.tid_time(k) - RESERVED) < timedelta(milliseconds=1) for k in keys)


def test_without_a_reservation_time_the_key_is_the_one_earlier_versions_used():
    import hashlib

    value = int.from_bytes(hashlib.sha256(b"a/b/c/sv").digest()[:8], "big") & ((1 << 63) - 1)
    earlier = "".join("234567abcdefghijklmnopqrstuvwxyz"[(value >> s) & 31]
                      for s in range(60, -1, -5))
    assert record_key("a/b/c/sv", None) == record_key("a/b/c/sv") == earlier


def test_a_service_that_is_not_an_http_url_is_a_config_error():
    with pytest.raises(ConfigError, match="accounts.bluesky.service"):
        BlueskyPublisher(Account("bluesky", "bluesky", ("sv",), {"service": "bsky.social"}),
                         {"handle": "a", "app_password": "b"})


# --- what the PDS receives -----------------------------------------------------------------------

def test_a_post_arrives_with_its_text_language_facets_and_creation_time(pds):
    published = publisher(pds).publish(post())

    rkey = record_key("hackdag/announcement/bluesky/sv")
    assert published.id == f"at://{pds.did}/app.bsky.feed.post/{rkey}"
    assert published.url == f"https://bsky.app/profile/{pds.handle}/post/{rkey}"
    [request] = created(pds)
    assert (request.json["repo"], request.json["collection"], request.json["rkey"]) == (
        pds.did, "app.bsky.feed.post", rkey)
    record = pds.record(rkey)
    assert record["text"] == TEXT
    assert record["langs"] == ["sv"]
    raw = TEXT.encode("utf-8")
    assert [raw[f["index"]["byteStart"]:f["index"]["byteEnd"]] for f in record["facets"]] == [
        b"https://civictech.se/evenemang/hackdag/", b"#civictech"]
    assert record["facets"][1]["features"][0]["tag"] == "civictech"
    when = datetime.fromisoformat(record["createdAt"])
    assert record["createdAt"].endswith("Z")
    assert abs(datetime.now(timezone.utc) - when) < timedelta(minutes=1)
    assert "embed" not in record and "reply" not in record


def test_images_are_uploaded_and_embedded_with_alt_text_and_aspect_ratio(pds):
    media = (Media(PNG, "image/png", 1200, 675, "Affisch för hackdagen"),
             Media(JPEG, "image/jpeg", 800, 800, "Lokalen"))
    published = publisher(pds).publish(post(media=media))

    uploads = pds.received("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob")
    assert [u.body for u in uploads] == [PNG, JPEG]
    assert [u.content_type for u in uploads] == ["image/png", "image/jpeg"]
    embed = pds.record(rkey_of(published.id))["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [(i["alt"], i["aspectRatio"]["width"], i["aspectRatio"]["height"],
             i["image"]["mimeType"], i["image"]["size"]) for i in embed["images"]] == [
        ("Affisch för hackdagen", 1200, 675, "image/png", len(PNG)),
        ("Lokalen", 800, 800, "image/jpeg", len(JPEG))]
    assert [i["image"]["ref"]["$link"] for i in embed["images"]] == list(pds.blobs)


def test_a_link_card_is_built_from_the_event_with_its_thumbnail(pds):
    card = LinkCard("https://civictech.se/evenemang/hackdag/", "Hackdag i Malmö",
                    "Lördag 14 juni, 10–16 på Stadsbiblioteket.",
                    Media(JPEG, "image/jpeg", 1200, 630, ""))
    published = publisher(pds).publish(post(card=card))

    external = pds.record(rkey_of(published.id))["embed"]["external"]
    assert (external["uri"], external["title"], external["description"]) == (
        card.url, card.title, card.description)
    assert external["thumb"]["mimeType"] == "image/jpeg"
    assert pds.blobs[external["thumb"]["ref"]["$link"]].data == JPEG


def test_a_post_with_images_carries_no_link_card(pds):
    card = LinkCard("https://civictech.se/x/", "Titel", "Text", Media(JPEG, "image/jpeg", 1, 1, ""))
    image = Media(PNG, "image/png", 2, 1, "alt")
    published = publisher(pds).publish(post(media=(image,), card=card))

    embed = pds.record(rkey_of(published.id))["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert len(pds.received("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob")) == 1


def test_a_card_thumbnail_over_one_megabyte_is_left_out_with_a_warning(pds, caplog):
    big = Media(JPEG + b"\x00" * THUMB_BYTES, "image/jpeg", 1200, 630, "")
    card = LinkCard("https://civictech.se/x/", "T", "D", big)
    published = publisher(pds).publish(post(card=card))

    assert "thumb" not in pds.record(rkey_of(published.id))["embed"]["external"]
    assert not pds.blobs
    assert any("without it" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_more_than_four_images_are_rejected_before_anything_is_sent(pds):
    media = tuple(Media(PNG, "image/png", 1, 1, "alt") for _ in range(5))
    with pytest.raises(Rejected, match="at most 4 images"):
        publisher(pds).publish(post(media=media))
    assert not pds.requests


def test_a_reply_points_at_its_parent_and_at_the_root_of_the_thread(pds):
    bsky = publisher(pds)
    first = bsky.publish(post("Första", key="e/announcement/bluesky/sv"))
    second = bsky.publish(post("Andra", key="e/reminder-1d/bluesky/sv", reply_to=first.id))
    third = bsky.publish(post("Tredje", key="e/reminder-2h/bluesky/sv", reply_to=second.id))

    def ref(published):
        stored = pds.records[rkey_of(published.id)]
        return {"uri": stored.uri, "cid": stored.cid}

    def refs(published):
        reply = pds.record(rkey_of(published.id))["reply"]
        return ({k: reply["root"][k] for k in ("uri", "cid")},
                {k: reply["parent"][k] for k in ("uri", "cid")})

    assert refs(second) == (ref(first), ref(first))
    assert refs(third) == (ref(first), ref(second))


def test_a_reply_to_a_post_made_or_found_by_the_same_publisher_reads_nothing_first(pds):
    """Its parent's reference (and the thread's root) is known: one request per reply."""
    def reads() -> int:
        return len(pds.received("GET", r"/xrpc/com\.atproto\.repo\.getRecord"))

    bsky = publisher(pds)
    first = bsky.publish(post("Första", key="e/announcement/bluesky/sv"))
    english = bsky.publish(post("First", key="e/announcement/bluesky/en", reply_to=first.id))
    assert reads() == 0
    later = publisher(pds)                          # the next process finds the post first
    assert later.find(post("Första", key="e/announcement/bluesky/sv")) == first
    before = reads()
    reminder = later.publish(post("Snart", key="e/reminder/bluesky/sv", reply_to=first.id))
    assert reads() == before
    root = {"uri": first.id, "cid": pds.records[rkey_of(first.id)].cid}
    for reply in (english, reminder):
        refs = pds.record(rkey_of(reply.id))["reply"]
        assert {k: refs["root"][k] for k in root} == {k: refs["parent"][k] for k in root} == root


def test_a_reply_to_a_post_that_does_not_exist_is_rejected(pds):
    missing = f"at://{pds.did}/app.bsky.feed.post/{record_key('nothing')}"
    with pytest.raises(Rejected, match="no such post"):
        publisher(pds).publish(post(reply_to=missing))
    assert not created(pds)


def test_the_pds_counts_graphemes_not_code_points(pds):
    combining = "e\u0301" * MAX_GRAPHEMES          # 300 graphemes, 600 code points
    publisher(pds).publish(post(combining, key="ok"))
    with pytest.raises(Rejected) as caught:
        publisher(pds).publish(post(combining + "!", key="too-long"))
    assert "300 graphemes" in caught.value.platform_message
    assert caught.value.platform_message.startswith("InvalidRecord")
    assert len(pds.records) == 1


def test_an_image_over_two_megabytes_is_rejected_as_too_large(pds):
    big = Media(PNG + b"\x00" * UPLOAD_BYTES, "image/png", 4000, 3000, "alt")
    with pytest.raises(Rejected) as caught:
        publisher(pds).publish(post(media=(big,)))
    assert caught.value.platform_message.startswith("BlobTooLarge")
    assert not created(pds)


# --- sessions ------------------------------------------------------------------------------------

def test_the_session_is_reused_across_posts_and_by_the_next_run(pds):
    saved: list[str] = []
    first_run = publisher(pds, saved=saved)
    first_run.publish(post(key="a"))
    first_run.publish(post(key="b"))
    assert pds.logins == 1
    assert len(saved) == 1

    next_run = publisher(pds, saved=saved, handle=pds.handle, app_password=pds.app_password,
                         session=saved[-1])
    next_run.publish(post(key="c"))
    session_only = publisher(pds, session=saved[-1])
    assert session_only.check() == f"@{pds.handle}"

    assert pds.logins == 1
    access = saved[-1].split(":::")[2]
    assert created(pds)[-1].header("authorization") == f"Bearer {access}"
    assert len(pds.records) == 3


def test_a_session_about_to_expire_is_refreshed_and_saved(pds):
    pds.access_lifetime = 60                      # the SDK refreshes 15 minutes before expiry
    saved: list[str] = []
    bsky = publisher(pds, saved=saved)
    bsky.publish(post())

    assert pds.logins == 1
    assert pds.refreshes >= 1
    assert len(saved) == 1 + pds.refreshes
    refresh = saved[-1].split(":::")[3]            # the newest refresh token is the one saved
    answer = httpx.post(f"{pds.url}/xrpc/com.atproto.server.refreshSession",
                        headers={"Authorization": f"Bearer {refresh}"})
    assert answer.status_code == 200


def test_an_expired_refresh_token_leads_to_a_new_login(pds):
    pds.access_lifetime = 60                      # every call refreshes first
    bsky = publisher(pds)
    bsky.check()
    pds.expire_tokens(refresh=True)
    assert bsky.check() == f"@{pds.handle}"
    assert pds.logins == 2


def test_a_saved_session_of_another_handle_is_not_used(pds):
    saved: list[str] = []
    publisher(pds, saved=saved).check()
    foreign = "someone.example.org" + saved[-1].removeprefix(pds.handle)

    publisher(pds, handle=pds.handle, app_password=pds.app_password, session=foreign).check()
    assert pds.logins == 2
    with pytest.raises(AuthFailed, match="belongs to @someone.example.org"):
        publisher(pds, handle=pds.handle, session=foreign).check()


def test_an_expired_session_is_replaced_by_one_new_login(pds):
    saved: list[str] = []
    bsky = publisher(pds, saved=saved)
    bsky.publish(post(key="before"))
    pds.expire_tokens(refresh=True)

    bsky.publish(post(key="after"))

    assert pds.logins == 2
    assert len(saved) == 2
    assert len(pds.records) == 2


@pytest.mark.parametrize("status", [400, 401])
@pytest.mark.parametrize("how", ["expired", "invalid"])
def test_an_expired_or_invalid_token_of_either_status_leads_to_a_new_login(pds, status, how):
    pds.token_error_status = status
    bsky = publisher(pds)
    bsky.check()
    if how == "expired":
        pds.expire_tokens()
    else:
        pds.invalidate_tokens()
    assert bsky.check() == f"@{pds.handle}"
    assert pds.logins == 2


def test_an_expired_saved_session_without_an_app_password_is_an_auth_failure(pds):
    saved: list[str] = []
    publisher(pds, saved=saved).check()
    pds.expire_tokens(refresh=True)

    with pytest.raises(AuthFailed) as caught:
        publisher(pds, session=saved[-1]).publish(post())
    assert hinted_auth(str(caught.value)) == ("bluesky", "bluesky")
    assert pds.logins == 1


def test_a_token_refused_again_after_logging_in_again_is_an_auth_failure(pds):
    bsky = publisher(pds)
    bsky.check()
    pds.fail("com.atproto.repo.createRecord", 401, "InvalidToken", "Token could not be verified",
             times=2)

    with pytest.raises(AuthFailed, match="InvalidToken"):
        bsky.publish(post())
    assert pds.logins == 2                         # one re-login, not a loop


def test_a_wrong_app_password_is_an_auth_failure_without_retries(pds):
    with pytest.raises(AuthFailed, match="AuthenticationRequired") as caught:
        publisher(pds, handle=pds.handle, app_password="wrong-wrong-wrong").publish(post())
    assert "bluesky:" in str(caught.value)
    assert pds.logins == 1
    assert not created(pds)


def test_missing_credentials_name_the_account_and_how_to_provide_them():
    bsky = BlueskyPublisher(account(name="civic-bsky"), {"handle": "civic.bsky.social"})
    with pytest.raises(AuthFailed) as caught:
        bsky.publish(post())
    message = str(caught.value)
    assert message.startswith("civic-bsky: ")
    assert "HERALD_CIVIC_BSKY_HANDLE" in message and "HERALD_CIVIC_BSKY_APP_PASSWORD" in message
    assert hinted_auth(message) == ("bluesky", "civic-bsky")


def test_an_unreadable_saved_session_falls_back_to_the_app_password(pds):
    saved: list[str] = []
    bsky = publisher(pds, saved=saved, handle=pds.handle, app_password=pds.app_password,
                     session="not a session")
    bsky.publish(post())
    assert pds.logins == 1 and len(saved) == 1
    with pytest.raises(AuthFailed, match="unreadable"):
        publisher(pds, session="a:::b:::c:::d:::e").check()


def test_logging_in_per_post_runs_into_the_login_limit():
    with FakePDS(login_limit=2) as pds:
        for n in range(2):
            publisher(pds).publish(post(key=f"k{n}"))
        with pytest.raises(RateLimited) as caught:
            publisher(pds).publish(post(key="k2"))
    assert caught.value.retry_after is not None


def test_check_and_authorize_verify_the_login_and_return_a_reusable_session(pds):
    saved = authorize(service=pds.url, handle=f"@{pds.handle.upper()}",
                      app_password=pds.app_password)
    assert saved["handle"] == pds.handle
    assert saved["app_password"] == pds.app_password
    assert publisher(pds, **saved).check() == f"@{pds.handle}"
    assert pds.logins == 1
    with pytest.raises(AuthFailed):
        authorize(service=pds.url, handle=pds.handle, app_password="nope")


# --- exactly once --------------------------------------------------------------------------------

def test_publishing_the_same_post_twice_creates_one_record(pds):
    bsky = publisher(pds)
    first = bsky.publish(post())
    second = bsky.publish(post())
    assert first == second
    assert len(pds.records) == 1
    assert len(created(pds)) == 2                  # the second create was refused, then found


def test_find_returns_the_published_post_or_none(pds):
    bsky = publisher(pds)
    assert bsky.find(post()) is None
    published = bsky.publish(post())
    assert bsky.find(post()) == published
    assert publisher(pds).find(post(key="another")) is None


def test_a_create_that_fails_after_the_record_was_written_counts_as_published(pds):
    pds.write_then_fail = 1
    published = publisher(pds).publish(post())
    assert len(pds.records) == 1
    assert published.id == pds.records[record_key(post().idempotency_key)].uri
    assert len(created(pds)) == 1


def test_a_create_that_fails_without_writing_is_unavailable_and_can_be_retried(pds):
    pds.fail("com.atproto.repo.createRecord", 500, "InternalServerError", "Internal Server Error")
    bsky = publisher(pds)
    with pytest.raises(Unavailable) as caught:
        bsky.publish(post())
    assert caught.value.retryable
    assert not pds.records
    assert bsky.publish(post()).id.endswith(record_key(post().idempotency_key))


# --- deleting ------------------------------------------------------------------------------------

def test_a_deleted_post_is_gone_from_the_pds(pds):
    bsky = publisher(pds)
    published = bsky.publish(post())

    bsky.delete(published.id)

    [sent] = deleted(pds)
    assert sent.json == {"repo": pds.did, "collection": "app.bsky.feed.post",
                         "rkey": rkey_of(published.id)}
    assert not pds.records
    assert bsky.find(post()) is None


def test_deleting_a_post_twice_is_fine(pds):
    bsky = publisher(pds)
    published = bsky.publish(post())
    bsky.delete(published.id)

    bsky.delete(published.id)                       # the PDS answers 200 without a commit
    pds.fail("com.atproto.repo.deleteRecord", 400, "RecordNotFound", "Could not locate record")
    bsky.delete(published.id)                       # as would a PDS that says so

    assert len(deleted(pds)) == 3 and not pds.records


def test_deleting_something_that_is_not_a_post_of_this_account_is_rejected_unsent(pds):
    bsky = publisher(pds)
    published = bsky.publish(post())

    for platform_id in (f"https://bsky.app/profile/{pds.handle}/post/{rkey_of(published.id)}",
                        published.id.replace("app.bsky.feed.post", "app.bsky.feed.like"),
                        published.id.replace(pds.did, "did:plc:someoneelse")):
        with pytest.raises(Rejected, match="cannot delete"):
            bsky.delete(platform_id)

    assert not deleted(pds) and len(pds.records) == 1


def test_deleting_with_a_refused_token_is_auth_failed_naming_the_account_and_no_secret(pds):
    saved: list[str] = []
    published = publisher(pds, saved=saved).publish(post())
    pds.invalidate_tokens()

    with pytest.raises(AuthFailed) as caught:
        publisher(pds, session=saved[-1]).delete(published.id)

    message = str(caught.value)
    assert message.startswith("bluesky: Bluesky refused the credentials")
    assert "InvalidToken" in message and hinted_auth(message) == ("bluesky", "bluesky")
    assert caught.value.account == "bluesky"
    for secret in {pds.app_password, *saved, *pds.tokens}:
        assert secret not in message and secret not in repr(caught.value)
    assert len(pds.records) == 1


# --- errors --------------------------------------------------------------------------------------

def test_a_rate_limit_becomes_rate_limited_until_the_reset_time(pds):
    bsky = publisher(pds)
    bsky.check()
    reset = int(datetime(2030, 1, 1, 12, 5, tzinfo=timezone.utc).timestamp())
    pds.rate_limited, pds.rate_limit_reset = True, reset

    with pytest.raises(RateLimited) as caught:
        bsky.publish(post())
    assert caught.value.retry_after == datetime.fromtimestamp(reset, timezone.utc)
    assert caught.value.retryable


@pytest.mark.parametrize("status, error, expected", [
    (500, "InternalServerError", Unavailable),
    (502, "UpstreamFailure", Unavailable),
    (503, "NotEnoughResources", Unavailable),
    (400, "InvalidRequest", Rejected),
    (413, "PayloadTooLarge", Rejected),
    (401, "AuthMissing", AuthFailed),
    (403, "AccountTakedown", AuthFailed),
    (400, "AccountDeactivated", AuthFailed),
])
def test_server_errors_become_heralds_own(pds, status, error, expected):
    bsky = publisher(pds)
    bsky.check()
    pds.fail("com.atproto.repo.createRecord", status, error, "what the server said")
    with pytest.raises(expected) as caught:
        bsky.publish(post())
    assert type(caught.value) is expected
    assert isinstance(caught.value.__cause__, Exception)
    assert error in str(caught.value)
    if expected is Rejected:
        assert caught.value.platform_message == f"{error}: what the server said"


def test_an_unreachable_server_is_unavailable():
    bsky = BlueskyPublisher(account(), {"handle": "a.example.com", "app_password": "x"}, timeout=1)
    with pytest.raises(Unavailable, match="cannot reach http://127.0.0.1:9"):
        bsky.check()


def test_a_server_that_does_not_answer_in_time_is_unavailable(pds):
    pds.delay = 0.5
    with pytest.raises(Unavailable, match="within 0.2 s"):
        publisher(pds, timeout=0.2).check()


# --- secrets -------------------------------------------------------------------------------------

def test_no_secret_appears_in_repr_errors_or_logs(pds, caplog):
    caplog.set_level(logging.DEBUG)
    saved: list[str] = []
    errors: list[PublishError] = []
    bsky = publisher(pds, saved=saved)
    bsky.publish(post(key="one"))
    pds.expire_tokens(refresh=True)
    bsky.publish(post(key="two"))                   # logs in again
    for make, action in (
        (lambda: publisher(pds, handle=pds.handle, app_password="wrong-password-1234"), "publish"),
        (lambda: publisher(pds, session=saved[0]), "publish"),          # expired session
        (lambda: publisher(pds, session="garbage:::" + pds.app_password), "check"),
    ):
        try:
            getattr(make(), action)(*([post(key="three")] if action == "publish" else []))
        except PublishError as error:
            errors.append(error)
    pds.fail("com.atproto.repo.createRecord", 400, "InvalidRequest", "bad")
    try:
        bsky.publish(post(key="four"))
    except PublishError as error:
        errors.append(error)
    assert len(errors) == 4

    secrets = {pds.app_password, "wrong-password-1234", *saved, *pds.tokens}
    surfaces = [repr(bsky), repr(publisher(pds, session=saved[-1]))]
    for error in errors:
        surfaces += [str(error), repr(error), str(getattr(error, "platform_message", ""))]
        cause = error.__cause__
        while cause is not None:
            surfaces += [str(cause), repr(cause)]
            cause = cause.__cause__
    surfaces += [record.getMessage() for record in caplog.records]
    assert caplog.records
    leaks = [s for s in surfaces for secret in secrets if secret in s]
    assert not leaks


# --- the fake itself: it refuses what the real PDS refuses ---------------------------------------

def valid_request(pds: FakePDS) -> tuple[dict, dict]:
    """Log in and upload an image over plain HTTP; return the auth headers and a valid body."""
    session = httpx.post(f"{pds.url}/xrpc/com.atproto.server.createSession",
                         json={"identifier": pds.handle, "password": pds.app_password}).json()
    auth = {"Authorization": f"Bearer {session['accessJwt']}"}
    blob = httpx.post(f"{pds.url}/xrpc/com.atproto.repo.uploadBlob", content=PNG,
                      headers={**auth, "Content-Type": "image/png"}).json()["blob"]
    record = {"$type": "app.bsky.feed.post", "text": "Hej #tag",
              "createdAt": "2025-06-14T08:00:00Z", "langs": ["sv"],
              "facets": [{"index": {"byteStart": 4, "byteEnd": 8},
                          "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "tag"}]}],
              "embed": {"$type": "app.bsky.embed.images",
                        "images": [{"alt": "a", "image": blob,
                                    "aspectRatio": {"width": 2, "height": 1}}]}}
    return auth, {"repo": session["did"], "collection": "app.bsky.feed.post",
                  "rkey": record_key("x"), "record": record}


BROKEN = {
    "a field spelt in snake_case": lambda r: r.update(created_at=r.pop("createdAt")),
    "a field the lexicon does not have": lambda r: r.update(title="Hackdag"),
    "an embed of an unknown type": lambda r: r["embed"].update({"$type": "app.bsky.embed.imagez"}),
    "an aspect ratio spelt in snake_case": lambda r: r["embed"]["images"][0].update(
        aspect_ratio=r["embed"]["images"][0].pop("aspectRatio")),
    "a time without a zone": lambda r: r.update(createdAt="2025-06-14T08:00:00"),
    "a language that is not a tag": lambda r: r.update(langs=["swedish!"]),
    "a facet beyond the text": lambda r: r["facets"][0]["index"].update(byteEnd=9),
    "a facet counted in characters": lambda r: r.update(text="Hejåå #tag", facets=[
        {**r["facets"][0], "index": {"byteStart": 6, "byteEnd": 10}}]),
    "a blob that was never uploaded": lambda r: r["embed"]["images"][0]["image"]["ref"].update(
        {"$link": "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}),
    "a missing alt field": lambda r: r["embed"]["images"][0].pop("alt"),
}


def test_the_fake_pds_accepts_a_valid_post_sent_by_hand(pds):
    auth, body = valid_request(pds)
    answer = httpx.post(f"{pds.url}/xrpc/com.atproto.repo.createRecord", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["uri"] == f"at://{pds.did}/app.bsky.feed.post/{record_key('x')}"


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_the_fake_pds_refuses_records_the_lexicon_does_not_allow(pds, broken):
    auth, body = valid_request(pds)
    BROKEN[broken](body["record"])
    answer = httpx.post(f"{pds.url}/xrpc/com.atproto.repo.createRecord", json=body, headers=auth)
    assert (answer.status_code, answer.json()["error"]) == (400, "InvalidRecord"), answer.text
    assert not pds.records


@pytest.mark.parametrize("change, status, error", [
    ({"rkey": "not-a-tid"}, 400, "InvalidRequest"),
    ({"rkey": "zzzzzzzzzzzzz"}, 400, "InvalidRequest"),            # top bit set
    ({"repo": "did:plc:someoneelse"}, 400, "InvalidRequest"),
    ({"collection": "app.bsky.feed.like"}, 400, "InvalidRequest"),
])
def test_the_fake_pds_refuses_record_keys_and_repos_that_are_not_ours(pds, change, status, error):
    auth, body = valid_request(pds)
    answer = httpx.post(f"{pds.url}/xrpc/com.atproto.repo.createRecord", json={**body, **change},
                        headers=auth)
    assert (answer.status_code, answer.json()["error"]) == (status, error)


def test_the_fake_pds_wants_a_valid_bearer_token_and_sends_rate_limit_headers(pds):
    url = f"{pds.url}/xrpc/com.atproto.server.getSession"
    assert httpx.get(url).json()["error"] == "AuthMissing"
    forged = httpx.get(url, headers={"Authorization": "Bearer forged"})
    assert forged.json()["error"] == "InvalidToken"
    auth, _ = valid_request(pds)
    answer = httpx.get(url, headers=auth)
    assert answer.status_code == 200
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy"} <= set(
        answer.headers)
    pds.expire_tokens()
    expired = httpx.get(url, headers=auth)
    assert (expired.status_code, expired.json()["error"]) == (401, "ExpiredToken")


# --- record keys from the reservation time --------------------------------------------------------

def test_a_post_is_created_under_the_key_of_its_reservation_and_a_retry_finds_it(pds):
    bsky = publisher(pds)
    pds.write_then_fail = 1                              # stored, then answered 500
    published = bsky.publish(post(reserved_at=RESERVED))

    rkey = record_key("hackdag/announcement/bluesky/sv", RESERVED)
    assert list(pds.records) == [rkey] and published.id.endswith(rkey)
    assert abs(bluesky.tid_time(rkey) - RESERVED) < timedelta(milliseconds=1)
    assert publisher(pds).find(post(reserved_at=RESERVED)) == published


def test_a_post_sent_by_an_earlier_version_under_its_key_is_found_not_sent_again(pds):
    earlier = publisher(pds).publish(post())                       # no reservation time
    assert publisher(pds).find(post(reserved_at=RESERVED)) == earlier
    assert publisher(pds).publish(post(reserved_at=RESERVED)) == earlier
    assert len(pds.records) == 1


def test_a_post_reserved_while_the_process_runs_costs_no_extra_lookup(pds):
    bsky = publisher(pds)
    bsky.publish(post(reserved_at=datetime.now(timezone.utc)))
    assert pds.received("GET", r"/xrpc/com\.atproto\.repo\.getRecord") == []


def test_a_key_that_holds_another_post_is_not_taken_for_this_one(pds):
    bsky = publisher(pds)
    bsky.publish(post("Something else entirely", reserved_at=RESERVED))   # same key and time
    assert bsky.find(post(reserved_at=RESERVED)) is None
    with pytest.raises(Rejected, match="already holds another post") as caught:
        bsky.publish(post(reserved_at=RESERVED))
    assert "nothing was posted" in str(caught.value)
    assert [r["text"] for r in (s.value for s in pds.records.values())] == [
        "Something else entirely"]


def test_the_limits_carry_the_adapters_timeout(pds):
    limits = publisher(pds, timeout=12.5).limits()
    assert (limits.request_timeout, limits.idempotent) == (12.5, True)


# --- no request before a reset ---------------------------------------------------------------------

def test_after_a_rate_limit_nothing_is_sent_before_the_reset_lookups_and_logins_included(pds):
    bsky = publisher(pds)
    bsky.check()
    reset = int(time.time()) + 300
    pds.rate_limited, pds.rate_limit_reset = True, reset
    with pytest.raises(RateLimited):
        bsky.publish(post())
    pds.rate_limited = False
    sent = len(pds.received())

    for attempt in (lambda: bsky.publish(post()), lambda: bsky.find(post()), bsky.check,
                    lambda: bsky.delete(f"at://{pds.did}/app.bsky.feed.post/{record_key('x')}")):
        with pytest.raises(RateLimited) as caught:
            attempt()
        assert caught.value.retry_after == datetime.fromtimestamp(reset, timezone.utc)
    bsky.close()                                          # a new session would log in
    with pytest.raises(RateLimited):
        bsky.check()
    assert len(pds.received()) == sent


def test_requests_go_out_again_once_the_reset_has_passed(pds):
    now = [datetime.now(timezone.utc)]
    bsky = BlueskyPublisher(account(pds), {"handle": pds.handle,
                                           "app_password": pds.app_password},
                            clock=lambda: now[0])
    bsky.check()
    pds.rate_limited, pds.rate_limit_reset = True, int(time.time()) + 300
    with pytest.raises(RateLimited) as caught:
        bsky.publish(post())
    pds.rate_limited = False
    now[0] = caught.value.retry_after + timedelta(seconds=1)
    assert bsky.publish(post()).id in {r.uri for r in pds.records.values()}


# --- uploads reused --------------------------------------------------------------------------------

def image(data: bytes = PNG, alt: str = "Affisch") -> Media:
    return Media(data, "image/png", 40, 30, alt, "poster.png")


def uploads(pds: FakePDS) -> list:
    return pds.received("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob")


def test_a_retried_post_reuses_the_blobs_it_uploaded(pds):
    bsky = publisher(pds)
    pds.fail("com.atproto.repo.createRecord", 503, "NotEnoughResources")
    with pytest.raises(Unavailable):
        bsky.publish(post(media=(image(), image(JPEG.replace(b"\xe0", b"\xe1")))))
    bsky.publish(post(media=(image(), image(JPEG.replace(b"\xe0", b"\xe1")))))
    assert len(uploads(pds)) == 2 and len(pds.records) == 1


def test_a_failed_upload_says_the_record_itself_was_never_sent_and_reads_nothing_after(pds):
    bsky = publisher(pds)
    pds.fail("com.atproto.repo.uploadBlob", 503, "NotEnoughResources")
    with pytest.raises(Unavailable) as failed:
        bsky.publish(post(media=(image(),)))
    assert failed.value.before_sending and not created(pds) and not pds.records
    assert pds.received("GET", r"/xrpc/com\.atproto\.repo\.getRecord") == []
    pds.fail("com.atproto.repo.createRecord", 503, "NotEnoughResources")
    with pytest.raises(Unavailable) as lost:
        bsky.publish(post(media=(image(),)))
    assert not lost.value.before_sending                # the create may have been written


def test_the_same_image_in_the_next_post_is_not_uploaded_again(pds):
    bsky = publisher(pds)
    bsky.publish(post(media=(image(alt="Affisch"),)))
    bsky.publish(post("English", key="hackdag/announcement/bluesky/en",
                      media=(image(alt="Poster"),)))        # the alt text is in the record
    assert len(uploads(pds)) == 1
    alts = sorted(r.value["embed"]["images"][0]["alt"] for r in pds.records.values())
    assert alts == ["Affisch", "Poster"]


def test_an_image_the_pds_has_dropped_meanwhile_is_uploaded_again(pds):
    bsky = publisher(pds)
    pds.fail("com.atproto.repo.createRecord", 503, "NotEnoughResources")
    with pytest.raises(Unavailable):
        bsky.publish(post(media=(image(),)))
    pds.blobs.clear()                                     # garbage-collected, never referenced
    published = bsky.publish(post(media=(image(),)))
    assert len(uploads(pds)) == 2 and published.id in {r.uri for r in pds.records.values()}


# --- secrets a server echoes ----------------------------------------------------------------------

def test_a_password_or_token_the_pds_echoes_never_reaches_the_error_or_the_logs(pds, caplog):
    caplog.set_level(logging.DEBUG)
    saved: list[str] = []
    bsky = publisher(pds, saved=saved)
    bsky.check()
    secrets = {pds.app_password, *saved, *pds.tokens}
    pds.fail("com.atproto.repo.createRecord", 400, "InvalidRequest",
             "you sent " + " and ".join(sorted(secrets)))
    with pytest.raises(Rejected) as caught:
        bsky.publish(post())
    error = caught.value
    shown = [str(error), repr(error), error.platform_message or "", repr(error.args)]
    shown += [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert "you sent ****" in str(error)
    assert not any(secret in text for secret in secrets for text in shown)
