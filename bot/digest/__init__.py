"""Digests: a regular post listing the events of a coming window, per account and language.

    schedule.py  when each digest goes out, the period it stands for, the events in its window
    plan.py      which digests are due now or next, and how far a thread has got
    compose.py   the text per platform and language, as a thread of replies when too long
    texts.py     the fields, the numbering and the built-in sv and en texts

All pure: `now`, the events and the ledger's rows are parameters.
"""

from .compose import DigestPost, compose_digest
from .plan import PlannedDigest, next_part, plan_digests, with_digests
from .schedule import (REF_PREFIX, Digest, Every, Period, current, events_in, parse_every,
                       part_key, period_at, periods, upcoming)
from .texts import DEFAULT_TEXTS, HEADER_FIELDS, LINE_FIELDS, DigestTexts, texts_for

__all__ = ["DEFAULT_TEXTS", "HEADER_FIELDS", "LINE_FIELDS", "REF_PREFIX", "Digest",
           "DigestPost", "DigestTexts", "Every", "Period", "PlannedDigest", "compose_digest",
           "current", "events_in", "next_part", "parse_every", "part_key", "period_at",
           "periods", "plan_digests", "texts_for", "upcoming", "with_digests"]
