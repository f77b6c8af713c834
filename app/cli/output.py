"""What every command prints: its name, a one-line error, plain output."""

from __future__ import annotations

import sys

PROG = "ledgerlab"


def fail(message: str, code: int = 2) -> int:
    """Say ``message`` on one line of stderr; return the exit code."""
    try:
        print(" ".join(message.split()), file=sys.stderr)
    except (BrokenPipeError, ValueError):  # stderr closed too: the exit code says it
        pass
    return code


def say(text: str = "") -> None:
    print(text)
