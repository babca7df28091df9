"""Put a post's images on X: upload, wait while X processes, set the alt text, reuse on a retry.

Each image goes up as base64 JSON to `POST /2/media/upload` (`tweet_gif` for an animated GIF,
which X processes before it may be attached, else `tweet_image`), and its alt text is set with
`POST /2/media/metadata`. An upload is reused while X keeps it (`expires_after_secs`), so a
retried post does not upload its images again; the same bytes with another alt text are another
upload.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from typing import Any

from ...errors import Rejected, Unavailable
from ...model import Media
from ..shared import Uploads, digest
from .api import XApi
from .errors import field
from .limits import LIMITS

log = logging.getLogger(__name__)

PROCESSING_WAIT = 60.0                        # seconds to wait for X to process one upload


@dataclass
class _Upload:
    """An image X holds for us: its id, and whether its alt text is set."""

    media_id: str
    described: bool = False


class XMedia:
    """The images of one account's posts, uploaded through `api`."""

    def __init__(self, api: XApi):
        self._api = api
        self._uploads: Uploads[_Upload] = Uploads(lambda media: (digest(media), media.alt))

    def upload(self, media: Media) -> str:
        """Return the media id of `media` on X, with its alt text set: reused or uploaded."""
        client = self._api.client()
        upload = self._uploads.get(media)
        if upload is None:
            upload = self._send_image(client, media)
        else:
            log.debug("%s: reusing media %s uploaded earlier", self._api.account, upload.media_id)
        alt = media.alt.strip()[:LIMITS.alt_chars]
        if alt and not upload.described:
            metadata = {"id": upload.media_id, "metadata": {"alt_text": {"text": alt}}}
            self._api.call("setting alt text", lambda: client.request(
                "POST", "/2/media/metadata", json=metadata, user_auth=True))
            upload.described = True
        return upload.media_id

    def forget(self, media: tuple[Media, ...]) -> None:
        """Upload these images afresh next time (a post uses them now, or X refused them)."""
        self._uploads.forget(media)

    def _send_image(self, client: Any, media: Media) -> _Upload:
        category = "tweet_gif" if media.mime == "image/gif" else "tweet_image"
        body = {"media": base64.b64encode(media.data).decode("ascii"), "media_category": category}
        data = self._api.call("uploading an image", lambda: client.request(
            "POST", "/2/media/upload", json=body, user_auth=True).json())
        data = field(data, "data")
        media_id = field(data, "id")
        if media_id is None:
            raise Unavailable("X took an image but did not say its id", account=self._api.account)
        media_id = str(media_id)
        self._await_processing(client, media_id, field(data, "processing_info"))
        kept = field(data, "expires_after_secs")
        kept = kept if isinstance(kept, int) and kept > 0 else 3600
        log.debug("%s: uploaded %s (%d bytes) as media %s",
                  self._api.account, media.filename, len(media.data), media_id)
        upload = _Upload(media_id)
        self._uploads.put(media, upload, kept * 0.9)
        return upload

    def _await_processing(self, client: Any, media_id: str, info: Any) -> None:
        """Poll the upload's status while X says it is still processing (animated GIFs)."""
        deadline = time.monotonic() + PROCESSING_WAIT
        while isinstance(info, dict) and info.get("state") in ("pending", "in_progress"):
            wait = info.get("check_after_secs")
            wait = max(0, wait) if isinstance(wait, int) else 1
            if time.monotonic() + wait > deadline:
                raise Unavailable(f"X was still processing image {media_id} after "
                                  f"{PROCESSING_WAIT:.0f} s", account=self._api.account)
            time.sleep(wait)
            data = self._api.call("waiting for an image to be processed", lambda: client.request(
                "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id},
                user_auth=True).json())
            info = field(field(data, "data"), "processing_info")
        if isinstance(info, dict) and info.get("state") == "failed":
            raise Rejected(f"X could not process image {media_id}", account=self._api.account,
                           platform_message="media processing failed")
