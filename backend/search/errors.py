"""The search core's errors. None of them is HTTP: backend/api/problems.py answers each one with its
application/problem+json status, the CLI prints its ``detail`` on one line.

* :class:`InvalidQuery` - the request is malformed or asks for what the index cannot do (the API's 400);
* :class:`NotFound` - a figure or patent the request names does not exist (404);
* :class:`Unavailable` - the backend, the blob store or the index cannot serve it right now (503);
* :class:`SearchBackendError` - the backend failed; the service turns it into :class:`Unavailable`.
"""
from __future__ import annotations

from typing import Any


class SearchError(Exception):
    """A request the search core refuses or cannot serve. ``detail`` starts with the field at fault
    (``vector: ...``); ``extra`` holds structured details such as ``errors`` (one entry per field)."""

    #: whether the request is at fault (it will fail again unchanged) or the service is
    caller_at_fault = True

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidQuery(SearchError):
    """The request is malformed or asks for something the index cannot do."""


class NotFound(SearchError):
    """A figure, patent or stored image the request names does not exist."""


class Unavailable(SearchError):
    """The search backend, the blob store or the index cannot serve the request right now."""

    caller_at_fault = False


class SearchBackendError(RuntimeError):
    """The search backend failed (unreachable, rejected a request); the message says why."""


class IndexVersionError(SearchBackendError):
    """The index was built with another mapping/schema version; the message gives the command to fix it."""


class ReindexInProgress(SearchBackendError):
    """Another reindex holds the lock."""
