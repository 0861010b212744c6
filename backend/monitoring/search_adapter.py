"""The seam to the search core (backend.search): validate a watch's query with the core's request
model and run it restricted to a set of publication numbers (see docs/contracts.md)."""
from __future__ import annotations

import logging
from typing import Any

from backend.errors import ProblemError
from backend.search.request import SearchRequest
from backend.settings import Settings

log = logging.getLogger(__name__)
# keys a watch manages itself: a run restricts, pages and explains on its own terms
RUN_OVERRIDES = ("cursor", "size", "group_by_patent", "facets", "explain")
MAX_PAGE = 100


def _as_dict(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    return obj


def _basic_checks(query: Any) -> dict:
    if not isinstance(query, dict):
        raise ProblemError(400, "query: must be a search request object (see POST /search)")
    if not (str(query.get("text") or "").strip() or query.get("image_figure_id") or query.get("vector")):
        raise ProblemError(400, "query: needs 'text', 'image_figure_id' or 'vector' (POST /search/embed makes "
                                "one from a drawing)")
    filters = query.get("filters")
    if filters is not None and not isinstance(filters, dict):
        raise ProblemError(400, "query.filters: must be an object")
    return query


def validate_query(query: Any) -> dict:
    """Check a watch's query; returns the query to store. Errors are 400 problems naming the field."""
    query = _basic_checks(query)
    query = {k: v for k, v in query.items() if k not in RUN_OVERRIDES}
    try:
        SearchRequest.model_validate(_for_run(query, ["CHECK"], 1))
    except ProblemError:
        raise
    except Exception as exc:  # pydantic.ValidationError or the core's own error type
        raise ProblemError(400, f"query: {_first_error(exc)}") from None
    return query


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            return f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
        except Exception:  # noqa: BLE001
            pass
    return str(getattr(exc, "detail", None) or exc).splitlines()[0]


def _for_run(query: dict, publication_numbers: list[str], size: int, cursor: str | None = None) -> dict:
    request = {k: v for k, v in query.items() if k not in RUN_OVERRIDES}
    filters = dict(request.get("filters") or {})
    wanted = filters.get("publication_numbers")
    if wanted:  # the watch itself restricts: intersect
        keep = {str(p).upper() for p in wanted}
        publication_numbers = [p for p in publication_numbers if p.upper() in keep]
    filters["publication_numbers"] = list(publication_numbers)
    request.update(filters=filters, size=size, cursor=cursor, group_by_patent=True, facets=False,
                   explain=True)
    return request


def check_references(settings: Settings, query: dict) -> None:
    """A watch's ``image_figure_id`` must name an indexed figure and its ``vector`` must have the index's
    dimension (400 otherwise). Skipped when the search backend cannot be asked right now: the run
    reports the problem then."""
    figure_id = str(query.get("image_figure_id") or "").strip()
    vector = query.get("vector")
    if not figure_id and vector is None:
        return
    try:
        backend = resolve_backend(settings)
        figure = backend.get_figure(figure_id) if figure_id else None
        dims = backend.dims() if vector is not None else None
    except Exception:  # noqa: BLE001 - backend down or absent: do not block saving the watch
        log.warning("could not check the image part of a watch's query", exc_info=True)
        return
    if figure_id and figure is None:
        raise ProblemError(400, f"query.image_figure_id: no figure {figure_id!r}")
    if dims is not None and len(vector) != dims:
        raise ProblemError(400, f"query.vector: {len(vector)} dimensions, the index expects {dims}")


def resolve_backend(settings: Settings):
    """The configured search backend (backend.search.get_backend)."""
    from backend.search import get_backend

    return get_backend(settings)


def search_candidates(settings: Settings, query: dict, publication_numbers: list[str],
                      backend=None) -> list[dict]:
    """Run ``query`` over exactly ``publication_numbers``; one hit per patent, best first, each a dict
    with ``rank`` (1-based over the whole result) added."""
    if not publication_numbers:
        return []
    if backend is None:
        backend = resolve_backend(settings)
    hits: list[dict] = []
    cursor = None
    seen: set[str] = set()
    while True:
        body = _for_run(query, publication_numbers, min(MAX_PAGE, max(1, len(publication_numbers))), cursor)
        if not body["filters"]["publication_numbers"]:
            return []
        response = _as_dict(backend.search(SearchRequest.model_validate(body)))
        for hit in response.get("hits") or []:
            hit = _as_dict(hit)
            if hit.get("publication_number") in seen:
                continue
            seen.add(hit.get("publication_number"))
            hits.append({**hit, "rank": len(hits) + 1})
        cursor = response.get("next_cursor")
        if not cursor or not response.get("hits") or len(hits) >= len(publication_numbers):
            return hits
