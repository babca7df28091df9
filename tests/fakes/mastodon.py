"""A fake Mastodon 4.3 instance on 127.0.0.1 that answers like the real API and checks every write.

Every write request is validated against the official OpenAPI description; a violation is
answered with a 422 and kept in `violations`, and the `fake_mastodon` fixture fails the test
at teardown if there is any.

What it does, as Mastodon does:
- `GET /api/v2/instance` with the configured limits; `GET /.well-known/oauth-authorization-server`.
- Bearer tokens with scopes: an unknown token gets 401 `The access token is invalid`, a token
  without the needed scope 403 `This action is outside the authorized scopes`.
- `POST /api/v2/media` sniffs the file, checks type, size and description length, and answers
  200 with a `url` when processed at once, or 202 with `url: null` when `processing_polls > 0`;
  `GET /api/v1/media/:id` then answers 206 (still processing) that many times, then 200.
  Media that is still processing cannot be attached to a status (422), nor media that is
  unknown or already used by another status (422, "not found or already attached").
- `POST /api/v1/statuses` counts characters like Mastodon (graphemes, every URL as 23) and
  honours `Idempotency-Key` for an hour: the same key returns the first status.
- `PUT /api/v1/statuses/:id` edits the whole status, as Mastodon's UpdateStatusService does:
  the attachments become those in `media_ids` (none when it is missing), `sensitive` and
  `spoiler_text` are reset unless sent, the language is kept unless sent;
  `DELETE /api/v1/statuses/:id` deletes and answers the status with its source `text` (404 once
  it is gone); `GET /api/v1/accounts/:id/statuses` lists newest first.
- `software="gotosocial"` answers as GoToSocial does instead: its version and source URL in the
  instance answer, statuses counted in code points with URLs in full (400 over the limit),
  `Idempotency-Key` ignored, and an edit without `language` resets it to the account's default.
- `POST /api/v1/apps`, `POST /oauth/token`; `approve(url)` plays the user who opens the
  authorization URL and copies the code.
- `X-RateLimit-Limit/Remaining/Reset` on every answer.

Switches: `rate_limit(seconds)` answers 429 until then, `outage = 500` answers that status,
`rejection = "..."` answers 422 with that error to every new status, `status_outages = n`
answers the next n new statuses 503 before making them, `delay` slows every answer.
"""

from __future__ import annotations

import html
import itertools
import mimetypes
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from io import BytesIO
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import grapheme
import pytest

from .openapi import SpecViolation, validate_request
from .server import FakeServer, Request, Response

HOUR = 3600.0
RATE_LIMIT = 300
RATE_WINDOW = 300  # Mastodon throttles authenticated API calls to 300 per 5 minutes
URL_LENGTH = 23
OOB = "urn:ietf:wg:oauth:2.0:oob"
VISIBILITIES = ("public", "unlisted", "private", "direct")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif",
               "image/avif")
SUPPORTED_MIME_TYPES = IMAGE_TYPES + ("video/webm", "video/mp4", "video/quicktime", "audio/mpeg",
                                      "audio/ogg", "audio/wav", "audio/flac")
INVALID_TOKEN = {"error": "The access token is invalid"}
OUT_OF_SCOPE = {"error": "This action is outside the authorized scopes"}
NOT_FOUND = {"error": "Record not found"}
INVALID_GRANT = {"error": "invalid_grant",
                 "error_description": "The provided authorization grant is invalid, expired, "
                 "revoked, does not match the redirection URI used in the authorization request, "
                 "or was issued to another client."}
INVALID_CLIENT = {"error": "invalid_client",
                  "error_description": "Client authentication failed due to unknown client, no "
                  "client authentication included, or unsupported authentication method."}
SERVER_ERROR_PAGE = (b"<!DOCTYPE html><html><head><title>We're sorry, but something went wrong "
                     b"(500)</title></head><body></body></html>")
URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'}]")
HASHTAG = re.compile(r"(?<![\w/&])#(\w*[^\W\d_]\w*)")
REMOTE_MENTION = re.compile(r"(?<![\w/])@(\w+)@[\w.-]*\w")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Attachment:
    """An uploaded file and the answer that describes it."""

    id: str
    data: bytes = field(repr=False)
    content_type: str
    filename: str | None
    description: str | None
    width: int | None
    height: int | None
    polls_left: int
    status_id: str | None = None


