"""The search service: what the HTTP layer (backend/api/search.py, patents.py, classifications.py) calls.

It validates requests (400 problems naming the field or symbol), turns an uploaded image into a
query vector with the encoder, runs the configured backend and shapes answers.
"""
from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from backend.classification import SCHEMES, cpc_catalog
from backend.classification import suggest as suggest_symbols
from backend.observability import metrics as observed
from backend.patent_numbers import source_url
from backend.search import get_backend
from backend.search.errors import InvalidQuery, NotFound, SearchBackendError, Unavailable
from backend.search.index.documents import EXPORT_COLUMNS, FIGURE_FIELDS, PATENT_FIELDS, is_text_document
from backend.search.pipeline.planning import validation_problem
from backend.search.ranking.multi_view import MAX_VIEWS
from backend.search.ranking.rerank import QueryDrawing
from backend.search.request import MAX_EXPORT, SearchRequest
from backend.settings import Settings

log = logging.getLogger(__name__)

#: what POST /search and its export take beside the JSON body: one uploaded drawing or several views
Upload = bytes | Sequence[bytes] | None


@dataclass(frozen=True)
class ParsedSearch:
    """A validated request and what came with its upload: the drawing the verification checks against
    (rerank.py) and the boxes of the figures an uploaded sheet was split into (the response's query_views)."""

    request: SearchRequest
    drawing: QueryDrawing | None = None
    views: list[dict] | None = None


def _decode_upload(data: bytes, settings: Settings):
    # the same checks as POST /documents: pixels counted from the header before decoding (413), then
    # format (415), corrupt or damaged data (400)
    from backend.ingest.images import decode

    if not data:
        raise InvalidQuery("image: the uploaded file is empty")
    return decode(data, "image", settings.max_image_pixels)


def _encode_image(data: bytes, settings: Settings) -> list[float]:
    image = _decode_upload(data, settings)
    from backend.model.encoder import get_encoder  # torch: imported once the upload is known to be a drawing

    return get_encoder(settings).encode_images([image])[0].tolist()


def embed_upload(data: bytes | None, settings: Settings) -> dict:
    """The query vector of an uploaded drawing, as a search or a watch would use it (``vector``)."""
    if data is None:
        raise InvalidQuery("image: send the drawing as the multipart file field 'image'")
    from backend.model.encoder import get_encoder

    vector = _encode_image(data, settings)
    return {"vector": vector, "dims": len(vector), "model": getattr(get_encoder(settings), "model_id", None)}


def _cropped(image, crop, where: str):
    """The part of a decoded drawing inside ``crop`` (request.Crop); a box too small is a 400 naming it."""
    if crop is None:
        return image
    try:
        return image.crop(crop.pixels(*image.size))
    except ValueError as exc:
        raise InvalidQuery(f"crop: {exc} ({where})") from None


def _upload_drawing(data: bytes, settings: Settings, crop=None, image=None):
    """(query vector, vectors of the drawing turned 90 and 270 degrees, local features) of an uploaded
    drawing (or an already decoded ``image``), cut to ``crop`` first; the last two only when the geometric
    verification is on (backend/search/ranking/rerank.py)."""
    image = _cropped(image if image is not None else _decode_upload(data, settings), crop, "the uploaded image")
    from backend.model.encoder import get_encoder  # torch: imported once the upload is known to be a drawing

    if settings.search_verify_top_k <= 0:
        return get_encoder(settings).encode_images([image])[0].tolist(), [], None
    from backend.search.ranking.rerank import turned, upload_features

    turns = turned(image) if settings.search_verify_turned_k > 0 else []
    vectors = get_encoder(settings).encode_images([image, *turns])
    return vectors[0].tolist(), [v.tolist() for v in vectors[1:]], upload_features(image)


