"""Keep one account logged in to its PDS: resume the saved session, log in when there is none
or it expired, hand every new or refreshed session to `save_session`, and run each call
through the rate-limit gate and the error mapping.

Logging in per post would exhaust createSession's limit (30 per 5 minutes, 300 per day), so a
session is reused for as long as the PDS takes it. After a rate limit nothing is sent, logins
and session refreshes included, until the reset.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ...errors import AuthFailed, PublishError, auth_command
from ..shared import RateGate, env_name, mask
from .errors import SESSION_ERRORS, error_name, mapped, sdk_errors

log = logging.getLogger(__name__)


def missing_credentials(credentials: Mapping[str, str]) -> list[str]:
    """Name the credentials an account still needs (a saved session stands in for the password)."""
    missing = [] if credentials.get("handle") else ["handle"]
    if not (credentials.get("app_password") or credentials.get("session")):
        missing.append("app_password")
    return missing


class BlueskySession:
    """The logged-in client of one account, made on first use.

    `credentials` holds `handle` and `app_password`, and optionally `session` (an exported
    session string, tried first).
    """

    def __init__(self, account: str, service: str, credentials: Mapping[str, str], *,
                 save_session: Callable[[str], None] | None, timeout: float,
                 clock: Callable[[], datetime]):
        self.account = account
        self.service = service
        self.handle = (credentials.get("handle") or "").strip().removeprefix("@") or None
        self._password = credentials.get("app_password") or None
        self._session = credentials.get("session") or None
        self._save_session = save_session
        self.timeout = timeout
        self._clock = clock
        self._gate = RateGate(account, clock)
        self._secrets: set[str] = {s for s in (self._password, self._session) if s}
        self._client: Any = None
        self.did: str | None = None
        self.session_handle: str | None = None

    def __repr__(self) -> str:
        return f"BlueskySession(account={self.account!r}, service={self.service!r})"

    def call(self, action: Callable[[Any], Any]) -> Any:
        """Run one SDK call, mapping its errors; an expired session gets one fresh login."""
        client = self.connected()
        try:
            return action(client)
        except sdk_errors() as exc:
            if error_name(exc) not in SESSION_ERRORS or not self._can_login():
                raise self._mapped(exc) from exc
        log.info("%s: the Bluesky session has expired; logging in again", self.account)
        self._login(client)
        try:
            return action(client)
        except sdk_errors() as exc:
            raise self._mapped(exc) from exc

    def connected(self) -> Any:
        """The client, logged in (resuming the saved session when it is usable)."""
        self._check_gate()
        if self._client is not None:
            return self._client
        from atproto_client import Client
        from atproto_client.request import Request

        client = Client(base_url=self.service,
                        request=Request(timeout=self.timeout, verify=_tls_context()))
        client.on_session_change(lambda event, session: self._session_changed(client, event,
                                                                              session))
        if not self._resume(client):
            self._login(client)
        self._client = client
        return client

    def close(self) -> None:
        """Close the HTTP connections (the next call logs in again)."""
        if self._client is not None:
            self._client.request.close()
            self._client = None

    def masked(self, text: str) -> str:
        """`text` with the password, the session and its tokens replaced by ****."""
        return mask(text, self._secrets)

    def how_to(self) -> str:
        """Say how to provide this account's credentials."""
        return (f"set {env_name(self.account, 'handle')} and "
                f"{env_name(self.account, 'app_password')} "
                f"(an app password from Bluesky's settings) or run "
                f"`{auth_command('bluesky', self.account)}`")

    # --- the session's life ---------------------------------------------------------------------

    def _check_gate(self) -> None:
        self._gate.check("Bluesky rate limit reached; no request before its reset")

    def _resume(self, client: Any) -> bool:
        """Import the saved session; False when there is none or it is not usable.

        A session is not usable when it cannot be read or belongs to another handle than the
        configured one (the secrets changed since it was saved); then Herald logs in afresh.
        """
        if not self._session:
            return False
        from atproto_client.client.session import Session
        from atproto_core.exceptions import AtProtocolError

        problem = None
        try:
            saved = Session.decode(self._session)
            if not (saved.access_jwt_payload.exp and saved.refresh_jwt_payload.exp):
                raise ValueError("token without expiry")
        except (ValueError, AtProtocolError):
            problem = "is unreadable"
        else:
            if self.handle and self.handle.lower() not in (saved.handle.lower(), saved.did):
                problem = f"belongs to @{saved.handle}, not @{self.handle}"
        if problem:
            if not self._can_login():
                raise AuthFailed(f"the saved Bluesky session {problem}; {self.how_to()}",
                                 account=self.account)
            log.warning("%s: the saved Bluesky session %s; logging in again", self.account,
                        problem)
            return False
        client.login(session_string=self._session, fetch_bsky_profile=False)
        log.debug("%s: resumed the saved Bluesky session of @%s", self.account,
                  self.session_handle)
        return True

    def _login(self, client: Any) -> None:
        self._check_gate()
        if not self._can_login():
            raise AuthFailed(f"no Bluesky credentials; {self.how_to()}", account=self.account)
        try:
            client.login(self.handle, self._password, fetch_bsky_profile=False)
        except sdk_errors() as exc:
            raise self._mapped(exc, login=True) from exc
        log.info("%s: logged in to %s as @%s", self.account, self.service, self.session_handle)

    def _session_changed(self, client: Any, event: Any, session: Any) -> None:
        self.did, self.session_handle = session.did, session.handle
        self._secrets.update({session.access_jwt, session.refresh_jwt})
        if event.value not in ("create", "refresh"):
            return
        exported = client.export_session_string()
        self._session = exported
        self._secrets.add(exported)
        if self._save_session is None:
            return
        try:
            self._save_session(exported)
        except Exception as exc:  # the session still works; the next run logs in again
            log.warning("%s: could not save the Bluesky session: %s", self.account,
                        self.masked(f"{type(exc).__name__}: {exc}"))

    def _can_login(self) -> bool:
        return bool(self.handle and self._password)

    def _mapped(self, exc: BaseException, *, login: bool = False) -> PublishError:
        error = mapped(exc, account=self.account, service=self.service, timeout=self.timeout,
                       clock=self._clock, masked=self.masked, how_to=self.how_to(), login=login)
        self._gate.note(error)
        return error


@functools.cache
def _tls_context() -> Any:
    """One verifying TLS context for every publisher (loading the CA bundle takes ~50 ms)."""
    import httpx

    return httpx.create_ssl_context()
