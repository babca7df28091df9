"""The composition root: turn configuration into the real objects the service works with.

Platform modules are imported here, but their SDKs load only when a publisher posts.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .config import Config
from .config_accounts import request_timeout
from .model import Account, Limits
from .platforms import bluesky, mastodon, x

_MODULES = {"mastodon": mastodon, "x": x, "bluesky": bluesky}


def declared_limits(account: Account, config: Config) -> Limits:
    """The limits an account's platform declares for its options (a Mastodon account's
    `software` says how its server counts), adjusted by configuration (no network)."""
    limits = replace(_MODULES[account.platform].declared_limits(account.options),
                     request_timeout=request_timeout(account))
    if account.platform == "bluesky":
        return replace(limits, image_bytes=config.images.bluesky_bytes)
    return limits


def secrets_store(config: Config):
    from .secrets import SecretsStore

    return SecretsStore(config.secrets)


def build_publisher(account: Account, config: Config):
    """Build the real publisher of an account, with credentials from the env or secrets file."""
    store = secrets_store(config)
    credentials = store.credentials(account.name, platform=account.platform)
    timeout = request_timeout(account)
    if account.platform == "mastodon":
        return mastodon.MastodonPublisher(account, credentials, timeout=timeout)
    if account.platform == "x":
        return x.XPublisher(account, credentials, timeout=timeout)
    return bluesky.BlueskyPublisher(
        account, credentials, save_session=lambda s: store.update(account.name, "session", s),
        image_bytes=config.images.bluesky_bytes, timeout=timeout)


def missing_credentials(account: Account, config: Config) -> list[str]:
    """Name the credentials an account lacks in the environment and the secrets file."""
    credentials = secrets_store(config).credentials(account.name,
                                                      platform=account.platform)
    return _MODULES[account.platform].missing_credentials(credentials)


def read_site(config: Config):
    """Load the site's events through the parse cache of this configuration (then saved):
    a file unchanged since an earlier command is not parsed again."""
    from .content import ParseCache, load_site

    cache = ParseCache.for_site(config.site, config.images.cache_dir)
    site = load_site(config.site, cache=cache)
    cache.save()
    return site


def ledger_path(config: Config) -> Path:
    from .ledger import default_ledger_path

    return config.ledger or default_ledger_path()


def image_cache(config: Config):
    from .images import ImageCache, default_cache_dir

    return ImageCache(config.images.cache_dir or default_cache_dir())


def site_name(config: Config) -> str:
    """The name shown on drawn cards: `site.name`, else the host of `site.url`."""
    if config.site.name is not None:
        return config.site.name
    from urllib.parse import urlsplit

    return urlsplit(config.site.url).hostname or ""


def attachments(config: Config):
    """Build the function that prepares a post's image, card or link card for its platform.

    An event image that would look tiny or cropped (`bot.images.shape`) is placed on a drawn
    card when cards are on and `images.place_on_card` is true. An event image that cannot be
    used is reported and replaced by a drawn card (when cards are on). A platform that takes
    link cards gets one when the event has no image, or when the account sets
    `link_card = true`; its thumbnail is prepared to the platform's thumbnail limit like any
    image. A post carries an image or a card, never both. Every Media's `note` says what was
    done to it, for preview. Drawn cards and prepared images come from the image cache.
    """
    from .service import Attachments

    cache = None
    site = site_name(config)
    sources: dict = {}

    def source(path):
        """Read an event image once per run: (bytes, upright size) or the ImageError."""
        from .errors import ImageError
        from .images import open_image, read_source

        if path not in sources:
            try:
                data = read_source(path)
                with open_image(data, str(path)) as im:
                    width, height = im.size
                    if _turned(im):
                        width, height = height, width
                sources[path] = (data, (width, height))
            except ImageError as exc:
                sources[path] = exc
            if len(sources) > 64:
                sources.pop(next(iter(sources)))
        return sources[path]

    def card(event, post, picture):
        from .card import draw_card
        from .errors import ImageError
        from .composer import event_fields

        when = event_fields(event, post.lang, post.due)["when"]     # as the post says it
        kwargs = dict(title=event.title, when=when, place=event.place, lang=post.lang,
                      site=site, cache=cache)
        data, name = picture if picture else (None, "image")
        try:
            return draw_card(config=config.images, picture=data, picture_name=name, **kwargs), ()
        except ImageError as exc:
            problem = (f"images.logo: {exc}; drawing the card without a logo" if config.images.logo
                       else f"{exc}; drawing the card without it")
            plain = replace(config.images, logo=None)
            try:
                return draw_card(config=plain, picture=data, picture_name=name, **kwargs), \
                    (problem,)
            except ImageError as second:
                return draw_card(config=plain, **kwargs), (problem, f"{second}")

    def attach(post, event, account, limits) -> Attachments:
        nonlocal cache
        from .errors import ImageError
        from .images import card_reason, cut_alt, prepare_data
        from .model import LinkCard

        cache = cache or image_cache(config)
        warnings: list[str] = []
        found = None     # the event image's bytes and size, when it can be read
        placed = None    # why the event image goes on the card instead of as it is
        if post.image is not None:
            found = source(post.image.path)
            if isinstance(found, ImageError):
                warnings.append(f"{event.source}: image: {found}; "
                                + ("using a drawn card" if config.images.cards
                                   else "posting without an image"))
                found = None
            elif config.images.cards and config.images.place_on_card:
                placed = card_reason(*found[1])
        own = found is not None and placed is None
        link = limits.link_cards and (not own or bool(account.options.get("link_card")))
        if link and limits.card_thumb_bytes and limits.card_thumb_bytes < limits.image_bytes:
            limits = replace(limits, image_bytes=limits.card_thumb_bytes)
        media = []
        try:
            if own:
                media.append(prepare_data(found[0], str(post.image.path), post.image.path.stem,
                                          limits, config.images, alt=post.image.alt,
                                          cache=cache))
        except ImageError as exc:
            warnings.append(f"{event.source}: image: {exc}; "
                            + ("using a drawn card" if config.images.cards
                               else "posting without an image"))
            placed = None
        drawn = not media and config.images.cards
        if drawn:
            picture = (found[0], str(post.image.path)) if placed else None
            drawn_card, problems = card(event, post, picture)
            fitted = prepare_data(drawn_card.data, "drawn card", "card", limits, config.images,
                                  alt=cut_alt(drawn_card.alt, limits.alt_chars), cache=cache)
            note = "drawn card"
            if placed:
                note += f" with {site_path(post.image.path, config)} on it: {placed}"
            if not fitted.note.startswith("as is"):
                note += f"; {fitted.note}"
            media.append(replace(fitted, note=note))
            warnings.extend(problems)
        if link:
            thumb = media[0] if media else None
            return Attachments((), LinkCard(post.link, post.title, post.excerpt, thumb),
                               tuple(warnings), drawn)
        return Attachments(tuple(media[:limits.images_per_post]), None, tuple(warnings), drawn)

    return attach


def _turned(im) -> bool:
    """True when the image's EXIF orientation turns it a quarter (width and height swap)."""
    try:
        return int(im.getexif().get(0x0112, 1)) in (5, 6, 7, 8)
    except Exception:
        return False


def site_path(path: Path, config: Config) -> str:
    """A file's path as output shows it: relative to the site, escaped onto one line."""
    from .content import printable

    try:
        return printable(str(Path(path).relative_to(config.site.root)))
    except ValueError:
        return printable(str(path))
