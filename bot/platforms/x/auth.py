"""`herald auth` for X: the PIN-based OAuth 1.0a flow that turns an app's keys into the four
credentials an account posts with.

Every step goes to the account's API base: X's own host, or the `api_url` the account sets
(a proxy, or a local test server), where the requests are signed for the URL they are sent to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from ...errors import AuthFailed, RateLimited, Unavailable, auth_command
from ..shared import mask
from .api import API_HOST, timed_session
from .errors import retry_time

REQUEST_TOKEN_PATH = "/oauth/request_token"
AUTHORIZE_PATH = "/oauth/authorize"
ACCESS_TOKEN_PATH = "/oauth/access_token"


def authorize(*, api_key: str, api_secret: str, prompt: Callable[[str], str],
              echo: Callable[[str], None], account: str | None = None, session: Any = None,
              timeout: float = 30.0, api_url: str | None = None) -> dict[str, str]:
    """Run X's PIN-based OAuth 1.0a flow for `herald auth`; return the four credentials.

    The user opens the printed address, signs in as the account Herald should post as, and types
    the PIN X shows. The requests are signed by requests-oauthlib (what tweepy's
    OAuth1UserHandler uses) over `session`, each for the URL it is sent to: `api_url` (the
    account option) or X's own host.
    """
    from requests_oauthlib import OAuth1

    base = (api_url or API_HOST).rstrip("/")
    http = timed_session(session, timeout)
    hide = [api_secret]
    token = _token_request(http, base + REQUEST_TOKEN_PATH, OAuth1(
        api_key, client_secret=api_secret, callback_uri="oob"), "asking for a request token",
        account, hide)
    hide.append(token["oauth_token_secret"])
    echo("Open this address, sign in as the X account Herald should post as, and authorise "
         f"the app:\n\n    {base}{AUTHORIZE_PATH}?oauth_token={token['oauth_token']}\n")
    pin = prompt("PIN shown by X").strip()
    if not pin:
        raise AuthFailed(f"no PIN given; run `{auth_command('x', account)}` again",
                         account=account)
    access = _token_request(http, base + ACCESS_TOKEN_PATH, OAuth1(
        api_key, client_secret=api_secret, resource_owner_key=token["oauth_token"],
        resource_owner_secret=token["oauth_token_secret"], verifier=pin),
        "exchanging the PIN", account, hide)
    if access.get("screen_name"):
        echo(f"Authorised as @{access['screen_name']}.")
    return {"api_key": api_key, "api_secret": api_secret,
            "access_token": access["oauth_token"], "access_secret": access["oauth_token_secret"]}


def _token_request(http: Any, url: str, auth: Any, doing: str, account: str | None,
                   hide: list[str]) -> dict[str, str]:
    import requests

    try:
        response = http.post(url, auth=auth)
    except requests.RequestException as exc:
        raise Unavailable(f"no answer from X while {doing} ({type(exc).__name__})",
                          account=account) from exc
    if response.status_code in (401, 403):
        raise AuthFailed(f"X refused the API key, its secret or the PIN while {doing} "
                         f"({response.status_code} {mask(response.reason or '', hide)})",
                         account=account)
    if response.status_code == 429:
        raise RateLimited(f"X rate limit reached while {doing}", account=account,
                          retry_after=retry_time(response.headers))
    if response.status_code >= 500:
        raise Unavailable(f"X failed while {doing} ({response.status_code})", account=account)
    token = dict(parse_qsl(response.text))
    if response.status_code != 200 or not {"oauth_token", "oauth_token_secret"} <= token.keys():
        raise AuthFailed(f"X gave no token while {doing} ({response.status_code} "
                         f"{mask(response.reason or '', hide)})", account=account)
    return token
