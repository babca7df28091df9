"""A publisher that records what it would send: the tests' fake and the engine of `--dry-run`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Limits, OutgoingPost, Published


@dataclass
class RecordingPublisher:
    """Keep every post in `sent` and answer with a made-up id; never touches a network."""

    account: str
    platform_limits: Limits
    sent: list[OutgoingPost] = field(default_factory=list)

    def limits(self) -> Limits:
        return self.platform_limits

    def publish(self, post: OutgoingPost) -> Published:
        for number, earlier in enumerate(self.sent, start=1):
            if earlier.idempotency_key == post.idempotency_key:
                return self._published(number)
        self.sent.append(post)
        return self._published(len(self.sent))

    def find(self, post: OutgoingPost) -> Published | None:
        for number, earlier in enumerate(self.sent, start=1):
            if earlier.idempotency_key == post.idempotency_key:
                return self._published(number)
        return None

    def check(self) -> str:
        return f"{self.account} (dry run)"

    def _published(self, number: int) -> Published:
        return Published(id=f"dry-{number}", url=f"dry-run://{self.account}/{number}")
