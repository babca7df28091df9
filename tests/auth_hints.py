"""The `herald auth ...` command a message tells the user to run, parsed as Herald parses it."""

import re
import shlex

from bot.cli import main


def hinted_auth(message: str) -> tuple[str, str | None]:
    """Parse the one `herald auth ...` hint in `message`; return its platform and account.

    The command is parsed by the real command tree (a usage error fails the test), without
    running it. `--help` is no check: click answers it before it looks at the arguments.
    """
    found = re.findall(r"`(herald auth\b[^`]*)`", message)
    assert len(found) == 1, f"expected one `herald auth ...` hint in {message!r}"
    args = shlex.split(found[0])[2:]
    command = main.get_command(None, "auth")
    context = command.make_context("auth", args)
    return context.params["platform"], context.params["account"]
