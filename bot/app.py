"""The composition root: turn configuration into the real objects the service works with.

Platform modules are imported here, but their SDKs load only when a publisher posts.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

from .config import Config
from .model import Account, Limits
from .platforms import bluesky, mastodon, x

_MODULES = {"mastodon": mastodon, "x": x, "bluesky": bluesky}


def declared_limits(account: Account, config: Config) -> Limits:
    """The limits an account's platform declares, adjusted by configuration (no network)."""
    limits = _MODULES[account.platform].LIMITS
    if account.platform == "bluesky":
        return replace(limits, image_bytes=config.images.bluesky_bytes)
    return limits


def secrets_store(config: Config):
    from .secrets import SecretsStore

    return SecretsStore(config.secrets)


def build_publisher(account: Account, config: Config):
    """Build the real publisher of an account, with credentials from the env or secrets file."""
    store = secrets_store(config)
    credentials = store.credentials(account.name)
    if account.platform == "mastodon":
        return mastodon.MastodonPublisher(account, credentials)
    if account.platform == "x":
        return x.XPublisher(account, credentials)
    return bluesky.BlueskyPublisher(
        account, credentials, save_session=lambda s: store.update(account.name, "session", s),
        image_bytes=config.images.bluesky_bytes)


def missing_credentials(account: Account, config: Config) -> list[str]:
    """Name the credentials an account lacks in the environment and the secrets file."""
    credentials = secrets_store(config).credentials(account.name)
    return _MODULES[account.platform].missing_credentials(credentials)


def ledger_path(config: Config) -> Path:
    from .ledger import default_ledger_path

    return config.ledger or default_ledger_path()


def image_cache(config: Config):
    from .images import ImageCache, default_cache_dir

    return ImageCache(config.images.cache_dir or default_cache_dir())


def attachments(config: Config):
    """Build the function that prepares a post's image, card or link card for its platform.

    An event image that cannot be used is reported and replaced by a drawn card (when cards
    are on). A platform that takes link cards gets one when the event has no image, or when
    the account sets `link_card = true`; a post carries an image or a card, never both.
    """
    from .service import Attachments

    cache = None

    @functools.lru_cache(maxsize=64)
    def card(title: str, when: str, place: str, lang: str):
        from .card import draw_card
        from .errors import ImageError

        try:
            return draw_card(title=title, when=when, place=place, config=config.images,
                             lang=lang), ()
        except ImageError as exc:
            plain = replace(config.images, logo=None)
            return (draw_card(title=title, when=when, place=place, config=plain, lang=lang),
                    (f"images.logo: {exc}; drawing the card without a logo",))

    def attach(post, event, account, limits) -> Attachments:
        nonlocal cache
        from .errors import ImageError
        from .images import cut_alt, prepare
        from .localize import format_when
        from .model import LinkCard

        cache = cache or image_cache(config)
        warnings: list[str] = []
        media = []
        if post.image is not None:
            try:
                media.append(prepare(post.image.path, limits, config.images,
                                     alt=post.image.alt, cache=cache))
            except ImageError as exc:
                warnings.append(f"{event.source}: image: {exc}; "
                                + ("using a drawn card" if config.images.cards
                                   else "posting without an image"))
        wants_card = limits.link_cards and (not media or account.options.get("link_card"))
        drawn = not media and config.images.cards
        if drawn:
            drawn_card, problems = card(event.title, format_when(event.start, post.lang),
                                        event.place, post.lang)
            media.append(replace(drawn_card, alt=cut_alt(drawn_card.alt, limits.alt_chars)))
            warnings.extend(problems)
        if wants_card:
            thumb = media[0] if media else None
            return Attachments((), LinkCard(post.link, post.title, post.excerpt, thumb),
                               tuple(warnings), drawn)
        return Attachments(tuple(media[:limits.images_per_post]), None, tuple(warnings), drawn)

    return attach
