"""The Bluesky publisher: create, find, check and delete posts of one account on any atproto
PDS, exactly once.

Each post is created under a record key derived from its idempotency key and the time it was
first reserved (`records.record_key`), so a post that already exists is found by `find` and is
never created twice.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from ...errors import ConfigError, PublishError, Rejected
from ...model import Account, Limits, OutgoingPost, Published
from ..shared import before_sending
from .errors import blob_missing, none_if_missing
from .limits import LIMITS, SERVICE
from .media import BlueskyMedia
from .records import AT_URI, COLLECTION, build_record, post_url, record_key
from .session import BlueskySession

log = logging.getLogger(__name__)


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
        self._started = clock()
        self.service = str(account.options.get("service") or SERVICE).rstrip("/")
        if not re.match(r"https?://[^/\s]+", self.service):
            raise ConfigError(f"accounts.{account.name}.service: expected an http(s) URL, "
                              f"got {self.service!r}")
        self._session = BlueskySession(account.name, self.service, credentials,
                                       save_session=save_session, timeout=timeout, clock=clock)
        self._media = BlueskyMedia(self._session)
        self._threads: dict[str, tuple[dict, dict]] = {}
        """at:// URI -> (its strong ref, its thread root's) of the posts made or found here."""

    def __repr__(self) -> str:
        return (f"BlueskyPublisher(account={self.account!r}, service={self.service!r}, "
                f"handle={self._session.handle!r})")

    def limits(self) -> Limits:
        """The declared limits, with the image size the server accepts (older PDS: 1 MB)."""
        return self._limits

    def check(self) -> str:
        """Log in (or resume the saved session), ask the server who we are, return "@handle"."""
        info = self._session.call(lambda client: client.com.atproto.server.get_session())
        return f"@{info.handle}"

    def find(self, post: OutgoingPost) -> Published | None:
        """Return the post created earlier under this post's record key, or None.

        The key of the post's reservation time is looked up, then the key earlier Herald
        versions used (a post sent by one of them may be settled by this one). A record under
        the key with another text is not this post: it is logged and not returned.
        """
        return self._lookup(post)[0]

    def publish(self, post: OutgoingPost) -> Published:
        """Create the post under its own record key; a post that already exists is returned.

        After any failed create the record is looked up before the error is raised: the PDS
        may have written it before failing (and answers a duplicate key with HTTP 500).
        """
        if len(post.media) > LIMITS.images_per_post:
            raise Rejected(f"Bluesky takes at most {LIMITS.images_per_post} images, "
                           f"got {len(post.media)}", account=self.account)
        rkey = record_key(post.idempotency_key, post.reserved_at)
        with before_sending():
            self._session.connected()
            if post.reserved_at is not None and post.reserved_at < self._started:
                # Reserved before this process started: an earlier Herald version may have
                # sent it under the key it used then.
                earlier = self._record(record_key(post.idempotency_key), post)
                if earlier is not None:
                    return earlier
            reply = self._reply_refs(post.reply_to) if post.reply_to else None
        try:
            created = self._create(post, rkey, reply)
        except PublishError as error:
            if error.before_sending:
                raise
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
        self._media.referenced(post)
        ref = {"uri": created.uri, "cid": created.cid}
        self._threads[created.uri] = (ref, reply["root"] if reply else ref)
        log.info("%s: posted %s", self.account, created.uri)
        return self._published(created.uri, rkey)

    def delete(self, platform_id: str) -> None:
        """Delete an earlier post, named by its at:// URI; deleting one already gone is a no-op.

        The PDS answers a deleteRecord of a missing record with success (and no commit);
        an older one that says RecordNotFound is taken the same way.
        """
        match = AT_URI.fullmatch(platform_id)
        if match is None or match["collection"] != COLLECTION:
            raise Rejected(f"cannot delete {platform_id!r}: not an at:// post URI",
                           account=self.account)
        self._session.connected()
        did = self._session.did
        if match["repo"] != did:
            raise Rejected(f"cannot delete {platform_id}: it is not in this account's repo "
                           f"({did})", account=self.account)
        data = {"repo": did, "collection": COLLECTION, "rkey": match["rkey"]}
        answer = self._session.call(lambda client: none_if_missing(
            lambda: client.com.atproto.repo.delete_record(data)))
        self._threads.pop(platform_id, None)
        if answer is None or answer.commit is None:
            log.info("%s: post %s was already gone", self.account, platform_id)
        else:
            log.info("%s: deleted %s", self.account, platform_id)

    def close(self) -> None:
        """Close the HTTP connections (the publisher logs in again when used after this)."""
        self._session.close()

    # --- records --------------------------------------------------------------------------------

    def _create(self, post: OutgoingPost, rkey: str, reply: dict | None) -> Any:
        """Create the record; if the PDS has dropped an image uploaded for an earlier try, upload
        it again and create once more."""
        for attempt in (1, 2):
            with before_sending():
                embed = self._media.embed(post)
            record = build_record(post.text, post.lang, created_at=datetime.now(timezone.utc),
                                  embed=embed, reply=reply)
            data = {"repo": self._session.did, "collection": COLLECTION, "rkey": rkey,
                    "record": record}
            try:
                return self._session.call(
                    lambda client: client.com.atproto.repo.create_record(data))
            except Rejected as error:
                if attempt == 2 or not blob_missing(error) or not self._media.forget(post):
                    raise
                log.info("%s: the PDS no longer has an image uploaded earlier; uploading it "
                         "again", self.account)
        raise AssertionError("unreachable")

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
                self._remember(found)
                return self._published(found.uri, rkey), None
            log.warning("%s: record %s holds another post than %s", self.account, found.uri,
                        post.idempotency_key)
            other = other or found.uri
        return None, other

    def _get(self, rkey: str) -> Any:
        return self._session.call(lambda client: none_if_missing(
            lambda: client.com.atproto.repo.get_record(
                {"repo": self._session.did, "collection": COLLECTION, "rkey": rkey})))

    def _record(self, rkey: str, post: OutgoingPost) -> Published | None:
        """This post, if the record under `rkey` is it."""
        found = self._get(rkey)
        if found is None or _field(found.value, "text") != post.text:
            return None
        self._remember(found)
        return self._published(found.uri, rkey)

    def _reply_refs(self, uri: str) -> dict:
        """The reply's parent and root: known for a post made or found here, else read."""
        if uri in self._threads:
            parent_ref, root_ref = self._threads[uri]
            return {"root": root_ref, "parent": parent_ref}
        match = AT_URI.fullmatch(uri)
        if match is None:
            raise Rejected(f"cannot reply to {uri!r}: not an at:// post URI",
                           account=self.account)

        def lookup(client: Any) -> Any:
            return none_if_missing(lambda: client.com.atproto.repo.get_record(match.groupdict()))

        parent = self._session.call(lookup)
        if parent is None or not parent.cid:
            raise Rejected(f"cannot reply to {uri}: no such post", account=self.account,
                           platform_message="RecordNotFound")
        parent_ref = {"uri": parent.uri, "cid": parent.cid}
        root = _field(_field(parent.value, "reply"), "root")
        root_ref = {"uri": _field(root, "uri"), "cid": _field(root, "cid")} if root else parent_ref
        return {"root": root_ref, "parent": parent_ref}

    def _remember(self, found: Any) -> None:
        """Keep the strong refs of a post read back, so a reply to it reads nothing first."""
        if not found.cid:
            return
        ref = {"uri": found.uri, "cid": found.cid}
        root = _field(_field(found.value, "reply"), "root")
        self._threads[found.uri] = (ref, {"uri": _field(root, "uri"), "cid": _field(root, "cid")}
                                    if root else ref)

    def _published(self, uri: str, rkey: str) -> Published:
        session = self._session
        return Published(id=uri, url=post_url(session.session_handle or session.handle
                                              or session.did or "", rkey))


def _field(value: Any, name: str) -> Any:
    """Read a field of an SDK model, or of a record the SDK could only decode as a DotDict."""
    return None if value is None else getattr(value, name, None)
