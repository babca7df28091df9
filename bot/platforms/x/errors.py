"""Turn what tweepy and requests raise into Herald's errors, from X's status, headers and text.

    raised while calling X                        Herald error
    HTTP 429                                      RateLimited (retry_after: the empty window's reset)
    HTTP 401                                      AuthFailed
    HTTP 403 "duplicate content"                  DuplicateContent (a Duplicate, so a Rejected)
    HTTP 403 client-forbidden, unsupported-authentication, oauth1-permissions
                                                  AuthFailed (the app may not do this at all)
    HTTP 5xx                                      Unavailable
    any other HTTP 4xx                            Rejected (platform_message: X's own words)
    requests.RequestException (no answer, timeout) Unavailable
    any other TweepyException                     Unavailable
    an answer without the fields Herald reads     Unavailable
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from ...errors import (AuthFailed, Duplicate, PublishError, RateLimited, Rejected, Unavailable,
                       auth_command)

T = TypeVar("T")

# 403 problem types that mean the app or its keys may not do this at all (retrying won't help).
_AUTH_PROBLEMS = ("/client-forbidden", "/unsupported-authentication", "/oauth1-permissions")
_RATE_WINDOWS = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")


class DuplicateContent(Duplicate):
    """X refused the post because this account already posted the same text.

    On a first attempt this is an ordinary refusal. After an attempt whose outcome was unknown it
    means that attempt reached X; `published` is that post when a lookup found it.
    """


def mapped_call(doing: str, action: Callable[[], T], account: str | None,
                masked: Callable[[str], str]) -> T:
    """Run one request; map whatever tweepy or requests raise to a PublishError."""
    import requests
    import tweepy

    try:
        return action()
    except tweepy.HTTPException as exc:
        raise mapped(exc, doing, account, masked) from exc
    except requests.RequestException as exc:   # no answer, a timeout, or an unreadable one
        raise Unavailable(f"no usable answer from X while {doing} ({type(exc).__name__})",
                          account=account) from exc
    except tweepy.TweepyException as exc:
        raise Unavailable(f"X failed while {doing} ({type(exc).__name__})",
                          account=account) from exc
    except (KeyError, TypeError, ValueError) as exc:   # an answer without the fields we read
        raise Unavailable(f"unreadable answer from X while {doing} ({type(exc).__name__})",
                          account=account) from exc


def mapped(exc: Any, doing: str, account: str | None,
           masked: Callable[[str], str] = lambda text: text) -> PublishError:
    """Turn one tweepy HTTPException into Herald's error, from status, headers and X's text.

    X's own words are passed through `masked` first: a server (or proxy) may echo credentials.
    """
    response = exc.response
    status = response.status_code
    said = masked("; ".join(str(m) for m in exc.api_messages) or f"{status} {response.reason}")
    body = _json(response)
    if status == 429:
        retry_after = retry_time(response.headers)
        return RateLimited(f"X rate limit reached while {doing}", account=account,
                           retry_after=retry_after)
    if status == 401:
        return AuthFailed(f"X refused the credentials while {doing} ({status} {response.reason}); "
                          f"check them or run `{auth_command('x', account)}` again",
                          account=account)
    if status == 403 and "duplicate content" in said.lower():
        return DuplicateContent(f"X refused a duplicate while {doing}: {said}",
                                account=account, platform_message=said)
    if status == 403 and str(body.get("type", "")).endswith(_AUTH_PROBLEMS):
        return AuthFailed(f"X does not let this app do that ({doing}): {said}", account=account)
    if status >= 500:
        return Unavailable(f"X failed while {doing} ({status} {response.reason})", account=account)
    return Rejected(f"X refused while {doing} ({status}): {said}", account=account,
                    platform_message=said)


def retry_time(headers: Mapping[str, str]) -> datetime | None:
    """Return when the exhausted window resets: the latest of those whose remaining is 0.

    A post can be blocked by the 15-minute window or by the 24-hour user or app window; when no
    window says it is empty, `x-rate-limit-reset` is the best guess.
    """
    resets = [_int(headers.get(f"{w}-reset")) for w in _RATE_WINDOWS
              if _int(headers.get(f"{w}-remaining")) == 0]
    resets = [r for r in resets if r is not None] or [_int(headers.get("x-rate-limit-reset"))]
    known = [r for r in resets if r is not None]
    return datetime.fromtimestamp(max(known), timezone.utc) if known else None


def field(data: Any, name: str) -> Any:
    """Read one field of X's JSON answer; None when the answer is not an object."""
    return data.get(name) if isinstance(data, dict) else None


def _json(response: Any) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
