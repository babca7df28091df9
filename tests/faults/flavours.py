"""How each platform words a 429 and a server error, and how it states a reset time.

The fault proxy (proxy.py) answers in these words, so Herald's adapters meet what the real
platforms send: Mastodon's `X-RateLimit-Reset` (an ISO 8601 time, one limit per account), X's
`x-rate-limit-reset` (epoch seconds, one window per endpoint, problem JSON), a Bluesky PDS's
`ratelimit-reset` (epoch seconds, XRPC errors); a 502 or 503 comes from the gateway in front.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Mapping


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


# --- how each platform says it ------------------------------------------------------------

class Flavour:
    """How a platform words a 429 and a server error, and how it states a reset time."""

    name = "http"
    per_endpoint = False

    def rate_limited(self, reset: float) -> Answer:
        return _json(429, {"error": "Too many requests"}, [("Retry-After", str(
            max(0, math.ceil(reset - time.time()))))])

    def server_error(self, status: int) -> Answer:
        return _gateway(status)

    def round_reset(self, moment: float) -> float:
        """The reset time as the platform's header can state it (never earlier than `moment`)."""
        return float(math.ceil(moment))

    def reset_of(self, headers: Mapping[str, str]) -> float | None:
        """The reset time a 429 from the server states, in epoch seconds, or None."""
        value = headers.get("retry-after", "")
        return time.time() + int(value) if value.isdigit() else None


class MastodonFlavour(Flavour):
    """Mastodon: one limit per account, `X-RateLimit-Reset` as an ISO 8601 time."""

    name = "mastodon"

    def rate_limited(self, reset: float) -> Answer:
        return _json(429, {"error": "Too many requests"}, [
            ("X-RateLimit-Limit", "300"), ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", _iso(reset))])

    def server_error(self, status: int) -> Answer:
        if status == 500:
            return Answer(500, [("Content-Type", "text/html; charset=utf-8")],
                          b"<!DOCTYPE html><html><head><title>We're sorry, but something went "
                          b"wrong (500)</title></head><body></body></html>")
        return _gateway(status)

    def round_reset(self, moment: float) -> float:
        return math.ceil(moment * 1000) / 1000     # what _iso writes, read back

    def reset_of(self, headers: Mapping[str, str]) -> float | None:
        value = headers.get("x-ratelimit-reset")
        if value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
        return super().reset_of(headers)


class XFlavour(Flavour):
    """X: one window per endpoint, `x-rate-limit-reset` in epoch seconds, problem JSON."""

    name = "x"
    per_endpoint = True
    WINDOWS = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")

    def rate_limited(self, reset: float) -> Answer:
        return _json(429, _problem(429), [
            ("x-rate-limit-limit", "100"), ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", str(int(reset)))])

    def server_error(self, status: int) -> Answer:
        return _json(status, _problem(status))

    def reset_of(self, headers: Mapping[str, str]) -> float | None:
        resets = [int(headers[f"{w}-reset"]) for w in self.WINDOWS
                  if headers.get(f"{w}-remaining") == "0"
                  and headers.get(f"{w}-reset", "").isdigit()]
        if not resets and headers.get("x-rate-limit-reset", "").isdigit():
            resets = [int(headers["x-rate-limit-reset"])]
        return float(max(resets)) if resets else None


class BlueskyFlavour(Flavour):
    """A Bluesky PDS: limits per account, `ratelimit-reset` in epoch seconds, XRPC errors."""

    name = "bluesky"

    def rate_limited(self, reset: float) -> Answer:
        return _json(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, [
            ("ratelimit-limit", "3000"), ("ratelimit-remaining", "0"),
            ("ratelimit-reset", str(int(reset))), ("ratelimit-policy", "3000;w=300")])

    def server_error(self, status: int) -> Answer:
        if status == 500:
            return _json(500, {"error": "InternalServerError",
                               "message": "Internal Server Error"})
        return _gateway(status)

    def reset_of(self, headers: Mapping[str, str]) -> float | None:
        value = headers.get("ratelimit-reset", "")
        return float(value) if value.isdigit() else super().reset_of(headers)


GENERIC, MASTODON, X, BLUESKY = Flavour(), MastodonFlavour(), XFlavour(), BlueskyFlavour()


def _json(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
    return Answer(status, [("Content-Type", "application/json; charset=utf-8"),
                           *(headers or [])], json.dumps(body).encode())


def _gateway(status: int) -> Answer:
    phrase = f"{status} {HTTPStatus(status).phrase}"
    page = (f"<html>\r\n<head><title>{phrase}</title></head>\r\n<body>\r\n<center><h1>{phrase}"
            f"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
    return Answer(status, [("Content-Type", "text/html")], page.encode())


def _problem(status: int) -> dict[str, Any]:
    title = HTTPStatus(status).phrase
    return {"title": title, "detail": title, "type": "about:blank", "status": status}


def _iso(epoch: float) -> str:
    """Write an epoch time as Mastodon does, to the millisecond (rounded, as stored)."""
    seconds, millis = divmod(round(epoch * 1000), 1000)
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"
