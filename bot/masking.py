"""Mask secrets in any text: the one rule the secrets store and every platform adapter use.

Plain Python only, below everything that handles a secret (import-linter checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "****"


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """Replace each of `secrets`, plain or URL-encoded (as in a header or a form), by **** in
    `text`; an empty or missing secret is passed over.

    The longest secret goes first, so one that holds another is masked whole.
    """
    forms = {form for secret in secrets if secret
             for form in (secret, quote(secret, safe=""), quote_plus(secret))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text
