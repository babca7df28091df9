"""Platform adapters behind one small port; each SDK is imported only inside its own adapter.

    base.py       the Publisher port the service talks to
    recording.py  a publisher that records instead of sending: tests and `--dry-run`
    shared.py     what every adapter does alike: secret masking, credential variable names,
                  the rate-limit gate, reuse of an upload the platform still keeps
    mastodon/     Mastodon and the servers that speak its client API (Mastodon.py)
    x/            X (tweepy, OAuth 1.0a)
    bluesky/      Bluesky and any atproto PDS (atproto)

Each platform package has the same parts: the publisher, its limits, media upload, the
session or API connection, the error mapping, and `herald auth`. Importing a package loads no
SDK; the SDK loads when a publisher first talks to its server.
"""

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a package's `__getattr__` that imports each name's module (`names`: name ->
    relative module) on first use: a command that reads only a platform's limits (`herald
    preview`, `herald validate`) loads none of its publisher, session or authorization code."""
    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
