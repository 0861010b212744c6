"""Errors of the search core that are not HTTP problems."""
from __future__ import annotations


class SearchBackendError(RuntimeError):
    """The search backend failed (unreachable, rejected a request); the message says why."""


class IndexVersionError(SearchBackendError):
    """The index was built with another mapping/schema version; the message gives the command to fix it."""


class ReindexInProgress(SearchBackendError):
    """Another reindex holds the lock."""
