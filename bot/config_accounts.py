"""Check each `[accounts.NAME]` table against the options its platform takes.

The options, as data: every account takes `COMMON_OPTIONS`; each platform adds its own in
`PLATFORM_OPTIONS`. A key outside both is refused with its full dotted name, and with a
suggestion ("did you mean 'quiet_hours'?") or the platform that does take it. Values are checked
here, when the config is loaded, so `validate` and `preview` refuse what `run` and `check`
would: the adapters and the timing code read the options checked here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from . import config_read as read
from .errors import ConfigError, auth_command
from .model import Account

PLATFORMS = ("mastodon", "x", "bluesky")
VISIBILITIES = ("public", "unlisted", "private", "direct")
SOFTWARE = ("mastodon", "gotosocial", "other")
"""What a Mastodon account's server runs: it says how the server counts, for preview, which asks
no server (posting follows the instance's own answer)."""
CANCEL_MODES = ("reply", "delete")
MAX_GAP = timedelta(days=1)
"""The longest `min_gap`: more than a day between two posts is what `daily_cap` is for."""

COMMON_OPTIONS = ("platform", "languages", "quiet_hours", "min_gap", "daily_cap", "on_cancel",
                  "request_timeout")
DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds the adapters wait for an answer before giving up on a request."""
REQUEST_TIMEOUT = (timedelta(seconds=1), timedelta(minutes=5))
"""The shortest and longest `request_timeout`."""
PLATFORM_OPTIONS: dict[str, tuple[str, ...]] = {
    "mastodon": ("instance", "visibility", "software"),
    "x": ("api_url",),
    "bluesky": ("service", "link_card"),
}
SECRET_FIELDS = ("token", "access_token", "password", "app_password", "api_secret",
                 "access_secret", "client_secret", "api_key", "handle", "session")
"""Credential fields: they belong in the environment or the secrets file, never here."""

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def accounts(data: Any, site_languages: tuple[str, ...],
             defaults: tuple[Account, ...]) -> tuple[Account, ...]:
    """Read the `[accounts.NAME]` tables; `defaults` when there are none."""
    if data is None:
        return tuple(Account(a.name, a.platform, site_languages, dict(a.options))
                     for a in defaults)
    if not isinstance(data, dict):
        raise ConfigError(f"accounts: expected tables such as [accounts.mastodon], "
                          f"got {read.shown(data)}")
    found: list[Account] = []
    variables: dict[str, str] = {}
    for name, item in data.items():
        where = read.key("accounts", name)
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{where}: an account name may hold only letters, digits, '-' "
                              f"and '_' (up to 64): it names the account's HERALD_<ACCOUNT>_... "
                              f"credential variables")
        stem = f"HERALD_{name.upper().replace('-', '_')}_"
        if stem in variables:
            raise ConfigError(f"{where}: reads the same credential variables ({stem}...) as "
                              f"{read.key('accounts', variables[stem])}; rename one of them")
        variables[stem] = name
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a table [{where}], got {read.shown(item)}")
        found.append(account(name, item, site_languages))
    return tuple(found)


def account(name: str, item: dict[str, Any], site_languages: tuple[str, ...]) -> Account:
    """Check one account's table and return the Account."""
    prefix = read.key("accounts", name)
    platform = read.choice(item, "platform", None, PLATFORMS, prefix)
    takes = COMMON_OPTIONS + PLATFORM_OPTIONS[platform]
    for option in item:
        if option in takes:
            continue
        where = read.key(prefix, option)
        if option in SECRET_FIELDS:
            raise ConfigError(f"{where}: credentials do not belong in the config file; use the "
                              f"environment or the secrets file (`{auth_command(platform, name)}`)")
        others = [p for p, options in PLATFORM_OPTIONS.items() if option in options]
        if others:
            raise ConfigError(f"{where}: not an option of {platform} accounts "
                              f"({', '.join(others)} accounts take it)")
        raise read.unknown_key(prefix, option, takes)
    languages = _languages(item, prefix, site_languages)
    _timing(item, prefix)
    if "request_timeout" in item:
        _request_timeout(item["request_timeout"], read.key(prefix, "request_timeout"))
    read.choice(item, "on_cancel", "reply", CANCEL_MODES, prefix)
    _platform_options(platform, item, prefix)
    options = {k: v for k, v in item.items() if k not in ("platform", "languages")}
    return Account(name, platform, languages, options)


def _languages(item: dict[str, Any], prefix: str, site: tuple[str, ...]) -> tuple[str, ...]:
    where = read.key(prefix, "languages")
    if "languages" not in item:
        return site
    languages = read.string_list(item["languages"], where)
    if not languages:
        raise ConfigError(f"{where}: an account posts in at least one language; "
                          f"the site's are {', '.join(site)}")
    for lang in languages:
        read.site_language(lang, where, site)
    return tuple(languages)


def _timing(item: dict[str, Any], prefix: str) -> None:
    """Check `quiet_hours`, `min_gap` and `daily_cap`, which the timing code reads."""
    quiet = item.get("quiet_hours")
    if quiet not in (None, ""):
        read.parse_clock_period(quiet, read.key(prefix, "quiet_hours"))
    if "min_gap" in item:
        read.parse_duration(item["min_gap"], read.key(prefix, "min_gap"), maximum=MAX_GAP)
    read.whole(item, "daily_cap", None, minimum=1, unit="posts", prefix=prefix)


def _request_timeout(value: Any, where: str) -> float:
    low, high = REQUEST_TIMEOUT
    return read.parse_duration(value, where, minimum=low, maximum=high).total_seconds()


def request_timeout(account: Account) -> float:
    """The seconds an account's adapter waits for an answer (`request_timeout`, checked at load).

    A request that stalls longer is given up; on a platform that cannot recognise a repeated
    post, a post in doubt is looked up only once this much time has passed.
    """
    value = account.options.get("request_timeout")
    if value is None:
        return DEFAULT_REQUEST_TIMEOUT
    return _request_timeout(value, read.key(read.key("accounts", account.name), "request_timeout"))


def _platform_options(platform: str, item: dict[str, Any], prefix: str) -> None:
    if platform == "mastodon":
        if "instance" not in item:
            raise ConfigError(f"{read.key(prefix, 'instance')}: missing; set the Mastodon "
                              f"server, e.g. instance = \"https://mastodon.social\"")
        instance = item["instance"]
        where = read.key(prefix, "instance")
        full = instance.strip() if isinstance(instance, str) else instance
        if isinstance(full, str) and "://" not in full:
            full = "https://" + full                # the adapter reads a bare host the same way
        try:
            read.url(full, where)
        except ConfigError:
            raise ConfigError(f"{where}: expected the Mastodon server such as "
                              f"https://mastodon.social, got {read.shown(instance)}") from None
        read.choice(item, "visibility", "public", VISIBILITIES, prefix)
        read.choice(item, "software", "mastodon", SOFTWARE, prefix)
    elif platform == "x":
        if "api_url" in item:
            read.url(item["api_url"], read.key(prefix, "api_url"), base_only=True)
    else:
        if "service" in item:
            read.url(item["service"], read.key(prefix, "service"))
        read.boolean(item, "link_card", False, prefix)


def known_keys() -> tuple[str, ...]:
    """Every account option, as `accounts.<name>.KEY`."""
    options = list(COMMON_OPTIONS)
    for platform_options in PLATFORM_OPTIONS.values():
        options.extend(platform_options)
    return tuple(f"accounts.<name>.{option}" for option in options)
