"""`herald auth` for Mastodon: register Herald as an app on the instance and exchange the
code the user copies for an access token (OAuth 2 out-of-band)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ...errors import AuthFailed, auth_command
from .api import SDK_OPTIONS, USER_AGENT, base_url, recording_session
from .errors import map_error

T = TypeVar("T")

OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ("read", "write:statuses", "write:media")


def authorize(instance: str, *, prompt: Callable[[str], str],
              echo: Callable[[str], None], timeout: float = 30.0,
              account: str | None = None) -> dict[str, str]:
    """Register Herald on the instance, let the user approve it, return the new credentials.

    Shows the authorization URL with `echo`, asks for the code Mastodon displays with
    `prompt`, and returns `access_token`, `client_id` and `client_secret`. An instance given
    as plain `http://` (a local test server) may announce plain-http OAuth endpoints.
    """
    from mastodon import Mastodon
    from mastodon.errors import MastodonError

    base = base_url(instance)
    host = urlsplit(base).netloc
    allow_http = base.startswith("http://")
    recorder: dict[str, Any] = {}
    found: list[str] = []
    session = recording_session(lambda response: recorder.update(response=response))

    def step(what: str, action: Callable[[], T]) -> T:
        recorder.clear()
        try:
            return action()
        except (MastodonError, KeyError, TypeError) as exc:
            raise map_error(exc, what=what, account=None, host=host,
                            response=recorder.get("response"), hide=found,
                            auth_hint=f"run `{auth_command('mastodon', account)}` again",
                            authorizing=True) from exc

    client_id, client_secret = step("registering Herald as an app", lambda: Mastodon.create_app(
        "Herald", scopes=list(SCOPES), redirect_uris=OOB, api_base_url=base,
        request_timeout=timeout, session=session, user_agent=USER_AGENT))
    found += [client_secret]
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base,
                   request_timeout=timeout, session=session, user_agent=USER_AGENT,
                   **SDK_OPTIONS)
    url = step("preparing the authorization address", lambda: api.auth_request_url(
        redirect_uris=OOB, scopes=list(SCOPES), force_login=True, allow_http=allow_http))
    echo(f"Open this address in a browser, sign in as the account Herald should post as, "
         f"and allow access:\n\n    {url}\n")
    code = prompt("Paste the authorization code Mastodon shows").strip()
    if not code:
        raise AuthFailed(f"no authorization code entered; nothing was saved for {host}")
    found.append(code)
    token = step("exchanging the authorization code", lambda: api.log_in(
        code=code, redirect_uri=OOB, scopes=list(SCOPES), allow_http=allow_http))
    return {"access_token": token, "client_id": client_id, "client_secret": client_secret}
