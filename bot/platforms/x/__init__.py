"""Post to X (Twitter) through tweepy with OAuth 1.0a user context.

    limits.py     what X accepts and charges (LIMITS), known without a request
    publisher.py  XPublisher: publish, find (by text among recent posts), check, delete
    media.py      image upload, processing, alt text, and reuse of an upload on a retry
    api.py        credentials, the tweepy client over a timed session, the rate-limit gate
    errors.py     what tweepy and requests raise, mapped to Herald's errors
    auth.py       `herald auth`: the PIN-based OAuth 1.0a flow

tweepy, requests and requests-oauthlib are imported inside the functions that use them, so
importing this package for `LIMITS` (as `herald preview` does) stays cheap; the other parts
load on first use.
"""

from .. import lazy
from .limits import LIMITS, declared_limits

__getattr__ = lazy(__name__, {
    "mask": "..shared", "API_HOST": ".api", "CREDENTIALS": ".api",
    "missing_credentials": ".api", "rebased_session": ".api", "authorize": ".auth",
    "DuplicateContent": ".errors", "XPublisher": ".publisher", "comparable_text": ".publisher"})

__all__ = ["API_HOST", "CREDENTIALS", "DuplicateContent", "LIMITS", "XPublisher", "authorize",
           "comparable_text", "declared_limits", "mask", "missing_credentials",
           "rebased_session"]
