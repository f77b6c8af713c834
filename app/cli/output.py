"""What every command prints: its name, a one-line error, plain output."""

from __future__ import annotations

import os
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


def say_or_drop(text: str, *, err: bool = False) -> None:
    """Print a line now; a reader that went away (``train | head``) never fails the
    command: this and later output are dropped and the work goes on."""
    stream = sys.stderr if err else sys.stdout
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        try:  # later writes (and the flush at exit) go nowhere instead of failing
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
