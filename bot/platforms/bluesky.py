"""Publish to Bluesky or any atproto PDS: facets, images or a link card, replies, exactly once.

Each post is created under a record key derived from its idempotency key and the time it was
first reserved, so a post that already exists is found by `find` and is never created twice.
The session is reused and every new or refreshed one is handed to `save_session`: logging in per
post would exhaust createSession's limit (30 per 5 minutes, 300 per day). After a rate limit
the adapter sends nothing, logins and session refreshes included, until the reset; an uploaded
image is reused while the PDS keeps it, so a retried post does not upload it again.

The atproto SDK loads only when a publisher first talks to its server; importing this module
stays cheap.
"""

from __future__ import annotations

import dataclasses

import functools
import hashlib
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import AuthFailed, ConfigError, PublishError, RateLimited, Rejected, Unavailable
from ..model import Account, LinkCard, Limits, Media, OutgoingPost, Published

log = logging.getLogger(__name__)

LIMITS = Limits("bluesky", 300, "graphemes", max_bytes=3000, image_bytes=2_000_000,
                image_formats=frozenset({"JPEG", "PNG"}), images_per_post=4, alt_chars=2000,
                replies=True, edits=False, link_cards=True,
                card_thumb_bytes=1_000_000)  # app.bsky.embed.external#thumb maxSize

SERVICE = "https://bsky.social"


def missing_credentials(credentials: Mapping[str, str]) -> list[str]:
    """Name the credentials an account still needs (a saved session stands in for the password)."""
    missing = [] if credentials.get("handle") else ["handle"]
    if not (credentials.get("app_password") or credentials.get("session")):
        missing.append("app_password")
    return missing
COLLECTION = "app.bsky.feed.post"
THUMB_BYTES = 1_000_000          # app.bsky.embed.external: a card's thumb is at most 1 MB
# A PDS deletes an uploaded blob no record uses "within a time window (eg, minutes)"
# (com.atproto.repo.uploadBlob); one a record uses stays while the record does.
BLOB_REUSE = 5 * 60.0
BLOB_REUSE_REFERENCED = 24 * 3600.0
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
MASK = "****"

# XRPC error names that mean the credentials, not the request, are at fault.
AUTH_ERRORS = frozenset({"AuthenticationRequired", "AuthMissing", "ExpiredToken", "InvalidToken",
                         "AccountTakedown", "AccountDeactivated", "AuthFactorTokenRequired"})
# ...and those that a fresh login may cure.
SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})

_AT_URI = re.compile(r"at://(?P<repo>[^/?#]+)/(?P<collection>[^/?#]+)/(?P<rkey>[^/?#]+)")
_LINK = re.compile(r"(?:^|(?<=[\s(]))https?://[^\s]+")
_TAG = re.compile(r"(?:^|(?<=\s))[#\uff03](?!\ufe0f)([^\s\u00ad\u2060\u200a-\u200d\u20e2]+)")
_TRAILING = ".,;:!?\"'"


# --- the pure part: facets, record keys, records ---------------------------------------------

def facets(text: str) -> list[dict]:
    """Return link and hashtag facets of `text`, indexed by UTF-8 byte offsets, in text order.

    Links are http(s) URLs that start a word (or follow "("); trailing punctuation and an
    unbalanced ")" stay outside. A hashtag starts a word, is at most 64 characters, is not all
    digits and keeps no trailing punctuation; its facet covers the "#", its tag does not.
    """
    found: list[tuple[int, int, dict]] = []
    for match in _LINK.finditer(text):
        start, uri = match.start(), match.group()
        while uri and (uri[-1] in _TRAILING or uri[-1] == ")" and "(" not in uri):
            uri = uri[:-1]
        if len(uri) > len("https://"):
            found.append((start, start + len(uri),
                          {"$type": "app.bsky.richtext.facet#link", "uri": uri}))
    for match in _TAG.finditer(text):
        tag = match.group(1)
        while tag and unicodedata.category(tag[-1]).startswith("P"):
            tag = tag[:-1]
        if not tag or len(tag) > 64 or all(c.isdigit() or unicodedata.category(c).startswith("P")
                                           for c in tag):
            continue
        start = match.start()
        found.append((start, start + 1 + len(tag), {"$type": "app.bsky.richtext.facet#tag",
                                                      "tag": tag}))
    found.sort(key=lambda item: item[0])
    return [{"index": {"byteStart": _bytes(text, start), "byteEnd": _bytes(text, end)},
             "features": [feature]} for start, end, feature in found]


