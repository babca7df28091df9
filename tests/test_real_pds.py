"""Herald's Bluesky adapter against the fake PDS and the real one, read back over XRPC.

Every test runs twice: against tests/fakes/bluesky.py and against the reference PDS
(tests/servers/bluesky_pds.py), which skips with one line when it cannot start here and fails
instead with HERALD_REQUIRE_PDS=1. What arrived is read back the way any client would, with
com.atproto.repo.getRecord and listRecords; an image is checked by its blob's CID, which is the
SHA-256 of the bytes sent.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.model import Account, LinkCard, Media, OutgoingPost
from bot.platforms.bluesky import BlueskyPublisher, record_key
from tests.fakes.bluesky import FakePDS, cid_for
from tests.faults.proxy import BLUESKY, FaultProxy

POST = "app.bsky.feed.post"
TEXT = "Hej 🎉 Malmö! Läs mer: https://civictech.se/evenemang/hackdag/ #civictech"


@dataclass
class Target:
    """A PDS with one account, and a client that reads its records back."""

    name: str
    url: str
    handle: str
    did: str
    app_password: str

    def publisher(self, url: str | None = None) -> BlueskyPublisher:
        return BlueskyPublisher(Account("sky", "bluesky", ("sv", "en"),
                                        {"service": url or self.url}),
                                {"handle": self.handle, "app_password": self.app_password},
                                timeout=10)

    def get_record(self, rkey: str) -> dict[str, Any] | None:
        answer = httpx.get(f"{self.url}/xrpc/com.atproto.repo.getRecord", timeout=10,
                           params={"repo": self.did, "collection": POST, "rkey": rkey})
        if answer.status_code == 400 and answer.json().get("error") == "RecordNotFound":
            return None
        answer.raise_for_status()
        return answer.json()

    def list_records(self) -> list[dict[str, Any]]:
        """Every post in the repository, following the cursor."""
        records: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"repo": self.did, "collection": POST, "limit": 100}
            answer = httpx.get(f"{self.url}/xrpc/com.atproto.repo.listRecords", timeout=10,
                               params=params | ({"cursor": cursor} if cursor else {}))
            answer.raise_for_status()
            page = answer.json()
            records += page["records"]
            cursor = page.get("cursor")
            if not cursor or not page["records"]:
                return records


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.real_pds)])
def target(request):
    if request.param == "real":
        pds = request.getfixturevalue("real_pds")
        yield Target("real", pds.url, pds.handle, pds.did, pds.app_password)
        return
    with FakePDS() as fake:
        yield Target("fake", fake.url, fake.handle, fake.did, fake.app_password)


@pytest.fixture
def unique():
    """A prefix that keeps this test's posts apart on the real PDS, which outlives the test."""
    return uuid.uuid4().hex[:8]


def post(key: str, text: str = TEXT, **fields) -> OutgoingPost:
    return OutgoingPost(text=text, lang=fields.pop("lang", "sv"), idempotency_key=key, **fields)


