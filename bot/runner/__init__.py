"""Run Herald as a service, one tick at a time (the clock is injected; nothing here reads it).

    tick.py         the tick: survey what is due, record what is dropped, deliver each
                    account's due posts in its own thread
    results.py      what an outcome does to its account: go on, wait, back off, or stop
    corrections.py  changes after posting: corrections, cancellations, deletions

Failures stay with their account; the other accounts go on.
"""

from ..survey import (Survey, blocked_until, done_keys, latest_entries, posting_times,
                      stopped_by, survey)
from .corrections import CANCEL_MODES
from .results import TickReport
from .tick import Runner

__all__ = ["CANCEL_MODES", "Runner", "Survey", "TickReport", "blocked_until", "done_keys",
           "latest_entries", "posting_times", "stopped_by", "survey"]
