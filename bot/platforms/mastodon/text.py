"""Read a status's text back the way Herald wrote it, so that `find` can recognise its post."""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser
from typing import Any


class _Text(HTMLParser):
    """Collect the text of a status's HTML: paragraphs become blank lines, `<br>` a newline."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(content: str) -> str:
    """Return the plain text of a status's HTML `content` (links show their full URL)."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts)


def comparable_text(text: str) -> str:
    """Fold what Mastodon changes when it renders text: whitespace, `@user@host` mentions."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"(?<![\w/])@(\w+)@[\w.-]*\w", r"@\1", text)
    return " ".join(text.split())
