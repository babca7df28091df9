"""The publisher port: what the service needs from a platform, and nothing more."""

from __future__ import annotations

from typing import Protocol

from ..model import Limits, OutgoingPost, Published


class Publisher(Protocol):
    """One account on one platform.

    `publish` either returns what the platform answered or raises a `PublishError`
    (never returns a failure value). `find` looks up a post whose outcome is unknown, by its
    idempotency key, so that a crash between sending and recording is reconciled, not re-sent.
    """

    account: str

    def limits(self) -> Limits:
        """Return the account's real limits (an adapter may ask the server once and cache them)."""
        ...

    def publish(self, post: OutgoingPost) -> Published:
        """Send one post and return the platform's id and URL."""
        ...

    def find(self, post: OutgoingPost) -> Published | None:
        """Return the post sent earlier with this idempotency key, if the platform has it."""
        ...

    def check(self) -> str:
        """Verify the credentials; return the account's handle as the platform shows it."""
        ...
