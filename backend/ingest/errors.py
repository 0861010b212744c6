"""Which failures are worth retrying (transient) and which are final (bad input)."""
from __future__ import annotations

import builtins

from backend.ingest.captioning.base import CaptioningUnavailable


def is_transient(exc: BaseException) -> bool:
    """Connection problems and overload of ES / Redis / the database / the captioning endpoint."""
    if isinstance(exc, (builtins.ConnectionError, TimeoutError, CaptioningUnavailable)):
        return True
    from backend.ingest.captioning.base import CaptioningError
    from backend.ingest.records import IngestError

    if isinstance(exc, (IngestError, CaptioningError)):   # bad input stays bad
        return False
    try:
        from sqlalchemy.exc import DBAPIError, OperationalError

        if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            return True
    except ImportError:  # pragma: no cover
        pass
    try:
        import redis

        if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)):
            return True
    except ImportError:  # pragma: no cover
        pass
    try:
        import elastic_transport
        import elasticsearch

        if isinstance(exc, (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout,
                            elastic_transport.TransportError)) and not isinstance(exc, elasticsearch.ApiError):
            return True
        if isinstance(exc, elasticsearch.ApiError):
            status = getattr(exc, "status_code", None) or getattr(getattr(exc, "meta", None), "status", 0)
            return status == 429 or (status or 0) >= 500
        if isinstance(exc, elasticsearch.helpers.BulkIndexError):
            statuses = [next(iter(e.values()), {}).get("status", 0) for e in exc.errors]
            return bool(statuses) and all(s == 429 or s >= 500 for s in statuses)
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return cause is not None and cause is not exc and is_transient(cause)
