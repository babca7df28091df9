"""Digests: a regular post listing the events of a coming window, per account and language.

`schedule` says when each digest goes out and which events its window holds; `compose` writes
it, as a thread when it does not fit one post. Both are pure.
"""

from .compose import DEFAULT_TEXTS, HEADER_FIELDS, LINE_FIELDS, DigestPost, compose_digest
from .schedule import (REF_PREFIX, Digest, DigestTexts, Every, Period, PlannedDigest, current,
                       events_in, parse_every, period_at, periods, plan_digests, upcoming)

__all__ = ["DEFAULT_TEXTS", "HEADER_FIELDS", "LINE_FIELDS", "REF_PREFIX", "Digest",
           "DigestPost", "DigestTexts", "Every", "Period", "PlannedDigest", "compose_digest",
           "current", "events_in", "parse_every", "period_at", "periods", "plan_digests",
           "upcoming"]
