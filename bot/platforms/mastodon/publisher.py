"""The Mastodon publisher: publish, find, check, edit and delete statuses of one account.

Works with any server that speaks Mastodon's client API; `servers.py` says how each kind counts
and whether it honours `Idempotency-Key`, and `limits()` learns the kind from the instance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from ...errors import ConfigError, Rejected
from ...model import Account, Limits, OutgoingPost, Published
from ..shared import before_sending
from .api import MastodonApi, base_url
from .media import MastodonMedia
from .servers import (SERVER_NAMES, SERVER_RULES, declared_software, limits_from_instance,
                      server_kind)
from .text import comparable_text, plain_text

log = logging.getLogger(__name__)

VISIBILITIES = ("public", "unlisted", "private", "direct")
RECENT = 20


class MastodonPublisher:
    """Post as one Mastodon account: `options["instance"]` is the server, `visibility` and
    `software` optional.

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
        self.instance = base_url(instance)
        visibility = account.options.get("visibility", "public")
        if visibility not in VISIBILITIES:
            raise ConfigError(f"accounts.{account.name}.visibility: expected one of "
                              f"{', '.join(VISIBILITIES)}, got {visibility!r}")
        self.visibility: str = visibility
        software = declared_software(account.options)
        if software not in SERVER_RULES:
            raise ConfigError(f"accounts.{account.name}.software: expected one of "
                              f"{', '.join(SERVER_RULES)}, got {software!r}")
        self.software = software
        self._software_set = "software" in account.options
        self.timeout = timeout
        self._api = MastodonApi(account.name, self.instance, credentials.get("access_token"),
                                timeout=timeout, clock=clock)
        self._media = MastodonMedia(self._api, media_wait=media_wait,
                                    poll_interval=poll_interval,
                                    max_poll_interval=max_poll_interval)
        self._limits: Limits | None = None
        self._account_id: str | None = None

    def __repr__(self) -> str:
        return (f"MastodonPublisher(account={self.account!r}, instance={self.instance!r}, "
                f"visibility={self.visibility!r})")

    @property
    def host(self) -> str:
        return self._api.host

    # -- the Publisher port ------------------------------------------------------------------

    def limits(self) -> Limits:
        """Return the instance's limits, asked once from `/api/v2/instance` and then cached.

        The answer also says which server this is, and so how it counts and whether it honours
        `Idempotency-Key` (see `servers.py`). When that is not the server the account's
        `software` option names (which preview counts by), one warning says so; posting
        follows the server's answer. An account without a token talks to no server at all,
        not even to read the limits.
        """
        if self._limits is None:
            self._api.require_token()
            info = self._api.call("reading the instance's limits", lambda api: api.instance_v2())
            self._warn_if_other_software(server_kind(info))
            self._limits = replace(limits_from_instance(info), request_timeout=self.timeout)
        return self._limits

    def publish(self, post: OutgoingPost) -> Published:
        """Upload the images, wait until they are processed, then post the status.

        The status carries `post.idempotency_key` as `Idempotency-Key`: Mastodon answers a
        repeat within an hour with the status it created the first time.
        """
        self._api.require_token()
        with before_sending():
            media_ids = [self._media.upload(media, number, len(post.media))
                         for number, media in enumerate(post.media, start=1)]
        try:
            status = self._api.call("posting", lambda api: api.status_post(
                post.text, media_ids=media_ids or None, language=post.lang,
                visibility=self.visibility, in_reply_to_id=post.reply_to,
                idempotency_key=post.idempotency_key))
        except Rejected:
            self._media.forget(post.media)
            raise
        self._media.forget(post.media)      # attached now: Mastodon lets no other status use them
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
        self._api.require_token()
        what = "looking for an earlier post"
        if self._account_id is None:
            me = self._api.call(what, lambda api: api.account_verify_credentials())
            self._account_id = str(me["id"])
        account_id = self._account_id
        statuses = self._api.call(what, lambda api: api.account_statuses(account_id,
                                                                         limit=RECENT))
        wanted = comparable_text(post.text)
        for status in statuses:
            if status.get("reblog"):
                continue
            if _str_or_none(status.get("in_reply_to_id")) != post.reply_to:
                continue
            if status.get("language") and status["language"] != post.lang:
                continue
            if post.media and len(status.get("media_attachments") or ()) != len(post.media):
                continue        # (a lookup from the ledger alone knows the text, not the images)
            if comparable_text(plain_text(status.get("content") or "")) == wanted:
                self._media.forget(post.media)      # that status holds its uploads for good
                return _published(status)
        return None

    def check(self) -> str:
        """Verify the access token; return the account as `@user@instance`."""
        self._api.require_token()
        me = self._api.call("checking the access token",
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
        self._api.require_token()
        current = self._api.call(f"reading status {status_id}",
                                 lambda api: api.status(status_id))
        media_ids = [str(m["id"]) for m in current.get("media_attachments") or ()]
        language = current.get("language") or None
        sensitive = bool(current.get("sensitive"))
        spoiler = current.get("spoiler_text") or None
        status = self._api.call(f"editing status {status_id}", lambda api: _update(
            api, status_id, text, media_ids=media_ids, language=language, sensitive=sensitive,
            spoiler_text=spoiler))
        return _published(status)

    def delete(self, platform_id: str) -> None:
        """Delete an earlier status; one that is already gone (404) counts as deleted."""
        self._api.require_token()
        from mastodon.errors import MastodonNotFoundError

        def delete(api: Any) -> bool:
            try:
                api.status_delete(platform_id)
            except MastodonNotFoundError:
                return False
            return True

        if self._api.call(f"deleting status {platform_id}", delete):
            log.info("%s: deleted status %s", self.account, platform_id)
        else:
            log.info("%s: status %s was already gone", self.account, platform_id)

    def _warn_if_other_software(self, kind: str) -> None:
        """One warning when the server is not the kind the account's `software` names."""
        if kind == self.software:
            return
        says = "says" if self._software_set else "assumes when it is not set"
        log.warning("%s: %s is %s, not %s as accounts.%s.software %s; posting counts the way "
                    "the server does, and preview will too once software = \"%s\"",
                    self.account, self.host, SERVER_NAMES[kind], SERVER_NAMES[self.software],
                    self.account, says, kind)


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


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
