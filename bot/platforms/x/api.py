"""Talk to X as one account: its credentials, the tweepy client over a timed requests session,
and every request through the rate-limit gate and the error mapping.

The account option `api_url` sends the requests to another base URL (a proxy, or a local test
server) instead of X's own host. The URL is changed before a request is prepared, so the OAuth
1.0a signature is made for the URL that is actually sent (a server or proxy that checks it
would refuse any other).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from ...errors import AuthFailed, PublishError, Unavailable, auth_command
from ..shared import RateGate, env_name, mask
from .errors import mapped_call

T = TypeVar("T")

CREDENTIALS = ("api_key", "api_secret", "access_token", "access_secret")
API_HOST = "https://api.twitter.com"          # the host tweepy sends to


def missing_credentials(credentials: Mapping[str, str]) -> list[str]:
    """Name the credentials an account still needs (no network)."""
    return [name for name in CREDENTIALS if not credentials.get(name)]


class XApi:
    """The connection of one account: the client is made on first use, not here.

    A missing credential raises AuthFailed on first use. `session` is the `requests.Session`
    tweepy sends through (a new one by default); every request on it times out after
    `timeout` seconds. `clock` gives the current time (aware); it decides whether a rate
    limit has reset.
    """

    def __init__(self, account: str, credentials: Mapping[str, str], *, api_url: str | None,
                 session: Any, timeout: float, clock: Callable[[], datetime]):
        self.account = account
        self._credentials = {name: credentials.get(name) or "" for name in CREDENTIALS}
        self._api_url = api_url
        self._session = session
        self._timeout = timeout
        self._client: Any = None
        self._gate = RateGate(account, clock)
        self.user_id: str | None = None

    def __repr__(self) -> str:
        return f"XApi(account={self.account!r})"

    def client(self) -> Any:
        """The tweepy client, made on first use; AuthFailed when a credential is missing."""
        if self._client is None:
            missing = missing_credentials(self._credentials)
            if missing:
                variables = ", ".join(env_name(self.account, name) for name in missing)
                raise AuthFailed(f"missing X credentials {', '.join(missing)}; set {variables} "
                                 f"or run `{auth_command('x', self.account)}`",
                                 account=self.account)
            import tweepy

            client = tweepy.Client(
                consumer_key=self._credentials["api_key"],
                consumer_secret=self._credentials["api_secret"],
                access_token=self._credentials["access_token"],
                access_token_secret=self._credentials["access_secret"],
                wait_on_rate_limit=False)
            session = timed_session(self._session, self._timeout)
            client.session = rebased_session(session, self._api_url) if self._api_url else session
            self._client = client
        return self._client

    def call(self, doing: str, action: Callable[[], T]) -> T:
        """Run one request and map whatever tweepy or requests raise to a PublishError.

        Before a rate limit's reset no request is sent: RateLimited is raised at once.
        """
        self._gate.check(f"X rate limit reached; no request before its reset (not {doing})")
        try:
            return mapped_call(doing, action, self.account, self.mask)
        except PublishError as error:
            self._gate.note(error)
            raise

    def user(self) -> str:
        """The account's user id: the digits before the dash of its access token, as X issues
        them, else asked once from `GET /2/users/me`."""
        if self.user_id is None:
            client = self.client()
            prefix = self._credentials["access_token"].split("-", 1)[0]
            if prefix.isdigit():
                self.user_id = prefix
            else:
                answer = self.call("asking who this account is",
                                   lambda: client.get_me(user_auth=True))
                self.user_id = str(getattr(answer.data, "id", "") or "")
                if not self.user_id:
                    raise Unavailable("X did not say which user these credentials belong to",
                                      account=self.account)
        return self.user_id

    def mask(self, text: str) -> str:
        """Replace every credential (as sent, or percent-encoded as in a header) with ****."""
        return mask(text, self._credentials.values())


class _Rebased:
    """A requests session whose requests for X's API host go to `base` instead.

    The URL is changed before the request is prepared, so the OAuth 1.0a signature is made for
    the URL that is actually sent. Every way of sending (`request`, `get`, `post`...) passes
    through the change.
    """

    def __init__(self, session: Any, base: str):
        self._session = session
        self._base = base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(API_HOST):
            url = self._base + url[len(API_HOST):]
        return self._session.request(method, url, *args, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def rebased_session(session: Any, base: str) -> Any:
    """Return `session` (or a new one) sending requests for X's API host to `base` instead."""
    import requests

    return _Rebased(session if session is not None else requests.Session(), base)


def timed_session(session: Any, timeout: float) -> Any:
    """Return `session` (or a new requests.Session) with every adapter timing out in `timeout`."""
    import requests

    session = session if session is not None else requests.Session()
    for prefix, adapter in list(session.adapters.items()):
        if not isinstance(adapter, _Timeout):
            session.mount(prefix, _Timeout(adapter, timeout))
    return session


class _Timeout:
    """A requests transport adapter that gives every request a timeout unless it has one."""

    def __init__(self, inner: Any, timeout: float):
        self.inner = inner
        self.timeout = timeout

    def send(self, request: Any, timeout: Any = None, **kwargs: Any) -> Any:
        return self.inner.send(request, timeout=self.timeout if timeout is None else timeout,
                               **kwargs)

    def close(self) -> None:
        self.inner.close()
