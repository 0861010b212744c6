"""The seam to the search service (backend/search/service.py, see docs/contracts.md): a watch's query is
a search request as for POST /search, less what a run sets itself; the service's :func:`parse_request`
validates it when the watch is saved and makes the request of each run, restricted to the newly ingested
patents. Errors are the search core's (backend/search/errors.py), named after the watch's ``query`` field:
:class:`InvalidQuery` is the API's 400."""
from __future__ import annotations

import logging
from typing import Any

from backend.search import SearchBackend, get_backend, service
from backend.search.errors import InvalidQuery, SearchBackendError, SearchError, Unavailable
from backend.search.request import SearchRequest
from backend.settings import Settings

log = logging.getLogger(__name__)
# keys a watch manages itself: a run restricts, pages and explains on its own terms
RUN_OVERRIDES = ("cursor", "size", "group_by_patent", "facets", "explain")
MAX_PAGE = 100


def _under_query(field: str) -> str:
    """A request field named as part of the watch (``text`` -> ``query.text``; the request -> ``query``)."""
    return "query" if field in ("", "request") else f"query.{field}"


def _query_error(exc: SearchError) -> SearchError:
    """The service's error about a request, as an error about the watch's ``query``: the caller's fault
    (a missing figure included) a 400, else the service's 503."""
    field, sep, message = exc.detail.partition(": ")
    detail = f"{_under_query(field)}: {message}" if sep else f"query: {exc.detail}"
    extra = dict(exc.extra)
    if isinstance(extra.get("errors"), list):
        extra["errors"] = [{**e, "field": _under_query(str(e.get("field", "")))} for e in extra["errors"]]
    return InvalidQuery(detail, **extra) if exc.caller_at_fault else Unavailable(detail, **extra)


def _parse(body: dict, settings: Settings) -> SearchRequest:
    try:
        return service.parse_request(body, settings)
    except SearchError as exc:
        raise _query_error(exc) from None
    except SearchBackendError as exc:   # text-to-image or a crop asks the backend while parsing
        raise Unavailable(f"query: the search backend cannot check it right now ({exc})") from None


def validate_query(query: Any, settings: Settings) -> dict:
    """Check a watch's query as the search service reads it; returns the query to store (without the keys
    a run sets itself)."""
    if not isinstance(query, dict):
        raise InvalidQuery("query: must be a search request object (see POST /search)")
    stored = {k: v for k, v in query.items() if k not in RUN_OVERRIDES}
    _parse(_for_run(stored, [], 1), settings)
    return stored


def _for_run(query: dict, publication_numbers: list[str], size: int) -> dict:
    """The request of a run: the watch's query restricted to ``publication_numbers`` (those of them its own
    filter names, when it names some), one hit per patent, explained."""
    request = {k: v for k, v in query.items() if k not in RUN_OVERRIDES}
    filters = request.get("filters")
    if filters is None:
        filters = {}
    if isinstance(filters, dict):   # anything else: parse_request names the field
        filters = {**filters, "publication_numbers": _restricted(filters, publication_numbers)}
    request.update(filters=filters, size=size, cursor=None, group_by_patent=True, facets=False, explain=True)
    return request


def _restricted(filters: object, publication_numbers: list[str]) -> list[str]:
    wanted = filters.get("publication_numbers") if isinstance(filters, dict) else None
    if not wanted:
        return list(publication_numbers)
    keep = {str(p).upper() for p in wanted}
    return [p for p in publication_numbers if p.upper() in keep]


def check_references(settings: Settings, query: dict) -> None:
    """A watch's ``image_figure_id`` must name an indexed figure and its ``vector`` must have the index's
    dimension (400 otherwise). Skipped when the search backend cannot be asked right now: the run
    reports the problem then."""
    figure_id = str(query.get("image_figure_id") or "").strip()
    vector = query.get("vector")
    if not figure_id and vector is None:
        return
    try:
        backend = get_backend(settings)
        figure = backend.get_figure(figure_id) if figure_id else None
        dims = backend.dims() if vector is not None else None
    except Exception:  # noqa: BLE001 - backend down or absent: do not block saving the watch
        log.warning("could not check the image part of a watch's query", exc_info=True)
        return
    if figure_id and figure is None:
        raise InvalidQuery(f"query.image_figure_id: no figure {figure_id!r}")
    if dims is not None and isinstance(vector, list) and len(vector) != dims:
        raise InvalidQuery(f"query.vector: {len(vector)} dimensions, the index expects {dims}")


def search_candidates(settings: Settings, query: dict, publication_numbers: list[str],
                      backend: SearchBackend | None = None) -> list[dict]:
    """Run ``query`` over exactly ``publication_numbers``; one hit per patent, best first, each a dict
    with ``rank`` (1-based over the whole result) added."""
    if not _restricted(query.get("filters"), publication_numbers):
        return []
    request = _parse(_for_run(query, publication_numbers, min(MAX_PAGE, len(publication_numbers))), settings)
    backend = backend or get_backend(settings)
    hits: list[dict] = []
    seen: set[str] = set()
    while True:
        response = backend.search(request)
        for hit in response.hits:
            if hit.publication_number in seen:
                continue
            seen.add(hit.publication_number)
            hits.append({**hit.model_dump(mode="json"), "rank": len(hits) + 1})
        if not response.next_cursor or not response.hits or len(hits) >= len(publication_numbers):
            return hits
        request = request.model_copy(update={"cursor": response.next_cursor})
