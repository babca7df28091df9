"""Read Herald's TOML configuration into plain data, checking every key when it is loaded.

Every command loads the configuration the same way, so a key that `run` would refuse is
refused by `validate` and `preview` too: one line naming the file and the key's full dotted
name (`accounts.masto.quiet_hour: unknown key; did you mean 'quiet_hours'?`), exit code 3.
`known_keys()` lists every key there is. Configuration never holds secrets; those come from
the environment or the secrets file.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import config_accounts, config_digests, planner
from . import config_read as read
from .config_read import MAX_DURATION, parse_clock_period, parse_duration
from .errors import ConfigError, UsageError
from .localize import is_language
from .model import Account, Stage

if TYPE_CHECKING:
    from .digest import Digest

__all__ = ["Config", "ImageConfig", "SiteConfig", "find_config", "known_keys", "load_config",
           "parse_clock_period", "parse_config", "parse_duration"]

PLATFORMS = config_accounts.PLATFORMS
OFFSET_POLICIES = ("clock", "offset", "refuse")
CONFIG_ENV = "HERALD_CONFIG"

MAX_GRACE = timedelta(days=30)
"""The longest `grace`: a stage missed by more than a month is news no longer."""
MAX_BEFORE = MAX_DURATION
"""The longest `before` of a stage: a year (366 days) ahead of the event."""
MAX_CONFIG_BYTES = 1_000_000
MAX_SITE_NAME = 100
MAX_EDGE = (256, 8192)
BLUESKY_BYTES = (10_000, 50_000_000)

RESERVED_STAGES = ("correction", "cancellation")
"""Names of Herald's own posts about changes, which no stage may take."""
CHANGE_TEMPLATES = ("correction", "updated", "cancellation")
"""Templates of Herald's posts about changes, which a [templates] table may replace."""
KINDS = ("announcement", "reminder")

TOP_KEYS = ("grace", "ledger", "secrets", "site", "stages", "templates", "images", "accounts",
            "digests")
SITE_KEYS = ("path", "url", "timezone", "default_lang", "languages", "events_dir", "uploads",
             "permalink", "offset_policy", "hashtags", "name", "date_only_time")
STAGE_KEYS = ("name", "kind", "before", "template", "date_only_time")
DATE_ONLY_TIME = f"{planner.DATE_ONLY_TIME:%H:%M}"
"""When, on its day, a stage goes for an event without a time of day (`site.date_only_time`)."""
IMAGE_KEYS = ("cards", "max_edge", "background", "card_background", "card_foreground",
              "card_accent", "logo", "bluesky_bytes", "cache_dir", "place_on_card")
COLOURS = ("background", "card_background", "card_foreground", "card_accent")

_STAGE_NAME = re.compile(r"[\w-]{1,64}")


@dataclass(frozen=True)
class SiteConfig:
    """Where the site is and how it maps files to public URLs."""

    root: Path
    url: str = "https://civictech.se"
    timezone: ZoneInfo = ZoneInfo("Europe/Stockholm")
    default_lang: str = "sv"
    languages: tuple[str, ...] = ("sv", "en")
    events_dir: str = "_events"
    uploads: tuple[tuple[str, str], ...] = (("/uploads/", "_uploads"),)
    permalink: str = "/:title/"
    offset_policy: str = "clock"
    hashtags: tuple[str, ...] = ()
    name: str | None = None
    """The site's name, shown small on drawn cards; None shows the host of `url`, "" nothing."""


@dataclass(frozen=True)
class ImageConfig:
    """How images are prepared and when a card is drawn."""

    cards: bool = True
    max_edge: int = 2048
    background: str = "#ffffff"
    card_background: str = "#1d3557"
    card_foreground: str = "#ffffff"
    card_accent: str = "#e63946"
    logo: Path | None = None
    bluesky_bytes: int = 2_000_000
    cache_dir: Path | None = None
    place_on_card: bool = True
    """Put an event image that would look tiny or cropped on the drawn card (see images.shape)."""


@dataclass(frozen=True)
class Config:
    """Everything Herald needs to know, minus secrets."""

    site: SiteConfig
    stages: tuple[Stage, ...]
    grace: timedelta
    accounts: tuple[Account, ...]
    templates: dict[str, dict[str, str]] = field(default_factory=dict)
    images: ImageConfig = ImageConfig()
    ledger: Path | None = None
    secrets: Path | None = None
    source: Path | None = None
    digests: tuple[Digest, ...] = ()
    """The `[[digests]]`: regular posts listing the events of a coming window."""

    def account(self, name: str) -> Account:
        """Return the account called `name`; a usage error (exit 2) when there is none."""
        return _named(self.accounts, name, "account")

    def digest(self, name: str) -> Digest:
        """Return the digest called `name`; a usage error (exit 2) when there is none."""
        return _named(self.digests, name, "digest")


