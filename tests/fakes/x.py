"""A local X API v2 on 127.0.0.1 that answers like X: media upload, alt text, posts, users/me,
and the OAuth 1.0a PIN flow.

What it holds X's clients to:
- every request to a v2 path matches the official OpenAPI description (tests/fakes/openapi.py);
  a mismatch is answered 400 as X would and kept in `violations`;
- every request carries an OAuth 1.0a HMAC-SHA1 signature that verifies for the fake's app and
  user and for the URL the request was sent to (its scheme and Host, or the X-Forwarded-Proto and
  X-Forwarded-Host a proxy or `Redirect` sets), with a fresh nonce;
- posts count at most 280 weighted characters (twitter-text), the same text twice is refused
  with X's 403 "duplicate content", media ids must exist and be processed;
- `DELETE /2/tweets/:id` answers `{"data": {"deleted": true}}` and forgets the post; an id it
  does not hold is answered 404 with X's resource-not-found problem;
- `GET /2/users/:id/tweets` lists the user's posts newest first, as the description says:
  `max_results` 5-100 (default 10), `start_time`, `pagination_token`, `meta` with `result_count`,
  `newest_id`, `oldest_id` and `next_token`; texts come back as X returns them (links as t.co,
  `&`, `<` and `>` escaped); `reads` counts the posts returned (X charges each);
- every answer carries the endpoint's rate-limit headers, and an empty window answers 429.

Its successful answers are checked against the description's response schemas too. Leaving the
`with` block raises SpecViolation if anything was kept in `violations`, so a test fails at
teardown even when the code under test swallowed the 400.

Switches: `exhaust(path)` empties a 15-minute window, `exhaust_daily()` the user's 24-hour post
allowance; `fail_next(path, status, after_commit=...)` answers one request with an error, before
or after doing its work (a lost answer); `revoked = True` refuses the user's token;
`gif_polls` is how often an animated GIF is still "in_progress"; `approve(token)` plays the user
approving the app in the PIN flow, and `pin = "..."` one who approves every request token at once
with that PIN (for a flow driven through the CLI, where the PIN must be typed in advance).
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import itertools
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from jsonschema import Draft202012Validator
from oauthlib.common import safe_string_equals
from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature, utils
from requests.adapters import HTTPAdapter

from . import openapi
from .openapi import SpecViolation, validate_request
from .server import FakeServer, Request, Response

HOSTS = ("https://api.twitter.com", "https://api.x.com")
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG = ("Your Tweet text is too long. For more information on how Twitter determines text "
            "length see https://github.com/twitter/twitter-text.")
MAX_WEIGHT = 280
MEDIA_BYTES = {"tweet_image": 5_000_000, "tweet_gif": 15_000_000}   # X documents 5 MB, 15 MB
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
POST_ID = re.compile(r"[0-9]{1,19}")        # the description's PostId pattern
DELETE_PATH = "/2/tweets/:id"               # the rate-limit key of every DELETE /2/tweets/<id>
TIMELINE_PATH = "/2/users/:id/tweets"       # ... and of every GET /2/users/<id>/tweets
TIMELINE_PARAMS = ("max_results", "pagination_token", "start_time", "end_time", "since_id",
                   "until_id", "exclude", "post.fields", "expansions", "user.fields",
                   "media.fields", "poll.fields", "place.fields")


class Redirect(HTTPAdapter):
    """A transport adapter that sends requests for X's hosts to `target`; other hosts fail.

    Mount it on a `requests.Session` (see `FakeX.session`) and hand that session to the code
    under test: the SDK keeps building https://api.twitter.com/... URLs, nothing else changes.
    Like a TLS-terminating proxy it keeps the Host and says `X-Forwarded-Proto: https`, so the
    fake sees the URL the client addressed.
    """

    def __init__(self, target: str, strays: list[str] | None = None):
        super().__init__()
        self.target = urlsplit(target)
        self.strays = strays if strays is not None else []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        origin = f"{url.scheme}://{url.netloc}"
        if origin not in HOSTS:
            self.strays.append(f"request to {origin}, which is not X")
            raise requests.ConnectionError(f"the fake X does not serve {origin}")
        request.url = urlunsplit((self.target.scheme, self.target.netloc, url.path, url.query, ""))
        request.headers["Host"] = url.netloc
        request.headers["X-Forwarded-Proto"] = url.scheme
        kwargs["proxies"] = {}
        return super().send(request, **kwargs)


@dataclass
class Window:
    """One rate-limit window: `limit` requests per `seconds`, `remaining` until `reset`."""

    limit: int
    seconds: int
    remaining: int = 0
    reset: int = 0

    def refresh(self, now: int) -> None:
        if now >= self.reset:
            self.remaining, self.reset = self.limit, now + self.seconds

    def headers(self, prefix: str) -> dict[str, str]:
        return {f"{prefix}-limit": str(self.limit), f"{prefix}-remaining": str(self.remaining),
                f"{prefix}-reset": str(self.reset)}


@dataclass
class StoredMedia:
    id: str
    key: str
    category: str
    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    alt_text: str | None = None
    polls_left: int = 0


@dataclass
class StoredPost:
    id: str
    text: str
    media_ids: list[str]
    reply_to: str | None
    alt_texts: list[str | None]
    created: float = field(default_factory=time.time)


@dataclass
class Forced:
    """An answer the next matching request gets instead of (or, after_commit, after) its own."""

    path: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after_commit: bool = False


class FakeX:
    """X's API for one app and one user. Use as a context manager; `session()` reaches it."""

    def __init__(self, *, api_key: str = "fake-consumer-key-4f9a",
                 api_secret: str = "fake-consumer-secret-b7e2d1",
                 access_token: str = "1880000000000000001-fakeaccesstoken93c",
                 access_secret: str = "fake-access-secret-5d6e7f",
                 username: str = "herald_events", daily_posts: int = 17, gif_polls: int = 1):
        self.api_key, self.api_secret = api_key, api_secret
        self.access_token, self.access_secret = access_token, access_secret
        self.user_id = access_token.split("-")[0]
        self.username = username
        self.gif_polls = gif_polls
        self.server = FakeServer()
        self.media: dict[str, StoredMedia] = {}
        self.posts: list[StoredPost] = []
        self.violations: list[str] = []
        self.revoked = False
        self.pin: str | None = None
        self.reads = 0
        self._request_tokens: dict[str, dict[str, str | None]] = {}
        self._nonces: set[tuple[str, str, str]] = set()
        self._forced: list[Forced] = []
        self._ids = itertools.count(1880000000000000100)
        self._lock = threading.Lock()
        self._windows = {
            ("POST", "/2/tweets"): Window(100, 15 * 60),
            ("POST", "/2/media/upload"): Window(500, 15 * 60),
            ("GET", "/2/media/upload"): Window(1000, 15 * 60),
            ("POST", "/2/media/metadata"): Window(500, 15 * 60),
            ("GET", "/2/users/me"): Window(75, 15 * 60),
            ("DELETE", DELETE_PATH): Window(50, 15 * 60),
            ("GET", TIMELINE_PATH): Window(900, 15 * 60),
        }
        self.daily_user = Window(daily_posts, 24 * 3600)
        self.daily_app = Window(10 * daily_posts, 24 * 3600)
        for method, path, handler, kind in (
                ("POST", "/2/media/upload", self._upload, "user"),
                ("GET", "/2/media/upload", self._status, "user"),
                ("POST", "/2/media/metadata", self._metadata, "user"),
                ("POST", "/2/tweets", self._tweet, "user"),
                ("DELETE", r"/2/tweets/[^/]+", self._delete, "user"),
                ("GET", "/2/users/me", self._me, "user"),
                ("GET", r"/2/users/[^/]+/tweets", self._timeline, "user"),
                ("POST", "/oauth/request_token", self._request_token, "consumer"),
                ("POST", "/oauth/access_token", self._access_token, "request_token")):
            self.server.route(method, path, self._guarded(handler, kind))

    # -- using the fake ---------------------------------------------------------------------

    def __enter__(self) -> "FakeX":
        self.server.start()
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        self.server.stop()
        if kind is None and self.violations:
            raise SpecViolation("the fake X saw requests X would refuse:\n  "
                                + "\n  ".join(self.violations))

    @property
    def url(self) -> str:
        return self.server.url

    def credentials(self, **changes: str) -> dict[str, str]:
        """The four credentials this fake accepts, with any of them replaced by `changes`."""
        values = {"api_key": self.api_key, "api_secret": self.api_secret,
                  "access_token": self.access_token, "access_secret": self.access_secret}
        return {**values, **changes}

    def session(self) -> requests.Session:
        """A requests session whose https:// requests to X's hosts reach this fake."""
        session = requests.Session()
        session.trust_env = False
        session.mount("https://", Redirect(self.url, self.violations))
        return session

    def received(self, method: str | None = None, path: str | None = None) -> list[Request]:
        return self.server.received(method, path)

    def exhaust(self, path: str = "/2/tweets", *, reset: int | None = None,
                method: str = "POST") -> int:
        """Empty the endpoint's 15-minute window until `reset` (epoch seconds); return it."""
        with self._lock:
            window = self._windows[(method, path)]
            window.refresh(int(time.time()))
            window.remaining = 0
            window.reset = reset if reset is not None else window.reset
            return window.reset

    def exhaust_daily(self, *, reset: int | None = None) -> int:
        """Use up the user's 24-hour post allowance until `reset` (epoch seconds); return it."""
        with self._lock:
            self.daily_user.refresh(int(time.time()))
            self.daily_user.remaining = 0
            self.daily_user.reset = reset if reset is not None else self.daily_user.reset
            return self.daily_user.reset

    def fail_next(self, path: str, status: int, *, body: Any = None, after_commit: bool = False,
                  headers: dict[str, str] | None = None) -> None:
        """Answer the next request to `path` with `status`; after doing its work if after_commit."""
        with self._lock:
            self._forced.append(Forced(path, status, body, dict(headers or {}), after_commit))

    def approve(self, oauth_token: str) -> str:
        """Play the user who opens the authorize page and approves the app; return the PIN."""
        with self._lock:
            pending = self._request_tokens[oauth_token]
            pending["pin"] = f"{random.randrange(10**6, 10**7)}"
            return pending["pin"]

    # -- the guard every route goes through --------------------------------------------------

    def _guarded(self, handler: Callable[[Request], Response], kind: str):
        def guarded(request: Request, params: dict[str, str]) -> Response:
            with self._lock:
                return self._handle(request, handler, kind)

        return guarded

    def _handle(self, request: Request, handler: Callable[[Request], Response],
                kind: str) -> Response:
        now = int(time.time())
        limits = self._limit_headers(request, now)
        if request.path.startswith("/2/"):
            try:
                validate_request("x", request)
            except SpecViolation as exc:
                self.violations.append(str(exc))
                return _with(invalid_request(str(exc)), limits)
        refusal = self._authenticate(request, kind)
        if refusal is not None:
            return _with(refusal, limits)
        if self._empty_window(request, now):
            return _with(problem(429), self._limit_headers(request, now))
        forced = self._take_forced(request.path)
        if forced is not None and not forced.after_commit:
            return _with(self._forced_answer(forced), limits)
        response = handler(request)
        if response.status < 400:
            self._count(request)
            self._check_answer(request, response)
        limits = self._limit_headers(request, now)
        if forced is not None:
            return _with(self._forced_answer(forced), limits)
        return _with(response, limits)

    def _take_forced(self, path: str) -> Forced | None:
        for forced in self._forced:
            if forced.path == path:
                self._forced.remove(forced)
                return forced
        return None

    @staticmethod
    def _forced_answer(forced: Forced) -> Response:
        body = forced.body if forced.body is not None else problem(forced.status).body
        return Response(forced.status, body, dict(forced.headers))

    # -- OAuth 1.0a ---------------------------------------------------------------------------

    def _authenticate(self, request: Request, kind: str) -> Response | None:
        """Verify the OAuth 1.0a signature; return the refusal X would send, or None."""
        refuse = problem(401) if kind == "user" else Response(
            401, {"errors": [{"code": 32, "message": "Could not authenticate you."}]})
        header = request.header("authorization") or ""
        try:
            oauth = {k: utils.unescape(v) if k.startswith("oauth_") else v
                     for k, v in utils.parse_authorization_header(header)}
        except ValueError:
            return refuse
        if (oauth.get("oauth_consumer_key") != self.api_key
                or oauth.get("oauth_signature_method") != "HMAC-SHA1"
                or oauth.get("oauth_version", "1.0") != "1.0"
                or not oauth.get("oauth_nonce") or not oauth.get("oauth_timestamp")):
            return refuse
        if kind == "user":
            if self.revoked or oauth.get("oauth_token") != self.access_token:
                return refuse
            token_secret = self.access_secret
        elif kind == "request_token":
            pending = self._request_tokens.get(oauth.get("oauth_token", ""))
            if pending is None:
                return refuse
            token_secret = pending["secret"] or ""
        else:
            token_secret = ""
        if not self._signed(request, oauth, token_secret):
            return refuse
        nonce = (oauth["oauth_consumer_key"], oauth["oauth_nonce"], oauth["oauth_timestamp"])
        if nonce in self._nonces:
            return refuse
        self._nonces.add(nonce)
        return None

    def _signed(self, request: Request, oauth: dict[str, str], token_secret: str) -> bool:
        params = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
        params += [(k, v) for k, values in request.query.items() for v in values]
        if request.content_type == "application/x-www-form-urlencoded":
            params += [(k, v) for k, values in request.form.items() for v in values]
        normalized = signature.normalize_parameters(params)
        scheme = request.header("x-forwarded-proto") or "http"
        host = request.header("x-forwarded-host") or request.header("host") or ""
        base = signature.signature_base_string(
            request.method, signature.base_string_uri(f"{scheme}://{host}{request.path}"),
            normalized)
        expected = signature.sign_hmac_sha1_with_client(base, Client(
            self.api_key, client_secret=self.api_secret, resource_owner_secret=token_secret))
        return safe_string_equals(expected, oauth.get("oauth_signature", ""))

    # -- rate limits --------------------------------------------------------------------------

    def _limit_headers(self, request: Request, now: int) -> dict[str, str]:
        window = self._windows.get(_endpoint(request))
        if window is None:
            return {}
        window.refresh(now)
        headers = window.headers("x-rate-limit")
        if (request.method, request.path) == ("POST", "/2/tweets"):
            self.daily_user.refresh(now)
            self.daily_app.refresh(now)
            headers |= self.daily_user.headers("x-user-limit-24hour")
            headers |= self.daily_app.headers("x-app-limit-24hour")
        return headers

    def _empty_window(self, request: Request, now: int) -> bool:
        window = self._windows.get(_endpoint(request))
        if window is None:
            return False
        if (request.method, request.path) == ("POST", "/2/tweets"):
            if self.daily_user.remaining <= 0 or self.daily_app.remaining <= 0:
                return True
        return window.remaining <= 0

    def _count(self, request: Request) -> None:
        window = self._windows.get(_endpoint(request))
        if window is not None:
            window.remaining -= 1
        if (request.method, request.path) == ("POST", "/2/tweets"):
            self.daily_user.remaining -= 1
            self.daily_app.remaining -= 1

    # -- the endpoints ------------------------------------------------------------------------

    def _upload(self, request: Request) -> Response:
        category = request.value("media_category")
        if "media" in request.files:
            data = request.files["media"].data
        else:
            try:
                data = base64.b64decode(request.value("media") or "", validate=True)
            except (binascii.Error, ValueError):
                return invalid_request("media: not valid base64")
        if category not in MEDIA_BYTES:
            return invalid_request(f"media_category {category!r} cannot be attached to a post")
        if len(data) > MEDIA_BYTES[category]:
            return invalid_request(f"File size exceeds {MEDIA_BYTES[category]} bytes.")
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
        except (UnidentifiedImageError, OSError):
            return invalid_request("media type unrecognized.")
        if kind not in MIME:
            return invalid_request(f"media type {kind} is not supported.")
        media_id = str(next(self._ids))
        gif = category == "tweet_gif"
        stored = StoredMedia(media_id, ("16_" if gif else "3_") + media_id, category, data,
                             MIME[kind], width, height, polls_left=self.gif_polls if gif else 0)
        self.media[media_id] = stored
        answer: dict[str, Any] = {
            "id": media_id, "media_key": stored.key, "size": len(data),
            "expires_after_secs": 86400,
            "image": {"image_type": stored.mime, "w": width, "h": height}}
        if gif:
            answer["processing_info"] = {"state": "pending", "check_after_secs": 0}
        return Response(200, {"data": answer})

    def _status(self, request: Request) -> Response:
        stored = self.media.get(request.value("media_id") or "")
        if stored is None or request.value("command") not in (None, "STATUS"):
            return invalid_request("media_id: no such media")
        if stored.polls_left > 0:
            stored.polls_left -= 1
            info = {"state": "in_progress", "check_after_secs": 0, "progress_percent": 50}
        else:
            info = {"state": "succeeded", "progress_percent": 100}
        return Response(200, {"data": {"id": stored.id, "media_key": stored.key,
                                       "size": len(stored.data), "expires_after_secs": 86400,
                                       "processing_info": info}})

    def _metadata(self, request: Request) -> Response:
        body = request.json or {}
        stored = self.media.get(body.get("id", ""))
        if stored is None:
            return invalid_request("id: no such media")
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if alt is not None:
            stored.alt_text = alt
        return Response(200, {"data": {"id": stored.id,
                                       "associated_metadata": body.get("metadata") or {}}})

    def _tweet(self, request: Request) -> Response:
        from twitter_text import parse_tweet

        body = request.json or {}
        text = body.get("text", "")
        media_ids = (body.get("media") or {}).get("media_ids", [])
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        for media_id in media_ids:
            stored = self.media.get(media_id)
            if stored is None or stored.polls_left > 0:
                return invalid_request("Your media IDs are invalid.")
        if not text and not media_ids:
            return invalid_request("Post text is required when there is no media.")
        if parse_tweet(text).weightedLength > MAX_WEIGHT:
            return invalid_request(TOO_LONG)
        if any(post.text == text for post in self.posts):
            return problem(403, DUPLICATE)
        post_id = str(next(self._ids))
        self.posts.append(StoredPost(post_id, text, list(media_ids), reply_to,
                                     [self.media[m].alt_text for m in media_ids]))
        return Response(201, {"data": {"id": post_id, "text": _shortened(text),
                                       "edit_history_tweet_ids": [post_id]}})

    def _delete(self, request: Request) -> Response:
        post_id = request.path.rsplit("/", 1)[1]
        if not POST_ID.fullmatch(post_id):
            return invalid_request(f"The `id` query parameter value [{post_id}] does not match "
                                   f"^[0-9]{{1,19}}$")
        stored = next((p for p in self.posts if p.id == post_id), None)
        if stored is None:
            return not_found("tweet", "id", post_id)
        self.posts.remove(stored)
        return Response(200, {"data": {"deleted": True}})

    def _me(self, request: Request) -> Response:
        return Response(200, {"data": {"id": self.user_id, "name": "Herald events",
                                       "username": self.username}})

    def _timeline(self, request: Request) -> Response:
        """The user's posts newest first, one page, as `GET /2/users/{id}/tweets` answers."""
        user_id = request.path.split("/")[3]
        unknown = sorted(set(request.query) - set(TIMELINE_PARAMS))
        if unknown:
            return invalid_request(f"The query parameter [{unknown[0]}] is not one of "
                                   f"[id,{','.join(TIMELINE_PARAMS)}]")
        if not re.fullmatch(r"[0-9]{1,19}", user_id):
            return invalid_request(f"The `id` query parameter value [{user_id}] does not match "
                                   f"^[0-9]{{1,19}}$")
        if user_id != self.user_id:
            return not_found("user", "id", user_id)
        try:
            size = int(request.value("max_results") or 10)
            since = request.value("start_time")
            since_epoch = (datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
                           if since else None)
            offset = int(request.value("pagination_token") or "0", 16)
        except ValueError as exc:
            return invalid_request(f"Invalid parameter: {exc}")
        if not 5 <= size <= 100:
            return invalid_request(f"The `max_results` query parameter value [{size}] is not "
                                   f"between 5 and 100")
        posts = [p for p in reversed(self.posts)
                 if since_epoch is None or p.created >= since_epoch]
        page = posts[offset:offset + size]
        self.reads += len(page)
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": page[0].id, "oldest_id": page[-1].id}
        if offset + size < len(posts):
            meta["next_token"] = f"{offset + size:x}"
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [{"id": p.id, "text": html.escape(_shortened(p.text), quote=False),
                             "edit_history_tweet_ids": [p.id]} for p in page]
        return Response(200, body)

    def _request_token(self, request: Request) -> Response:
        oauth = dict(utils.parse_authorization_header(request.header("authorization") or ""))
        if utils.unescape(oauth.get("oauth_callback", "")) != "oob":
            return Response(401, {"errors": [{"code": 415, "message":
                                              "Callback URL not approved for this client "
                                              "application."}]})
        token, secret = _random_token(), _random_token()
        self._request_tokens[token] = {"secret": secret, "pin": self.pin}
        return _form({"oauth_token": token, "oauth_token_secret": secret,
                      "oauth_callback_confirmed": "true"})

    def _access_token(self, request: Request) -> Response:
        oauth = {k: utils.unescape(v) for k, v in
                 utils.parse_authorization_header(request.header("authorization") or "")}
        pending = self._request_tokens.pop(oauth.get("oauth_token", ""), None)
        if pending is None or not pending["pin"] or oauth.get("oauth_verifier") != pending["pin"]:
            return Response(401, b"Error processing your OAuth request: Invalid oauth_verifier "
                                 b"parameter", {"Content-Type": "text/plain; charset=utf-8"})
        return _form({"oauth_token": self.access_token, "oauth_token_secret": self.access_secret,
                      "user_id": self.user_id, "screen_name": self.username})

    # -- the fake's own faithfulness ----------------------------------------------------------

    def _check_answer(self, request: Request, response: Response) -> None:
        """Keep a violation when a successful JSON answer does not match the response schema."""
        if not request.path.startswith("/2/") or isinstance(response.body, bytes):
            return
        spec, registry = openapi._spec("x")
        template, operation = openapi._operation(spec, request.method, request.path)
        content = operation["responses"].get(str(response.status), {}).get("content", {})
        if "application/json" not in content:
            self.violations.append(f"fake answered {response.status} to {request.method} "
                                   f"{request.path}, which the description does not list")
            return
        pointer = "/".join(openapi._escape(part) for part in (
            "", "paths", template, request.method.lower(), "responses", str(response.status),
            "content", "application/json", "schema"))
        validator = Draft202012Validator({"$ref": "urn:spec#" + pointer}, registry=registry)
        for error in validator.iter_errors(response.body):
            self.violations.append(f"fake's answer to {request.method} {request.path}: "
                                   f"{error.message}")


