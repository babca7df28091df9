"""Post to X (Twitter) through tweepy with OAuth 1.0a user context.

A post is sent as: each image uploaded as base64 JSON to `POST /2/media/upload`, its alt text set
with `POST /2/media/metadata`, then `POST /2/tweets` with the media ids and the reply target.

tweepy and requests are imported inside the functions that use them, so importing this module
for `LIMITS` (as `herald preview` does) stays cheap.

X has no idempotency key (`Limits.idempotent` is False). What it offers instead:
- its duplicate check: the same text again is refused with 403 "duplicate content", raised as
  `DuplicateContent`;
- the account's own recent posts (`GET /2/users/{id}/tweets`), which `find` reads to recover a
  post whose answer was lost, matching its text. Each post read is charged (`cost_per_read`).

The adapter remembers the reset time of a rate limit X reported and refuses, without a request,
to call X before it. An uploaded image is reused on a retry while X keeps it, so a retried post
does not upload its images again.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote

from ..errors import (AuthFailed, ConfigError, Duplicate, PublishError, RateLimited, Rejected,
                      Unavailable)
from ..model import Account, Limits, Media, OutgoingPost, Published

log = logging.getLogger(__name__)

LIMITS = Limits(
    "x", 280, "twitter", url_weight=23,
    image_bytes=5_000_000,                     # X documents 5 MB for images
    image_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
    images_per_post=4, alt_chars=1000, replies=True, edits=False,
    # X's pay-per-use prices in USD (docs.x.com, "X API pay-per-usage pricing"): "Content:
    # Create", "Content: Create (with URL)", "Media Metadata", "Interaction: Delete" and
    # "Posts: Read" per post returned. Estimates: X changes them, and its Developer Console shows
    # what is charged (reads of the app owner's own posts may be charged less).
    cost_per_post=0.015, cost_per_link_post=0.200, cost_per_alt_text=0.005,
    cost_per_delete=0.010, cost_per_read=0.005,
    idempotent=False,
    animation_size=(1280, 1080), animation_frames=350,  # animated GIFs, uploaded as tweet_gif
)

CREDENTIALS = ("api_key", "api_secret", "access_token", "access_secret")
API_HOST = "https://api.twitter.com"          # the host tweepy sends to
REQUEST_TOKEN_URL = API_HOST + "/oauth/request_token"
AUTHORIZE_URL = API_HOST + "/oauth/authorize"
ACCESS_TOKEN_URL = API_HOST + "/oauth/access_token"
PROCESSING_WAIT = 60.0                        # seconds to wait for X to process one upload
LOOKUP_PAGE = 10                              # posts read per page when looking a post up
LOOKUP_PAGES = 3
CLOCK_SKEW = timedelta(minutes=2)             # how far before the reservation a lookup reads
MASK = "****"

# 403 problem types that mean the app or its keys may not do this at all (retrying won't help).
_AUTH_PROBLEMS = ("/client-forbidden", "/unsupported-authentication", "/oauth1-permissions")
_RATE_WINDOWS = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")

T = TypeVar("T")


class DuplicateContent(Duplicate):
    """X refused the post because this account already posted the same text.

    On a first attempt this is an ordinary refusal. After an attempt whose outcome was unknown it
    means that attempt reached X; `published` is that post when a lookup found it.
    """


def missing_credentials(credentials: Mapping[str, str]) -> list[str]:
    """Name the credentials an account still needs (no network)."""
    return [name for name in CREDENTIALS if not credentials.get(name)]


@dataclass
class _Upload:
    """An image X holds for us: its id, until when X keeps it, and whether its alt text is set."""

    media_id: str
    expires: float
    described: bool = False


class XPublisher:
    """One X account, posting as the user whose access token it holds.

    `credentials` needs `api_key`, `api_secret`, `access_token` and `access_secret`; a missing one
    raises AuthFailed on first use, not here. `session` is the `requests.Session` tweepy sends
    through (a new one by default); every request on it times out after `timeout` seconds.
    The account option `api_url` sends the API calls to another base URL (a proxy, or a local
    test server) instead of X's own host; requests are signed for the URL they are sent to.
    `clock` gives the current time (aware); it decides whether a rate limit has reset.
    """

    def __init__(self, account: Account, credentials: Mapping[str, str], *,
                 session: Any = None, timeout: float = 30.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.account = account.name
        self._credentials = {name: credentials.get(name) or "" for name in CREDENTIALS}
        self._session = session
        self._api_url: str | None = None
        api_url = account.options.get("api_url")
        if api_url is not None:
            if not isinstance(api_url, str) or not re.match(r"https?://[^/\s]+/?$", api_url):
                raise ConfigError(f"accounts.{account.name}.api_url: expected a base URL such "
                                  f"as https://api.x.com, got {api_url!r}")
            self._api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._clock = clock
        self._client: Any = None
        self._user_id: str | None = None
        self._blocked_until: datetime | None = None
        self._uploads: dict[tuple[str, str], _Upload] = {}
        self.posts_read = 0
        """Posts X returned to lookups so far (each one is charged: `Limits.cost_per_read`)."""
        cap = account.options.get("daily_cap")
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0):
            raise ConfigError(f"accounts.{account.name}.daily_cap: expected a positive whole "
                              f"number of posts, got {cap!r}")
        self._daily_cap: int | None = cap

    def __repr__(self) -> str:
        return f"XPublisher(account={self.account!r})"

    @property
    def daily_cap(self) -> int | None:
        """The most posts a day this account may make (`daily_cap` option), or None for no cap."""
        return self._daily_cap

    def limits(self) -> Limits:
        return replace(LIMITS, request_timeout=self._timeout)

    def publish(self, post: OutgoingPost) -> Published:
        """Upload the images with their alt text, then post; raise a PublishError if X refuses.

        A refusal as duplicate content carries the earlier post in `published` when a lookup
        of the account's recent posts finds it.
        """
        if len(post.media) > LIMITS.images_per_post:
            raise Rejected(f"X takes at most {LIMITS.images_per_post} images per post, "
                           f"got {len(post.media)}", account=self.account)
        client = self._tweepy()
        media_ids = [self._upload(client, media) for media in post.media]
        try:
            answer = self._call("posting", lambda: client.create_tweet(
                text=post.text, media_ids=media_ids or None,
                in_reply_to_tweet_id=post.reply_to, user_auth=True))
        except DuplicateContent as refused:
            earlier = self._find_quietly(post)
            if earlier is None:
                raise
            raise DuplicateContent(str(refused).removeprefix(f"{self.account}: "),
                                   account=self.account,
                                   platform_message=refused.platform_message,
                                   published=earlier) from refused
        except Rejected:
            self._forget(post.media)           # X may not take these ids again
            raise
        post_id = _field(answer.data, "id")
        if post_id is None:
            raise Unavailable("X accepted the post but did not say its id", account=self.account)
        self._forget(post.media)
        log.info("%s: posted %s on X", self.account, post_id)
        return _published(str(post_id))

    def find(self, post: OutgoingPost) -> Published | None:
        """Return the account's recent post with this post's text, or None.

        X cannot look a post up by key, but it refuses the same text twice from one account,
        so the text identifies a recent post. Reads `GET /2/users/{id}/tweets`, newest first,
        from shortly before `post.reserved_at` (or the last posts when it is unknown), at most
        three pages of ten; the text is compared as X returns it (links as t.co, `&` escaped).
        """
        client = self._tweepy()
        user_id = self._user(client)
        params: dict[str, Any] = {"max_results": LOOKUP_PAGE}
        if post.reserved_at is not None:
            since = post.reserved_at.astimezone(timezone.utc) - CLOCK_SKEW
            params["start_time"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        wanted = comparable_text(post.text)
        for _ in range(LOOKUP_PAGES):
            page = self._call("looking for an earlier post", lambda: client.request(
                "GET", f"/2/users/{user_id}/tweets", params=dict(params), user_auth=True).json())
            self.posts_read += len(_field(page, "data") or ())
            for item in _field(page, "data") or ():
                if comparable_text(html.unescape(str(_field(item, "text") or ""))) == wanted:
                    log.info("%s: found post %s on X", self.account, item["id"])
                    return _published(str(item["id"]))
            token = _field(_field(page, "meta"), "next_token")
            if not token:
                break
            params["pagination_token"] = token
        return None

    def check(self) -> str:
        """Verify the credentials with `GET /2/users/me`; return "@username"."""
        client = self._tweepy()
        answer = self._call("checking the credentials", lambda: client.get_me(user_auth=True))
        username = getattr(answer.data, "username", None)
        if not username:
            raise Unavailable("X did not say which user these credentials belong to",
                              account=self.account)
        self._user_id = str(getattr(answer.data, "id", "") or "") or self._user_id
        return f"@{username}"

    def delete(self, platform_id: str) -> None:
        """Delete an earlier post (`DELETE /2/tweets/:id`); one already gone (404) is deleted."""
        client = self._tweepy()
        import tweepy

        def delete() -> Any:
            try:
                return client.delete_tweet(platform_id, user_auth=True)
            except tweepy.NotFound:
                return None

        answer = self._call(f"deleting post {platform_id}", delete)
        if answer is None:
            log.info("%s: post %s was already gone from X", self.account, platform_id)
            return
        if _field(answer.data, "deleted") is not True:
            raise Unavailable(f"X answered but did not say post {platform_id} was deleted",
                              account=self.account)
        log.info("%s: deleted %s on X", self.account, platform_id)

    # -- the steps -------------------------------------------------------------------------

    def _tweepy(self) -> Any:
        if self._client is None:
            missing = [name for name in CREDENTIALS if not self._credentials[name]]
            if missing:
                variables = ", ".join(_env_name(self.account, name) for name in missing)
                raise AuthFailed(f"missing X credentials {', '.join(missing)}; set {variables} "
                                 f"or run `herald auth {self.account}`", account=self.account)
            import tweepy

            client = tweepy.Client(
                consumer_key=self._credentials["api_key"],
                consumer_secret=self._credentials["api_secret"],
                access_token=self._credentials["access_token"],
                access_token_secret=self._credentials["access_secret"],
                wait_on_rate_limit=False)
            session = _timed_session(self._session, self._timeout)
            client.session = rebased_session(session, self._api_url) if self._api_url else session
            self._client = client
        return self._client

    def _user(self, client: Any) -> str:
        """The account's user id: the digits before the dash of its access token, as X issues
        them, else asked once from `GET /2/users/me`."""
        if self._user_id is None:
            prefix = self._credentials["access_token"].split("-", 1)[0]
            if prefix.isdigit():
                self._user_id = prefix
            else:
                answer = self._call("asking who this account is",
                                    lambda: client.get_me(user_auth=True))
                self._user_id = str(getattr(answer.data, "id", "") or "")
                if not self._user_id:
                    raise Unavailable("X did not say which user these credentials belong to",
                                      account=self.account)
        return self._user_id

    def _upload(self, client: Any, media: Media) -> str:
        key = (hashlib.sha256(media.data).hexdigest(), media.alt)
        upload = self._uploads.get(key)
        if upload is None or upload.expires <= time.time():
            upload = self._send_image(client, media)
            self._uploads[key] = upload
        else:
            log.debug("%s: reusing media %s uploaded earlier", self.account, upload.media_id)
        alt = media.alt.strip()[:LIMITS.alt_chars]
        if alt and not upload.described:
            metadata = {"id": upload.media_id, "metadata": {"alt_text": {"text": alt}}}
            self._call("setting alt text", lambda: client.request(
                "POST", "/2/media/metadata", json=metadata, user_auth=True))
            upload.described = True
        return upload.media_id

    def _send_image(self, client: Any, media: Media) -> _Upload:
        category = "tweet_gif" if media.mime == "image/gif" else "tweet_image"
        body = {"media": base64.b64encode(media.data).decode("ascii"), "media_category": category}
        data = self._call("uploading an image", lambda: client.request(
            "POST", "/2/media/upload", json=body, user_auth=True).json())
        data = _field(data, "data")
        media_id = _field(data, "id")
        if media_id is None:
            raise Unavailable("X took an image but did not say its id", account=self.account)
        media_id = str(media_id)
        self._await_processing(client, media_id, _field(data, "processing_info"))
        kept = _field(data, "expires_after_secs")
        kept = kept if isinstance(kept, int) and kept > 0 else 3600
        log.debug("%s: uploaded %s (%d bytes) as media %s",
                  self.account, media.filename, len(media.data), media_id)
        return _Upload(media_id, time.time() + kept * 0.9)

    def _forget(self, media: tuple[Media, ...]) -> None:
        for item in media:
            self._uploads.pop((hashlib.sha256(item.data).hexdigest(), item.alt), None)

    def _await_processing(self, client: Any, media_id: str, info: Any) -> None:
        """Poll the upload's status while X says it is still processing (animated GIFs)."""
        deadline = time.monotonic() + PROCESSING_WAIT
        while isinstance(info, dict) and info.get("state") in ("pending", "in_progress"):
            wait = info.get("check_after_secs")
            wait = max(0, wait) if isinstance(wait, int) else 1
            if time.monotonic() + wait > deadline:
                raise Unavailable(f"X was still processing image {media_id} after "
                                  f"{PROCESSING_WAIT:.0f} s", account=self.account)
            time.sleep(wait)
            data = self._call("waiting for an image to be processed", lambda: client.request(
                "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id},
                user_auth=True).json())
            info = _field(_field(data, "data"), "processing_info")
        if isinstance(info, dict) and info.get("state") == "failed":
            raise Rejected(f"X could not process image {media_id}", account=self.account,
                           platform_message="media processing failed")

    def _find_quietly(self, post: OutgoingPost) -> Published | None:
        try:
            return self.find(post)
        except PublishError as error:
            log.info("%s: could not look the earlier post up: %s", self.account, error)
            return None

    def _call(self, doing: str, action: Callable[[], T]) -> T:
        """Run one request and map whatever tweepy or requests raise to a PublishError.

        Before a rate limit's reset no request is sent: RateLimited is raised at once.
        """
        now = self._clock()
        if self._blocked_until is not None and now < self._blocked_until:
            raise RateLimited(f"X rate limit reached; no request before "
                              f"{self._blocked_until:%Y-%m-%d %H:%M:%S} UTC (not {doing})",
                              account=self.account, retry_after=self._blocked_until)
        try:
            return self._mapped_call(doing, action)
        except RateLimited as error:
            if error.retry_after is not None:
                self._blocked_until = error.retry_after
            raise

    def _mapped_call(self, doing: str, action: Callable[[], T]) -> T:
        import requests
        import tweepy

        try:
            return action()
        except tweepy.HTTPException as exc:
            raise _mapped(exc, doing, self.account, self._mask) from exc
        except requests.RequestException as exc:   # no answer, a timeout, or an unreadable one
            raise Unavailable(f"no usable answer from X while {doing} ({type(exc).__name__})",
                              account=self.account) from exc
        except tweepy.TweepyException as exc:
            raise Unavailable(f"X failed while {doing} ({type(exc).__name__})",
                              account=self.account) from exc
        except (KeyError, TypeError, ValueError) as exc:   # an answer without the fields we read
            raise Unavailable(f"unreadable answer from X while {doing} ({type(exc).__name__})",
                              account=self.account) from exc

    def _mask(self, text: str) -> str:
        """Replace every credential (as sent, or percent-encoded as in a header) with ****."""
        return mask(text, self._credentials.values())


