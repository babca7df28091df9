"""Check the `[[digests]]` tables and the `[templates.digest.LANG]` texts they are written with.

A digest names when it goes out (`every`, in the site's zone), the span it lists (`window`,
by default up to the next sending), and optionally its accounts, its languages and a text for
a window without events (`empty`). Everything is checked here, when the config is loaded, with
the key's full dotted name (`digests[0].every`), so `validate` and `preview` refuse what `run`
would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import config_read as read
from .errors import ConfigError
from .model import Account

if TYPE_CHECKING:
    from .digest import Digest, DigestTexts

# The digest and composer modules are imported where a digest or its texts are read: a
# configuration without them (and every command that reads one) does not load them.

DIGEST_KEYS = ("name", "every", "window", "accounts", "languages", "empty")
TEXT_KEYS = ("header", "line", "footer")
TEMPLATE = "digest"
"""The name of the digests' table under [templates]: `[templates.digest.sv]`."""
_NAME = re.compile(r"[\w-]{1,64}")


def digests(data: Any, templates: Any, site_languages: tuple[str, ...],
            accounts: tuple[Account, ...]) -> tuple[Digest, ...]:
    """Read `[[digests]]` and `[templates.digest]`; () when there are no digests."""
    texts = _templates(templates, site_languages)
    if data is None:
        return ()
    if not isinstance(data, list) or not data:
        raise ConfigError(f"digests: expected [[digests]] tables, got {read.shown(data)}")
    found: list[Digest] = []
    for i, item in enumerate(data):
        prefix = f"digests[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{prefix}: expected a table, got {read.shown(item)}")
        digest = _digest(item, prefix, texts, site_languages, accounts)
        if digest.name in (d.name for d in found):
            raise ConfigError(f"{prefix}.name: {digest.name!r} is the name of another digest; "
                              f"digest names must be unique")
        found.append(digest)
    return tuple(found)


def _digest(item: dict[str, Any], prefix: str, texts: Mapping[str, dict[str, str]],
            site_languages: tuple[str, ...], accounts: tuple[Account, ...]) -> Digest:
    from .digest import Digest, parse_every

    read.known(item, prefix, DIGEST_KEYS)
    name = read.string(item, "name", None, prefix)
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{prefix}.name: a digest name may hold only letters, digits, '-' "
                          f"and '_' (up to 64), got {read.shown(name)}")
    every = item.get("every")
    if every is None:
        raise ConfigError(f"{prefix}.every: missing; when the digest goes out, such as "
                          f"\"monday 09:00\"")
    try:
        schedule = parse_every(every)
    except ValueError as exc:
        raise ConfigError(f"{prefix}.every: {exc}") from None
    window = (read.parse_duration(item["window"], f"{prefix}.window", above_minimum=True)
              if "window" in item else None)
    names = _accounts(item, prefix, accounts)
    languages = _languages(item, prefix, site_languages)
    empty = _empty(item.get("empty"), prefix, site_languages)
    digest = Digest(name, schedule, window, names, languages)
    posters = digest.posters(accounts)
    if not posters:
        raise ConfigError(f"{prefix}.languages: no account of this digest posts in "
                          f"{', '.join(languages)}")
    used = dict.fromkeys(lang for _, langs in posters for lang in langs)
    return Digest(name, schedule, window, names, languages,
                  {lang: _texts(lang, texts.get(lang, {}), empty.get(lang)) for lang in used})


def _accounts(item: dict[str, Any], prefix: str, accounts: tuple[Account, ...]
              ) -> tuple[str, ...]:
    if "accounts" not in item:
        return ()
    where = f"{prefix}.accounts"
    names = read.string_list(item["accounts"], where)
    known = [a.name for a in accounts]
    if not names:
        raise ConfigError(f"{where}: list at least one account, or leave the key out for all")
    for name in names:
        if name not in known:
            hint = read.suggestion(name, known) or f" (accounts: {', '.join(known)})"
            raise ConfigError(f"{where}: {read.shown(name)} is not a configured account{hint}")
    return tuple(names)


