"""Publish to Bluesky or any atproto PDS: facets, images or a link card, replies, exactly once.

    limits.py     what a PDS accepts (LIMITS) and the default service
    records.py    the pure part: facets, record keys (TIDs), post records and embeds
    publisher.py  BlueskyPublisher: create under the post's own record key, find, check, delete
    media.py      blob upload for images and card thumbnails, reused while the PDS keeps them
    session.py    the saved session, logins, the rate-limit gate, credential masking
    errors.py     what the atproto SDK and httpx raise, mapped to Herald's errors
    auth.py       `herald auth`: check a handle and app password and keep the session

The atproto SDK loads only when a publisher first talks to its server; importing this package
stays cheap (its parts other than `limits.py` load on first use).
"""

from .. import lazy
from .limits import LIMITS, SERVICE, THUMB_BYTES, declared_limits

__getattr__ = lazy(__name__, {
    "authorize": ".auth", "BLOB_REUSE": ".media", "BLOB_REUSE_REFERENCED": ".media",
    "BlueskyPublisher": ".publisher", "COLLECTION": ".records", "build_record": ".records",
    "card_embed": ".records", "facets": ".records", "images_embed": ".records",
    "post_url": ".records", "record_key": ".records", "tid_time": ".records",
    "missing_credentials": ".session"})

__all__ = ["BLOB_REUSE", "BLOB_REUSE_REFERENCED", "COLLECTION", "LIMITS", "SERVICE",
           "THUMB_BYTES", "BlueskyPublisher", "authorize", "build_record", "card_embed",
           "declared_limits", "facets", "images_embed", "missing_credentials", "post_url",
           "record_key", "tid_time"]