def _split_upload(image, body: dict, settings: Settings, crop) -> tuple[list[list[float]], list[dict]] | None:
    """An uploaded sheet (decoded ``image``) that is confidently several figures
    (:func:`backend.ingest.figure_regions.clear_views`: whitespace gutters, comparable sizes; its labels are
    not read, OCR takes seconds a sheet) as views: the vectors of its figures and of the whole sheet, and
    ``query_views`` (each view's box as shares of the upload; the whole sheet's is None). None: search it
    as one drawing (not split, a part query, or ``split_views`` off in the request or by
    ``PRISM_SEARCH_SPLIT_VIEWS``)."""
    wanted = body.get("split_views")
    if wanted is not None and not isinstance(wanted, bool):
        raise InvalidQuery("split_views: must be true or false")
    if crop is not None or not (settings.search_split_views if wanted is None else wanted):
        return None
    from backend.ingest.figure_regions import clear_views

    boxes = clear_views(image)
    if len(boxes) < 2:
        return None
    from backend.model.encoder import get_encoder

    width, height = image.size
    vectors = get_encoder(settings).encode_images([image.crop(tuple(b.as_list())) for b in boxes] + [image])
    views = [{"view": i, "box": b.normalised(width, height)} for i, b in enumerate(boxes)]
    views.append({"view": len(boxes), "box": None})
    return [v.tolist() for v in vectors], views


def _check_index_dims(dims: int, settings: Settings) -> None:
    """An uploaded drawing is encoded by the current encoder: an index of other dims was built by another one
    (not the request's fault: 503 until the index is re-embedded)."""
    index_dims = get_backend(settings).dims()
    if index_dims is not None and index_dims != dims:
        raise Unavailable(f"image: the search index holds {index_dims}-dim vectors of another encoder, the "
                          f"current encoder makes {dims}-dim ones; drawing search is unavailable until the "
                          f"index is re-embedded (`prism index reembed`)")


def parse_request(body: Any, settings: Settings, image: Upload = None) -> SearchRequest:
    """A validated request; an uploaded ``image`` becomes the query vector."""
    return parse_search(body, settings, image).request


def parse_search(body: Any, settings: Settings, image: Upload = None) -> ParsedSearch:
    """A validated request with its uploaded drawing (features for the verification) and split views."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidQuery("request: must be a JSON object (see POST /search)")
    body = dict(body)
    images = [image] if isinstance(image, bytes) else list(image or [])
    if len(images) > MAX_VIEWS:
        raise InvalidQuery(f"image: at most {MAX_VIEWS} drawings (views) in one query, got {len(images)}")
    crop = _crop_of(body)
    if crop is not None and not images and not body.get("image_figure_id"):
        raise InvalidQuery("crop: a part query needs an uploaded image or image_figure_id to cut the box from")
    if images and any(body.get(k) for k in ("image_figure_id", "vector", "vectors", "image_figure_ids")):
        raise InvalidQuery("image: send an image, image_figure_id or vector, not several")
    turned_vectors, features, query_views = [], None, None
    if len(images) > 1:     # several views (ranking/multi_view.py)
        if crop is not None:
            raise InvalidQuery("crop: a part query takes one drawing, not several views")
        from backend.model.encoder import get_encoder

        vectors = get_encoder(settings).encode_images([_decode_upload(data, settings) for data in images])
        body["vectors"] = [v.tolist() for v in vectors]
        _check_index_dims(len(body["vectors"][0]), settings)
    elif images:
        decoded = _decode_upload(images[0], settings)
        views = _split_upload(decoded, body, settings, crop)
        if views is not None:   # a sheet of several figures: its figures and itself, fused per patent
            body["vectors"], query_views = views
        else:
            body["vector"], turned_vectors, features = _upload_drawing(images[0], settings, crop, decoded)
        _check_index_dims(len(body["vectors"][0] if views is not None else body["vector"]), settings)
    elif crop is not None:   # part of an indexed figure: its stored image, cut and encoded
        if body.get("vector"):
            raise InvalidQuery("crop: cuts image_figure_id's figure; send no vector with it")
        figure_id = str(body["image_figure_id"]).strip()
        data, _mime, _key = figure_blob(figure_id, "image", settings)
        body["vector"], _turned, features = _upload_drawing(data, settings, crop)
    try:
        request = SearchRequest.model_validate(body)
    except ValidationError as exc:
        raise validation_problem(exc) from None
    drawing = None
    if (images or crop is not None) and (features is not None or turned_vectors):
        drawing = QueryDrawing(features, list(turned_vectors))   # for the geometric verification (rerank.py)
    if settings.search_text_to_image and request.text and not (request.vector or request.image_figure_id):
        request = _with_text_vector(request, settings)
    return ParsedSearch(request, drawing, query_views)


def _crop_of(body: dict):
    """The request's validated ``crop`` (400 naming the field when malformed), or None."""
    if body.get("crop") is None:
        return None
    from backend.search.request import Crop

    try:
        return Crop.model_validate(body["crop"])
    except ValidationError as exc:
        raise validation_problem(exc, "crop.") from None


