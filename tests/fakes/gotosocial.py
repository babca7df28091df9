"""A fake GoToSocial server: the Mastodon client API without idempotency.

GoToSocial implements Mastodon's client API but ignores `Idempotency-Key`: the same status sent
twice is two statuses. Its `/api/v2/instance` names the software in `source_url`; `version` is
GoToSocial's own version number (for example "0.19.1", or "0.19.1+git-1b2c3d4" for a snapshot
build; "3.5.3+0.19.1" only where the admin turned on instance-inject-mastodon-version), so a
client tells the two apart by `source_url`, not by the version. Its default limits are larger
than Mastodon's (5,000 characters, links count 25, 6 attachments, 40 MiB images).

Everything else is FakeMastodon's (see tests/fakes/mastodon.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .mastodon import FakeMastodon
from .server import Request, Response

SOURCE_URL = "https://codeberg.org/superseriousbusiness/gotosocial"
VERSION = "0.19.1"


class FakeGoToSocial(FakeMastodon):
    """A GoToSocial instance with one account; `Idempotency-Key` is ignored."""

    def __init__(self, *, version: str = VERSION, **options: Any) -> None:
        defaults = {"max_characters": 5000, "characters_reserved_per_url": 25,
                    "max_media_attachments": 6, "image_size_limit": 40 * 1024 * 1024}
        super().__init__(**{**defaults, **options})
        self.version = version

    def _instance(self, request: Request, params: dict[str, str]) -> Response:
        answer = super()._instance(request, params)
        answer.body = {**answer.body, "title": "Fake GoToSocial", "version": self.version,
                       "source_url": SOURCE_URL, "account_domain": self.domain,
                       "description": "A local stand-in for a GoToSocial server."}
        return answer

    def _post_status(self, request: Request, params: dict[str, str]) -> Response:
        headers = {k: v for k, v in request.headers.items() if k != "idempotency-key"}
        return super()._post_status(replace(request, headers=headers), params)
