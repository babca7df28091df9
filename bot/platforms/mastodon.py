"""Publish to one Mastodon account through Mastodon.py; every SDK failure becomes a PublishError.

Mastodon.py is imported inside the methods, so importing this module stays cheap. The client is
pinned to Mastodon 4.3.0 with version checks on creation only, so it never probes the instance
for its version, and uploads go to `/api/v2/media`. Rate limits raise instead of sleeping, and
until the reset the adapter sends nothing at all.

Other servers speak Mastodon's client API but count and deduplicate differently; the instance
answer (`version`, `source_url`) says which one Herald talks to:

    server                      counts                              Idempotency-Key
    Mastodon (and its forks)    graphemes, URLs as 23 (`mastodon`)  honoured
    GoToSocial                  code points, URLs in full           ignored
    any other                   the stricter of the two             not relied on

    SDK exception                                 Herald error
    MastodonRatelimitError, HTTP 429              RateLimited (retry_after from the headers)
    MastodonUnauthorizedError, HTTP 401 and 403   AuthFailed
    other HTTP 4xx (422 validation, 404 ...)      Rejected (platform_message = server's text)
    HTTP 5xx, MastodonNetworkError, timeouts      Unavailable
    an answer that is not the API's JSON          Unavailable
    anything else Mastodon.py refuses locally     Rejected
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..errors import AuthFailed, ConfigError, PublishError, RateLimited, Rejected, Unavailable
from ..model import Account, Limits, Media, OutgoingPost, Published

log = logging.getLogger(__name__)

T = TypeVar("T")

LIMITS = Limits("mastodon", 500, "mastodon", url_weight=23, image_bytes=16 * 1024 * 1024,
                image_pixels=33_177_600, image_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
                images_per_post=4, alt_chars=1500, replies=True, edits=True)

SDK_OPTIONS = {"mastodon_version": "4.3.0", "version_check_mode": "created",
               "ratelimit_method": "throw"}
USER_AGENT = "Herald (Mastodon.py)"
OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ("read", "write:statuses", "write:media")
VISIBILITIES = ("public", "unlisted", "private", "direct")
RECENT = 20
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
UPLOAD_REUSE = 6 * 3600.0   # Mastodon removes media no status uses after a day; reuse well within
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


class MastodonPublisher:
    """Post as one Mastodon account: `options["instance"]` is the server, `visibility` optional.

    `credentials["access_token"]` is checked on first use, so a missing token fails the posts
    of this account (AuthFailed) and nothing else. `limits()` needs no token.
    While an upload is processed the adapter polls every `poll_interval` seconds, doubling up
    to `max_poll_interval`, for at most `media_wait` seconds.
    """

    def __init__(self, account: Account, credentials: Mapping[str, str], *,
                 timeout: float = 30.0, media_wait: float = 60.0, poll_interval: float = 0.5,
                 max_poll_interval: float = 2.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.account = account.name
        instance = account.options.get("instance")
        if not isinstance(instance, str) or not instance.strip():
            raise ConfigError(f"accounts.{account.name}.instance: missing; set the Mastodon "
                              f"server, e.g. instance = \"https://mastodon.social\"")
        self.instance = _base_url(instance)
        visibility = account.options.get("visibility", "public")
        if visibility not in VISIBILITIES:
            raise ConfigError(f"accounts.{account.name}.visibility: expected one of "
                              f"{', '.join(VISIBILITIES)}, got {visibility!r}")
        self.visibility: str = visibility
        self.timeout = timeout
        self.media_wait = media_wait
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self._token = credentials.get("access_token") or None
        self._api: Any = None
        self._last_response: Any = None
        self._limits: Limits | None = None
        self._account_id: str | None = None
        self._clock = clock
        self._blocked_until: datetime | None = None
        self._uploads: dict[tuple[str, str], tuple[str, float, bool]] = {}

    def __repr__(self) -> str:
        return (f"MastodonPublisher(account={self.account!r}, instance={self.instance!r}, "
                f"visibility={self.visibility!r})")

    @property
    def host(self) -> str:
        return urlsplit(self.instance).netloc

    # -- the Publisher port ------------------------------------------------------------------

    def limits(self) -> Limits:
        """Return the instance's limits, asked once from `/api/v2/instance` and then cached.

        The answer also says which server this is, and so how it counts and whether it honours
        `Idempotency-Key` (see the module's table). An account without a token talks to no
        server at all, not even to read the limits.
        """
        if self._limits is None:
            self._require_token()
            info = self._call("reading the instance's limits", lambda api: api.instance_v2())
            self._limits = replace(limits_from_instance(info), request_timeout=self.timeout)
        return self._limits

    def publish(self, post: OutgoingPost) -> Published:
        """Upload the images, wait until they are processed, then post the status.

        The status carries `post.idempotency_key` as `Idempotency-Key`: Mastodon answers a
        repeat within an hour with the status it created the first time.
        """
        self._require_token()
        media_ids = [self._upload(media, number, len(post.media))
                     for number, media in enumerate(post.media, start=1)]
        try:
            status = self._call("posting", lambda api: api.status_post(
                post.text, media_ids=media_ids or None, language=post.lang,
                visibility=self.visibility, in_reply_to_id=post.reply_to,
                idempotency_key=post.idempotency_key))
        except Rejected:
            self._forget(post.media)
            raise
        self._forget(post.media)            # attached now: Mastodon lets no other status use them
        published = _published(status)
        log.info("%s: posted %s", self.account, published.url)
        return published

    def find(self, post: OutgoingPost) -> Published | None:
        """Return the account's recent status with this post's text, language and reply target.

        Mastodon cannot look a status up by idempotency key, so this reads the account's
        20 most recent statuses and compares their text (the HTML turned back into plain
        text, whitespace folded) with the post's. It finds a post that was sent however long
        ago, where re-sending with the same key is only deduplicated by the server for an
        hour. None means no such status: re-sending with the same key is then safe, and within
        the hour the server still answers with the first status if it does exist after all.
        A different post with exactly the same text, language and reply target would be taken
        for this one; Herald's posts differ by event and stage, so that does not happen.
        """
        self._require_token()
        what = "looking for an earlier post"
        if self._account_id is None:
            me = self._call(what, lambda api: api.account_verify_credentials())
            self._account_id = str(me["id"])
        account_id = self._account_id
        statuses = self._call(what, lambda api: api.account_statuses(account_id, limit=RECENT))
        wanted = comparable_text(post.text)
        for status in statuses:
            if status.get("reblog"):
                continue
            if _str_or_none(status.get("in_reply_to_id")) != post.reply_to:
                continue
            if status.get("language") and status["language"] != post.lang:
                continue
            if len(status.get("media_attachments") or ()) != len(post.media):
                continue
            if comparable_text(plain_text(status.get("content") or "")) == wanted:
                return _published(status)
        return None

    def check(self) -> str:
        """Verify the access token; return the account as `@user@instance`."""
        self._require_token()
        me = self._call("checking the access token",
                        lambda api: api.account_verify_credentials())
        self._account_id = str(me["id"])
        return f"@{me['acct']}@{self.host}"

    def edit(self, status_id: str, text: str) -> Published:
        """Replace the text of an earlier status (a correction); media and language stay.

        An edit replaces the whole status: Mastodon drops the attachments whose ids it does not
        get, and the sensitive flag and content warning it does not get; GoToSocial also resets
        the language. So the status is read first and sent back with its media ids, language,
        sensitive flag and content warning.
        """
        self._require_token()
        current = self._call(f"reading status {status_id}", lambda api: api.status(status_id))
        media_ids = [str(m["id"]) for m in current.get("media_attachments") or ()]
        language = current.get("language") or None
        sensitive = bool(current.get("sensitive"))
        spoiler = current.get("spoiler_text") or None
        status = self._call(f"editing status {status_id}", lambda api: _update(
            api, status_id, text, media_ids=media_ids, language=language, sensitive=sensitive,
            spoiler_text=spoiler))
        return _published(status)

    def delete(self, platform_id: str) -> None:
        """Delete an earlier status; one that is already gone (404) counts as deleted."""
        self._require_token()
        from mastodon.errors import MastodonNotFoundError

        def delete(api: Any) -> bool:
            try:
                api.status_delete(platform_id)
            except MastodonNotFoundError:
                return False
            return True

        if self._call(f"deleting status {platform_id}", delete):
            log.info("%s: deleted status %s", self.account, platform_id)
        else:
            log.info("%s: status %s was already gone", self.account, platform_id)

    # -- internals ---------------------------------------------------------------------------

    def _upload(self, media: Media, number: int, total: int) -> str:
        """Upload one image, or reuse the one uploaded for an earlier try of this post.

        An upload no status uses yet is kept by the server (for a day on Mastodon), so a
        retried post attaches it again instead of leaving it behind and uploading a copy.
        """
        key = (hashlib.sha256(media.data).hexdigest(), media.alt)
        what = f"uploading image {number} of {total}"
        kept = self._uploads.get(key)
        if kept is not None and time.monotonic() < kept[1]:
            media_id, processed = kept[0], kept[2]
            log.debug("%s: reusing media %s uploaded earlier", self.account, media_id)
        else:
            attachment = self._call(what, lambda api: api.media_post(
                media.data, mime_type=media.mime, description=media.alt or None,
                file_name=_file_name(media.filename, media.mime)))
            media_id, processed = str(attachment["id"]), bool(attachment.get("url"))
            self._uploads[key] = (media_id, time.monotonic() + UPLOAD_REUSE, processed)
        if not processed:
            self._wait_until_processed(media_id, what)
            self._uploads[key] = (media_id, self._uploads[key][1], True)
        return media_id

    def _forget(self, media: tuple[Media, ...]) -> None:
        for item in media:
            self._uploads.pop((hashlib.sha256(item.data).hexdigest(), item.alt), None)

    def _wait_until_processed(self, media_id: str, what: str) -> Any:
        """Poll the attachment until it has a URL; Unavailable after `media_wait` seconds."""
        deadline = time.monotonic() + self.media_wait
        pause = self.poll_interval
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unavailable(f"{what}: media still processing on {self.host} after "
                                  f"{self.media_wait:g} s; try again later", account=self.account)
            time.sleep(min(pause, remaining))
            attachment = self._call(what, lambda api: api.media(media_id))
            if attachment.get("url"):
                log.debug("%s: media %s processed", self.account, media_id)
                return attachment
            pause = min(pause * 2, self.max_poll_interval)

    def _require_token(self) -> None:
        if not self._token:
            raise AuthFailed(f"no Mastodon access token; set {env_name(self.account)} or run "
                             f"`herald auth {self.account}`", account=self.account)

    def _client(self) -> Any:
        if self._api is None:
            from mastodon import Mastodon

            self._api = Mastodon(access_token=self._token, api_base_url=self.instance,
                                 request_timeout=self.timeout, user_agent=USER_AGENT,
                                 session=self._session(), **SDK_OPTIONS)
        return self._api

    def _session(self) -> Any:
        import requests

        session = requests.Session()
        session.hooks["response"].append(self._remember)
        return session

    def _remember(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        self._last_response = response
        return response

    def _call(self, what: str, action: Callable[[Any], T]) -> T:
        """Run one SDK call; map whatever it raises to a PublishError naming this account.

        Before the reset of a rate limit the server reported, nothing is sent: RateLimited.
        """
        from mastodon.errors import MastodonError

        if self._blocked_until is not None and self._clock() < self._blocked_until:
            raise RateLimited(f"{what}: rate limited by {self.host}; no request before "
                              f"{self._blocked_until:%Y-%m-%d %H:%M:%S} UTC",
                              account=self.account, retry_after=self._blocked_until)
        api = self._client()
        self._last_response = None
        try:
            return action(api)
        except MastodonError as exc:
            error = map_error(exc, what=what, account=self.account, host=self.host,
                              response=self._last_response, hide=(self._token,),
                              auth_hint=f"set {env_name(self.account)} or run "
                                        f"`herald auth {self.account}`")
            if isinstance(error, RateLimited) and error.retry_after is not None:
                self._blocked_until = error.retry_after
            raise error from exc


def authorize(instance: str, *, prompt: Callable[[str], str],
              echo: Callable[[str], None], timeout: float = 30.0) -> dict[str, str]:
    """Register Herald on the instance, let the user approve it, return the new credentials.

    Shows the authorization URL with `echo`, asks for the code Mastodon displays with
    `prompt`, and returns `access_token`, `client_id` and `client_secret`. An instance given
    as plain `http://` (a local test server) may announce plain-http OAuth endpoints.
    """
    import requests
    from mastodon import Mastodon
    from mastodon.errors import MastodonError

    base = _base_url(instance)
    host = urlsplit(base).netloc
    allow_http = base.startswith("http://")
    recorder: dict[str, Any] = {}
    found: list[str] = []

    def remember(response: Any, *args: Any, **kwargs: Any) -> Any:
        recorder["response"] = response
        return response

    session = requests.Session()
    session.hooks["response"].append(remember)

    def step(what: str, action: Callable[[], T]) -> T:
        recorder.clear()
        try:
            return action()
        except (MastodonError, KeyError, TypeError) as exc:
            raise map_error(exc, what=what, account=None, host=host,
                            response=recorder.get("response"), hide=found,
                            auth_hint="run `herald auth` again", authorizing=True) from exc

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


def map_error(exc: BaseException, *, what: str, account: str | None, host: str,
              response: Any = None, hide: Any = (), auth_hint: str = "",
              authorizing: bool = False) -> PublishError:
    """Turn a Mastodon.py exception (and the last HTTP answer, if any) into a PublishError.

    Every string in `hide` (the token, a client secret) is replaced by `****` in the message.
    """
    from mastodon.errors import (MastodonAPIError, MastodonNetworkError, MastodonRatelimitError,
                                 MastodonUnauthorizedError)

    status, server_text = _status_and_text(exc, response)
    headers = response.headers if response is not None else {}

    def clean(text: str) -> str:
        for secret in hide:
            if secret:
                text = text.replace(secret, "****")
        return text

    said = f" ({status}: {server_text})" if status and server_text else (
        f" ({status})" if status else "")
    if isinstance(exc, MastodonRatelimitError) or status == 429:
        retry_after = retry_time(headers, datetime.now(timezone.utc))
        when = f"; retry after {retry_after:%Y-%m-%d %H:%M:%S} UTC" if retry_after else ""
        return RateLimited(clean(f"{what}: rate limited by {host}{when}"), account=account,
                           retry_after=retry_after)
    if isinstance(exc, MastodonNetworkError) and status is None and response is None:
        return Unavailable(clean(f"{what}: no answer from {host} ({_network_reason(exc)}); "
                                 f"the outcome is unknown"), account=account)
    if status is not None and status >= 500:
        return Unavailable(clean(f"{what}: {host} failed{said}; the outcome is unknown"),
                           account=account)
    if isinstance(exc, MastodonUnauthorizedError) or status in (401, 403) or (
            authorizing and status is not None):
        hint = f"; {auth_hint}" if auth_hint else ""
        return AuthFailed(clean(f"{what}: {host} refused the credentials{said}{hint}"),
                          account=account)
    if status is not None and 400 <= status < 500:
        return Rejected(clean(f"{what}: {host} rejected it{said}"), account=account,
                        platform_message=clean(server_text) if server_text else None)
    if isinstance(exc, (MastodonAPIError, MastodonNetworkError, KeyError, TypeError)):
        return Unavailable(clean(f"{what}: {host} gave an answer that is not Mastodon's API; "
                                 f"is {host} a Mastodon server?"), account=account)
    if authorizing:
        return AuthFailed(clean(f"{what}: {exc}"), account=account)
    return Rejected(clean(f"{what}: Mastodon.py refused the request: {exc}"), account=account)


def retry_time(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """Return when to try again, from `X-RateLimit-Reset` (ISO time or epoch) or `Retry-After`.

    Times the server states are moved by the difference between its `Date` and our clock.
    The later of the two headers wins; None when neither is usable.
    """
    server_now = _http_date(headers.get("Date"))
    skew = (now - server_now) if server_now else timedelta(0)
    candidates = []
    reset = _parse_reset(headers.get("X-RateLimit-Reset"))
    if reset is not None:
        candidates.append(reset + skew)
    retry_after = (headers.get("Retry-After") or "").strip()
    if retry_after.isdigit():
        candidates.append(now + timedelta(seconds=int(retry_after)))
    elif retry_after and (moment := _http_date(retry_after)) is not None:
        candidates.append(moment + skew)
    if not candidates:
        return None
    return max(max(candidates), now)


def server_kind(info: Mapping[str, Any]) -> str:
    """Say which server an `/api/v2/instance` answer comes from: mastodon, gotosocial or other.

    Mastodon and its forks (glitch-soc, Hometown) give a plain version such as "4.3.0" or
    "4.3.0+glitch"; GoToSocial names itself in its version or source URL; others (Pleroma,
    Akkoma, Pixelfed, Friendica, Misskey...) say "(compatible; ...)" in their version.
    """
    version = str(info.get("version") or "")
    source = str(info.get("source_url") or "").lower()
    if "gotosocial" in version.lower() or "gotosocial" in source:
        return "gotosocial"
    if re.fullmatch(r"\d+\.\d+\.\d+[^\s()]*", version):
        return "mastodon"
    return "other"


# How each kind of server counts, and whether it honours Idempotency-Key (see the module doc).
SERVER_RULES: dict[str, tuple[str, bool]] = {
    "mastodon": ("mastodon", True),
    "gotosocial": ("codepoints", False),
    "other": ("strictest", False),
}


def limits_from_instance(info: Mapping[str, Any]) -> Limits:
    """Read a `/api/v2/instance` answer into Limits; absent values keep Mastodon's defaults."""
    counting, idempotent = SERVER_RULES[server_kind(info)]
    config = info.get("configuration") or {}
    statuses = config.get("statuses") or {}
    media = config.get("media_attachments") or {}
    formats = LIMITS.image_formats
    mime_types = media.get("supported_mime_types")
    if isinstance(mime_types, list):
        formats = frozenset(FORMATS[m] for m in mime_types if m in FORMATS)
    return replace(
        LIMITS,
        counting=counting,
        idempotent=idempotent,
        max_chars=_positive(statuses.get("max_characters"), LIMITS.max_chars),
        url_weight=_positive(statuses.get("characters_reserved_per_url"), LIMITS.url_weight),
        images_per_post=_positive(statuses.get("max_media_attachments"), LIMITS.images_per_post),
        image_bytes=_positive(media.get("image_size_limit"), LIMITS.image_bytes),
        image_pixels=_positive(media.get("image_matrix_limit"), LIMITS.image_pixels),
        alt_chars=_positive(media.get("description_limit"), LIMITS.alt_chars),
        image_formats=formats,
    )


def missing_credentials(credentials: Mapping[str, str]) -> list[str]:
    """Name the credentials an account still needs (no network)."""
    return [] if credentials.get("access_token") else ["access_token"]


def env_name(account: str) -> str:
    """Return the environment variable that holds the account's access token."""
    return "HERALD_" + re.sub(r"[^A-Z0-9]", "_", account.upper()) + "_ACCESS_TOKEN"


class _Text(HTMLParser):
    """Collect the text of a status's HTML: paragraphs become blank lines, `<br>` a newline."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(content: str) -> str:
    """Return the plain text of a status's HTML `content` (links show their full URL)."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts)


def comparable_text(text: str) -> str:
    """Fold what Mastodon changes when it renders text: whitespace, `@user@host` mentions."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"(?<![\w/])@(\w+)@[\w.-]*\w", r"@\1", text)
    return " ".join(text.split())


def _update(api: Any, status_id: str, text: str, *, media_ids: list[str], language: str | None,
            sensitive: bool, spoiler_text: str | None) -> Any:
    """Send `PUT /api/v1/statuses/:id` with the language too.

    Mastodon's API takes `language` on an edit but Mastodon.py's status_update() has no such
    parameter; the helper both share does. Without that helper the edit goes without language
    (Mastodon keeps the status's own; GoToSocial resets it to the account's default).
    """
    internal = getattr(api, "_Mastodon__status_internal", None)
    if internal is None:
        log.warning("this Mastodon.py cannot send a language with an edit")
        return api.status_update(status_id, status=text, media_ids=media_ids or None,
                                 sensitive=sensitive, spoiler_text=spoiler_text)
    return internal(status=text, media_ids=media_ids or None, sensitive=sensitive,
                    spoiler_text=spoiler_text, language=language, edit=status_id)


def _published(status: Mapping[str, Any]) -> Published:
    return Published(id=str(status["id"]), url=str(status.get("url") or status.get("uri")))


def _base_url(instance: str) -> str:
    instance = instance.strip().rstrip("/")
    return instance if re.match(r"https?://", instance) else "https://" + instance


def _file_name(name: str, mime: str) -> str:
    """Give the upload an extension that matches its type, as Mastodon checks the two agree."""
    extension = EXTENSIONS.get(mime, "")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return (stem or "image") + extension


def _status_and_text(exc: BaseException, response: Any) -> tuple[int | None, str | None]:
    """The HTTP status and the server's `error` text, from the exception or the last answer."""
    args = getattr(exc, "args", ())
    status = args[1] if len(args) >= 4 and isinstance(args[1], int) else None
    text = args[3] if status is not None and isinstance(args[3], str) else None
    if response is not None and response.status_code >= 400:
        status = status or response.status_code
        if text is None:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                text = body.get("error_description") or body.get("error")
                text = text if isinstance(text, str) else None
    return status, text


def _network_reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    name = type(cause).__name__ if cause is not None else ""
    if "Timeout" in name or "timed out" in str(exc):
        return "timed out"
    if "SSL" in name:
        return "TLS failed"
    return "connection failed"


def _parse_reset(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value), timezone.utc)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _positive(value: Any, default: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else default


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