@dataclass
class App:
    """A registered OAuth application."""

    id: str
    name: str
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    scopes: list[str]
    website: str | None


class FakeMastodon:
    """One Mastodon instance with one account, `@{username}`, owner of `token`."""

    def __init__(self, *, token: str = "fake-mastodon-token-7Qm2xV", username: str = "herald",
                 max_characters: int = 500, characters_reserved_per_url: int = URL_LENGTH,
                 max_media_attachments: int = 4, image_size_limit: int = 16 * 1024 * 1024,
                 image_matrix_limit: int = 33_177_600, description_limit: int | None = 1500,
                 processing_polls: int = 0, software: str = "mastodon") -> None:
        self.server = FakeServer()
        self.software = software
        self.token = token
        self.username = username
        self.account_id = "109876543210987654"
        self.max_characters = max_characters
        self.characters_reserved_per_url = characters_reserved_per_url
        self.max_media_attachments = max_media_attachments
        self.image_size_limit = image_size_limit
        self.image_matrix_limit = image_matrix_limit
        self.description_limit = description_limit
        self.processing_polls = processing_polls
        self.tokens: dict[str, set[str]] = {token: {"read", "write", "follow", "push"}}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.media: dict[str, Attachment] = {}
        self.apps: dict[str, App] = {}
        self.codes: dict[str, tuple[str, str, list[str]]] = {}
        self.idempotency: dict[str, tuple[str, float]] = {}
        self.violations: list[str] = []
        self.outage: int | None = None
        self.rejection: str | None = None
        self.status_outages = 0
        self.delay: float = 0.0
        # While set, a new status is stored and its answer held back until `release()`.
        self.hold_after_post = False
        self._released = threading.Event()
        self.retry_after: str | None = None
        self._throttled_until: float | None = None
        self._window: tuple[int, int] = (0, 0)
        self._offset = 0.0
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._routes()

    # -- lifecycle and helpers for tests ------------------------------------------------------

    def start(self) -> FakeMastodon:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeMastodon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def domain(self) -> str:
        return urlsplit(self.url).netloc

    def received(self, method: str | None = None, path: str | None = None) -> list[Request]:
        return self.server.received(method, path)

    def rate_limit(self, seconds: float, *, retry_after: str | None = None) -> None:
        """Answer 429 to every request for `seconds`; optionally send a `Retry-After` too."""
        self._throttled_until = time.time() + seconds
        self.retry_after = retry_after

    def release(self) -> None:
        """Stop holding back answers to new statuses, and send the ones waiting."""
        self.hold_after_post = False
        self._released.set()

    def advance(self, seconds: float) -> None:
        """Move the instance's clock on (idempotency keys expire after an hour of it)."""
        self._offset += seconds

    def grant(self, scopes: str) -> str:
        """Issue another token of the account with only these scopes; return it."""
        token = secrets.token_urlsafe(32)
        self.tokens[token] = set(scopes.split())
        return token

    def approve(self, authorize_url: str) -> str:
        """Play the user who opens the authorization URL and approves: return the code shown."""
        split = urlsplit(authorize_url)
        assert split.path == "/oauth/authorize", f"not the authorization endpoint: {split.path}"
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        app = self.apps.get(query.get("client_id", ""))
        assert app is not None, "authorization URL names an unknown client_id"
        assert query.get("response_type") == "code", "response_type must be code"
        assert query.get("redirect_uri") in app.redirect_uris, "redirect_uri was not registered"
        scopes = query.get("scope", "read").split()
        assert set(scopes) <= set(app.scopes), "scope asks for more than the app registered"
        code = secrets.token_urlsafe(24)
        self.codes[code] = (app.client_id, query["redirect_uri"], scopes)
        return code

    def status_list(self) -> list[dict[str, Any]]:
        """Every status on the instance, oldest first."""
        return list(self.statuses.values())

    # -- plumbing ----------------------------------------------------------------------------

    def _now(self) -> float:
        return time.time() + self._offset

    def _next_id(self, base: int) -> str:
        return str(base + next(self._ids))

    def _routes(self) -> None:
        route = self._route
        route("GET", r"/api/v2/instance/?", self._instance, auth=False)
        route("GET", r"/\.well-known/oauth-authorization-server", self._oauth_metadata,
              auth=False)
        route("GET", r"/api/v1/accounts/verify_credentials", self._verify_credentials,
              scope="read:accounts")
        route("POST", r"/api/v2/media", self._upload, scope="write:media")
        route("GET", r"/api/v1/media/(?P<id>[^/]+)", self._media, scope="write:media")
        route("POST", r"/api/v1/statuses", self._post_status, scope="write:statuses")
        route("PUT", r"/api/v1/statuses/(?P<id>[^/]+)", self._edit_status,
              scope="write:statuses")
        route("DELETE", r"/api/v1/statuses/(?P<id>[^/]+)", self._delete_status,
              scope="write:statuses")
        route("GET", r"/api/v1/statuses/(?P<id>[^/]+)", self._get_status, auth=False)
        route("GET", r"/api/v1/accounts/(?P<id>[^/]+)/statuses", self._account_statuses,
              auth=False)
        route("POST", r"/api/v1/apps", self._create_app, auth=False)
        route("POST", r"/oauth/token", self._token, auth=False)

    def _route(self, method: str, pattern: str, handler: Any, *, auth: bool = True,
               scope: str | None = None) -> None:
        def guarded(request: Request, params: dict[str, str]) -> Response:
            response = self._guard(request, auth, scope)
            if response is None:
                with self._lock:
                    response = handler(request, params)
            response.headers.update(self._rate_headers(response.status == 429))
            return response

        self.server.route(method, pattern, guarded)

    def _guard(self, request: Request, auth: bool, scope: str | None) -> Response | None:
        if self.delay:
            time.sleep(self.delay)
        if request.method in WRITES:
            try:
                validate_request("mastodon", request)
            except SpecViolation as exc:
                self.violations.append(str(exc))
                return Response(422, {"error": f"request violates the API description: {exc}"})
        if self.outage is not None:
            return Response(self.outage, SERVER_ERROR_PAGE, {"Content-Type": "text/html"})
        if self._throttled_until is not None and time.time() < self._throttled_until:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return Response(429, {"error": "Too many requests"}, headers)
        if auth:
            scopes = self.tokens.get(_bearer(request) or "")
            if scopes is None:
                return Response(401, INVALID_TOKEN)
            if scope is not None and not _allows(scopes, scope):
                return Response(403, OUT_OF_SCOPE)
        return None

    def _rate_headers(self, throttled: bool) -> dict[str, str]:
        now = time.time()
        with self._lock:
            window, used = self._window
            current = int(now // RATE_WINDOW)
            used = used + 1 if window == current else 1
            self._window = (current, used)
        if throttled and self._throttled_until is not None:
            reset, remaining = self._throttled_until, 0
        else:
            reset, remaining = (current + 1) * RATE_WINDOW, max(RATE_LIMIT - used, 0)
        return {"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": _iso(reset)}

    def _owner(self, request: Request) -> bool:
        return _bearer(request) in self.tokens

    # -- instance and account ----------------------------------------------------------------

    def _instance(self, request: Request, params: dict[str, str]) -> Response:
        media: dict[str, Any] = {
            "supported_mime_types": list(SUPPORTED_MIME_TYPES),
            "image_size_limit": self.image_size_limit,
            "image_matrix_limit": self.image_matrix_limit,
            "video_size_limit": 99 * 1024 * 1024,
            "video_frame_rate_limit": 120,
            "video_matrix_limit": 8_294_400,
        }
        if self.description_limit is not None:
            media["description_limit"] = self.description_limit
        gotosocial = self.software == "gotosocial"
        return Response(200, {
            "domain": self.domain,
            "title": "Fake Mastodon",
            "version": "0.17.3+git-ccd5b34" if gotosocial else "4.3.0",
            "source_url": ("https://codeberg.org/superseriousbusiness/gotosocial" if gotosocial
                           else "https://github.com/mastodon/mastodon"),
            "description": "A local stand-in for a Mastodon server.",
            "usage": {"users": {"active_month": 1}},
            "thumbnail": {"url": f"{self.url}/packs/media/images/preview.png", "blurhash": None,
                          "versions": None},
            "icon": [],
            "languages": ["en", "sv"],
            "api_versions": {"mastodon": 2},
            "configuration": {
                "urls": {"streaming": f"ws://{self.domain}", "status": None,
                         "about": f"{self.url}/about",
                         "privacy_policy": f"{self.url}/privacy-policy", "terms_of_service": None},
                "vapid": {"public_key": "BFakeVapidKey="},
                "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                "statuses": {"max_characters": self.max_characters,
                             "max_media_attachments": self.max_media_attachments,
                             "characters_reserved_per_url": self.characters_reserved_per_url},
                "media_attachments": media,
                "polls": {"max_options": 4, "max_characters_per_option": 50,
                          "min_expiration": 300, "max_expiration": 2_629_746},
                "translation": {"enabled": False},
            },
            "registrations": {"enabled": False, "approval_required": False, "message": None,
                              "url": None},
            "contact": {"email": "admin@example.org", "account": None},
            "rules": [],
        })

    def _oauth_metadata(self, request: Request, params: dict[str, str]) -> Response:
        base = self.url
        return Response(200, {
            "issuer": base + "/",
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": base + "/oauth/authorize",
            "token_endpoint": base + "/oauth/token",
            "revocation_endpoint": base + "/oauth/revoke",
            "userinfo_endpoint": base + "/oauth/userinfo",
            "app_registration_endpoint": base + "/api/v1/apps",
            "scopes_supported": ["read", "write", "push", "follow", "read:accounts",
                                 "read:statuses", "write:media", "write:statuses"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
        })

    def account(self) -> dict[str, Any]:
        """The account as `Account` entity."""
        return {
            "id": self.account_id, "username": self.username, "acct": self.username,
            "display_name": "Herald", "locked": False, "bot": True, "discoverable": True,
            "indexable": False, "group": False, "created_at": "2024-01-01T00:00:00.000Z",
            "note": "<p>Event announcements</p>", "url": f"{self.url}/@{self.username}",
            "uri": f"{self.url}/users/{self.username}",
            "avatar": f"{self.url}/avatars/original/missing.png",
            "avatar_static": f"{self.url}/avatars/original/missing.png",
            "header": f"{self.url}/headers/original/missing.png",
            "header_static": f"{self.url}/headers/original/missing.png",
            "followers_count": 0, "following_count": 0,
            "statuses_count": len(self.statuses), "last_status_at": None,
            "emojis": [], "fields": [],
        }

    def _verify_credentials(self, request: Request, params: dict[str, str]) -> Response:
        account = self.account()
        account["source"] = {"privacy": "public", "sensitive": False, "language": "",
                             "note": "Event announcements", "fields": [],
                             "follow_requests_count": 0, "indexable": False,
                             "discoverable": True, "hide_collections": False,
                             "attribution_domains": []}
        account["role"] = {"id": "-99", "name": "", "permissions": "0", "color": "",
                           "highlighted": False}
        return Response(200, account)

    # -- media -------------------------------------------------------------------------------

    def _upload(self, request: Request, params: dict[str, str]) -> Response:
        upload = request.files.get("file")
        if upload is None:
            return Response(422, {"error": "Validation failed: File can't be blank"})
        kind = _sniff(upload.data)
        if kind is None or kind not in SUPPORTED_MIME_TYPES:
            return Response(422, {"error": "Validation failed: File content type is invalid"})
        claimed = mimetypes.guess_type(upload.filename or "")[0]
        if claimed is not None and claimed != kind:
            return Response(422, {"error": "Validation failed: File has contents that are not "
                                           "what they are reported to be"})
        if len(upload.data) > self.image_size_limit:
            megabytes = self.image_size_limit // (1024 * 1024)
            return Response(422, {"error": f"Validation failed: File file size must be less "
                                           f"than {megabytes} MB"})
        description = request.value("description")
        if (description and self.description_limit is not None
                and len(description) > self.description_limit):
            return Response(422, {"error": f"Validation failed: Description is too long "
                                           f"(maximum is {self.description_limit} characters)"})
        width, height = _dimensions(upload.data)
        attachment = Attachment(self._next_id(113_000_000_000_000_000), upload.data, kind,
                                upload.filename, description, width, height,
                                self.processing_polls)
        self.media[attachment.id] = attachment
        return Response(202 if attachment.polls_left else 200, self._attachment(attachment))

    def _media(self, request: Request, params: dict[str, str]) -> Response:
        attachment = self.media.get(params["id"])
        if attachment is None or attachment.status_id is not None:
            return Response(404, NOT_FOUND)
        if attachment.polls_left:
            attachment.polls_left -= 1
            return Response(206, self._attachment(attachment, processing=True))
        return Response(200, self._attachment(attachment))

    def _attachment(self, attachment: Attachment, *, processing: bool | None = None
                    ) -> dict[str, Any]:
        if processing is None:
            processing = attachment.polls_left > 0
        extension = mimetypes.guess_extension(attachment.content_type) or ""
        path = f"/system/media_attachments/files/{attachment.id}"
        meta: dict[str, Any] = {}
        if attachment.width and attachment.height:
            meta["original"] = {"width": attachment.width, "height": attachment.height,
                                "size": f"{attachment.width}x{attachment.height}",
                                "aspect": attachment.width / attachment.height}
        return {
            "id": attachment.id,
            "type": "image" if attachment.content_type in IMAGE_TYPES else "unknown",
            "url": None if processing else f"{self.url}{path}/original/file{extension}",
            "preview_url": None if processing else f"{self.url}{path}/small/file{extension}",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": meta,
            "description": attachment.description,
            "blurhash": None if processing else "UFGuUDj[00ay~qj[RjfQ00ay%Mj[t7fQM{fQ",
        }

    # -- statuses ----------------------------------------------------------------------------

    def _post_status(self, request: Request, params: dict[str, str]) -> Response:
        key = request.header("Idempotency-Key") if self.software != "gotosocial" else None
        now = self._now()
        if key:
            earlier = self.idempotency.get(key)
            if earlier is not None and now - earlier[1] < HOUR and earlier[0] in self.statuses:
                return Response(200, self._render(self.statuses[earlier[0]], request))
        if self.rejection is not None:
            return Response(422, {"error": self.rejection})
        if self.status_outages > 0:
            self.status_outages -= 1
            return Response(503, SERVER_ERROR_PAGE, {"Content-Type": "text/html"})
        text = request.value("status") or ""
        media_ids = _list(request, "media_ids")
        visibility = request.value("visibility") or "public"
        if visibility not in VISIBILITIES:
            return Response(422, {"error": "Validation failed: Visibility is not included in "
                                           "the list"})
        reply_to = request.value("in_reply_to_id")
        if reply_to and reply_to not in self.statuses:
            return Response(404, {"error": "The post you are trying to reply to does not "
                                           "appear to exist."})
        if len(media_ids) > self.max_media_attachments:
            return Response(422, {"error": f"Cannot attach more than "
                                           f"{self.max_media_attachments} files"})
        taken = [i for i in media_ids if i not in self.media or self.media[i].status_id]
        if taken:
            return self._media_taken(taken)
        attachments = [self.media[i] for i in media_ids]
        if any(a.polls_left for a in attachments):
            return Response(422, {"error": "Cannot attach files that have not finished "
                                           "processing. Try again in a moment!"})
        if not text.strip() and not attachments:
            return Response(422, {"error": "Validation failed: Text can't be blank"})
        if (refusal := self._too_long(text)) is not None:
            return refusal
        status_id = self._next_id(113_500_000_000_000_000)
        for attachment in attachments:
            attachment.status_id = status_id
        self.statuses[status_id] = {
            "id": status_id, "text": text, "created_at": now, "edited_at": None,
            "visibility": visibility, "language": request.value("language"),
            "in_reply_to_id": reply_to, "sensitive": request.value("sensitive") in ("1", "true"),
            "spoiler_text": request.value("spoiler_text") or "",
            "media_ids": [a.id for a in attachments], "idempotency_key": key,
        }
        if key:
            self.idempotency[key] = (status_id, now)
        answer = Response(200, self._render(self.statuses[status_id], request))
        if self.hold_after_post:
            self._lock.release()        # let other clients in while this answer waits
            try:
                self._released.wait(timeout=60)
            finally:
                self._lock.acquire()
        return answer

    def _media_taken(self, ids: list[str]) -> Response:
        """Refuse media that is unknown or used by another status, as the servers do."""
        if self.software == "gotosocial":
            return Response(400, {"error": f"Bad Request: ProcessMediaIDs: media with id "
                                           f"{ids[0]} is already attached to a status"})
        return Response(422, {"error": f"Media {', '.join(ids)} not found or already attached "
                                       f"to another post"})

    def _too_long(self, text: str) -> Response | None:
        if self.software == "gotosocial":
            if len(text) > self.max_characters:        # Go's len([]rune(status))
                return Response(400, {"error": f"Bad Request: status too long, {len(text)} "
                                               f"characters provided (including spoiler/content "
                                               f"warning) but limit is {self.max_characters}"})
            return None
        if countable_length(text) > self.max_characters:
            return Response(422, {"error": f"Validation failed: Text character limit of "
                                           f"{self.max_characters} exceeded"})
        return None

    def _edit_status(self, request: Request, params: dict[str, str]) -> Response:
        """Replace the status as UpdateStatusService does: what is not sent is not kept."""
        status = self.statuses.get(params["id"])
        if status is None:
            return Response(404, NOT_FOUND)
        text = request.value("status") or ""
        if (refusal := self._too_long(text)) is not None:
            return refusal
        wanted = _list(request, "media_ids")
        if len(wanted) > self.max_media_attachments:
            return Response(422, {"error": f"Cannot attach more than "
                                           f"{self.max_media_attachments} files"})
        media_ids = [i for i in wanted if i in self.media
                     and self.media[i].status_id in (None, status["id"])]
        if not text.strip() and not media_ids:
            return Response(422, {"error": "Validation failed: Text can't be blank"})
        for media_id in media_ids:
            self.media[media_id].status_id = status["id"]
        status["media_ids"] = media_ids
        status["text"] = text
        status["edited_at"] = self._now()
        status["sensitive"] = request.value("sensitive") in ("1", "true", "True", True)
        status["spoiler_text"] = request.value("spoiler_text") or ""
        language = request.value("language")
        if language:
            status["language"] = language
        elif self.software == "gotosocial":
            status["language"] = None                  # the account's default (none set here)
        return Response(200, self._render(status, request))

    def _delete_status(self, request: Request, params: dict[str, str]) -> Response:
        """Delete a status; the answer carries its source text (for delete and redraft)."""
        status = self.statuses.get(params["id"])
        if status is None:
            return Response(404, NOT_FOUND)
        answer = {**self._render(status, request), "text": status["text"]}
        del self.statuses[params["id"]]
        return Response(200, answer)

    def _get_status(self, request: Request, params: dict[str, str]) -> Response:
        status = self.statuses.get(params["id"])
        if status is None or (status["visibility"] in ("private", "direct")
                              and not self._owner(request)):
            return Response(404, NOT_FOUND)
        return Response(200, self._render(status, request))

    def _account_statuses(self, request: Request, params: dict[str, str]) -> Response:
        if params["id"] != self.account_id:
            return Response(404, NOT_FOUND)
        limit = min(int(request.value("limit") or 20), 40)
        visible = [s for s in reversed(self.statuses.values())
                   if self._owner(request) or s["visibility"] in ("public", "unlisted")]
        return Response(200, [self._render(s, request) for s in visible[:limit]])

    def _render(self, status: dict[str, Any], request: Request) -> dict[str, Any]:
        owner = self._owner(request)
        reply_to = self.statuses.get(status["in_reply_to_id"] or "")
        return {
            "id": status["id"],
            "created_at": _iso(status["created_at"]),
            "edited_at": _iso(status["edited_at"]) if status["edited_at"] else None,
            "in_reply_to_id": status["in_reply_to_id"],
            "in_reply_to_account_id": self.account_id if reply_to else None,
            "sensitive": status["sensitive"],
            "spoiler_text": status["spoiler_text"],
            "visibility": status["visibility"],
            "language": status["language"],
            "uri": f"{self.url}/users/{self.username}/statuses/{status['id']}",
            "url": f"{self.url}/@{self.username}/{status['id']}",
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "quotes_count": 0,
            "favourited": False if owner else None, "reblogged": False if owner else None,
            "muted": False if owner else None, "bookmarked": False if owner else None,
            "pinned": False if owner else None,
            "content": self.format(status["text"]),
            "filtered": [],
            "reblog": None,
            "application": {"name": "Herald", "website": None},
            "account": self.account(),
            "media_attachments": [self._attachment(self.media[i]) for i in status["media_ids"]],
            "mentions": [],
            "tags": [{"name": t.lower(), "url": f"{self.url}/tags/{t.lower()}"}
                     for t in dict.fromkeys(HASHTAG.findall(status["text"]))],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def format(self, text: str) -> str:
        """Render plain text to HTML as Mastodon does for a local status."""
        paragraphs = re.split(r"\n\s*\n", text.strip("\n"))
        rendered = ("<br />".join(self._linkify(line) for line in p.split("\n"))
                    for p in paragraphs)
        return "".join(f"<p>{p}</p>" for p in rendered)

    def _linkify(self, line: str) -> str:
        out, last = [], 0
        for match in URL.finditer(line):
            out.append(self._hashtags(html.escape(line[last:match.start()], quote=False)))
            out.append(_link(match.group()))
            last = match.end()
        out.append(self._hashtags(html.escape(line[last:], quote=False)))
        return "".join(out)

    def _hashtags(self, escaped: str) -> str:
        return HASHTAG.sub(lambda m: f'<a href="{self.url}/tags/{m.group(1).lower()}" '
                                     f'class="mention hashtag" rel="tag">#<span>{m.group(1)}'
                                     f'</span></a>', escaped)

    # -- OAuth -------------------------------------------------------------------------------

    def _create_app(self, request: Request, params: dict[str, str]) -> Response:
        name = request.value("client_name") or ""
        if not name.strip():
            return Response(422, {"error": "Validation failed: Application name can't be blank"})
        uris = (request.value("redirect_uris") or "").split()
        if not uris:
            return Response(422, {"error": "Validation failed: Redirect URI can't be blank"})
        app = App(self._next_id(0), name, secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                  uris, (request.value("scopes") or "read").split(), request.value("website"))
        self.apps[app.client_id] = app
        return Response(200, {
            "id": app.id, "name": app.name, "website": app.website, "scopes": app.scopes,
            "redirect_uri": "\n".join(app.redirect_uris), "redirect_uris": app.redirect_uris,
            "client_id": app.client_id, "client_secret": app.client_secret,
            "client_secret_expires_at": 0, "vapid_key": "BFakeVapidKey=",
        })

    def _token(self, request: Request, params: dict[str, str]) -> Response:
        app = self.apps.get(request.value("client_id") or "")
        if app is None or request.value("client_secret") != app.client_secret:
            return Response(401, INVALID_CLIENT)
        if request.value("grant_type") != "authorization_code":
            return Response(400, {"error": "unsupported_grant_type"})
        grant = self.codes.pop(request.value("code") or "", None)
        if grant is None or grant[0] != app.client_id or grant[1] != request.value("redirect_uri"):
            return Response(400, INVALID_GRANT)
        token = secrets.token_urlsafe(32)
        self.tokens[token] = set(grant[2])
        return Response(200, {"access_token": token, "token_type": "Bearer",
                              "scope": " ".join(grant[2]), "created_at": int(self._now())})


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    """A running fake instance; the test fails if anything sent to it broke the API description."""
    fake = FakeMastodon().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.violations, "requests violated the Mastodon API description:\n" + "\n".join(
        fake.violations)


def countable_length(text: str) -> int:
    """Count like Mastodon's StatusLengthValidator: graphemes, URLs as 23, `@u@host` as `@u`."""
    text = URL.sub("x" * URL_LENGTH, text)
    text = REMOTE_MENTION.sub(lambda m: "@" + m.group(1), text)
    return grapheme.length(text)


def _link(url: str) -> str:
    scheme, rest = url.split("://", 1)
    display, hidden = rest[:30], rest[30:]
    return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" '
            f'translate="no"><span class="invisible">{scheme}://</span>'
            f'<span class="{"ellipsis" if hidden else ""}">{html.escape(display)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>')


def _bearer(request: Request) -> str | None:
    header = request.header("Authorization") or ""
    return header[7:] if header.startswith("Bearer ") else None


def _allows(granted: set[str], needed: str) -> bool:
    return needed in granted or needed.split(":")[0] in granted


def _list(request: Request, name: str) -> list[str]:
    if isinstance(request.json, dict) and isinstance(request.json.get(name), list):
        return [str(v) for v in request.json[name]]
    return request.form.get(name + "[]", []) or request.form.get(name, [])


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _dimensions(data: bytes) -> tuple[int | None, int | None]:
    try:
        from PIL import Image

        with Image.open(BytesIO(data)) as image:
            return image.size
    except Exception:
        return None, None
