"""Read Herald's TOML configuration into plain data, naming the key on every error.

Configuration never holds secrets; those come from the environment or the secrets file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .model import Account, Stage

PLATFORMS = ("mastodon", "x", "bluesky")
OFFSET_POLICIES = ("clock", "offset", "refuse")
CONFIG_ENV = "HERALD_CONFIG"


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

    def account(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts) or "none"
        raise ConfigError(f"unknown account {name!r} (configured: {known})")


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

_DURATION = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: Any, key: str) -> timedelta:
    """Parse `14d`, `2h`, `1d12h`, `90m` or a number of seconds into a timedelta."""
    if isinstance(text, bool):
        raise ConfigError(f"{key}: expected a duration such as '2h' or '14d', got {text!r}")
    if isinstance(text, (int, float)):
        return timedelta(seconds=text)
    if isinstance(text, str):
        compact = text.replace(" ", "")
        parts = _DURATION.findall(compact)
        if parts and "".join(n + u for n, u in parts) == compact:
            return sum((timedelta(**{_UNITS[u]: int(n)}) for n, u in parts), timedelta())
    raise ConfigError(f"{key}: expected a duration such as '2h' or '14d', got {text!r}")


def find_config(explicit: str | Path | None) -> Path | None:
    """Return the config file to use: --config, then $HERALD_CONFIG, then ./herald.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    local = Path("herald.toml")
    return local if local.is_file() else None


def load_config(path: str | Path | None = None, *, site: str | Path | None = None) -> Config:
    """Read the config file (or the built-in defaults when there is none); `site` overrides its site."""
    found = find_config(path)
    data: dict[str, Any] = {}
    base = Path.cwd()
    if found is not None:
        try:
            data = tomllib.loads(found.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{found}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{found}: cannot read config file ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{found}: invalid TOML: {exc}") from None
        base = found.resolve().parent
    config = parse_config(data, base=base, source=found)
    if site is not None:
        config = _with_site_root(config, Path(site).resolve())
    return config


def _with_site_root(config: Config, root: Path) -> Config:
    from dataclasses import replace

    return replace(config, site=replace(config.site, root=root))


def parse_config(data: dict[str, Any], *, base: Path, source: Path | None = None) -> Config:
    """Turn parsed TOML into a Config; relative paths are relative to `base`."""
    _known(data, "", {"site", "stages", "grace", "accounts", "templates", "images", "ledger",
                      "secrets"})
    site_data = _table(data, "site")
    return Config(
        site=_site(site_data, base),
        stages=_stages(data.get("stages")),
        grace=parse_duration(data.get("grace", "2h"), "grace"),
        accounts=_accounts(data.get("accounts")),
        templates=_templates(data.get("templates", {})),
        images=_images(_table(data, "images"), base),
        ledger=_path(data, "ledger", base),
        secrets=_path(data, "secrets", base),
        source=source,
    )


def _site(data: dict[str, Any], base: Path) -> SiteConfig:
    _known(data, "site.", {"path", "url", "timezone", "default_lang", "languages", "events_dir",
                           "uploads", "permalink", "offset_policy", "hashtags", "name"})
    tz_name = _str(data, "timezone", "Europe/Stockholm", "site.")
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"site.timezone: unknown time zone {tz_name!r}") from None
    policy = _str(data, "offset_policy", "clock", "site.")
    if policy not in OFFSET_POLICIES:
        raise ConfigError(f"site.offset_policy: expected one of {', '.join(OFFSET_POLICIES)}, "
                          f"got {policy!r}")
    uploads = data.get("uploads", {"/uploads/": "_uploads"})
    if not isinstance(uploads, dict) or not all(isinstance(v, str) for v in uploads.values()):
        raise ConfigError("site.uploads: expected a table of URL prefix = folder")
    url = _str(data, "url", "https://civictech.se", "site.").rstrip("/")
    if not re.match(r"https?://", url):
        raise ConfigError(f"site.url: expected an http(s) URL, got {url!r}")
    default_lang = _str(data, "default_lang", "sv", "site.")
    languages = tuple(_str_list(data, "languages", [default_lang, "en"], "site."))
    return SiteConfig(
        root=(base / _str(data, "path", ".", "site.")).resolve(),
        url=url,
        timezone=zone,
        default_lang=default_lang,
        languages=tuple(dict.fromkeys(languages)),
        events_dir=_str(data, "events_dir", "_events", "site."),
        uploads=tuple(sorted(uploads.items(), key=lambda kv: -len(kv[0]))),
        permalink=_str(data, "permalink", "/:title/", "site."),
        offset_policy=policy,
        hashtags=tuple(h.lstrip("#") for h in _str_list(data, "hashtags", [], "site.")),
        name=_site_name(data.get("name")),
    )


def _site_name(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"site.name: expected a string (\"\" shows no name), got {value!r}")
    return " ".join(value.split()) if value is not None else None


