"""A Bluesky PDS on 127.0.0.1 that answers the XRPC calls Herald makes, like the real one.

It keeps one account, its sessions, blobs and post records in memory. Every record is checked
with the atproto SDK's own lexicon models (strict formats, no unknown fields or `$type`s) and
with the limits the models do not carry (300 graphemes, facet ranges inside the text, blob
sizes and types), so a test cannot pass by agreeing with the adapter's assumptions.
deleteRecord behaves as the reference PDS does: a record that is not there is a no-op answered
200 `{}` (no commit), so deleting twice is fine.

Switches make it fail the way the real PDS does: `rate_limited` (429 with ratelimit headers),
`fail(...)` (any status for one method), `write_then_fail` (create the record, answer 500),
`expire_tokens()` / `invalidate_tokens()` (ExpiredToken / InvalidToken) and `delay`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import grapheme

from .server import FakeServer, Request, Response

TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
POST = "app.bsky.feed.post"
UPLOAD_BYTES = 2_000_000           # what uploadBlob takes (and app.bsky.embed.images allows)
THUMB_BYTES = 1_000_000            # app.bsky.embed.external#external.thumb maxSize
MAX_GRAPHEMES = 300                # app.bsky.feed.post text maxGraphemes
WINDOW = 300                       # seconds of every rate-limit window
GLOBAL_LIMIT = 3000                # requests per window, per client
LOGIN_LIMIT = 30                   # createSession per window, per account


class XrpcFailure(Exception):
    """An XRPC error answer: status, error name and message."""

    def __init__(self, status: int, error: str, message: str, headers: dict | None = None):
        super().__init__(f"{status} {error}: {message}")
        self.response = Response(status, {"error": error, "message": message}, headers or {})


@dataclass
class Blob:
    cid: str
    mime: str
    data: bytes = field(repr=False)


@dataclass
class StoredRecord:
    uri: str
    cid: str
    value: dict


@dataclass
class Failure:
    status: int
    error: str
    message: str
    times: int
    headers: dict = field(default_factory=dict)


def cid_for(data: bytes, codec: int) -> str:
    """Return a CIDv1 (sha2-256, base32) for `data`: codec 0x55 for blobs, 0x71 for records."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def is_tid(rkey: str) -> bool:
    return (len(rkey) == 13 and rkey[0] in TID_CHARS[:16]
            and all(c in TID_CHARS for c in rkey))


