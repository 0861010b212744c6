"""The rich console the commands print with: free text is never wrapped (a long path or message stays on
one line, whatever the terminal's width), and output that is not a terminal (a pipe, a log, a test) is
laid out at a fixed width, so it does not depend on COLUMNS or on where the program runs."""
from __future__ import annotations

import sys

PIPE_WIDTH = 200


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(stderr=stderr, soft_wrap=True, width=None if tty else PIPE_WIDTH)
