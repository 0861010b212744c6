"""Plan: a validated request becomes the :class:`Query` the backends retrieve for (words parsed once, the
query vector resolved and checked against the index, filters as clauses), plus the request's fingerprint
that its cursors carry."""
from __future__ import annotations

import hashlib
import json
import math

import numpy as np
from pydantic import ValidationError

from backend.search import query_language
from backend.search.errors import InvalidQuery, NotFound
from backend.search.pipeline import filters as filters_mod
from backend.search.pipeline.candidates import Query, query_terms
from backend.search.pipeline.protocols import Retrieval
from backend.search.query_language import ParsedQuery
from backend.search.request import SearchRequest
from backend.search.text.languages import ANALYSED, LANGUAGES
from backend.search.unit_vector import unit_vector


def validation_problem(exc: ValidationError, prefix: str = "") -> InvalidQuery:
    """A pydantic error as a 400 problem whose detail names the field (and the symbol, if any)."""
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append({"field": f"{prefix}{loc}" if loc else prefix.rstrip(".") or "request", "message": msg})
    first = errors[0] if errors else {"field": "request", "message": "invalid"}
    return InvalidQuery(f"{first['field']}: {first['message']}", errors=errors)


def coerce_request(request) -> SearchRequest:
    """``request`` as a validated :class:`SearchRequest` (a dict is validated: 400 naming the field)."""
    if isinstance(request, SearchRequest):
        return request
    try:
        return SearchRequest.model_validate(request)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def fingerprint(request: SearchRequest, window: int) -> str:
    """What a cursor carries to tell its query: a hash of everything that shapes the result list."""
    payload = json.dumps([request.fingerprint_payload(), window], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def check_dims(retrieval: Retrieval, vector: np.ndarray, what: str) -> np.ndarray:
    """``vector`` when it has the index's dimension; else a 400 naming ``what``."""
    dims = retrieval.dims()
    if dims is not None and vector.shape[0] != dims:
        raise InvalidQuery(f"{what}: the query vector has {vector.shape[0]} dimensions, the index "
                           f"expects {dims}")
    return vector


def query_vector(retrieval: Retrieval, request: SearchRequest) -> np.ndarray | None:
    """The unit query vector of ``vector`` or of ``image_figure_id``'s stored drawing (None: neither)."""
    if request.vector is not None:
        try:
            return check_dims(retrieval, unit_vector(request.vector), "vector")
        except ValueError as exc:
            raise InvalidQuery(f"vector: {exc}") from None
    if not request.image_figure_id:
        return None
    figure = retrieval.get_figure(request.image_figure_id)
    if figure is None:
        raise NotFound(f"image_figure_id: no figure {request.image_figure_id!r}")
    if not figure.get("image_vector"):
        raise InvalidQuery(f"image_figure_id: figure {request.image_figure_id!r} has no image vector")
    vector = np.asarray(figure["image_vector"], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0:
        raise InvalidQuery("image_figure_id: the query vector must be finite and non-zero")
    return check_dims(retrieval, vector / norm, "image_figure_id")


def languages(request: SearchRequest, node) -> tuple[bool, tuple[str, ...]]:
    """(search the English fields?, the German/French languages searched) for the request's ``languages``
    (default all). The query language (``node``) searches the English fields only (the request validator
    refuses it without "en")."""
    wanted = request.languages or LANGUAGES
    others = () if node is not None or not request.text else tuple(lang for lang in ANALYSED if lang in wanted)
    return "en" in wanted, others


def plan(request: SearchRequest, vector: np.ndarray | None, use_vector: bool, window: int,
         similarity_floor: float | None) -> tuple[Query, ParsedQuery | None]:
    """The query the backends retrieve for and the parsed text (None: no text list)."""
    use_text = bool(request.text) and request.weights.text > 0
    parsed = query_language.parse(request.text) if use_text and request.text else None
    node = parsed.node if parsed is not None and not parsed.plain else None
    terms = (query_language.query_words(node) if node is not None else query_terms(request.text)) \
        if use_text else []
    group_field = "family_id" if request.one_per_family else "publication_number"
    spec = filters_mod.build(request.filters, request.exclude_patents, request.exclude_families,
                             request.exclude_figures)
    query = Query(request.text if terms else None, terms, vector if use_vector else None, spec, window,
                  request.group_by_patent or request.one_per_family, similarity_floor, node, group_field,
                  *languages(request, node), facets=request.facets)
    return query, parsed