def _named(items, name: str, what: str):
    """The item of `items` called `name`, or a usage error naming the closest one."""
    for item in items:
        if item.name == name:
            return item
    names = [item.name for item in items]
    hint = read.suggestion(name, names) or f" (configured: {', '.join(names) or 'none'})"
    raise UsageError(f"unknown {what} {read.shown(name)}{hint}")


DEFAULT_STAGES = (
    Stage("announcement", "announcement"),
    Stage("reminder-1d", "reminder", timedelta(days=1), "reminder"),
    Stage("reminder-2h", "reminder", timedelta(hours=2), "reminder"),
)

DEFAULT_ACCOUNTS = (
    Account("mastodon", "mastodon", ("sv", "en"), {"instance": "https://mastodon.social"}),
    Account("x", "x", ("sv", "en"), {}),
    Account("bluesky", "bluesky", ("sv", "en"), {"service": "https://bsky.social"}),
)
"""The accounts without an [accounts] table; each posts in all the site's languages."""


def known_keys() -> tuple[str, ...]:
    """Every key the configuration takes, as dotted names: `site.timezone`, `stages[].before`,
    `accounts.<name>.quiet_hours`; a part in angle brackets is a name of your choice."""
    return (
        "grace", "ledger", "secrets",
        *(f"site.{k}" for k in SITE_KEYS if k != "uploads"), "site.uploads.<prefix>",
        *(f"stages[].{k}" for k in STAGE_KEYS),
        "templates.<name>.<lang>",
        *(f"images.{k}" for k in IMAGE_KEYS),
        *config_accounts.known_keys(),
        *config_digests.known_keys(),
    )


