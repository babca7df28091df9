"""A one-line progress note on a terminal while long work runs; silent everywhere else."""

from __future__ import annotations

import sys
import time
from typing import TextIO

INTERVAL = 0.1
"""Seconds between two redraws of the note."""


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Say on stderr what Herald is doing, on one line that is rewritten, then cleared.

    Only when stderr is a terminal: in a pipe, a file or a test the note never appears, so
    nothing but the output itself reaches a script. When stdout is the same terminal, the
    note shows only until the output begins (the output itself then shows the progress). It
    is plain text rewritten with a carriage return: no colour, no escape sequences.
    """

    def __init__(self, stream: TextIO | None = None, *, output: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream)
        out = output if output is not None else sys.stdout
        self.shared = self.enabled and _is_terminal(out)
        self._shown = 0
        self._last = 0.0
        self._output_began = False

    def say(self, text: str, *, force: bool = False) -> None:
        """Show `text` as the note (at most every INTERVAL seconds unless `force`)."""
        if not self.enabled or (self.shared and self._output_began):
            return
        moment = time.monotonic()
        if not force and moment - self._last < INTERVAL:
            return
        self._last = moment
        width = max(self._shown, len(text))
        self.stream.write("\r" + text.ljust(width))
        self.stream.flush()
        self._shown = len(text)

    def output(self) -> None:
        """Clear the note before the output begins on the same terminal."""
        if self.shared and not self._output_began:
            self.clear()
            self._output_began = True

    def clear(self) -> None:
        """Remove the note."""
        if self.enabled and self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0