def mask(text: str, secrets: Any) -> str:
    """Replace each of `secrets`, plain or percent-encoded, by **** in `text`."""
    forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def comparable_text(text: str) -> str:
    """Fold what X changes in a post's text: every link becomes a t.co link, spaces collapse."""
    from ..counting.twitter import urls

    parts, last = [], 0
    for start, end in urls(text):
        parts += [text[last:start], "\x00"]
        last = end
    parts.append(text[last:])
    return " ".join("".join(parts).split())


def authorize(*, api_key: str, api_secret: str, prompt: Callable[[str], str],
              echo: Callable[[str], None], account: str | None = None, session: Any = None,
              timeout: float = 30.0) -> dict[str, str]:
    """Run X's PIN-based OAuth 1.0a flow for `herald auth`; return the four credentials.

    The user opens the printed address, signs in as the account Herald should post as, and types
    the PIN X shows. The requests are signed by requests-oauthlib (what tweepy's
    OAuth1UserHandler uses) over `session`, so they go where the session's adapters send them.
    """
    from requests_oauthlib import OAuth1

    http = _timed_session(session, timeout)
    hide = [api_secret]
    token = _token_request(http, REQUEST_TOKEN_URL, OAuth1(
        api_key, client_secret=api_secret, callback_uri="oob"), "asking for a request token",
        account, hide)
    hide.append(token["oauth_token_secret"])
    echo("Open this address, sign in as the X account Herald should post as, and authorise "
         f"the app:\n\n    {AUTHORIZE_URL}?oauth_token={token['oauth_token']}\n")
    pin = prompt("PIN shown by X").strip()
    if not pin:
        raise AuthFailed("no PIN given; run `herald auth` again", account=account)
    access = _token_request(http, ACCESS_TOKEN_URL, OAuth1(
        api_key, client_secret=api_secret, resource_owner_key=token["oauth_token"],
        resource_owner_secret=token["oauth_token_secret"], verifier=pin),
        "exchanging the PIN", account, hide)
    if access.get("screen_name"):
        echo(f"Authorised as @{access['screen_name']}.")
    return {"api_key": api_key, "api_secret": api_secret,
            "access_token": access["oauth_token"], "access_secret": access["oauth_token_secret"]}


