"""Herald's log: one line per decision on stderr, stamped in the site's time zone."""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo


def configure_logging(zone: ZoneInfo, *, verbose: bool = False,
                      stream=None) -> logging.Handler:
    """Log Herald's decisions to stderr, one line each, stamped in the site's time zone.

    The adapters' own lines (under `bot`, repeating the runner's) show only with `verbose`,
    their warnings always.
    Calling this again replaces the handler it added before.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(zone))
    for name, level in (("herald", logging.DEBUG if verbose else logging.INFO),
                        ("bot", logging.DEBUG if verbose else logging.WARNING)):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h.formatter, _Formatter)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
    return handler


class _Formatter(logging.Formatter):
    def __init__(self, zone: ZoneInfo):
        super().__init__("%(asctime)s %(message)s")
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def use_utc_local_time() -> None:
    """Make the process's naive local time UTC, so `schedule` never sees a DST change."""
    os.environ["TZ"] = "UTC"
    time.tzset()