def picture(fmt: str, size: tuple[int, int], colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def rkey(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def test_a_post_arrives_with_its_text_language_and_facets_on_the_utf8_bytes(target, unique):
    published = target.publisher().publish(post(f"{unique}/announcement/sky/sv"))
    record = target.get_record(record_key(f"{unique}/announcement/sky/sv"))
    assert record["uri"] == published.id
    value = record["value"]
    assert (value["text"], value["langs"]) == (TEXT, ["sv"])
    raw = TEXT.encode("utf-8")
    assert [raw[f["index"]["byteStart"]:f["index"]["byteEnd"]] for f in value["facets"]] == [
        b"https://civictech.se/evenemang/hackdag/", b"#civictech"]
    assert [f["features"][0] for f in value["facets"]] == [
        {"$type": "app.bsky.richtext.facet#link",
         "uri": "https://civictech.se/evenemang/hackdag/"},
        {"$type": "app.bsky.richtext.facet#tag", "tag": "civictech"}]
    assert published.url == f"https://bsky.app/profile/{target.handle}/post/{rkey(record['uri'])}"


def test_images_arrive_as_blobs_with_alt_text_and_aspect_ratio(target, unique):
    png, jpeg = picture("PNG", (120, 80), "navy"), picture("JPEG", (90, 90), "orange")
    media = (Media(png, "image/png", 120, 80, "Affisch för hackdagen"),
             Media(jpeg, "image/jpeg", 90, 90, "Lokalen"))
    published = target.publisher().publish(post(f"{unique}/announcement/sky/sv", media=media))
    embed = target.get_record(rkey(published.id))["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [(i["alt"], i["aspectRatio"]["width"], i["aspectRatio"]["height"],
             i["image"]["mimeType"], i["image"]["size"], i["image"]["ref"]["$link"])
            for i in embed["images"]] == [
        ("Affisch för hackdagen", 120, 80, "image/png", len(png), cid_for(png, 0x55)),
        ("Lokalen", 90, 90, "image/jpeg", len(jpeg), cid_for(jpeg, 0x55))]


def test_a_link_card_arrives_with_its_thumbnail(target, unique):
    thumb = picture("JPEG", (120, 63), "teal")
    card = LinkCard("https://civictech.se/evenemang/hackdag/", "Hackdag i Malmö",
                    "Lördag 14 juni, 10–16 på Stadsbiblioteket.",
                    Media(thumb, "image/jpeg", 120, 63, ""))
    published = target.publisher().publish(post(f"{unique}/announcement/sky/sv", card=card))
    external = target.get_record(rkey(published.id))["value"]["embed"]["external"]
    assert (external["uri"], external["title"], external["description"]) == (
        card.url, card.title, card.description)
    assert (external["thumb"]["mimeType"], external["thumb"]["ref"]["$link"]) == (
        "image/jpeg", cid_for(thumb, 0x55))


def test_replies_point_at_their_parent_and_at_the_root_of_the_thread(target, unique):
    publisher = target.publisher()
    first = publisher.publish(post(f"{unique}/announcement/sky/sv", "Hackdag i Malmö"))
    second = publisher.publish(post(f"{unique}/announcement/sky/en", "Hack day in Malmö",
                                    lang="en", reply_to=first.id))
    third = publisher.publish(post(f"{unique}/reminder/sky/en", "Tomorrow: hack day",
                                   lang="en", reply_to=second.id))
    records = {r: target.get_record(rkey(r)) for r in (first.id, second.id, third.id)}

    def refs(uri: str) -> tuple:
        reply = records[uri]["value"].get("reply")
        return reply and tuple((reply[end]["uri"], reply[end]["cid"])
                               for end in ("root", "parent"))

    root = (first.id, records[first.id]["cid"])
    assert refs(first.id) is None
    assert refs(second.id) == (root, root)
    assert refs(third.id) == (root, (second.id, records[second.id]["cid"]))


def test_the_same_post_twice_is_one_record_under_its_own_key(target, unique):
    key = f"{unique}/announcement/sky/sv"
    first = target.publisher().publish(post(key))
    again = target.publisher().publish(post(key))         # a later run, a new session
    mine = [r for r in target.list_records() if r["uri"] == first.id]
    assert again.id == first.id and rkey(first.id) == record_key(key) and len(mine) == 1


def test_a_deleted_post_is_gone_and_deleting_it_again_is_fine(target, unique):
    publisher = target.publisher()
    published = publisher.publish(post(f"{unique}/announcement/sky/sv"))
    publisher.delete(published.id)
    publisher.delete(published.id)
    assert target.get_record(rkey(published.id)) is None
    assert published.id not in {r["uri"] for r in target.list_records()}


def test_after_a_lost_answer_the_post_is_found_not_made_again(target, unique):
    key = f"{unique}/announcement/sky/sv"
    with FaultProxy(target.url, BLUESKY) as proxy:
        publisher = target.publisher(proxy.url)
        publisher.check()                                  # logged in through the proxy
        proxy.force("lost", path=r"/xrpc/com\.atproto\.repo\.createRecord")
        published = publisher.publish(post(key))
        lost = [p for p in proxy.passages() if p.fault == "lost"]
    assert len(lost) == 1 and lost[0].upstream == 200      # made, and the answer lost
    assert target.publisher().find(post(key)) == published
    assert [r["uri"] for r in target.list_records() if rkey(r["uri"]) == record_key(key)] == [
        published.id]


def test_find_says_none_for_a_post_that_was_never_made(target, unique):
    assert target.publisher().find(post(f"{unique}/announcement/sky/sv")) is None
