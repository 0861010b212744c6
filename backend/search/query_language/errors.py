"""The one error a query can raise: what is wrong and where (a 1-based character position).

It is an :class:`~backend.search.errors.InvalidQuery`, so it reaches API clients as a 400
application/problem+json and the CLI as one line, wherever it is raised (parsing, or a backend
finding that a truncation expands to too many words).
"""
from __future__ import annotations

from backend.search.errors import InvalidQuery


class QueryError(InvalidQuery):
    """A malformed or unsupported query; ``message`` names the fault, ``position`` where it is."""

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        text = f"{message} (at position {position})" if position else message
        super().__init__(f"text: {text}", errors=[{"field": "text", "message": text, "position": position}])
        self.args = (text,)

    def __str__(self) -> str:
        return self.args[0]