class _Rebased:
    """A requests session whose requests for X's API host go to `base` instead.

    The URL is changed before the request is prepared, so the OAuth 1.0a signature is made for
    the URL that is actually sent (a server or proxy that checks it would refuse any other).
    """

    def __init__(self, session: Any, base: str):
        self._session = session
        self._base = base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(API_HOST):
            url = self._base + url[len(API_HOST):]
        return self._session.request(method, url, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def rebased_session(session: Any, base: str) -> Any:
    """Return `session` (or a new one) sending requests for X's API host to `base` instead."""
    import requests

    return _Rebased(session if session is not None else requests.Session(), base)


def _timed_session(session: Any, timeout: float) -> Any:
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


# -- mapping X's answers ---------------------------------------------------------------------

def _mapped(exc: Any, doing: str, account: str | None,
            masked: Callable[[str], str] = lambda text: text) -> PublishError:
    """Turn one tweepy HTTPException into Herald's error, from status, headers and X's text.

    X's own words are passed through `masked` first: a server (or proxy) may echo credentials.
    """
    response = exc.response
    status = response.status_code
    said = masked("; ".join(str(m) for m in exc.api_messages) or f"{status} {response.reason}")
    body = _json(response)
    if status == 429:
        retry_after = _retry_after(response.headers)
        until = f" until {retry_after:%Y-%m-%d %H:%M} UTC" if retry_after else ""
        return RateLimited(f"X rate limit reached while {doing}; paused{until}",
                           account=account, retry_after=retry_after)
    if status == 401:
        return AuthFailed(f"X refused the credentials while {doing} ({status} {response.reason}); "
                          f"check them or run `herald auth {account or '<account>'}` again",
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


def _retry_after(headers: Mapping[str, str]) -> datetime | None:
    """Return when the exhausted window resets: the latest of those whose remaining is 0.

    A post can be blocked by the 15-minute window or by the 24-hour user or app window; when no
    window says it is empty, `x-rate-limit-reset` is the best guess.
    """
    resets = [_int(headers.get(f"{w}-reset")) for w in _RATE_WINDOWS
              if _int(headers.get(f"{w}-remaining")) == 0]
    resets = [r for r in resets if r is not None] or [_int(headers.get("x-rate-limit-reset"))]
    known = [r for r in resets if r is not None]
    return datetime.fromtimestamp(max(known), timezone.utc) if known else None


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
                          retry_after=_retry_after(response.headers))
    if response.status_code >= 500:
        raise Unavailable(f"X failed while {doing} ({response.status_code})", account=account)
    token = dict(parse_qsl(response.text))
    if response.status_code != 200 or not {"oauth_token", "oauth_token_secret"} <= token.keys():
        raise AuthFailed(f"X gave no token while {doing} ({response.status_code} "
                         f"{mask(response.reason or '', hide)})", account=account)
    return token


def _published(post_id: str) -> Published:
    return Published(id=post_id, url=f"https://x.com/i/web/status/{post_id}")


def _env_name(account: str, field: str) -> str:
    """The environment variable for `field`, as bot.secrets names it."""
    return "HERALD_" + re.sub(r"[^A-Z0-9]", "_", f"{account}_{field}".upper())


def _json(response: Any) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _field(data: Any, name: str) -> Any:
    return data.get(name) if isinstance(data, dict) else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