def _languages(item: dict[str, Any], prefix: str, site: tuple[str, ...]) -> tuple[str, ...]:
    if "languages" not in item:
        return ()
    where = f"{prefix}.languages"
    languages = read.string_list(item["languages"], where)
    if not languages:
        raise ConfigError(f"{where}: list at least one language, or leave the key out for "
                          f"each account's own")
    for lang in languages:
        read.site_language(lang, where, site)
    return tuple(languages)


def _empty(value: Any, prefix: str, site: tuple[str, ...]) -> dict[str, str]:
    """The "nothing this week" text per language: one text for all, or a table per language."""
    from .digest import HEADER_FIELDS

    where = f"{prefix}.empty"
    if value is None:
        return {}
    table = isinstance(value, dict)
    if isinstance(value, str):
        value = dict.fromkeys(site, value)
    elif not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a text, or a table of lang = \"text\", "
                          f"got {read.shown(value)}")
    for lang, text in value.items():
        key = read.key(where, lang) if table else where
        read.site_language(lang, key, site)
        _check(text, key, HEADER_FIELDS, required=True)
    return dict(value)


def _templates(data: Any, site: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Read `[templates.digest.LANG]` tables of header, line and footer."""
    if data is None:
        return {}
    from .digest import HEADER_FIELDS, LINE_FIELDS

    prefix = f"templates.{TEMPLATE}"
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix}: expected tables such as [{prefix}.sv], "
                          f"got {read.shown(data)}")
    out: dict[str, dict[str, str]] = {}
    for lang, texts in data.items():
        where = read.key(prefix, lang)
        if lang in TEXT_KEYS:
            raise ConfigError(f"{where}: the texts go in one table per language, such as "
                              f"[{prefix}.{site[0]}]")
        read.site_language(lang, where, site)
        if not isinstance(texts, dict):
            raise ConfigError(f"{where}: expected a table of header, line and footer, "
                              f"got {read.shown(texts)}")
        read.known(texts, where, TEXT_KEYS)
        for key, text in texts.items():
            _check(text, read.key(where, key), LINE_FIELDS if key == "line" else HEADER_FIELDS,
                   required=key == "line")
        out[lang] = dict(texts)
    return out


def _texts(lang: str, configured: Mapping[str, str], empty: str | None) -> DigestTexts:
    """The texts of one language: the configured ones over the built-in (or word-free) ones."""
    from .digest import DEFAULT_TEXTS, DigestTexts

    base = DEFAULT_TEXTS.get(lang)
    if base is None and "header" not in configured:
        raise ConfigError(f"templates.{TEMPLATE}.{lang}.header: missing; Herald has built-in "
                          f"digest texts in {', '.join(DEFAULT_TEXTS)} only, so a digest in "
                          f"{lang!r} needs its header")
    base = base or neutral_texts()
    return DigestTexts(header=configured.get("header", base.header),
                       line=configured.get("line", base.line),
                       footer=configured.get("footer", base.footer),
                       empty=empty)


def _check(text: Any, where: str, fields: tuple[str, ...], *, required: bool = False) -> None:
    """Check a text's fields; only a `required` text may not be empty."""
    from .templates import check_template

    if not isinstance(text, str):
        raise ConfigError(f"{where}: expected a text, got {read.shown(text)}")
    if required or text.strip():
        read.text(text, where, multiline=True)
    try:
        check_template(text, fields)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def neutral_texts() -> DigestTexts:
    """The line and footer a language without built-in digest texts starts from (no words)."""
    from .digest import DEFAULT_TEXTS, DigestTexts

    return DigestTexts(header="", line=DEFAULT_TEXTS["en"].line,
                       footer=DEFAULT_TEXTS["en"].footer)


def known_keys() -> tuple[str, ...]:
    """Every key of a digest and of its texts, as dotted names."""
    return (*(f"digests[].{key}" for key in DIGEST_KEYS),
            *(f"templates.{TEMPLATE}.<lang>.{key}" for key in TEXT_KEYS))
