"""Read an event's `links` and find the registration link among them.

On civictech.se `links` is a list of `title`/`url` pairs, sometimes with `style: button`:

    links:
      - title: "Registrera dig här!"
        url: "mailto:contact@okfn.se"
        style: "button"

A link that leads to the site itself (`/uploads/flyer.pdf`) is made absolute. Web addresses and
e-mail addresses (`mailto:`) are kept; anything else is left out with a warning.
"""

from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import unquote

from ..model import Link
from .values import shown, text

MAX_LINKS = 50
"""How many links of one event are read (the real ones have up to five)."""
MAX_URL_CHARS = 2000

SIGNUP_WORDS = re.compile(r"\b(?:anmäl|regist|biljett|boka|sign[ -]?up|ticket|rsvp|book)",
                          re.IGNORECASE)
"""Words that start a registration link's title ("Anmälan", "Registrera dig här!", "Tickets",
"Program & anmälan"; not "Facebook-event")."""

_WEB = re.compile(r"https?://[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)
_MAIL = re.compile(r"mailto:([^\s?@]+@[^\s?@]+\.[^\s?@]+)(?:\?\S*)?", re.IGNORECASE)

Report = Callable[..., None]


def read_links(value: Any, site_url: str, report: Report) -> tuple[tuple[Link, ...], str]:
    """Return the usable links and the registration link as a post shows it ("" for none)."""
    if value is None or value == "" or value == []:
        return (), ""
    if not isinstance(value, list):
        report("links", f"expected a list of links with a title and a url, got {shown(value)}; "
                        f"the links are left out")
        return (), ""
    if len(value) > MAX_LINKS:
        report("links", f"{len(value):,} links; the first {MAX_LINKS} are read")
    links = []
    for i, item in enumerate(value[:MAX_LINKS]):
        link = _link(item, f"links[{i}]", site_url, report)
        if link is not None:
            links.append(link)
    return tuple(links), signup_of(links)


def _link(item: Any, where: str, site_url: str, report: Report) -> Link | None:
    if not isinstance(item, dict):
        report(where, f"expected a title and a url, got {shown(item)}; left out")
        return None
    written = item.get("url")
    url = text(written) if isinstance(written, str) else None
    if not url:
        report(f"{where}.url", f"missing or not text ({shown(written)}); the link is left out")
        return None
    absolute = _absolute(url, site_url)
    if absolute is None:
        report(f"{where}.url", f"{shown(url)} is neither a web address nor an e-mail address "
                               f"(mailto:); the link is left out")
        return None
    title = " ".join((text(item.get("title")) or "").split())
    return Link(title, absolute)


def _absolute(url: str, site_url: str) -> str | None:
    if len(url) > MAX_URL_CHARS or not url.isprintable() or any(c.isspace() for c in url):
        return None
    if url.startswith("//"):
        url = "https:" + url
    elif url.startswith("/"):
        url = site_url.rstrip("/") + url
    if _WEB.fullmatch(url) or _MAIL.fullmatch(url):
        return url
    return None


def signup_of(links: list[Link] | tuple[Link, ...]) -> str:
    """The first link whose title says it registers ("Anmälan", "Tickets"), as a post shows it:
    a web address as it is, an e-mail address without `mailto:`."""
    for link in links:
        if SIGNUP_WORDS.search(link.title):
            mail = _MAIL.fullmatch(link.url)
            return unquote(mail.group(1)) if mail else link.url
    return ""