def _with_text_vector(request: SearchRequest, settings: Settings) -> SearchRequest:
    from backend.model.encoder import get_encoder

    encoder = get_encoder(settings)
    if get_backend(settings).dims() != encoder.dim:
        return request
    return request.model_copy(update={"vector": encoder.encode_texts([request.text])[0].tolist()})


def _run(request: SearchRequest, settings: Settings, drawing: QueryDrawing | None = None):
    try:
        with observed.search_backend_timer(request):
            return get_backend(settings).search(request, drawing=drawing)
    except SearchBackendError as exc:
        log.error("search failed: %s", exc)
        raise Unavailable(f"search backend unavailable: {exc}") from None


def search(body: Any, settings: Settings, image: Upload = None) -> dict:
    with observed.search_timer() as seen:
        parsed = parse_search(body, settings, image)
        seen.kind = observed.search_kind(parsed.request)
        out = _run(parsed.request, settings, parsed.drawing).to_json()
        if parsed.views:   # the uploaded sheet searched as its figures (the views' boxes on it)
            out["query_views"] = parsed.views
        return out


EXPORT_PAGE = 500        # results per backend call while exporting


def export_csv(body: Any, settings: Settings, image: Upload = None, limit: int = 1000,
               base_url: str = "") -> Iterator[str]:
    """CSV of the first ``limit`` (at most :data:`MAX_EXPORT`, 10,000) results of the search, streamed:
    chunks of CSV text, one backend page (:data:`EXPORT_PAGE` rows) at a time, in the order of the
    result pages. The request is validated and the first page read before anything is yielded, so a
    bad request or a backend failure is still an error response. ``base_url`` (the server's own, e.g.
    ``https://prism.example.org``) makes the drawing and patent links absolute, so they open from a
    spreadsheet."""
    limit = max(1, min(int(limit), MAX_EXPORT))
    body = dict(body or {}) if isinstance(body, dict) else body
    if isinstance(body, dict):
        body.pop("size", None)
        body.pop("cursor", None)
    # model_copy does not re-validate: a page may be larger than the API's 100
    parsed = parse_search(body, settings, image)
    request = parsed.request.model_copy(update={"size": min(limit, EXPORT_PAGE), "explain": False,
                                                "facets": False})
    first = _run(request, settings, parsed.drawing)
    return _csv_pages(request, parsed.drawing, first, settings, limit, base_url.rstrip("/"))


def _csv_pages(request: SearchRequest, drawing: QueryDrawing | None, response, settings: Settings, limit: int,
               base: str = "") -> Iterator[str]:
    from urllib.parse import quote

    from backend.csv_cells import SafeCsv

    rank = 0
    out = SafeCsv(EXPORT_COLUMNS)
    while True:
        for hit in response.hits[:limit - rank]:
            rank += 1
            row = hit.model_dump()
            row["image_url"] = base + row["image_url"]
            row["patent_url"] = f"{base}/ui/patents/{quote(hit.publication_number, safe='')}"
            out.write([rank] + [row[c] for c in EXPORT_COLUMNS[1:]])
        yield out.take()
        if rank >= limit or not response.next_cursor:
            return
        size = min(EXPORT_PAGE, limit - rank)
        response = _run(request.model_copy(update={"cursor": response.next_cursor, "size": size}), settings,
                        drawing)


SHORTLIST_COLUMNS = ("publication_number", "category", "note", "title", "kind", "country", "publication_date",
                     "filing_date", "priority_date", "applicants", "figure_id", "patent_url", "source_url",
                     "added_at")
#: columns the server writes itself (the browser's rows do not carry them)
SHORTLIST_DERIVED = ("source_url",)
#: the examiner's category of a citation, as in a search report (empty: not categorised)
SHORTLIST_CATEGORIES = ("", "X", "Y", "A")
MAX_SHORTLIST_ROWS = 1000
MAX_SHORTLIST_CELL = 2000


