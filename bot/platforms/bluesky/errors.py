"""Turn what the atproto SDK and httpx raise into Herald's errors, without any secret in them.

    raised by a call                              Herald error
    RateLimitExceededError (HTTP 429)             RateLimited (retry_after: the reset the PDS
                                                  names, or now + Retry-After)
    XRPC auth errors (ExpiredToken...), HTTP 401
    and 403, HTTP 400 to a login                  AuthFailed
    HTTP 5xx, 408, 409                            Unavailable
    any other HTTP 4xx                            Rejected (platform_message: the XRPC error)
    InvokeTimeoutError                            Unavailable
    LoginRequiredError                            AuthFailed
    ModelError (an answer the SDK cannot read)    Unavailable
    anything else (no connection, TLS)            Unavailable
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ...errors import AuthFailed, PublishError, RateLimited, Rejected, Unavailable

# XRPC error names that mean the credentials, not the request, are at fault.
AUTH_ERRORS = frozenset({"AuthenticationRequired", "AuthMissing", "ExpiredToken", "InvalidToken",
                         "AccountTakedown", "AccountDeactivated", "AuthFactorTokenRequired"})
# ...and those that a fresh login may cure.
SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})


def mapped(exc: BaseException, *, account: str, service: str, timeout: float,
           clock: Callable[[], datetime], masked: Callable[[str], str], how_to: str,
           login: bool = False) -> PublishError:
    """Turn an SDK or transport exception into Herald's own, passing every text through
    `masked`; `how_to` says how to provide credentials."""
    from atproto_client import exceptions as sdk

    response = getattr(exc, "response", None)
    if isinstance(exc, sdk.RateLimitExceededError):
        retry_after = exc.reset_at
        if retry_after is None and exc.retry_after is not None:
            retry_after = clock() + timedelta(seconds=exc.retry_after)
        policy = f" (policy {exc.policy})" if exc.policy else ""
        return RateLimited(f"Bluesky rate limit reached{policy}", account=account,
                           retry_after=retry_after)
    if isinstance(exc, sdk.RequestErrorBase) and response is not None:
        status = response.status_code
        error, message = error_name(exc), masked(_error_message(exc))
        said = f"HTTP {status} {error}".rstrip() + (f": {message}" if message else "")
        if error in AUTH_ERRORS or status in (401, 403) or (login and status == 400):
            return AuthFailed(f"Bluesky refused the credentials ({said}); {how_to}",
                              account=account)
        if status >= 500 or status in (408, 409):
            return Unavailable(f"{service} answered {said}", account=account)
        return Rejected(f"{service} refused the request ({said})", account=account,
                        platform_message=": ".join(filter(None, (error, message)))
                        or f"HTTP {status}")
    if isinstance(exc, sdk.InvokeTimeoutError):
        return Unavailable(f"no answer from {service} within {timeout:g} s", account=account)
    if isinstance(exc, sdk.LoginRequiredError):
        return AuthFailed(f"not logged in to Bluesky; {how_to}", account=account)
    if isinstance(exc, sdk.ModelError):
        return Unavailable(f"unexpected answer from {service}: {masked(str(exc))[:200]}",
                           account=account)
    cause = exc.__cause__ or exc
    return Unavailable(f"cannot reach {service}: {masked(f'{type(cause).__name__}: {cause}')}",
                       account=account)


def sdk_errors() -> tuple[type[BaseException], ...]:
    """The exceptions an SDK call may raise for reasons outside Herald's code."""
    import httpx
    from atproto_core.exceptions import AtProtocolError

    return (AtProtocolError, httpx.HTTPError)


def error_name(exc: BaseException) -> str:
    """The XRPC error name of a failed call ("ExpiredToken"), or "" when there is none."""
    error = _xrpc_error(exc)
    return str(error.error) if error is not None and error.error else ""


def blob_missing(error: PublishError) -> bool:
    """Whether the PDS refused a record because a blob it references is gone."""
    said = f"{getattr(error, 'platform_message', '') or ''} {error}".lower()
    return "blobnotfound" in said or "could not find blob" in said


def none_if_missing(call: Callable[[], Any]) -> Any:
    """Run a getRecord or deleteRecord call; None when the PDS says there is no such record."""
    from atproto_client.exceptions import RequestErrorBase

    try:
        return call()
    except RequestErrorBase as exc:
        if error_name(exc) == "RecordNotFound":
            return None
        raise


def _xrpc_error(exc: BaseException) -> Any:
    from atproto_client.models.common import XrpcError

    content = getattr(getattr(exc, "response", None), "content", None)
    return content if isinstance(content, XrpcError) else None


def _error_message(exc: BaseException) -> str:
    error = _xrpc_error(exc)
    return str(error.message) if error is not None and error.message else ""
