"""Plain data shared by every layer: events, stages, accounts, platform limits and posts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding about the content: which file, which field, what was wrong, what Herald did."""

    source: str
    field: str | None
    message: str
    severity: Severity = "warning"

    def __str__(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        return f"{self.severity}: {where}: {self.message}"


@dataclass(frozen=True)
class Event:
    """One language version of one event, as the site shows it.

    `ref` pairs the language versions of one event. `start` is aware and in the site's zone.
    `image` is the resolved file inside the site, or None when the event has no usable image.
    """

    ref: str
    lang: str
    title: str
    start: datetime
    url: str
    source: str
    excerpt: str = ""
    place: str = ""
    image: Path | None = None
    image_alt: str | None = None
    published: bool = True
    date_only: bool = False
    """The site gives a day without a time of day: `start` is then midnight at its beginning,
    texts say the date alone and reminders go at the stage's `date_only_time`."""
    when_desc: str = ""
    """The site's own words for when it is (`event-date-desc`), on one line."""
    end: datetime | None = None
    """When it ends on its first day, where `event-date-desc` names a time range that starts
    at `start` ("kl. 18-20")."""
    last_day: date | None = None
    """The last day of an event of several days, where `event-date-desc` names them
    ("19-20 februari")."""
    links: tuple[Link, ...] = ()
    """The event's `links`, each a web address (or e-mail address) with its title."""
    signup: str = ""
    """The registration link among `links`, as a post shows it (an e-mail address bare)."""
    herald: Control | None = None
    """What the file's own `herald:` block asks of Herald, when it has one."""

    @property
    def upcoming_until(self) -> datetime:
        """When the event stops being upcoming: its start, or the end of the day of a date-only
        event (one today is still upcoming in the morning)."""
        if not self.date_only:
            return self.start
        day = self.start.date() + timedelta(days=1)
        return datetime.combine(day, time(), tzinfo=self.start.tzinfo)


@dataclass(frozen=True)
class Link:
    """One of an event's `links`: what the site shows and where it leads."""

    title: str
    url: str


@dataclass(frozen=True)
class Control:
    """An event file's `herald:` block: how Herald treats this event, without the config.

    `platforms` and `accounts` are None when the block does not narrow them. `texts` holds
    (platform or account, stage or kind or "" for every stage, template) in the file's language.
    """

    skip: bool = False
    platforms: tuple[str, ...] | None = None
    accounts: tuple[str, ...] | None = None
    hashtags: tuple[str, ...] = ()
    texts: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Stage:
    """One step of a campaign: an announcement or a reminder `before` the start.

    An announcement with `before=None` is due as soon as Herald first sees the event.
    """

    name: str
    kind: Literal["announcement", "reminder"]
    before: timedelta | None = None
    template: str | None = None
    date_only_time: time | None = None
    """When, on its day, this stage goes for an event without a time of day (None: 09:00)."""

    @property
    def template_name(self) -> str:
        return self.template or self.name


@dataclass(frozen=True)
class Account:
    """A configured account: which platform, which languages, and platform options (no secrets)."""

    name: str
    platform: str
    languages: tuple[str, ...]
    options: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        """The account as output names it: `kansli (mastodon)`, or `mastodon` when alike."""
        return account_label(self.name, self.platform)


def account_label(name: str, platform: str) -> str:
    """Name an account with its platform, once when the two are alike: `mastodon`."""
    return name if name == platform else f"{name} ({platform})"


@dataclass(frozen=True)
class Limits:
    """What a platform accepts, declared by its adapter and read by the composer and images."""

    platform: str
    max_chars: int
    counting: Literal["mastodon", "codepoints", "strictest", "twitter", "graphemes"]
    url_weight: int | None = None
    max_bytes: int | None = None
    image_bytes: int = 1_000_000
    image_pixels: int | None = None
    image_formats: frozenset[str] = frozenset({"JPEG", "PNG"})
    images_per_post: int = 4
    alt_chars: int = 1000
    replies: bool = True
    edits: bool = False
    link_cards: bool = False
    cost_per_post: float = 0.0
    """USD the platform charges for creating a post (X: "Content: Create")."""
    cost_per_link_post: float = 0.0
    """USD for a post whose text holds a link, as the platform finds links (X: "with URL")."""
    cost_per_alt_text: float = 0.0
    """USD for each image description sent (X: one "Media Metadata" call per alt text)."""
    cost_per_delete: float = 0.0
    """USD for deleting a post (X: "Interaction: Delete")."""
    cost_per_read: float = 0.0
    """USD for each post read back, as a lookup of recent posts does (X: "Posts: Read")."""
    idempotent: bool = True
    """The platform recognises a repeated post by its idempotency or record key, so a retry after
    a lost answer cannot make a second post. False (X, servers that ignore `Idempotency-Key`):
    an uncertain post must be looked up, safely, before anything is sent again."""
    request_timeout: float = 30.0
    """Seconds after which the adapter gives up on a request (a stalled request may still land)."""
    animation_size: tuple[int, int] | None = None
    """The largest width and height of an animated GIF (where "GIF" is in `image_formats`)."""
    animation_frames: int | None = None
    """The most frames an animated GIF may have."""
    card_thumb_bytes: int | None = None
    """The most a link card's thumbnail may weigh, when less than `image_bytes`."""


@dataclass(frozen=True, order=True)
class PostKey:
    """The identity of one post: event, stage, account, language. The ledger de-duplicates on it."""

    ref: str
    stage: str
    account: str
    lang: str

    def __str__(self) -> str:
        return f"{self.ref}/{self.stage}/{self.account}/{self.lang}"


@dataclass(frozen=True)
class PlannedPost:
    """A post the planner wants, and when. `due` is aware, in the site's zone."""

    key: PostKey
    due: datetime
    event_start: datetime
    stage: Stage

    def is_due(self, now: datetime) -> bool:
        return self.due <= now


@dataclass(frozen=True)
class Skipped:
    """A post the planner decided not to make, and why."""

    key: PostKey
    due: datetime
    reason: str


@dataclass(frozen=True)
class ImageRef:
    """An image to attach: the file and its alt text."""

    path: Path
    alt: str


@dataclass(frozen=True)
class Post:
    """A composed post: the exact text, its count against the platform's limit, link and image."""

    key: PostKey
    platform: str
    due: datetime
    text: str
    length: int
    limit: int
    link: str
    title: str
    excerpt: str = ""
    image: ImageRef | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None
    byte_length: int | None = None
    lang: str = ""
    """The language the text is in (the account's, or the fallback the composer chose)."""

    @property
    def fits(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Media:
    """Bytes ready for upload to one platform."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    alt: str
    filename: str = "image"
    note: str = ""
    """What was done to the image, for preview ("as is, metadata removed", "re-encoded: ...")."""


@dataclass(frozen=True)
class LinkCard:
    """An external link card (Bluesky) built from the event itself."""

    url: str
    title: str
    description: str
    thumb: Media | None = None


@dataclass(frozen=True)
class OutgoingPost:
    """Everything an adapter needs to publish one post."""

    text: str
    lang: str
    idempotency_key: str
    link: str | None = None
    media: tuple[Media, ...] = ()
    card: LinkCard | None = None
    reply_to: str | None = None
    reserved_at: datetime | None = None
    """When this generation of the post was first reserved (stable across retries)."""


@dataclass(frozen=True)
class Published:
    """What the platform answered: its id and the public URL of the post."""

    id: str
    url: str
