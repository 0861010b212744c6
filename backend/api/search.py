"""POST /search and POST /search/export (JSON, or multipart with an ``image`` file + ``request`` JSON)."""
from __future__ import annotations

import json

from apiflask import APIBlueprint
from flask import Response, jsonify, request, stream_with_context

from backend.api.openapi import json_body, responses
from backend.api.search_schemas import EmbedResponse, ExportQuery
from backend.app import app_settings
from backend.errors import ProblemError
from backend.search import SearchResponse, service
from backend.search.request import SearchRequest

bp = APIBlueprint("search", __name__, tag="search")


@bp.record_once
def _check_index(state) -> None:
    """Refuse to start against an index of another mapping version (the message says how to fix it)."""
    from backend.search.errors import IndexVersionError, SearchBackendError

    settings = state.app.extensions["prism.settings"]
    try:
        from backend.search import get_backend

        get_backend(settings)
    except IndexVersionError:
        raise
    except (SearchBackendError, OSError) as exc:  # unreachable now: readiness reports it
        state.app.logger.warning("search backend not checked at start-up: %s", exc)


def _body_and_image() -> tuple[object, bytes | list[bytes] | None]:
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("request", "")
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise ProblemError(400, f"request: the 'request' form field is not JSON ({exc})") from None
        uploads = request.files.getlist("image")    # several: the views of one design (multi-view query)
        if len(uploads) > 1:
            return body, [upload.read() for upload in uploads]
        return body, (uploads[0].read() if uploads else None)
    if not request.is_json:
        raise ProblemError(415, "send application/json, or multipart/form-data with 'request' and 'image'")
    body = request.get_json(silent=True)
    if body is None:
        raise ProblemError(400, "request: the body is not valid JSON")
    return body, None


_TEXT_DOC = ("`text` is plain words (ranked OR, BM25) or the query language: AND OR NOT -x ( ) \"phrase\" "
             "\"a b\"~n NEAR/n ADJ/n wash* wom?n, fields ti: ab: cl: desc: fig: pa: cpc: ipc: loc: pn: pd: ad: prd: "
             "(docs/search.md).")


@bp.post("/search")
@json_body(SearchRequest)
@bp.output(SearchResponse)
@bp.doc(summary="Hybrid prior-art search (text, image, filters)",
        description="JSON body, or multipart/form-data with an `image` file (several: the views of one design) "
                    "and a `request` field holding the JSON. Results are fused from BM25 and vector rankings "
                    f"(RRF or weighted); pages follow `next_cursor`. {_TEXT_DOC}",
        responses={400: "invalid request (names the field or symbol)", 404: "unknown image_figure_id"})
def search() -> Response:
    body, image = _body_and_image()
    # the service's JSON as it is: SearchResponse documents it, re-validating would put back the null keys
    # that SearchResponse.to_json leaves out
    return jsonify(service.search(_with_accept_language(body), app_settings(), image))


def _with_accept_language(body):
    """Without ``lang`` in the body, the titles are shown in the first language of ``Accept-Language``
    that documents can have (en, de, fr)."""
    from backend.search.text.languages import from_accept_language

    if isinstance(body, dict) and body.get("lang") is None:
        lang = from_accept_language(request.headers.get("Accept-Language"))
        if lang:
            body = {**body, "lang": lang}
    return body


@bp.post("/search/export")
@json_body(SearchRequest)
@bp.input(ExportQuery, location="query", arg_name="params")
@bp.doc(summary="Export the results of a search as CSV (up to 10,000 rows, streamed)",
        responses=responses({200: {"description": "CSV", "content": {"text/csv": {}}}, 400: "invalid request"}))
def export(params: ExportQuery) -> Response:
    body, image = _body_and_image()
    chunks = service.export_csv(_with_accept_language(body), app_settings(), image, limit=params.limit,
                                base_url=request.host_url)
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="prism-search.csv"'})


@bp.post("/shortlist/export")
@bp.doc(summary="The examiner's shortlist as CSV (the same writer as /search/export)",
        description='JSON `{"rows": [{"publication_number", "title", "kind", "country", "publication_date", '
                    '"applicants", "figure_id", "added_at"}]}`, at most 1,000 rows; cells that a spreadsheet '
                    "would run as a formula are written inert.",
        responses=responses({200: {"description": "CSV", "content": {"text/csv": {}}}, 400: "invalid rows"}))
def shortlist_export():
    if not request.is_json:
        raise ProblemError(415, "send application/json: {\"rows\": [...]}")
    return Response(service.shortlist_csv(request.get_json(silent=True)), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="prism-shortlist.csv"'})


@bp.post("/search/embed")
@bp.output(EmbedResponse)
@bp.doc(summary="The query vector of an uploaded drawing",
        description="multipart/form-data with an `image` file (TIFF, PNG, JPEG). The answer's `vector` can be "
                    "sent as a search's or a watch's `vector`, so a watch keeps an uploaded drawing. It is "
                    "tied to the encoder named in `model`: after a model change, save the watch again.",
        responses={400: "no image, or not a readable image", 415: "not multipart/form-data"})
def embed():
    if request.mimetype != "multipart/form-data":
        raise ProblemError(415, "send multipart/form-data with the drawing in an 'image' file field")
    upload = request.files.get("image")
    return service.embed_upload(upload.read() if upload is not None else None, app_settings())
