"""The terminal's ingest bar: a bulk-ingest progress callback (:data:`backend.ingest.bulk.Progress`) that
draws a tqdm bar naming the document reached (an archive's member: ``weekly.tar!US...ZIP``)."""
from __future__ import annotations

import sys
from typing import Any


def on_a_terminal() -> bool:
    """Whether a bar would be seen (standard error is a terminal)."""
    return sys.stderr.isatty()


class TerminalBar:
    """``bar(done, total, origin)`` draws the bar (made on the first call, when the total is known);
    ``close()`` ends it. Use as a context manager."""

    def __init__(self, desc: str = "ingest", **tqdm_options: Any) -> None:
        self.desc, self.options = desc, {"dynamic_ncols": True, **tqdm_options}
        self.bar: Any = None

    def __call__(self, done: int, total: int, origin: str) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="doc", desc=self.desc, **self.options)
        if origin:
            self.bar.set_postfix_str(origin.rsplit("!", 1)[-1].rsplit("/", 1)[-1], refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> TerminalBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