def _bytes(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def record_key(idempotency_key: str, reserved_at: datetime | None = None) -> str:
    """Return the record key (a TID) of a post: the same key and time always give the same rkey.

    A TID is 53 bits of microseconds since 1970 and a 10-bit clock id, and other software reads
    its time. With `reserved_at` the time is the reservation's, to the millisecond; the
    microseconds within it and the clock id are taken from sha256(idempotency_key), so posts
    reserved in the same millisecond still get different keys (one pair in a million collides).
    Without it (a post reserved before Herald kept that time) the key is the one earlier Herald
    versions used: the first 8 bytes of the hash, top bit cleared, a time that means nothing.
    """
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    if reserved_at is None:
        value = int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)
    else:
        millis = int(reserved_at.timestamp() * 1000)
        spread = int.from_bytes(digest[:4], "big")
        micros = millis * 1000 + spread % 1000
        value = (micros << 10) | (spread >> 22) % 1024
    return "".join(TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def tid_time(rkey: str) -> datetime:
    """Return the time a TID record key holds."""
    value = 0
    for char in rkey:
        value = value * 32 + TID_ALPHABET.index(char)
    return datetime.fromtimestamp((value >> 10) / 1_000_000, timezone.utc)


def post_url(handle: str, rkey: str) -> str:
    """Return the public bsky.app address of a post."""
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


def build_record(text: str, lang: str, *, created_at: datetime, embed: dict | None = None,
                 reply: dict | None = None) -> dict:
    """Return the app.bsky.feed.post record for a post (blobs and reply refs already resolved)."""
    record: dict[str, Any] = {
        "$type": COLLECTION,
        "text": text,
        "createdAt": created_at.astimezone(timezone.utc).isoformat(timespec="milliseconds")
                               .replace("+00:00", "Z"),
        "langs": [lang],
    }
    found = facets(text)
    if found:
        record["facets"] = found
    if embed is not None:
        record["embed"] = embed
    if reply is not None:
        record["reply"] = reply
    return record


def images_embed(media: Iterable[Media], blobs: Iterable[dict]) -> dict:
    """Return an app.bsky.embed.images embed for uploaded images, with alt text and aspect ratio."""
    images = []
    for item, blob in zip(media, blobs):
        image: dict[str, Any] = {"alt": item.alt, "image": blob}
        if item.width > 0 and item.height > 0:
            image["aspectRatio"] = {"width": item.width, "height": item.height}
        images.append(image)
    return {"$type": "app.bsky.embed.images", "images": images}


def card_embed(card: LinkCard, thumb: dict | None = None) -> dict:
    """Return an app.bsky.embed.external link card built from the event itself."""
    external: dict[str, Any] = {"uri": card.url, "title": card.title,
                                "description": card.description}
    if thumb is not None:
        external["thumb"] = thumb
    return {"$type": "app.bsky.embed.external", "external": external}


# --- the adapter -------------------------------------------------------------------------------

class BlueskyPublisher:
    """Post to one Bluesky account over XRPC, reusing (and saving) its session.

    `credentials` holds `handle` and `app_password`, and optionally `session` (an exported
    session string, tried first). `account.options["service"]` is the PDS or entryway,
    https://bsky.social by default.
    """

    def __init__(self, account: Account, credentials: Mapping[str, str], *,
                 save_session: Callable[[str], None] | None = None, timeout: float = 30.0,
                 image_bytes: int = LIMITS.image_bytes,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.account = account.name
        self._limits = dataclasses.replace(LIMITS, image_bytes=image_bytes,
                                           request_timeout=timeout)
        self._clock = clock
        self._started = clock()
        self._blocked_until: datetime | None = None
        self._blobs: dict[tuple[str, str], tuple[dict, float]] = {}
        self.service = str(account.options.get("service") or SERVICE).rstrip("/")
        if not re.match(r"https?://[^/\s]+", self.service):
            raise ConfigError(f"accounts.{account.name}.service: expected an http(s) URL, "
                              f"got {self.service!r}")
        self._handle = (credentials.get("handle") or "").strip().removeprefix("@") or None
        self._password = credentials.get("app_password") or None
        self._session = credentials.get("session") or None
        self._save_session = save_session
        self._timeout = timeout
        self._secrets: set[str] = {s for s in (self._password, self._session) if s}
        self._client: Any = None
        self._did: str | None = None
        self._session_handle: str | None = None

    def __repr__(self) -> str:
        return (f"BlueskyPublisher(account={self.account!r}, service={self.service!r}, "
                f"handle={self._handle!r})")

    def limits(self) -> Limits:
        """The declared limits, with the image size the server accepts (older PDS: 1 MB)."""
        return self._limits

    def check(self) -> str:
        """Log in (or resume the saved session), ask the server who we are, return "@handle"."""
        info = self._call(lambda client: client.com.atproto.server.get_session())
        return f"@{info.handle}"

    def find(self, post: OutgoingPost) -> Published | None:
        """Return the post created earlier under this post's record key, or None.

        The key of the post's reservation time is looked up, then the key earlier Herald
        versions used (a post sent by one of them may be settled by this one). A record under
        the key with another text is not this post: it is logged and not returned.
        """
        return self._lookup(post)[0]

    def _lookup(self, post: OutgoingPost) -> tuple[Published | None, str | None]:
        """(this post, if found; else the URI of a different record holding its key, if any)."""
        keys = [record_key(post.idempotency_key, post.reserved_at)]
        if post.reserved_at is not None:
            keys.append(record_key(post.idempotency_key))
        other = None
        for rkey in keys:
            found = self._get(rkey)
            if found is None:
                continue
            if _field(found.value, "text") == post.text:
                return self._published(found.uri, rkey), None
            log.warning("%s: record %s holds another post than %s", self.account, found.uri,
                        post.idempotency_key)
            other = other or found.uri
        return None, other

    def _get(self, rkey: str) -> Any:
        return self._call(lambda client: _none_if_missing(
            lambda: client.com.atproto.repo.get_record(
                {"repo": self._did, "collection": COLLECTION, "rkey": rkey})))

    def _record(self, rkey: str, post: OutgoingPost) -> Published | None:
        """This post, if the record under `rkey` is it."""
        found = self._get(rkey)
        if found is None or _field(found.value, "text") != post.text:
            return None
        return self._published(found.uri, rkey)

    def publish(self, post: OutgoingPost) -> Published:
        """Create the post under its own record key; a post that already exists is returned.

        After any failed create the record is looked up before the error is raised: the PDS
        may have written it before failing (and answers a duplicate key with HTTP 500).
        """
        if len(post.media) > LIMITS.images_per_post:
            raise Rejected(f"Bluesky takes at most {LIMITS.images_per_post} images, "
                           f"got {len(post.media)}", account=self.account)
        self._connected()
        rkey = record_key(post.idempotency_key, post.reserved_at)
        if post.reserved_at is not None and post.reserved_at < self._started:
            # Reserved before this process started: an earlier Herald version may have sent
            # it under the key it used then.
            earlier = self._record(record_key(post.idempotency_key), post)
            if earlier is not None:
                return earlier
        reply = self._reply_refs(post.reply_to) if post.reply_to else None
        try:
            created = self._create(post, rkey, reply)
        except PublishError as error:
            try:
                existing, other = self._lookup(post)
            except PublishError:
                raise error from None
            if existing is not None:
                log.info("%s: post %s already exists on Bluesky (%s)", self.account, rkey,
                         type(error).__name__)
                return existing
            if other is not None:
                raise Rejected(f"record key {rkey} already holds another post ({other}); "
                               f"nothing was posted", account=self.account,
                               platform_message="record key taken") from error
            raise
        self._referenced(post)
        log.info("%s: posted %s", self.account, created.uri)
        return self._published(created.uri, rkey)

    def _create(self, post: OutgoingPost, rkey: str, reply: dict | None) -> Any:
        """Create the record; if the PDS has dropped an image uploaded for an earlier try, upload
        it again and create once more."""
        for attempt in (1, 2):
            record = build_record(post.text, post.lang, created_at=datetime.now(timezone.utc),
                                  embed=self._embed(post), reply=reply)
            data = {"repo": self._did, "collection": COLLECTION, "rkey": rkey, "record": record}
            try:
                return self._call(lambda client: client.com.atproto.repo.create_record(data))
            except Rejected as error:
                if attempt == 2 or not _blob_missing(error) or not self._forget(post):
                    raise
                log.info("%s: the PDS no longer has an image uploaded earlier; uploading it "
                         "again", self.account)
        raise AssertionError("unreachable")

    def delete(self, platform_id: str) -> None:
        """Delete an earlier post, named by its at:// URI; deleting one already gone is a no-op.

        The PDS answers a deleteRecord of a missing record with success (and no commit);
        an older one that says RecordNotFound is taken the same way.
        """
        match = _AT_URI.fullmatch(platform_id)
        if match is None or match["collection"] != COLLECTION:
            raise Rejected(f"cannot delete {platform_id!r}: not an at:// post URI",
                           account=self.account)
        self._connected()
        if match["repo"] != self._did:
            raise Rejected(f"cannot delete {platform_id}: it is not in this account's repo "
                           f"({self._did})", account=self.account)
        data = {"repo": self._did, "collection": COLLECTION, "rkey": match["rkey"]}
        answer = self._call(lambda client: _none_if_missing(
            lambda: client.com.atproto.repo.delete_record(data)))
        if answer is None or answer.commit is None:
            log.info("%s: post %s was already gone", self.account, platform_id)
        else:
            log.info("%s: deleted %s", self.account, platform_id)

    def close(self) -> None:
        """Close the HTTP connections (the publisher logs in again when used after this)."""
        if self._client is not None:
            self._client.request.close()
            self._client = None

    # --- building the post --------------------------------------------------------------------

    def _embed(self, post: OutgoingPost) -> dict | None:
        if post.media:
            return images_embed(post.media, [self._upload(item) for item in post.media])
        if post.card is None:
            return None
        thumb = post.card.thumb
        if thumb is not None and len(thumb.data) > THUMB_BYTES:
            log.warning("%s: card image is %d bytes, more than Bluesky's %d; posting the card "
                        "without it", self.account, len(thumb.data), THUMB_BYTES)
            thumb = None
        return card_embed(post.card, self._upload(thumb) if thumb is not None else None)

    def _upload(self, media: Media) -> dict:
        """Upload an image, or reuse the blob uploaded for it while the PDS keeps it.

        A blob is the image's bytes (its alt text goes in the record), so the key is the bytes.
        """
        key = (hashlib.sha256(media.data).hexdigest(), media.mime)
        kept = self._blobs.get(key)
        if kept is not None and time.monotonic() < kept[1]:
            log.debug("%s: reusing blob %s", self.account, kept[0]["ref"]["$link"])
            return kept[0]
        response = self._call(lambda client: client.com.atproto.repo.upload_blob(
            media.data, headers={"Content-Type": media.mime}))
        blob = response.blob.model_dump(mode="json", by_alias=True, exclude_none=True)
        self._blobs[key] = (blob, time.monotonic() + BLOB_REUSE)
        return blob

    def _media(self, post: OutgoingPost) -> list[Media]:
        return list(post.media) + ([post.card.thumb] if post.card and post.card.thumb else [])

    def _referenced(self, post: OutgoingPost) -> None:
        """A record now uses these blobs: the PDS keeps them, so they may be reused longer."""
        for item in self._media(post):
            key = (hashlib.sha256(item.data).hexdigest(), item.mime)
            if key in self._blobs:
                self._blobs[key] = (self._blobs[key][0], time.monotonic() + BLOB_REUSE_REFERENCED)

    def _forget(self, post: OutgoingPost) -> bool:
        """Drop the blobs kept for this post's images; True when there were any."""
        keys = {(hashlib.sha256(i.data).hexdigest(), i.mime) for i in self._media(post)}
        return bool([self._blobs.pop(k) for k in keys if k in self._blobs])

    def _reply_refs(self, uri: str) -> dict:
        match = _AT_URI.fullmatch(uri)
        if match is None:
            raise Rejected(f"cannot reply to {uri!r}: not an at:// post URI",
                           account=self.account)

        def lookup(client: Any) -> Any:
            return _none_if_missing(lambda: client.com.atproto.repo.get_record(match.groupdict()))

        parent = self._call(lookup)
        if parent is None or not parent.cid:
            raise Rejected(f"cannot reply to {uri}: no such post", account=self.account,
                           platform_message="RecordNotFound")
        parent_ref = {"uri": parent.uri, "cid": parent.cid}
        root = _field(_field(parent.value, "reply"), "root")
        root_ref = {"uri": _field(root, "uri"), "cid": _field(root, "cid")} if root else parent_ref
        return {"root": root_ref, "parent": parent_ref}

    def _published(self, uri: str, rkey: str) -> Published:
        return Published(id=uri, url=post_url(self._session_handle or self._handle or self._did
                                              or "", rkey))

    # --- sessions -----------------------------------------------------------------------------

    def _gate(self) -> None:
        """Refuse, without a request, to call the PDS before a rate limit it reported resets."""
        if self._blocked_until is not None and self._clock() < self._blocked_until:
            raise RateLimited(f"Bluesky rate limit reached; no request before "
                              f"{self._blocked_until:%Y-%m-%d %H:%M:%S} UTC",
                              account=self.account, retry_after=self._blocked_until)

    def _connected(self) -> Any:
        self._gate()
        if self._client is not None:
            return self._client
        from atproto_client import Client
        from atproto_client.request import Request

        client = Client(base_url=self.service,
                        request=Request(timeout=self._timeout, verify=_tls_context()))
        client.on_session_change(lambda event, session: self._session_changed(client, event,
                                                                              session))
        if not self._resume(client):
            self._login(client)
        self._client = client
        return client

    def _resume(self, client: Any) -> bool:
        """Import the saved session; False when there is none or it is not usable.

        A session is not usable when it cannot be read or belongs to another handle than the
        configured one (the secrets changed since it was saved); then Herald logs in afresh.
        """
        if not self._session:
            return False
        from atproto_client.client.session import Session
        from atproto_core.exceptions import AtProtocolError

        problem = None
        try:
            saved = Session.decode(self._session)
            if not (saved.access_jwt_payload.exp and saved.refresh_jwt_payload.exp):
                raise ValueError("token without expiry")
        except (ValueError, AtProtocolError):
            problem = "is unreadable"
        else:
            if self._handle and self._handle.lower() not in (saved.handle.lower(), saved.did):
                problem = f"belongs to @{saved.handle}, not @{self._handle}"
        if problem:
            if not self._can_login():
                raise AuthFailed(f"the saved Bluesky session {problem}; {self._how_to()}",
                                 account=self.account)
            log.warning("%s: the saved Bluesky session %s; logging in again", self.account,
                        problem)
            return False
        client.login(session_string=self._session, fetch_bsky_profile=False)
        log.debug("%s: resumed the saved Bluesky session of @%s", self.account,
                  self._session_handle)
        return True

    def _login(self, client: Any) -> None:
        self._gate()
        if not self._can_login():
            raise AuthFailed(f"no Bluesky credentials; {self._how_to()}", account=self.account)
        try:
            client.login(self._handle, self._password, fetch_bsky_profile=False)
        except _sdk_errors() as exc:
            raise self._mapped(exc, login=True) from exc
        log.info("%s: logged in to %s as @%s", self.account, self.service, self._session_handle)

    def _session_changed(self, client: Any, event: Any, session: Any) -> None:
        self._did, self._session_handle = session.did, session.handle
        self._secrets.update({session.access_jwt, session.refresh_jwt})
        if event.value not in ("create", "refresh"):
            return
        exported = client.export_session_string()
        self._session = exported
        self._secrets.add(exported)
        if self._save_session is None:
            return
        try:
            self._save_session(exported)
        except Exception as exc:  # the session still works; the next run logs in again
            log.warning("%s: could not save the Bluesky session: %s", self.account,
                        self._masked(f"{type(exc).__name__}: {exc}"))

    def _can_login(self) -> bool:
        return bool(self._handle and self._password)

    def _how_to(self) -> str:
        prefix = "HERALD_" + re.sub(r"[^A-Z0-9]", "_", self.account.upper())
        return (f"set {prefix}_HANDLE and {prefix}_APP_PASSWORD "
                f"(an app password from Bluesky's settings) or run `herald auth bluesky`")

    def _call(self, action: Callable[[Any], Any]) -> Any:
        """Run one SDK call, mapping its errors; an expired session gets one fresh login."""
        client = self._connected()
        try:
            return action(client)
        except _sdk_errors() as exc:
            if _error_name(exc) not in SESSION_ERRORS or not self._can_login():
                raise self._mapped(exc) from exc
        log.info("%s: the Bluesky session has expired; logging in again", self.account)
        self._login(client)
        try:
            return action(client)
        except _sdk_errors() as exc:
            raise self._mapped(exc) from exc

    # --- errors -------------------------------------------------------------------------------

    def _mapped(self, exc: BaseException, *, login: bool = False) -> PublishError:
        """Turn an SDK or transport exception into Herald's own, without any secret in it."""
        from atproto_client import exceptions as sdk

        name = self.account
        response = getattr(exc, "response", None)
        if isinstance(exc, sdk.RateLimitExceededError):
            retry_after = exc.reset_at
            if retry_after is None and exc.retry_after is not None:
                retry_after = self._clock() + timedelta(seconds=exc.retry_after)
            when = f" until {retry_after:%Y-%m-%d %H:%M:%S} UTC" if retry_after else ""
            policy = f" (policy {exc.policy})" if exc.policy else ""
            if retry_after is not None:
                self._blocked_until = max(retry_after, self._blocked_until or retry_after)
            return RateLimited(f"Bluesky rate limit reached{when}{policy}", account=name,
                               retry_after=retry_after)
        if isinstance(exc, sdk.RequestErrorBase) and response is not None:
            status = response.status_code
            error, message = _error_name(exc), self._masked(_error_message(exc))
            said = f"HTTP {status} {error}".rstrip() + (f": {message}" if message else "")
            if error in AUTH_ERRORS or status in (401, 403) or (login and status == 400):
                return AuthFailed(f"Bluesky refused the credentials ({said}); "
                                  f"{self._how_to()}", account=name)
            if status >= 500 or status in (408, 409):
                return Unavailable(f"{self.service} answered {said}", account=name)
            return Rejected(f"{self.service} refused the request ({said})", account=name,
                            platform_message=": ".join(filter(None, (error, message)))
                            or f"HTTP {status}")
        if isinstance(exc, sdk.InvokeTimeoutError):
            return Unavailable(f"no answer from {self.service} within {self._timeout:g} s",
                               account=name)
        if isinstance(exc, sdk.LoginRequiredError):
            return AuthFailed(f"not logged in to Bluesky; {self._how_to()}", account=name)
        if isinstance(exc, sdk.ModelError):
            return Unavailable(f"unexpected answer from {self.service}: "
                               f"{self._masked(str(exc))[:200]}", account=name)
        cause = exc.__cause__ or exc
        return Unavailable(f"cannot reach {self.service}: "
                           f"{self._masked(f'{type(cause).__name__}: {cause}')}", account=name)

    def _masked(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text


def authorize(*, service: str, handle: str, app_password: str,
              timeout: float = 30.0) -> dict[str, str]:
    """Verify a handle and app password by logging in; return what the secrets file keeps.

    The result is {"handle", "app_password", "session"}: the handle as the server spells it and
    the session string, so the next run resumes the session instead of logging in again.
    """
    saved: list[str] = []
    publisher = BlueskyPublisher(Account("bluesky", "bluesky", (), {"service": service}),
                                 {"handle": handle, "app_password": app_password},
                                 save_session=saved.append, timeout=timeout)
    try:
        shown = publisher.check()
    finally:
        publisher.close()
    return {"handle": shown.removeprefix("@"), "app_password": app_password, "session": saved[-1]}


# --- helpers around the SDK (imported lazily) ----------------------------------------------------

@functools.cache
def _tls_context() -> Any:
    """One verifying TLS context for every publisher (loading the CA bundle takes ~50 ms)."""
    import httpx

    return httpx.create_ssl_context()


def _sdk_errors() -> tuple[type[BaseException], ...]:
    """The exceptions an SDK call may raise for reasons outside Herald's code."""
    import httpx
    from atproto_core.exceptions import AtProtocolError

    return (AtProtocolError, httpx.HTTPError)


def _xrpc_error(exc: BaseException) -> Any:
    from atproto_client.models.common import XrpcError

    content = getattr(getattr(exc, "response", None), "content", None)
    return content if isinstance(content, XrpcError) else None


def _error_name(exc: BaseException) -> str:
    """The XRPC error name of a failed call ("ExpiredToken"), or "" when there is none."""
    error = _xrpc_error(exc)
    return str(error.error) if error is not None and error.error else ""


def _error_message(exc: BaseException) -> str:
    error = _xrpc_error(exc)
    return str(error.message) if error is not None and error.message else ""


def _blob_missing(error: PublishError) -> bool:
    """Whether the PDS refused a record because a blob it references is gone."""
    said = f"{getattr(error, 'platform_message', '') or ''} {error}".lower()
    return "blobnotfound" in said or "could not find blob" in said


def _none_if_missing(call: Callable[[], Any]) -> Any:
    """Run a getRecord or deleteRecord call; None when the PDS says there is no such record."""
    from atproto_client.exceptions import RequestErrorBase

    try:
        return call()
    except RequestErrorBase as exc:
        if _error_name(exc) == "RecordNotFound":
            return None
        raise


def _field(value: Any, name: str) -> Any:
    """Read a field of an SDK model, or of a record the SDK could only decode as a DotDict."""
    return None if value is None else getattr(value, name, None)
