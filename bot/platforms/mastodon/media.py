"""Put a post's images on a Mastodon-API server: upload, wait until processed, reuse on a retry.

An upload no status uses yet is kept by the server (for a day on Mastodon), so a retried post
attaches it again instead of leaving it behind and uploading a copy. Once a status uses it, no
other status may: the post forgets it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ...errors import Unavailable
from ...model import Media
from ..shared import Uploads, digest
from .api import MastodonApi

log = logging.getLogger(__name__)

UPLOAD_REUSE = 6 * 3600.0   # Mastodon removes media no status uses after a day; reuse well within
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


@dataclass
class _Upload:
    """An attachment the server holds for us, and whether it has been processed."""

    media_id: str
    processed: bool


class MastodonMedia:
    """The images of one account's posts, uploaded through `api`.

    While an upload is processed it is polled every `poll_interval` seconds, doubling up to
    `max_poll_interval`, for at most `media_wait` seconds.
    """

    def __init__(self, api: MastodonApi, *, media_wait: float, poll_interval: float,
                 max_poll_interval: float):
        self._api = api
        self.media_wait = media_wait
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self._uploads: Uploads[_Upload] = Uploads(lambda media: (digest(media), media.alt))

    def upload(self, media: Media, number: int, total: int) -> str:
        """Upload one image, or reuse the one uploaded for an earlier try of this post."""
        what = f"uploading image {number} of {total}"
        upload = self._uploads.get(media)
        if upload is not None:
            log.debug("%s: reusing media %s uploaded earlier", self._api.account, upload.media_id)
        else:
            attachment = self._api.call(what, lambda api: api.media_post(
                media.data, mime_type=media.mime, description=media.alt or None,
                file_name=file_name(media.filename, media.mime)))
            upload = _Upload(str(attachment["id"]), bool(attachment.get("url")))
            self._uploads.put(media, upload, UPLOAD_REUSE)
        if not upload.processed:
            self._wait_until_processed(upload.media_id, what)
            upload.processed = True
        return upload.media_id

    def forget(self, media: tuple[Media, ...]) -> None:
        """Upload these images afresh next time (a status uses them now, or was refused)."""
        self._uploads.forget(media)

    def _wait_until_processed(self, media_id: str, what: str) -> Any:
        """Poll the attachment until it has a URL; Unavailable after `media_wait` seconds."""
        deadline = time.monotonic() + self.media_wait
        pause = self.poll_interval
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unavailable(f"{what}: media still processing on {self._api.host} after "
                                  f"{self.media_wait:g} s; try again later",
                                  account=self._api.account)
            time.sleep(min(pause, remaining))
            attachment = self._api.call(what, lambda api: api.media(media_id))
            if attachment.get("url"):
                log.debug("%s: media %s processed", self._api.account, media_id)
                return attachment
            pause = min(pause * 2, self.max_poll_interval)


def file_name(name: str, mime: str) -> str:
    """Give the upload an extension that matches its type, as Mastodon checks the two agree."""
    extension = EXTENSIONS.get(mime, "")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return (stem or "image") + extension
