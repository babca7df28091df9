"""Put a post's images, or its link card's thumbnail, on the PDS as blobs, reused on a retry.

A PDS deletes an uploaded blob no record uses "within a time window (eg, minutes)"
(com.atproto.repo.uploadBlob); one a record uses stays while the record does. So a blob is
reused for a few minutes, and for a day once a record holds it. A blob is the image's bytes
(its alt text goes in the record), so the bytes and the type name it.
"""

from __future__ import annotations

import logging

from ...model import Media, OutgoingPost
from ..shared import Uploads, digest
from .limits import THUMB_BYTES
from .records import card_embed, images_embed
from .session import BlueskySession

log = logging.getLogger(__name__)

BLOB_REUSE = 5 * 60.0
BLOB_REUSE_REFERENCED = 24 * 3600.0


class BlueskyMedia:
    """The blobs of one account's posts, uploaded through `session`."""

    def __init__(self, session: BlueskySession):
        self._session = session
        self._blobs: Uploads[dict] = Uploads(lambda media: (digest(media), media.mime))

    def embed(self, post: OutgoingPost) -> dict | None:
        """The post's images embed or link card, its blobs uploaded (or reused); None if neither."""
        if post.media:
            return images_embed(post.media, [self.upload(item) for item in post.media])
        if post.card is None:
            return None
        thumb = post.card.thumb
        if thumb is not None and len(thumb.data) > THUMB_BYTES:
            log.warning("%s: card image is %d bytes, more than Bluesky's %d; posting the card "
                        "without it", self._session.account, len(thumb.data), THUMB_BYTES)
            thumb = None
        return card_embed(post.card, self.upload(thumb) if thumb is not None else None)

    def upload(self, media: Media) -> dict:
        """Upload an image, or reuse the blob uploaded for it while the PDS keeps it."""
        blob = self._blobs.get(media)
        if blob is not None:
            log.debug("%s: reusing blob %s", self._session.account, blob["ref"]["$link"])
            return blob
        response = self._session.call(lambda client: client.com.atproto.repo.upload_blob(
            media.data, headers={"Content-Type": media.mime}))
        blob = response.blob.model_dump(mode="json", by_alias=True, exclude_none=True)
        self._blobs.put(media, blob, BLOB_REUSE)
        return blob

    def referenced(self, post: OutgoingPost) -> None:
        """A record now uses these blobs: the PDS keeps them, so they may be reused longer."""
        for item in _media(post):
            self._blobs.keep(item, BLOB_REUSE_REFERENCED)

    def forget(self, post: OutgoingPost) -> bool:
        """Drop the blobs kept for this post's images; True when there were any."""
        return self._blobs.forget(_media(post))


def _media(post: OutgoingPost) -> list[Media]:
    return list(post.media) + ([post.card.thumb] if post.card and post.card.thumb else [])