def sniff(data: bytes, declared: str) -> str:
    """Return a blob's MIME type from its first bytes, as the PDS does."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return declared if declared and declared != "*/*" else "application/octet-stream"


class FakePDS(FakeServer):
    """One account on a personal data server; see the module docstring for the switches."""

    def __init__(self, handle: str = "herald.example.com",
                 app_password: str = "abcd-efgh-ijkl-mnop", *,
                 access_lifetime: int = 2 * 3600, refresh_lifetime: int = 90 * 86400,
                 login_limit: int = LOGIN_LIMIT):
        super().__init__()
        self.handle = handle
        self.app_password = app_password
        self.did = "did:plc:" + base64.b32encode(hashlib.sha256(handle.encode()).digest()) \
            .decode().lower()[:24]
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.login_limit = login_limit
        # what happened
        self.logins = 0                 # createSession calls, successful or not
        self.refreshes = 0
        self.blobs: dict[str, Blob] = {}
        self.records: dict[str, StoredRecord] = {}          # by rkey
        # switches
        self.rate_limited = False
        self.rate_limit_reset: int | None = None            # epoch seconds; default now + 60
        self.write_then_fail = 0
        self.token_error_status = 401
        self.delay = 0.0
        self._failures: dict[str, Failure] = {}
        # sessions
        self._access: dict[str, int] = {}                    # token -> exp
        self._refresh: dict[str, int] = {}
        self._expired: set[str] = set()
        self._issued: set[str] = set()
        self._calls = 0
        self._window_start = int(time.time())
        self._state = threading.Lock()
        self._routes()

    def start(self) -> "FakePDS":
        super().start()
        httpd = self._httpd
        assert httpd is not None
        report = httpd.handle_error

        def handle_error(request: Any, address: Any) -> None:
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                report(request, address)   # a client that gave up (a timeout test) is no error

        httpd.handle_error = handle_error  # type: ignore[method-assign]
        return self

    # --- switches -------------------------------------------------------------------------------

    def fail(self, nsid: str, status: int, error: str, message: str = "", *, times: int = 1,
             headers: dict | None = None) -> None:
        """Answer the next `times` calls of `nsid` with this error (before checking auth)."""
        self._failures[nsid] = Failure(status, error, message, times, dict(headers or {}))

    def expire_tokens(self, *, refresh: bool = False) -> None:
        """Make every access token issued so far (and refresh tokens too) answer ExpiredToken."""
        with self._state:
            self._expired.update(self._access)
            if refresh:
                self._expired.update(self._refresh)

    def invalidate_tokens(self) -> None:
        """Forget every token issued so far, so they answer InvalidToken."""
        with self._state:
            self._access.clear()
            self._refresh.clear()

    @property
    def tokens(self) -> set[str]:
        """Every token issued so far (to check that none leaks)."""
        with self._state:
            return set(self._issued)

    def record(self, rkey: str) -> dict:
        return self.records[rkey].value

    # --- routing ----------------------------------------------------------------------------------

    def _routes(self) -> None:
        xrpc = r"/xrpc/"
        for method, nsid, handler, auth in (
            ("GET", "com.atproto.server.describeServer", self._describe_server, None),
            ("POST", "com.atproto.server.createSession", self._create_session, None),
            ("POST", "com.atproto.server.refreshSession", self._refresh_session, "refresh"),
            ("GET", "com.atproto.server.getSession", self._get_session, "access"),
            ("POST", "com.atproto.repo.uploadBlob", self._upload_blob, "access"),
            ("POST", "com.atproto.repo.createRecord", self._create_record, "access"),
            ("GET", "com.atproto.repo.getRecord", self._get_record, "optional"),
            ("GET", "com.atproto.repo.listRecords", self._list_records, "optional"),
            ("POST", "com.atproto.repo.deleteRecord", self._delete_record, "access"),
        ):
            self.route(method, xrpc + nsid.replace(".", r"\."), self._xrpc(nsid, handler, auth))
        for method in ("GET", "POST"):
            self.route(method, xrpc + r"(?P<nsid>[^/]+)", self._not_implemented)

    def _xrpc(self, nsid: str, handler: Callable[..., Response], auth: str | None):
        def serve(request: Request, _: dict[str, str]) -> Response:
            if self.delay:
                time.sleep(self.delay)
            headers, over = self._count(nsid)
            try:
                self._switches(nsid, headers, over)
                did = self._authorize(request, auth)
                response = handler(request, did) if auth else handler(request)
            except XrpcFailure as failure:
                response = failure.response
            response.headers = {**headers, **response.headers}
            return response
        return serve

    def _count(self, nsid: str) -> tuple[dict[str, str], bool]:
        """Count a call against its rate limit; return the ratelimit headers and if it is over."""
        with self._state:
            self._calls += 1
            if nsid == "com.atproto.server.createSession":
                self.logins += 1
                used, limit = self.logins, self.login_limit
            else:
                used, limit = self._calls, GLOBAL_LIMIT
        reset = self._window_start + WINDOW
        headers = {"ratelimit-limit": str(limit), "ratelimit-remaining": str(max(0, limit - used)),
                   "ratelimit-reset": str(reset), "ratelimit-policy": f"{limit};w={WINDOW}"}
        return headers, used > limit

    def _switches(self, nsid: str, headers: dict[str, str], over: bool) -> None:
        if self.rate_limited or over:
            reset = self.rate_limit_reset or int(time.time()) + 60
            headers.update({"ratelimit-remaining": "0", "ratelimit-reset": str(reset)})
            raise XrpcFailure(429, "RateLimitExceeded", "Rate Limit Exceeded")
        failure = self._failures.get(nsid)
        if failure and failure.times > 0:
            failure.times -= 1
            raise XrpcFailure(failure.status, failure.error, failure.message, failure.headers)

    def _authorize(self, request: Request, kind: str | None) -> str | None:
        header = request.header("authorization") or ""
        if kind is None or (kind == "optional" and not header):
            return None
        if not header.startswith("Bearer "):
            raise XrpcFailure(401, "AuthMissing", "Authentication Required")
        token = header.removeprefix("Bearer ")
        wanted = self._refresh if kind == "refresh" else self._access
        other = self._access if kind == "refresh" else self._refresh
        with self._state:
            if token in self._expired:
                raise XrpcFailure(self.token_error_status, "ExpiredToken", "Token has expired")
            if token in other:
                raise XrpcFailure(400, "InvalidToken", "Invalid token type")
            exp = wanted.get(token)
        if exp is None:
            raise XrpcFailure(self.token_error_status, "InvalidToken",
                              "Token could not be verified")
        if exp <= time.time():
            raise XrpcFailure(self.token_error_status, "ExpiredToken", "Token has expired")
        return self.did

    def _not_implemented(self, request: Request, params: dict[str, str]) -> Response:
        return Response(501, {"error": "MethodNotImplemented",
                              "message": f"Method Not Implemented: {params['nsid']}"})

    # --- sessions ---------------------------------------------------------------------------------

    def _describe_server(self, request: Request) -> Response:
        return Response(200, {"did": "did:web:" + self.url.split("//")[1].split(":")[0],
                              "availableUserDomains": [".example.com"],
                              "inviteCodeRequired": True})

    def _create_session(self, request: Request) -> Response:
        body = request.json if isinstance(request.json, dict) else {}
        identifier = str(body.get("identifier") or "").lower().removeprefix("@")
        if not identifier or "password" not in body:
            raise XrpcFailure(400, "InvalidRequest", "Input must have the property \"identifier\""
                              " and \"password\"")
        if (identifier not in (self.handle.lower(), self.did)
                or body["password"] != self.app_password):
            raise XrpcFailure(401, "AuthenticationRequired", "Invalid identifier or password")
        return Response(200, self._new_session(include_doc=True))

    def _refresh_session(self, request: Request, did: str) -> Response:
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        with self._state:
            self._refresh.pop(token, None)
            self.refreshes += 1
        return Response(200, self._new_session(include_doc=True))

    def _get_session(self, request: Request, did: str) -> Response:
        return Response(200, {"handle": self.handle, "did": self.did, "active": True,
                              "email": "events@example.com", "emailConfirmed": True})

    def _new_session(self, *, include_doc: bool) -> dict:
        now = int(time.time())
        host = self.url.split("//")[1].split(":")[0]
        access = self._jwt("at+jwt", {"scope": "com.atproto.appPass", "sub": self.did,
                                      "aud": f"did:web:{host}", "iat": now,
                                      "exp": now + self.access_lifetime})
        refresh = self._jwt("refresh+jwt", {"scope": "com.atproto.refresh", "sub": self.did,
                                            "aud": f"did:web:{host}",
                                            "jti": secrets.token_urlsafe(32), "iat": now,
                                            "exp": now + self.refresh_lifetime})
        with self._state:
            self._issued.update({access, refresh})
            self._access[access] = now + self.access_lifetime
            self._refresh[refresh] = now + self.refresh_lifetime
        session = {"accessJwt": access, "refreshJwt": refresh, "handle": self.handle,
                   "did": self.did, "active": True}
        if include_doc:
            session["didDoc"] = {
                "@context": ["https://www.w3.org/ns/did/v1"], "id": self.did,
                "alsoKnownAs": [f"at://{self.handle}"],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                             "serviceEndpoint": self.url}],
            }
        return session

    @staticmethod
    def _jwt(typ: str, payload: dict) -> str:
        header = b64url(json.dumps({"typ": typ, "alg": "ES256K"}).encode())
        body = b64url(json.dumps(payload).encode())
        return f"{header}.{body}.{b64url(secrets.token_bytes(64))}"

    # --- blobs and records ------------------------------------------------------------------------

    def _upload_blob(self, request: Request, did: str) -> Response:
        data = request.body
        if not data:
            raise XrpcFailure(400, "InvalidRequest", "Request body is empty")
        if len(data) > UPLOAD_BYTES:
            raise XrpcFailure(400, "BlobTooLarge",
                              f"This file is too large. It is {len(data)} bytes but the maximum "
                              f"size is {UPLOAD_BYTES} bytes.")
        blob = Blob(cid_for(data, 0x55), sniff(data, request.content_type), data)
        with self._state:
            self.blobs[blob.cid] = blob
        return Response(200, {"blob": {"$type": "blob", "ref": {"$link": blob.cid},
                                       "mimeType": blob.mime, "size": len(data)}})

    def _create_record(self, request: Request, did: str) -> Response:
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("record"), dict):
            raise XrpcFailure(400, "InvalidRequest", "Input must have the property \"record\"")
        if body.get("repo") not in (self.did, self.handle):
            raise XrpcFailure(400, "InvalidRequest", "Input/repo must be the authenticated repo")
        if body.get("collection") != POST:
            raise XrpcFailure(400, "InvalidRequest", f"This PDS takes {POST} records only")
        rkey = body.get("rkey") or self._tid()
        if not isinstance(rkey, str) or not is_tid(rkey):
            raise XrpcFailure(400, "InvalidRequest", f"Invalid record key for {POST}: {rkey!r}")
        record = body["record"]
        problem = validate_post(record, self.blobs)
        if problem:
            raise XrpcFailure(400, "InvalidRecord", problem)
        uri = f"at://{self.did}/{POST}/{rkey}"
        cid = cid_for(json.dumps(record, sort_keys=True, separators=(",", ":")).encode(), 0x71)
        with self._state:
            if rkey in self.records:
                raise XrpcFailure(500, "InternalServerError", "Internal Server Error")
            self.records[rkey] = StoredRecord(uri, cid, record)
            if self.write_then_fail > 0:
                self.write_then_fail -= 1
                raise XrpcFailure(500, "InternalServerError", "Internal Server Error")
        return Response(200, {"uri": uri, "cid": cid,
                              "commit": {"cid": cid_for(uri.encode(), 0x71), "rev": self._tid()},
                              "validationStatus": "valid"})

    def _get_record(self, request: Request, did: str | None) -> Response:
        repo, collection, rkey = (request.value(k) for k in ("repo", "collection", "rkey"))
        if not (repo and collection and rkey):
            raise XrpcFailure(400, "InvalidRequest", "Params must have repo, collection and rkey")
        uri = f"at://{repo}/{collection}/{rkey}"
        with self._state:
            stored = self.records.get(rkey)
        if repo not in (self.did, self.handle) or collection != POST or stored is None:
            raise XrpcFailure(400, "RecordNotFound", f"Could not locate record: {uri}")
        return Response(200, {"uri": stored.uri, "cid": stored.cid, "value": stored.value})

    def _list_records(self, request: Request, did: str | None) -> Response:
        """List the posts newest record key first, `limit` (1-100, default 50) per page."""
        repo, collection = request.value("repo"), request.value("collection")
        if not (repo and collection):
            raise XrpcFailure(400, "InvalidRequest", "Params must have repo and collection")
        if repo not in (self.did, self.handle):
            raise XrpcFailure(400, "InvalidRequest", f"Could not find repo: {repo}")
        limit = int(request.value("limit") or 50)
        if not 1 <= limit <= 100:
            raise XrpcFailure(400, "InvalidRequest", "limit must be between 1 and 100")
        cursor = request.value("cursor")
        with self._state:
            rkeys = sorted((k for k in self.records if collection == POST
                            and (cursor is None or k < cursor)), reverse=True)[:limit]
            page = [self.records[k] for k in rkeys]
        answer: dict[str, Any] = {"records": [{"uri": r.uri, "cid": r.cid, "value": r.value}
                                              for r in page]}
        if len(rkeys) == limit:
            answer["cursor"] = rkeys[-1]
        return Response(200, answer)

    def _delete_record(self, request: Request, did: str) -> Response:
        from atproto_client import models
        from atproto_client.models.utils import get_or_create

        body = request.json
        if not isinstance(body, dict):
            raise XrpcFailure(400, "InvalidRequest", "Input must be an object")
        try:
            get_or_create(body, models.ComAtprotoRepoDeleteRecord.Data, strict=True,
                          strict_string_format=True)
        except Exception as exc:  # the SDK's lexicon validation, shown as the PDS would
            raise XrpcFailure(400, "InvalidRequest", f"Invalid input: {exc}") from exc
        if body["repo"] not in (self.did, self.handle):
            raise XrpcFailure(400, "InvalidRequest", f"Could not find repo: {body['repo']}")
        rkey, swap = body["rkey"], body.get("swapRecord")
        with self._state:
            stored = self.records.get(rkey) if body["collection"] == POST else None
            if stored is None:
                return Response(200, {})          # no-op: the record already doesn't exist
            if swap is not None and swap != stored.cid:
                raise XrpcFailure(400, "InvalidSwap", f"Record was at {stored.cid}")
            del self.records[rkey]
        return Response(200, {"commit": {"cid": cid_for(f"delete {stored.uri}".encode(), 0x71),
                                         "rev": self._tid()}})

    @staticmethod
    def _tid() -> str:
        value = (time.time_ns() // 1000) << 10 | secrets.randbelow(1024)
        return "".join(TID_CHARS[(value >> s) & 31] for s in range(60, -1, -5))


# --- record validation ---------------------------------------------------------------------------

def validate_post(record: dict, blobs: dict[str, Blob]) -> str | None:
    """Return why `record` is not a valid app.bsky.feed.post, or None when it is."""
    from atproto_client import models
    from atproto_client.models.utils import get_or_create

    if record.get("$type") != POST:
        return f"Invalid $type: expected {POST}, got {record.get('$type')!r}"
    try:
        model = get_or_create(record, models.AppBskyFeedPost.Record, strict=True,
                              strict_string_format=True)
    except Exception as exc:  # the SDK's own validation error, shown as the PDS would
        return f"Invalid app.bsky.feed.post record: {exc}"
    problem = _unknown_parts(model, "Record") or _field_names(
        record, model.model_dump(mode="json", by_alias=True, exclude_none=True), "Record")
    if problem:
        return problem
    text = record["text"]
    size = len(text.encode("utf-8"))
    if grapheme.length(text) > MAX_GRAPHEMES:
        return f"Record/text must not be longer than {MAX_GRAPHEMES} graphemes"
    if size > 3000:
        return "Record/text must not be longer than 3000 bytes"
    for number, facet in enumerate(record.get("facets") or []):
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        if not 0 <= start < end <= size:
            return f"Record/facets/{number}/index is outside the text ({start}..{end} of {size})"
        try:  # stricter than the PDS, which stores any range: a facet must not split a character
            text.encode("utf-8")[start:end].decode("utf-8")
        except UnicodeDecodeError:
            return f"Record/facets/{number}/index splits a character ({start}..{end})"
        for feature in facet["features"]:
            tag = feature.get("tag")
            if tag is not None and not (0 < grapheme.length(tag) <= 64
                                        and len(tag.encode("utf-8")) <= 640):
                return f"Record/facets/{number}/features/tag must be 1 to 64 graphemes"
    embed = record.get("embed") or {}
    refs: list[tuple[str, dict, int]] = []
    if embed.get("$type") == "app.bsky.embed.images":
        refs = [(f"Record/embed/images/{n}/image", image["image"], UPLOAD_BYTES)
                for n, image in enumerate(embed["images"])]
    elif embed.get("$type") == "app.bsky.embed.external" and "thumb" in embed["external"]:
        refs = [("Record/embed/external/thumb", embed["external"]["thumb"], THUMB_BYTES)]
    for where, ref, limit in refs:
        blob = blobs.get(ref["ref"]["$link"])
        if blob is None:
            return f"{where}: could not find blob {ref['ref']['$link']}"
        if not blob.mime.startswith("image/") or ref["mimeType"] != blob.mime:
            return f"{where}: wrong type of file, expected image/*, got {blob.mime}"
        if ref["size"] != len(blob.data) or len(blob.data) > limit:
            return f"{where}: file too large ({len(blob.data)} bytes, at most {limit})"
    return None


def _unknown_parts(value: Any, where: str) -> str | None:
    """Find a field the lexicon does not define, or a union member of an unknown $type."""
    from atproto_client.models.base import ModelBase, UnknownUnionModel
    from atproto_client.models.blob_ref import BlobRef
    from atproto_client.models.dot_dict import DotDict

    if isinstance(value, (DotDict, UnknownUnionModel)):
        return f"{where}: unknown or missing $type"
    if isinstance(value, BlobRef):
        return f"{where}: unexpected fields {sorted(value.model_extra)}" if value.model_extra \
            else None
    if isinstance(value, ModelBase):
        if value.model_extra:
            return f"{where}: unexpected fields {sorted(value.model_extra)}"
        for name in type(value).model_fields:
            problem = _unknown_parts(getattr(value, name), f"{where}/{name}")
            if problem:
                return problem
    if isinstance(value, list):
        for number, item in enumerate(value):
            problem = _unknown_parts(item, f"{where}/{number}")
            if problem:
                return problem
    return None


def _field_names(sent: Any, lexicon: Any, where: str) -> str | None:
    """Check that every key sent is spelt as the lexicon spells it (camelCase, not snake_case)."""
    if isinstance(sent, dict) and isinstance(lexicon, dict):
        for key, value in sent.items():
            if key not in lexicon:
                return f"{where}: unknown field {key!r}"
            problem = _field_names(value, lexicon[key], f"{where}/{key}")
            if problem:
                return problem
    if isinstance(sent, list) and isinstance(lexicon, list):
        for number, (item, known) in enumerate(zip(sent, lexicon)):
            problem = _field_names(item, known, f"{where}/{number}")
            if problem:
                return problem
    return None
