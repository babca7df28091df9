"""What every adapter does the same way: mask secrets, name credential variables, wait out a
rate limit, and reuse an upload the platform still keeps.

Plain Python only: no SDK and no HTTP library is imported here (import-linter checks it).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Generic, TypeVar

from ..errors import PublishError, RateLimited, env_name
from ..masking import MASK, mask
from ..model import Media

__all__ = ["MASK", "RateGate", "Uploads", "digest", "env_name", "mask"]

V = TypeVar("V")


class RateGate:
    """Remember until when a platform said to wait, and refuse to call it before then.

    `check` raises RateLimited without any request while the reset lies ahead; `note` reads
    the reset from a RateLimited the platform's answer was mapped to. A later reset never
    moves the gate earlier.
    """

    def __init__(self, account: str, clock: Callable[[], datetime]):
        self.account = account
        self.clock = clock
        self.until: datetime | None = None

    def check(self, message: str) -> None:
        """Raise RateLimited with `message` before the reset.

        The message names no time: the error carries the reset as `retry_after`, and whoever
        reports it says when, in the site's time zone.
        """
        if self.until is not None and self.clock() < self.until:
            raise RateLimited(message, account=self.account, retry_after=self.until)

    def note(self, error: PublishError) -> None:
        """Close the gate until the reset `error` names, if it is a rate limit with one."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            self.until = max(error.retry_after, self.until or error.retry_after)


@contextmanager
def before_sending() -> Iterator[None]:
    """Mark a PublishError raised inside as one from before the post itself was sent."""
    try:
        yield
    except PublishError as error:
        error.before_sending = True
        raise


def digest(media: Media) -> str:
    """The sha256 of an image's bytes, which names an upload of it."""
    return hashlib.sha256(media.data).hexdigest()


class Uploads(Generic[V]):
    """Uploads the platform still keeps, so that a retried post attaches them again.

    `key` says which images are the same upload (the bytes and the alt text where the alt text
    is part of the upload, the bytes and the type where it is not). Each entry is kept for the
    seconds given when it was stored, on the monotonic clock.
    """

    def __init__(self, key: Callable[[Media], Hashable]):
        self._key = key
        self._kept: dict[Hashable, tuple[V, float]] = {}

    def get(self, media: Media) -> V | None:
        """The upload of `media`, while the platform keeps it; else None."""
        kept = self._kept.get(self._key(media))
        if kept is None or time.monotonic() >= kept[1]:
            return None
        return kept[0]

    def put(self, media: Media, upload: V, seconds: float) -> None:
        """Keep `upload` of `media` for `seconds`."""
        self._kept[self._key(media)] = (upload, time.monotonic() + seconds)

    def keep(self, media: Media, seconds: float) -> None:
        """Keep the upload of `media`, if there is one, `seconds` from now."""
        key = self._key(media)
        if key in self._kept:
            self._kept[key] = (self._kept[key][0], time.monotonic() + seconds)

    def forget(self, media: Iterable[Media]) -> bool:
        """Drop the uploads of these images; True when there were any."""
        keys = {self._key(item) for item in media}
        return bool([self._kept.pop(key) for key in keys if key in self._kept])