def find_config(explicit: str | Path | None) -> Path | None:
    """Return the config file to use: --config, then $HERALD_CONFIG, then ./herald.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    local = Path("herald.toml")
    return local if local.is_file() else None


def load_config(path: str | Path | None = None, *, site: str | Path | None = None) -> Config:
    """Read the config file (or the built-in defaults when there is none); `site` overrides its site.

    Every error is one ConfigError line that starts with the file's name.
    """
    found = find_config(path)
    data: dict[str, Any] = {}
    base = Path.cwd()
    if found is not None:
        data = _read(found)
        base = found.resolve().parent
    try:
        config = parse_config(data, base=base, source=found)
    except ConfigError as exc:
        if found is None:
            raise
        raise ConfigError(f"{found}: {exc}") from None
    if site is not None:
        config = replace(config, site=replace(config.site, root=Path(site).resolve()))
    return config


def _read(found: Path) -> dict[str, Any]:
    """Parse the TOML file `found`: a regular UTF-8 file of 1 MB at most (a BOM is fine)."""
    try:
        info = found.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{found}: not a regular file; give the path of a TOML file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{found}: too large for a config file ({info.st_size:,} bytes; "
                              f"at most {MAX_CONFIG_BYTES:,})")
        with open(found, "rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{found}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{found}: cannot read config file ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{found}: too large for a config file (at most "
                          f"{MAX_CONFIG_BYTES:,} bytes)")
    import tomllib

    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{found}: not UTF-8 text (byte {exc.start + 1} cannot be read); "
                          f"save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{found}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{found}: invalid TOML: arrays or tables nested too deeply") from None


def parse_config(data: dict[str, Any], *, base: Path, source: Path | None = None) -> Config:
    """Turn parsed TOML into a Config, checking every key; relative paths are relative to `base`."""
    read.known(data, "", TOP_KEYS)
    site_data = read.table(data, "site")
    site = _site(site_data, base)
    day_time = read.clock(site_data.get("date_only_time", DATE_ONLY_TIME), "site.date_only_time")
    stages = tuple(stage if stage.date_only_time else replace(stage, date_only_time=day_time)
                   for stage in _stages(data.get("stages")))
    templates_data = data.get("templates", {})
    digest_texts = None
    if isinstance(templates_data, dict) and config_digests.TEMPLATE in templates_data:
        digest_texts = templates_data[config_digests.TEMPLATE]
        templates_data = {k: v for k, v in templates_data.items()
                          if k != config_digests.TEMPLATE}
    templates = _templates(templates_data, stages, site.languages)
    _stage_templates(stages, templates)
    accounts = config_accounts.accounts(data.get("accounts"), site.languages, DEFAULT_ACCOUNTS)
    return Config(
        site=site,
        stages=stages,
        grace=parse_duration(data.get("grace", "2h"), "grace", maximum=MAX_GRACE),
        accounts=accounts,
        digests=config_digests.digests(data.get("digests"), digest_texts, site.languages,
                                       accounts),
        templates=templates,
        images=_images(read.table(data, "images"), base),
        ledger=read.path(data, "ledger", base),
        secrets=read.path(data, "secrets", base),
        source=source,
    )


def _site(data: dict[str, Any], base: Path) -> SiteConfig:
    read.known(data, "site", SITE_KEYS)
    url = read.url(data.get("url", "https://civictech.se"), "site.url").rstrip("/")
    default_lang = read.string(data, "default_lang", "sv", "site")
    if not is_language(default_lang):
        raise ConfigError(f"site.default_lang: {read.shown(default_lang)} is not a language "
                          f"code Herald knows, such as 'sv' or 'en'")
    languages = tuple(read.string_list(data.get("languages", list(dict.fromkeys(
        [default_lang, "en"]))), "site.languages"))
    if not languages:
        raise ConfigError("site.languages: a site has at least one language, such as "
                          "[\"sv\", \"en\"]")
    for lang in languages:
        if not is_language(lang):
            raise ConfigError(f"site.languages: {read.shown(lang)} is not a language code "
                              f"Herald knows, such as 'sv' or 'en'")
    if default_lang not in languages:
        raise ConfigError(f"site.default_lang: {read.shown(default_lang)} is not one of "
                          f"site.languages ({', '.join(languages)})")
    return SiteConfig(
        root=read.path(data, "path", base, "site") or base.resolve(),
        url=url,
        timezone=_zone(read.string(data, "timezone", "Europe/Stockholm", "site")),
        default_lang=default_lang,
        languages=languages,
        events_dir=read.string(data, "events_dir", "_events", "site"),
        uploads=_uploads(data.get("uploads", {"/uploads/": "_uploads"})),
        permalink=read.string(data, "permalink", "/:title/", "site"),
        offset_policy=read.choice(data, "offset_policy", "clock", OFFSET_POLICIES, "site"),
        hashtags=tuple(h.lstrip("#") for h in read.string_list(
            data.get("hashtags", []), "site.hashtags", distinct=False)),
        name=_site_name(data.get("name")),
    )


def _site_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_SITE_NAME:
        raise ConfigError(f"site.name: expected a name of up to {MAX_SITE_NAME} characters "
                          f"(\"\" shows no name), got {read.shown(value)}")
    return " ".join(value.split())


def _zone(name: str) -> ZoneInfo:
    try:
        if len(name) <= 100:
            return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    raise ConfigError(f"site.timezone: unknown time zone {read.shown(name)}; use a name such "
                      f"as 'Europe/Stockholm'")


def _uploads(data: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(data, dict):
        raise ConfigError(f"site.uploads: expected a table of URL prefix = folder, such as "
                          f"\"/uploads/\" = \"_uploads\", got {read.shown(data)}")
    for prefix, folder in data.items():
        where = read.key("site.uploads", prefix)
        read.text(prefix, where)
        if not isinstance(folder, str):
            raise ConfigError(f"{where}: expected a folder in the site, got {read.shown(folder)}")
        read.text(folder, where)
    return tuple(sorted(data.items(), key=lambda kv: -len(kv[0])))


def _stages(data: Any) -> tuple[Stage, ...]:
    if data is None:
        return DEFAULT_STAGES
    if not isinstance(data, list) or not data:
        raise ConfigError(f"stages: expected a non-empty list of [[stages]] tables, "
                          f"got {read.shown(data)}")
    stages: list[Stage] = []
    for i, item in enumerate(data):
        prefix = f"stages[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{prefix}: expected a table, got {read.shown(item)}")
        read.known(item, prefix, STAGE_KEYS)
        name = read.string(item, "name", None, prefix)
        if not _STAGE_NAME.fullmatch(name):
            raise ConfigError(f"{prefix}.name: a stage name may hold only letters, digits, '-' "
                              f"and '_' (up to 64), got {read.shown(name)}")
        if name in RESERVED_STAGES:
            raise ConfigError(f"{prefix}.name: {name!r} is the name of Herald's own posts about "
                              f"changes; name the stage differently")
        if name == config_digests.TEMPLATE:
            raise ConfigError(f"{prefix}.name: {name!r} names the digests' texts "
                              f"([templates.digest]); name the stage differently")
        if name in (s.name for s in stages):
            raise ConfigError(f"{prefix}.name: {name!r} is the name of another stage; "
                              f"stage names must be unique")
        kind = read.choice(item, "kind", "reminder" if "before" in item else "announcement",
                           KINDS, prefix)
        before = (parse_duration(item["before"], f"{prefix}.before", maximum=MAX_BEFORE,
                                 above_minimum=True) if "before" in item else None)
        if kind == "reminder" and before is None:
            raise ConfigError(f"{prefix}.before: a reminder needs a time before the event, "
                              f"e.g. '1d'")
        template = read.string(item, "template", "", prefix) if "template" in item else None
        day_time = (read.clock(item["date_only_time"], f"{prefix}.date_only_time")
                    if "date_only_time" in item else None)
        stages.append(Stage(name, kind, before, template, day_time))
    return tuple(stages)


def _templates(data: Any, stages: tuple[Stage, ...],
               languages: tuple[str, ...]) -> dict[str, dict[str, str]]:
    from .templates import check_template

    if not isinstance(data, dict):
        raise ConfigError(f"templates: expected tables such as [templates.announcement], "
                          f"got {read.shown(data)}")
    usable = dict.fromkeys([*(s.name for s in stages), *(s.template for s in stages if s.template),
                            *KINDS, *CHANGE_TEMPLATES])
    out: dict[str, dict[str, str]] = {}
    for name, texts in data.items():
        prefix = read.key("templates", name)
        if name not in usable:
            hint = read.suggestion(name, usable) or (
                f" (a template is named after a stage or its `template`, or is one of "
                f"{', '.join(KINDS + CHANGE_TEMPLATES)})")
            raise ConfigError(f"{prefix}: no stage or Herald post uses this template{hint}")
        if not isinstance(texts, dict):
            raise ConfigError(f"{prefix}: expected lang = \"template text\" pairs, "
                              f"got {read.shown(texts)}")
        for lang, text in texts.items():
            where = read.key(prefix, lang)
            if lang not in languages:
                raise ConfigError(f"{where}: {read.shown(lang)} is not one of the site's "
                                  f"languages ({', '.join(languages)})")
            read.text(text, where, multiline=True)
            try:
                check_template(text)
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        out[name] = dict(texts)
    return out


def _stage_templates(stages: tuple[Stage, ...], templates: dict[str, dict[str, str]]) -> None:
    """Refuse a stage whose `template` names no template (it would quietly use the default)."""
    from .templates import DEFAULT_TEMPLATES

    names = dict.fromkeys([*templates, *DEFAULT_TEMPLATES])
    for i, stage in enumerate(stages):
        if stage.template is not None and stage.template not in names:
            hint = read.suggestion(stage.template, names) or ""
            raise ConfigError(f"stages[{i}].template: no template named "
                              f"{read.shown(stage.template)}{hint} (templates: "
                              f"{', '.join(names)})")


def _images(data: dict[str, Any], base: Path) -> ImageConfig:
    read.known(data, "images", IMAGE_KEYS)
    defaults = ImageConfig()
    colours = {}
    for name in COLOURS:
        colour = read.string(data, name, getattr(defaults, name), "images")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
            raise ConfigError(f"images.{name}: expected a colour like '#1d3557', "
                              f"got {read.shown(colour)}")
        colours[name] = colour
    return ImageConfig(
        cards=read.boolean(data, "cards", True, "images"),
        place_on_card=read.boolean(data, "place_on_card", True, "images"),
        max_edge=read.whole(data, "max_edge", defaults.max_edge, minimum=MAX_EDGE[0],
                            maximum=MAX_EDGE[1], unit="pixels", prefix="images"),
        bluesky_bytes=read.whole(data, "bluesky_bytes", defaults.bluesky_bytes,
                                 minimum=BLUESKY_BYTES[0], maximum=BLUESKY_BYTES[1],
                                 unit="bytes", prefix="images"),
        logo=read.path(data, "logo", base, "images"),
        cache_dir=read.path(data, "cache_dir", base, "images"),
        **colours,
    )
