"""The `herald` command: thin commands over the library, one-line errors, documented exit codes.

Each module registers its commands on the group in `common`; importing this package builds it.
"""

from . import accounts, posting, preview, service  # noqa: F401  (they register the commands)
from .common import EXIT_CODES, main

__all__ = ["EXIT_CODES", "main"]
