"""Publish to Mastodon, or any server that speaks its client API, through Mastodon.py; every
SDK failure becomes a PublishError.

    servers.py    Mastodon's limits (LIMITS), which server an instance answer names, how each
                  kind counts, and the limits the `software` option declares without a request
    publisher.py  MastodonPublisher: publish, find (by text among recent statuses), check,
                  edit, delete
    media.py      image upload, waiting while the server processes it, reuse on a retry
    text.py       a status's HTML read back as the plain text Herald wrote
    api.py        the access token, the Mastodon.py client, the rate-limit gate
    errors.py     what Mastodon.py raises, mapped to Herald's errors
    auth.py       `herald auth`: register the app and exchange the user's code for a token

Mastodon.py and requests are imported inside the functions that use them, so importing this
package (as `herald preview` does) stays cheap; its parts other than `servers.py` load on
first use.
"""

from .. import lazy
from .servers import (LIMITS, SERVER_RULES, declared_limits, declared_software,
                      limits_from_instance, server_kind)

__getattr__ = lazy(__name__, {
    "missing_credentials": ".api", "token_variable": ".api", "OOB": ".auth",
    "SCOPES": ".auth", "authorize": ".auth", "map_error": ".errors", "retry_time": ".errors",
    "VISIBILITIES": ".publisher", "MastodonPublisher": ".publisher",
    "comparable_text": ".text", "plain_text": ".text"})

__all__ = ["LIMITS", "OOB", "SCOPES", "SERVER_RULES", "VISIBILITIES", "MastodonPublisher",
           "authorize", "comparable_text", "declared_limits", "declared_software",
           "limits_from_instance", "map_error", "missing_credentials", "plain_text",
           "retry_time", "server_kind", "token_variable"]
