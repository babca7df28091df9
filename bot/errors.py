"""Herald's own exceptions; every library exception is mapped to one of these at the edge.

    HeraldError                     anything Herald reports as one line
    ├── ConfigError                 missing or invalid configuration (names the key)
    ├── UsageError                  a command asked for what does not exist or cannot be done
    │   └── Unfit                   a post Herald will not send: too long for its platform
    ├── ContentError                an event file that cannot be used (names file and field)
    ├── ImageError                  an image that cannot be prepared (names the file)
    ├── LedgerError                 the ledger cannot be opened, migrated or is locked
    └── PublishError                a platform did not take a post  (.retryable,
        │                           .before_sending: the post itself was never sent)
        ├── RateLimited             retry after .retry_after (an aware datetime or None)
        ├── AuthFailed              credentials missing, wrong or revoked
        ├── Rejected                the platform refused the content (.platform_message)
        │   └── Duplicate           the platform already has this exact post (.published)
        └── Unavailable             network failure, timeout or 5xx: outcome may be unknown

A `PublishError` never carries a token: adapters build messages from status codes and the
platform's error text only. An `ImageError` names its file escaped (`printable`): a newline or
an escape sequence in a file name cannot forge a line of output or drive a terminal.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Published


def auth_command(platform: str, account: str | None = None) -> str:
    """Return the `herald auth` command that stores the credentials of `account` on `platform`.

    Every message that tells the user to store credentials names this command, so that the
    hint is one the command line takes (an account name is letters, digits, '-' and '_').
    Without `account`, the command stores those of the platform's first account.
    """
    return f"herald auth {platform}" + (f" --account {account}" if account else "")


def env_name(account: str, field: str) -> str:
    """Return the environment variable that holds `field` of `account`, as bot.secrets reads it:
    `env_name("x-events", "api_key")` is HERALD_X_EVENTS_API_KEY (upper-cased, anything not a
    letter or digit turned into `_`)."""
    return "HERALD_" + re.sub(r"[^A-Z0-9]", "_", f"{account}_{field}".upper())


def printable(text: str, *, backslash: bool = True) -> str:
    """Return `text` with everything a terminal would not show as itself escaped, on one line.

    A newline becomes `\\n`, a control or format character `\\x1b` or `\\u202e`, a byte that was
    not UTF-8 in a file name (a surrogate escape) `\\xff`, and (unless `backslash` is false) a
    backslash `\\\\`, so that two different names never look the same; letters in any script
    stay as they are.
    """
    if text.isprintable() and not (backslash and "\\" in text):
        return text
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char == "\\" and backslash:
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


class HeraldError(Exception):
    """Base of every error Herald reports to a user as one line."""

    exit_code = 1


class ConfigError(HeraldError):
    """The configuration is missing, unreadable or has an invalid value."""

    exit_code = 3


class UsageError(HeraldError):
    """A command asked for an event, stage or language that does not exist, or cannot be done."""

    exit_code = 2


class Unfit(UsageError):
    """A post does not fit its platform (too long, or a character it refuses): not sent, exit 2.

    Herald refuses it before any platform sees it, unlike `Rejected`.
    """

    def __init__(self, message: str, *, account: str | None = None):
        self.account = account
        super().__init__(f"{account}: {message}" if account else message)


class ContentError(HeraldError):
    """An event file cannot be read or has an unusable field."""

    exit_code = 2

    def __init__(self, source: str, field: str | None, message: str):
        self.source = source
        self.field = field
        self.message = message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")


class ImageError(HeraldError):
    """An image cannot be read or prepared for a platform; the message is on one line, escaped."""

    def __init__(self, message: str):
        super().__init__(printable(message, backslash=False))


class LedgerError(HeraldError):
    """The ledger cannot be opened, migrated, or is held by another process."""

    exit_code = 5


class PublishError(HeraldError):
    """A platform did not take a post.

    `before_sending` is true when the adapter knows the post itself was never sent (an image
    upload, a login or a read before it failed): nothing of it can be on the platform.
    """

    exit_code = 4
    retryable = False
    before_sending = False

    def __init__(self, message: str, *, account: str | None = None):
        self.account = account
        super().__init__(f"{account}: {message}" if account else message)


class RateLimited(PublishError):
    """The platform asked us to slow down; try again at `retry_after`."""

    retryable = True

    def __init__(self, message: str, *, account: str | None = None,
                 retry_after: datetime | None = None):
        self.retry_after = retry_after
        super().__init__(message, account=account)


class AuthFailed(PublishError):
    """Credentials are missing, wrong or revoked; retrying will not help."""

    exit_code = 6


class Rejected(PublishError):
    """The platform refused this content; `platform_message` says why."""

    def __init__(self, message: str, *, account: str | None = None,
                 platform_message: str | None = None):
        self.platform_message = platform_message
        super().__init__(message, account=account)


class Duplicate(Rejected):
    """The platform refused the post as a duplicate of one it already has.

    After an attempt whose outcome was unknown this means the earlier attempt went out;
    `published` is that post when the platform says which it is.
    """

    def __init__(self, message: str, *, account: str | None = None,
                 platform_message: str | None = None, published: Published | None = None):
        self.published = published
        super().__init__(message, account=account, platform_message=platform_message)


class Unavailable(PublishError):
    """Network failure, timeout or server error: the post may or may not exist."""

    retryable = True
