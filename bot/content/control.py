"""Read an event file's `herald:` block: how Herald treats this one event, without the config.

    herald:
      skip: true                    # or `enabled: false`, or `herald: false`: no posts at all
      platforms: [mastodon, bluesky]  # only these platforms
      accounts: [kansli]            # only these accounts (names from the config)
      hashtags: [opendata]          # before the site's (also in the other languages' posts,
                                    # unless their file has its own)
      text:                         # this file's own text, in its language
        x: "{title} {when} {link}"  # on X, at every stage
        mastodon:
          announcement: "..."       # on Mastodon, for one stage (or kind: reminder)

A bad key or value is one warning naming it (`herald.platfroms: unknown key; did you mean
'platforms'?`) and is left out; the rest of the block still counts. Where a mistake could
make Herald post where the editor did not want it, it errs on the side of posting less: a
`skip` that is not true or false skips the event, and an unknown platform narrows the event
to the platforms that are right. Which accounts, stages and kinds exist is known only from
the config: `herald validate` checks those names.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ..config import PLATFORMS
from ..config_read import suggestion
from ..model import Control
from .values import shown, text

KEYS = ("skip", "enabled", "platforms", "accounts", "hashtags", "text")
MAX_NAMES = 50
MAX_TEXT_CHARS = 5000

_NAME = re.compile(r"[\w-]{1,64}")

Report = Callable[..., None]


def read_control(value: Any, report: Report) -> Control | None:
    """Return what the `herald:` block asks, or None when the file has none."""
    if value is None or value is True:
        return None
    if value is False:
        return Control(skip=True)
    if not isinstance(value, dict):
        report("herald", f"expected keys such as skip, platforms, hashtags or text, got "
                         f"{shown(value)}; ignored")
        return None
    for key in value:
        if key not in KEYS:
            hint = suggestion(key, KEYS) or f" (known: {', '.join(KEYS)})"
            report(f"herald.{_key(key)}", f"unknown key{hint}; ignored")
    skip = _switch(value, "skip", True, report) or _switch(value, "enabled", False, report)
    return Control(
        skip=skip,
        platforms=_platforms(value.get("platforms"), report),
        accounts=_names(value.get("accounts"), "herald.accounts", "account", report),
        hashtags=_hashtags(value.get("hashtags"), report),
        texts=_texts(value.get("text"), report),
    )


def _switch(block: dict, name: str, off_when: bool, report: Report) -> bool:
    """Whether `skip: true` (or `enabled: false`) turns the event off; a wrong value does too."""
    if name not in block:
        return False
    value = block[name]
    if isinstance(value, bool):
        return value is off_when
    report(f"herald.{name}", f"expected true or false, got {shown(value)}; Herald leaves the "
                             f"event alone until it is one of the two")
    return True


def _list(value: Any, where: str, report: Report) -> list[str] | None:
    """A list of strings, or one string as a list of one; None (reported) for anything else."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        report(where, f"expected a list such as [mastodon, bluesky], got {shown(value)}")
        return None
    if len(value) > MAX_NAMES:
        report(where, f"{len(value):,} names; the first {MAX_NAMES} are read")
    return [v.strip() for v in value[:MAX_NAMES] if v.strip()]


def _platforms(value: Any, report: Report) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = _list(value, "herald.platforms", report)
    if names is None:
        report("herald.platforms", "the event goes on no platform until this is fixed")
        return ()
    kept = tuple(dict.fromkeys(n.lower() for n in names if n.lower() in PLATFORMS))
    rest = (f"the event goes only on {', '.join(kept)}" if kept else
            "the event goes on no platform until this is fixed")
    for name in names:
        if name.lower() not in PLATFORMS:
            hint = suggestion(name.lower(), PLATFORMS) or f" (platforms: {', '.join(PLATFORMS)})"
            report("herald.platforms", f"{shown(name)} is not a platform{hint}; {rest}")
    return kept


def _names(value: Any, where: str, what: str, report: Report) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = _list(value, where, report)
    if names is None:
        report(where, f"the event goes on no {what} until this is fixed")
        return ()
    return tuple(dict.fromkeys(names))


def _hashtags(value: Any, report: Report) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        report("herald.hashtags", f"expected a list such as [opendata, hackathon], got "
                                  f"{shown(value)}; the site's hashtags are used alone")
        return ()
    return tuple(tag for tag in value[:MAX_NAMES] if tag.strip())


def _texts(value: Any, report: Report) -> tuple[tuple[str, str, str], ...]:
    """(platform or account, stage or kind or "", template) for each text the block gives."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        report("herald.text", f"expected texts by platform, such as x: \"...\", got "
                              f"{shown(value)}; the configured texts are used")
        return ()
    found = []
    for target, texts in value.items():
        where = f"herald.text.{_key(target)}"
        if not isinstance(target, str) or not _NAME.fullmatch(target):
            report(where, "expected the name of a platform or an account; ignored")
            continue
        if isinstance(texts, dict):
            pairs = list(texts.items())
        else:
            pairs = [("", texts)]
        for stage, template in pairs:
            here = f"{where}.{_key(stage)}" if stage else where
            if stage and (not isinstance(stage, str) or not _NAME.fullmatch(stage)):
                report(here, "expected the name of a stage or a kind (announcement, reminder); "
                             "ignored")
                continue
            checked = _template(template, here, report)
            if checked is not None:
                found.append((target, stage, checked))
    return tuple(found)


def _template(value: Any, where: str, report: Report) -> str | None:
    from ..templates import check_template

    written = text(value) if isinstance(value, str) else None
    if not written:
        report(where, f"expected the text of the post, got {shown(value)}; the configured "
                      f"text is used")
        return None
    if len(written) > MAX_TEXT_CHARS:
        report(where, f"{len(written):,} characters, more than any platform takes; the "
                      f"configured text is used")
        return None
    try:
        check_template(written)
    except ValueError as exc:
        report(where, f"{exc}; the configured text is used")
        return None
    return written


def _key(key: Any) -> str:
    name = key if isinstance(key, str) else shown(key)
    return name if _NAME.fullmatch(name) else shown(name)
