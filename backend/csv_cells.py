"""The one CSV writer of the API: every export (``POST /search/export``, ``POST /shortlist/export``) writes
its rows through :class:`SafeCsv`, so a cell that a spreadsheet would run as a formula is written inert.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (OWASP's list: "CSV injection")
gets a leading apostrophe: ``=HYPERLINK(...)`` is shown as text, not followed. Numbers (rank, score) are
written as numbers: a negative score stays ``-0.5``.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str | int | float:
    """The cell as written: None -> "", lists joined by "; ", text that starts a formula quoted with '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (list, tuple)):
        value = "; ".join("" if v is None else str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class SafeCsv:
    """CSV text in chunks: :meth:`take` gives the text of the rows written since the last call."""

    def __init__(self, columns: Sequence[str]):
        self._out = io.StringIO()
        self._writer = csv.writer(self._out, lineterminator="\r\n")
        self._writer.writerow(columns)

    def write(self, cells: Iterable) -> None:
        self._writer.writerow([neutralise(c) for c in cells])

    def take(self) -> str:
        text = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        return text
