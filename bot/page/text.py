"""Mark up a post's text as its platform shows it: links, hashtags and mentions, all escaped."""

from __future__ import annotations

import re
from html import escape

from ..counting import MASTODON_URL

# A hashtag begins a word and holds a letter ("#1" is no tag on any of the platforms); a mention
# may name its server (@user@host) or be a Bluesky handle (@name.bsky.social). Text inside a URL
# is the URL's, never a tag.
_TAG_OR_MENTION = re.compile(
    r"(?<![\w&/#@])(?P<tag>#\w*[^\W\d_]\w*)"
    r"|(?<![\w@/])(?P<mention>@[^\W_](?:[\w.-]*[^\W_])?(?:@[^\W_](?:[\w.-]*[^\W_])?)?)"
)


def rich(text: str) -> str:
    """Return `text` as HTML: URLs as links, hashtags and mentions marked, the rest escaped."""
    out, at = [], 0
    for found in MASTODON_URL.finditer(text):
        out.append(_words(text[at:found.start()]))
        url = found.group(0)
        out.append(f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(url)}</a>')
        at = found.end()
    out.append(_words(text[at:]))
    return "".join(out)


def _words(text: str) -> str:
    out, at = [], 0
    for found in _TAG_OR_MENTION.finditer(text):
        out.append(escape(text[at:found.start()]))
        kind = "tag" if found.group("tag") else "mention"
        out.append(f'<span class="{kind}">{escape(found.group(0))}</span>')
        at = found.end()
    out.append(escape(text[at:]))
    return "".join(out)
