"""The search core's errors as application/problem+json: one status per domain error, in one place."""
from __future__ import annotations

from typing import Any

from flask import Response

from backend.errors import problem
from backend.ingest.images import ImageRejected
from backend.search.errors import InvalidQuery, NotFound, SearchError, Unavailable

STATUS = {InvalidQuery: 400, NotFound: 404, Unavailable: 503}


def status_of(exc: SearchError) -> int:
    """The HTTP status of a search error (the most specific class listed in :data:`STATUS`)."""
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


def install(app: Any) -> None:
    @app.errorhandler(SearchError)
    def _search_error(exc: SearchError) -> Response:
        return problem(status_of(exc), exc.detail, **exc.extra)

    @app.errorhandler(ImageRejected)
    def _image_rejected(exc: ImageRejected) -> Response:
        return problem(exc.status, str(exc))
