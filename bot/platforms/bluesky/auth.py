"""`herald auth` for Bluesky: check a handle and app password by logging in, and keep the session."""

from __future__ import annotations

from ...model import Account
from .publisher import BlueskyPublisher


def authorize(*, service: str, handle: str, app_password: str,
              timeout: float = 30.0) -> dict[str, str]:
    """Verify a handle and app password by logging in; return what the secrets file keeps.

    The result is {"handle", "app_password", "session"}: the handle as the server spells it and
    the session string, so the next run resumes the session instead of logging in again.
    """
    saved: list[str] = []
    publisher = BlueskyPublisher(Account("bluesky", "bluesky", (), {"service": service}),
                                 {"handle": handle, "app_password": app_password},
                                 save_session=saved.append, timeout=timeout)
    try:
        shown = publisher.check()
    finally:
        publisher.close()
    return {"handle": shown.removeprefix("@"), "app_password": app_password, "session": saved[-1]}
