"""The `herald` command: thin commands over the library, one-line errors, documented exit codes.

Each module registers its commands on the group in `common`; importing this package builds it.
"""

# Importing the command modules registers their commands; each imports what its command
# needs only when it runs, so `herald --version` or `herald validate` loads no more.
from . import accounts, posting, preview, service, validate  # noqa: F401
from .common import EXIT_CODES, main

__all__ = ["EXIT_CODES", "main"]
