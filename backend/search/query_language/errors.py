"""The one error a query can raise: what is wrong and where (a 1-based character position).

It is a 400 problem (``backend.errors.ProblemError``), so it reaches API clients as
application/problem+json and the CLI as one line, wherever it is raised (parsing, or a backend
finding that a truncation expands to too many words).
"""
from __future__ import annotations

from backend.errors import ProblemError


class QueryError(ProblemError):
    """A malformed or unsupported query; ``message`` names the fault, ``position`` where it is."""

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        text = f"{message} (at position {position})" if position else message
        super().__init__(400, f"text: {text}",
                         errors=[{"field": "text", "message": text, "position": position}])
        self.args = (text,)

    def __str__(self) -> str:
        return self.args[0]
