"""Turn what Mastodon.py raises (and the last HTTP answer) into Herald's errors.

    SDK exception                                 Herald error
    MastodonRatelimitError, HTTP 429              RateLimited (retry_after from the headers)
    MastodonUnauthorizedError, HTTP 401 and 403   AuthFailed
    other HTTP 4xx (422 validation, 404 ...)      Rejected (platform_message = server's text)
    HTTP 5xx, MastodonNetworkError, timeouts      Unavailable
    an answer that is not the API's JSON          Unavailable
    anything else Mastodon.py refuses locally     Rejected
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from ...errors import AuthFailed, PublishError, RateLimited, Rejected, Unavailable
from ..shared import mask


def map_error(exc: BaseException, *, what: str, account: str | None, host: str,
              response: Any = None, hide: Any = (), auth_hint: str = "",
              authorizing: bool = False) -> PublishError:
    """Turn a Mastodon.py exception (and the last HTTP answer, if any) into a PublishError.

    Every string in `hide` (the token, a client secret) is replaced by `****` in the message.
    """
    from mastodon.errors import (MastodonAPIError, MastodonNetworkError, MastodonRatelimitError,
                                 MastodonUnauthorizedError)

    status, server_text = _status_and_text(exc, response)
    headers = response.headers if response is not None else {}

    def clean(text: str) -> str:
        return mask(text, hide)

    said = f" ({status}: {server_text})" if status and server_text else (
        f" ({status})" if status else "")
    if isinstance(exc, MastodonRatelimitError) or status == 429:
        retry_after = retry_time(headers, datetime.now(timezone.utc))
        return RateLimited(clean(f"{what}: rate limited by {host}"), account=account,
                           retry_after=retry_after)
    if isinstance(exc, MastodonNetworkError) and status is None and response is None:
        return Unavailable(clean(f"{what}: no answer from {host} ({_network_reason(exc)}); "
                                 f"the outcome is unknown"), account=account)
    if status is not None and status >= 500:
        return Unavailable(clean(f"{what}: {host} failed{said}; the outcome is unknown"),
                           account=account)
    if isinstance(exc, MastodonUnauthorizedError) or status in (401, 403) or (
            authorizing and status is not None):
        hint = f"; {auth_hint}" if auth_hint else ""
        return AuthFailed(clean(f"{what}: {host} refused the credentials{said}{hint}"),
                          account=account)
    if status is not None and 400 <= status < 500:
        return Rejected(clean(f"{what}: {host} rejected it{said}"), account=account,
                        platform_message=clean(server_text) if server_text else None)
    if isinstance(exc, (MastodonAPIError, MastodonNetworkError, KeyError, TypeError)):
        return Unavailable(clean(f"{what}: {host} gave an answer that is not Mastodon's API; "
                                 f"is {host} a Mastodon server?"), account=account)
    if authorizing:
        return AuthFailed(clean(f"{what}: {exc}"), account=account)
    return Rejected(clean(f"{what}: Mastodon.py refused the request: {exc}"), account=account)


def retry_time(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """Return when to try again, from `X-RateLimit-Reset` (ISO time or epoch) or `Retry-After`.

    Times the server states are moved by the difference between its `Date` and our clock.
    The later of the two headers wins; None when neither is usable.
    """
    server_now = _http_date(headers.get("Date"))
    skew = (now - server_now) if server_now else timedelta(0)
    candidates = []
    reset = _parse_reset(headers.get("X-RateLimit-Reset"))
    if reset is not None:
        candidates.append(reset + skew)
    retry_after = (headers.get("Retry-After") or "").strip()
    if retry_after.isdigit():
        candidates.append(now + timedelta(seconds=int(retry_after)))
    elif retry_after and (moment := _http_date(retry_after)) is not None:
        candidates.append(moment + skew)
    if not candidates:
        return None
    return max(max(candidates), now)


def _status_and_text(exc: BaseException, response: Any) -> tuple[int | None, str | None]:
    """The HTTP status and the server's `error` text, from the exception or the last answer."""
    args = getattr(exc, "args", ())
    status = args[1] if len(args) >= 4 and isinstance(args[1], int) else None
    text = args[3] if status is not None and isinstance(args[3], str) else None
    if response is not None and response.status_code >= 400:
        status = status or response.status_code
        if text is None:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                text = body.get("error_description") or body.get("error")
                text = text if isinstance(text, str) else None
    return status, text


def _network_reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    name = type(cause).__name__ if cause is not None else ""
    if "Timeout" in name or "timed out" in str(exc):
        return "timed out"
    if "SSL" in name:
        return "TLS failed"
    return "connection failed"


def _parse_reset(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value), timezone.utc)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
