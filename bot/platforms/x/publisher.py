"""The X publisher: publish, find, check and delete posts of one account through tweepy.

A post is sent as: each image uploaded with its alt text (`media.py`), then `POST /2/tweets`
with the media ids and the reply target.

X has no idempotency key (`Limits.idempotent` is False). What it offers instead:
- its duplicate check: the same text again is refused with 403 "duplicate content", raised as
  `DuplicateContent`;
- the account's own recent posts (`GET /2/users/{id}/tweets`), which `find` reads to recover a
  post whose answer was lost, matching its text. Each post read is charged (`cost_per_read`).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from ...errors import ConfigError, PublishError, Rejected, Unavailable
from ...model import Account, Limits, OutgoingPost, Published
from ..shared import before_sending
from .api import XApi
from .errors import DuplicateContent, field
from .limits import LIMITS
from .media import XMedia

log = logging.getLogger(__name__)

LOOKUP_PAGE = 10                              # posts read per page when looking a post up
LOOKUP_PAGES = 3
CLOCK_SKEW = timedelta(minutes=2)             # how far before the reservation a lookup reads


class XPublisher:
    """One X account, posting as the user whose access token it holds.

    `credentials` needs `api_key`, `api_secret`, `access_token` and `access_secret`; a missing one
    raises AuthFailed on first use, not here. `session` is the `requests.Session` tweepy sends
    through (a new one by default); every request on it times out after `timeout` seconds.
    The account option `api_url` sends the API calls to another base URL (a proxy, or a local
    test server) instead of X's own host; requests are signed for the URL they are sent to.
    `clock` gives the current time (aware); it decides whether a rate limit has reset.
    The adapter sends nothing to X before the reset of a rate limit X reported.
    """

    def __init__(self, account: Account, credentials: Mapping[str, str], *,
                 session: Any = None, timeout: float = 30.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.account = account.name
        self._timeout = timeout
        self._api = XApi(account.name, credentials, api_url=api_base(account), session=session,
                         timeout=timeout, clock=clock)
        self._media = XMedia(self._api)
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
        with before_sending():
            client = self._api.client()
            media_ids = [self._media.upload(media) for media in post.media]
        try:
            answer = self._api.call("posting", lambda: client.create_tweet(
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
            self._media.forget(post.media)     # X may not take these ids again
            raise
        post_id = field(answer.data, "id")
        if post_id is None:
            raise Unavailable("X accepted the post but did not say its id", account=self.account)
        self._media.forget(post.media)
        log.info("%s: posted %s on X", self.account, post_id)
        return _published(str(post_id))

    def find(self, post: OutgoingPost) -> Published | None:
        """Return the account's recent post with this post's text, or None.

        X cannot look a post up by key, but it refuses the same text twice from one account,
        so the text identifies a recent post. Reads `GET /2/users/{id}/tweets`, newest first,
        from shortly before `post.reserved_at` (or the last posts when it is unknown), at most
        three pages of ten; the text is compared as X returns it (links as t.co, `&` escaped).
        """
        client = self._api.client()
        user_id = self._api.user()
        params: dict[str, Any] = {"max_results": LOOKUP_PAGE}
        if post.reserved_at is not None:
            since = post.reserved_at.astimezone(timezone.utc) - CLOCK_SKEW
            params["start_time"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        wanted = comparable_text(post.text)
        for _ in range(LOOKUP_PAGES):
            page = self._api.call("looking for an earlier post", lambda: client.request(
                "GET", f"/2/users/{user_id}/tweets", params=dict(params), user_auth=True).json())
            self.posts_read += len(field(page, "data") or ())
            for item in field(page, "data") or ():
                if comparable_text(html.unescape(str(field(item, "text") or ""))) == wanted:
                    log.info("%s: found post %s on X", self.account, item["id"])
                    return _published(str(item["id"]))
            token = field(field(page, "meta"), "next_token")
            if not token:
                break
            params["pagination_token"] = token
        return None

    def check(self) -> str:
        """Verify the credentials with `GET /2/users/me`; return "@username"."""
        client = self._api.client()
        answer = self._api.call("checking the credentials", lambda: client.get_me(user_auth=True))
        username = getattr(answer.data, "username", None)
        if not username:
            raise Unavailable("X did not say which user these credentials belong to",
                              account=self.account)
        self._api.user_id = str(getattr(answer.data, "id", "") or "") or self._api.user_id
        return f"@{username}"

    def delete(self, platform_id: str) -> None:
        """Delete an earlier post (`DELETE /2/tweets/:id`); one already gone (404) is deleted."""
        client = self._api.client()
        import tweepy

        def delete() -> Any:
            try:
                return client.delete_tweet(platform_id, user_auth=True)
            except tweepy.NotFound:
                return None

        answer = self._api.call(f"deleting post {platform_id}", delete)
        if answer is None:
            log.info("%s: post %s was already gone from X", self.account, platform_id)
            return
        if field(answer.data, "deleted") is not True:
            raise Unavailable(f"X answered but did not say post {platform_id} was deleted",
                              account=self.account)
        log.info("%s: deleted %s on X", self.account, platform_id)

    def _find_quietly(self, post: OutgoingPost) -> Published | None:
        try:
            return self.find(post)
        except PublishError as error:
            log.info("%s: could not look the earlier post up: %s", self.account, error)
            return None


def api_base(account: Account) -> str | None:
    """The account's `api_url` without its trailing slash, or None for X's own host."""
    api_url = account.options.get("api_url")
    if api_url is None:
        return None
    if not isinstance(api_url, str) or not re.match(r"https?://[^/\s]+/?$", api_url):
        raise ConfigError(f"accounts.{account.name}.api_url: expected a base URL such "
                          f"as https://api.x.com, got {api_url!r}")
    return api_url.rstrip("/")


def comparable_text(text: str) -> str:
    """Fold what X changes in a post's text: every link becomes a t.co link, spaces collapse."""
    from ...counting.twitter import urls

    parts, last = [], 0
    for start, end in urls(text):
        parts += [text[last:start], "\x00"]
        last = end
    parts.append(text[last:])
    return " ".join("".join(parts).split())


def _published(post_id: str) -> Published:
    return Published(id=post_id, url=f"https://x.com/i/web/status/{post_id}")
