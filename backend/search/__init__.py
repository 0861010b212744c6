"""The search core: figure documents in, hybrid (BM25 + vector) search out (docs/contracts.md).

``get_backend(settings)`` returns the configured backend (``settings.search_backend``): the embedded
one (SQLite FTS5 + exact NumPy vectors, on disk under ``settings.resolved_embedded_dir``) or
Elasticsearch (alias ``{settings.es_index_prefix}-figures``). One instance per location and configuration
per process: a backend keeps the settings it was made with (two requests with different settings get two
backends, never one whose settings the other changed under it).
"""
from __future__ import annotations

import threading

from backend.search.pipeline.protocols import SearchBackend
from backend.search.request import SearchRequest
from backend.search.response import SearchResponse
from backend.settings import Settings, get_settings

_BACKENDS: dict[tuple, SearchBackend] = {}
_LOCK = threading.Lock()


def backend_key(settings: Settings) -> tuple:
    if settings.search_backend == "elasticsearch":
        return ("elasticsearch", settings.es_url, settings.es_index_prefix)
    return ("embedded", str(settings.resolved_embedded_dir.resolve()))


def get_backend(settings: Settings | None = None) -> SearchBackend:
    settings = settings or get_settings()
    key = (*backend_key(settings), settings.model_dump_json())
    backend = _BACKENDS.get(key)
    if backend is not None:
        return backend
    with _LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            if settings.search_backend == "elasticsearch":
                from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend

                backend = ElasticsearchBackend(settings)
            else:
                from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

                backend = EmbeddedBackend(settings)
            _BACKENDS[key] = backend
        return backend


def reset_backends() -> None:
    """Forget cached backends (tests; after `prism index reindex` in the same process)."""
    with _LOCK:
        _BACKENDS.clear()


__all__ = ["SearchBackend", "SearchRequest", "SearchResponse", "get_backend", "reset_backends"]
