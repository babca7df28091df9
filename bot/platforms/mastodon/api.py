"""Talk to one Mastodon-API server as one account: the access token, the Mastodon.py client,
and every call through the rate-limit gate and the error mapping.

The client is pinned to Mastodon 4.3.0 with version checks on creation only, so it never
probes the instance for its version, and uploads go to `/api/v2/media`. Rate limits raise
instead of sleeping, and until the reset nothing at all is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ...errors import AuthFailed, auth_command
from ..shared import RateGate, env_name
from .errors import map_error

T = TypeVar("T")

SDK_OPTIONS = {"mastodon_version": "4.3.0", "version_check_mode": "created",
               "ratelimit_method": "throw"}
USER_AGENT = "Herald (Mastodon.py)"


def missing_credentials(credentials: Mapping[str, str]) -> list[str]:
    """Name the credentials an account still needs (no network)."""
    return [] if credentials.get("access_token") else ["access_token"]


def token_variable(account: str) -> str:
    """Return the environment variable that holds the account's access token."""
    return env_name(account, "access_token")


def base_url(instance: str) -> str:
    """The instance as a base URL: a bare host is taken as https://host."""
    instance = instance.strip().rstrip("/")
    return instance if re.match(r"https?://", instance) else "https://" + instance


class MastodonApi:
    """The connection of one account; `token` is checked on first use, not here."""

    def __init__(self, account: str, instance: str, token: str | None, *, timeout: float,
                 clock: Callable[[], datetime]):
        self.account = account
        self.instance = instance
        self.timeout = timeout
        self._token = token or None
        self._api: Any = None
        self._last_response: Any = None
        self._gate = RateGate(account, clock)

    def __repr__(self) -> str:
        return f"MastodonApi(account={self.account!r}, instance={self.instance!r})"

    @property
    def host(self) -> str:
        return urlsplit(self.instance).netloc

    def require_token(self) -> None:
        """Raise AuthFailed, naming how to provide one, when the account has no token."""
        if not self._token:
            raise AuthFailed(f"no Mastodon access token; set {token_variable(self.account)} or "
                             f"run `{auth_command('mastodon', self.account)}`",
                             account=self.account)

    def call(self, what: str, action: Callable[[Any], T]) -> T:
        """Run one SDK call; map whatever it raises to a PublishError naming this account.

        Before the reset of a rate limit the server reported, nothing is sent: RateLimited.
        """
        from mastodon.errors import MastodonError

        self._gate.check(f"{what}: rate limited by {self.host}; no request before its reset")
        api = self._client()
        self._last_response = None
        try:
            return action(api)
        except MastodonError as exc:
            error = map_error(exc, what=what, account=self.account, host=self.host,
                              response=self._last_response, hide=(self._token,),
                              auth_hint=f"set {token_variable(self.account)} or run "
                                        f"`{auth_command('mastodon', self.account)}`")
            self._gate.note(error)
            raise error from exc

    def _client(self) -> Any:
        if self._api is None:
            from mastodon import Mastodon

            self._api = Mastodon(access_token=self._token, api_base_url=self.instance,
                                 request_timeout=self.timeout, user_agent=USER_AGENT,
                                 session=recording_session(self._remember), **SDK_OPTIONS)
        return self._api

    def _remember(self, response: Any) -> None:
        self._last_response = response


def recording_session(remember: Callable[[Any], None]) -> Any:
    """A requests session that hands every answer to `remember` (the errors read its status)."""
    import requests

    def hook(response: Any, *args: Any, **kwargs: Any) -> Any:
        remember(response)
        return response

    session = requests.Session()
    session.hooks["response"].append(hook)
    return session