def _stages(data: Any) -> tuple[Stage, ...]:
    if data is None:
        return DEFAULT_STAGES
    if not isinstance(data, list) or not data:
        raise ConfigError("stages: expected a non-empty list of [[stages]] tables")
    stages = []
    for i, item in enumerate(data):
        key = f"stages[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{key}: expected a table")
        _known(item, key + ".", {"name", "kind", "before", "template"})
        name = _str(item, "name", None, key + ".")
        kind = _str(item, "kind", "reminder" if "before" in item else "announcement", key + ".")
        if kind not in ("announcement", "reminder"):
            raise ConfigError(f"{key}.kind: expected 'announcement' or 'reminder', got {kind!r}")
        before = parse_duration(item["before"], f"{key}.before") if "before" in item else None
        if kind == "reminder" and before is None:
            raise ConfigError(f"{key}.before: a reminder needs a time before the event, e.g. '1d'")
        template = item.get("template")
        if template is not None and not isinstance(template, str):
            raise ConfigError(f"{key}.template: expected a template name")
        stages.append(Stage(name, kind, before, template))
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ConfigError("stages: stage names must be unique")
    return tuple(stages)


def _accounts(data: Any) -> tuple[Account, ...]:
    if data is None:
        return DEFAULT_ACCOUNTS
    if not isinstance(data, dict):
        raise ConfigError("accounts: expected tables such as [accounts.mastodon]")
    accounts = []
    for name, item in data.items():
        key = f"accounts.{name}"
        if not isinstance(item, dict):
            raise ConfigError(f"{key}: expected a table")
        platform = _str(item, "platform", None, key + ".")
        if platform not in PLATFORMS:
            raise ConfigError(f"{key}.platform: expected one of {', '.join(PLATFORMS)}, "
                              f"got {platform!r}")
        for secret in ("token", "access_token", "password", "app_password", "api_secret",
                       "access_secret", "client_secret", "api_key"):
            if secret in item:
                raise ConfigError(f"{key}.{secret}: secrets do not belong in the config file; "
                                  f"use the environment or the secrets file (herald auth)")
        languages = tuple(_str_list(item, "languages", ["sv"], key + "."))
        options = {k: v for k, v in item.items() if k not in ("platform", "languages")}
        accounts.append(Account(name, platform, languages, options))
    return tuple(accounts)


def _templates(data: Any) -> dict[str, dict[str, str]]:
    from .composer import check_template

    if not isinstance(data, dict):
        raise ConfigError("templates: expected tables such as [templates.announcement]")
    out: dict[str, dict[str, str]] = {}
    for name, langs in data.items():
        if not isinstance(langs, dict) or not all(isinstance(v, str) for v in langs.values()):
            raise ConfigError(f"templates.{name}: expected lang = \"template text\" pairs")
        for lang, text in langs.items():
            try:
                check_template(text)
            except ValueError as exc:
                raise ConfigError(f"templates.{name}.{lang}: {exc}") from None
        out[name] = dict(langs)
    return out


def _images(data: dict[str, Any], base: Path) -> ImageConfig:
    _known(data, "images.", {"cards", "max_edge", "background", "card_background",
                             "card_foreground", "card_accent", "logo", "bluesky_bytes",
                             "cache_dir", "place_on_card"})
    defaults = ImageConfig()
    values: dict[str, Any] = {}
    for name in ("background", "card_background", "card_foreground", "card_accent"):
        colour = _str(data, name, getattr(defaults, name), "images.")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
            raise ConfigError(f"images.{name}: expected a colour like '#1d3557', got {colour!r}")
        values[name] = colour
    for name in ("max_edge", "bluesky_bytes"):
        number = data.get(name, getattr(defaults, name))
        if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
            raise ConfigError(f"images.{name}: expected a positive whole number, got {number!r}")
        values[name] = number
    for name in ("cards", "place_on_card"):
        flag = data.get(name, getattr(defaults, name))
        if not isinstance(flag, bool):
            raise ConfigError(f"images.{name}: expected true or false, got {flag!r}")
        values[name] = flag
    return ImageConfig(logo=_path(data, "logo", base, "images."),
                       cache_dir=_path(data, "cache_dir", base, "images."), **values)


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table [{key}]")
    return value


def _known(data: dict[str, Any], prefix: str, keys: set[str]) -> None:
    for key in data:
        if key not in keys:
            raise ConfigError(f"{prefix}{key}: unknown key (expected one of "
                              f"{', '.join(sorted(keys))})")


def _str(data: dict[str, Any], key: str, default: str | None, prefix: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        raise ConfigError(f"{prefix}{key}: missing")
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{prefix}{key}: expected a non-empty string, got {value!r}")
    return value


def _str_list(data: dict[str, Any], key: str, default: list[str], prefix: str = "") -> list[str]:
    value = data.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{prefix}{key}: expected a list of strings, got {value!r}")
    return value


def _path(data: dict[str, Any], key: str, base: Path, prefix: str = "") -> Path | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{prefix}{key}: expected a path, got {value!r}")
    return (base / Path(value).expanduser()).resolve()