def problem(status: int, detail: str | None = None) -> Response:
    """X's answer for a plain HTTP error: the about:blank problem shape X sends."""
    title = HTTPStatus(status).phrase
    return Response(status, {"title": title, "detail": detail or title, "type": "about:blank",
                             "status": status})


def invalid_request(message: str) -> Response:
    """X's 400 answer for a parameter it does not accept."""
    return Response(400, {"errors": [{"message": message}], "title": "Invalid Request",
                          "detail": "One or more parameters to your request was invalid.",
                          "type": "https://api.twitter.com/2/problems/invalid-request"})


def not_found(resource_type: str, parameter: str, value: str) -> Response:
    """X's 404 answer for a resource it does not have (or no longer has)."""
    return Response(404, {"title": "Not Found Error", "type":
                          "https://api.twitter.com/2/problems/resource-not-found",
                          "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
                          "resource_type": resource_type, "parameter": parameter,
                          "value": value, "resource_id": value, "status": 404})


def _endpoint(request: Request) -> tuple[str, str]:
    """The (method, path) a rate-limit window is kept under: one window for every post id."""
    if request.method == "DELETE" and request.path.startswith("/2/tweets/"):
        return "DELETE", DELETE_PATH
    if request.method == "GET" and re.fullmatch(r"/2/users/[^/]+/tweets", request.path):
        return "GET", TIMELINE_PATH
    return request.method, request.path


def _with(response: Response, headers: dict[str, str]) -> Response:
    response.headers = {**headers, **response.headers}
    return response


def _form(values: dict[str, str]) -> Response:
    return Response(200, urlencode(values).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"})


def _random_token() -> str:
    return "".join(random.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                                  k=27))


def _shortened(text: str) -> str:
    """The text as X answers it: every URL replaced by a t.co link."""
    from twitter_text import extract_urls_with_indices

    for found in reversed(extract_urls_with_indices(text)):
        start, end = found["indices"]
        text = text[:start] + "https://t.co/" + _random_token()[:10] + text[end:]
    return text