def shortlist_csv(body: Any) -> str:
    """The examiner's shortlist (kept in the browser) as CSV, written by the same writer as the export:
    ``{"rows": [{column: text}]}`` with :data:`SHORTLIST_COLUMNS`; 400 naming the first bad row."""
    from backend.csv_cells import SafeCsv

    rows = body.get("rows") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise InvalidQuery("rows: must be a list of shortlist entries")
    if len(rows) > MAX_SHORTLIST_ROWS:
        raise InvalidQuery(f"rows: at most {MAX_SHORTLIST_ROWS} entries (got {len(rows)})")
    out = SafeCsv(SHORTLIST_COLUMNS)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidQuery(f"rows[{i}]: must be an object")
        cells = [None if c in SHORTLIST_DERIVED else row.get(c) for c in SHORTLIST_COLUMNS]
        for column, cell in zip(SHORTLIST_COLUMNS, cells):
            if cell is not None and (not isinstance(cell, str) or len(cell) > MAX_SHORTLIST_CELL):
                raise InvalidQuery(f"rows[{i}].{column}: must be text of at most {MAX_SHORTLIST_CELL} "
                                   "characters")
        if (row.get("category") or "") not in SHORTLIST_CATEGORIES:
            raise InvalidQuery(f"rows[{i}].category: must be X, Y, A or empty, got {row.get('category')!r}")
        # the office's public page of the publication, where its number parses (docs/ui.md)
        cells[SHORTLIST_COLUMNS.index("source_url")] = source_url(str(row.get("publication_number") or ""))
        out.write(cells)
    return out.take()


def patent(publication_number: str, settings: Settings) -> dict:
    """The patent (found by any spelling of its number), its figures and the other members of its family."""
    backend = get_backend(settings)
    figures = backend.get_patent_figures(publication_number)
    if not figures:
        raise NotFound(f"no patent {publication_number!r}")
    first = figures[0]
    out = {k: first.get(k) for k in PATENT_FIELDS}
    out["figures"] = []
    for fig in figures:
        if is_text_document(fig["figure_id"]):   # a patent without figures: its text-only document
            continue
        item = {k: fig.get(k) for k in FIGURE_FIELDS}
        item.update(image_url=f"/figures/{fig['figure_id']}/image",
                    thumbnail_url=f"/figures/{fig['figure_id']}/thumbnail",
                    has_image_vector=bool(fig.get("image_vector")), has_image=bool(fig.get("image_key")))
        out["figures"].append(item)
    out["source_url"] = source_url(out["publication_number"] or "", out.get("country"))   # None: no public page
    family = first.get("family_id")
    out["family_id"] = family
    out["family_members"] = [m for m in backend.family_members(family) if m["publication_number"] !=
                             out["publication_number"]] if family else []
    return out


def figure_blob(figure_id: str, which: str, settings: Settings) -> tuple[bytes, str, str]:
    """The bytes of a figure's image or thumbnail from the blob store (filesystem or S3), its MIME type
    and its content-addressed key."""
    figure = get_backend(settings).get_figure(figure_id)
    if figure is None:
        raise NotFound(f"no figure {figure_id!r}")
    key = figure.get("thumb_key" if which == "thumbnail" else "image_key")
    if which == "thumbnail" and not key:
        key = figure.get("image_key")
    if not key:
        raise NotFound(f"figure {figure_id!r} has no stored {which}")
    from backend.ingest.blobstore import BlobNotFound, get_blob_store

    try:
        data = get_blob_store(settings).get(key)
    except (BlobNotFound, ValueError):   # ValueError: a key that is not a blob key
        raise NotFound(f"the {which} of figure {figure_id!r} is missing from the blob store") from None
    except Exception as exc:  # noqa: BLE001 - the store is down or refuses us
        log.warning("blob store read of %s failed", key, exc_info=True)
        raise Unavailable(f"the blob store cannot be read right now ({type(exc).__name__})") from None
    return data, mimetypes.guess_type(key)[0] or "application/octet-stream", key


def suggest(q: str, scheme: str, settings: Settings, limit: int = 20) -> list[dict]:
    if scheme not in SCHEMES:
        raise InvalidQuery(f"scheme: must be cpc, ipc or locarno, got {scheme!r}")
    return suggest_symbols(q, scheme, cpc_catalog(str(settings.cpc_titles_dir)), limit)
