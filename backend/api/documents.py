"""POST /documents: one patent (metadata JSON + figure images) -> an ingest job (202)."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import request

from backend.app import app_settings
from backend.auth import require_scope
from backend.errors import ProblemError
from backend.ingest import upload as ingest_upload

bp = APIBlueprint("documents", __name__, tag="ingest")

_DOC = (
    "multipart/form-data with a `metadata` field (JSON: publication_number, title, abstract, claims, kind, "
    "country, filing_date/publication_date/priority_date (YYYY-MM-DD), applicants, inventors, cpc, ipc, "
    "locarno, figures: [{number, description, image}]) and the figure files in `images` (TIFF, PNG, JPEG; "
    "a figure's `image` names its file, or figures take the files in order). Every image is checked before "
    "anything is stored; a bad one refuses the whole document. Re-submitting a publication number replaces it."
)


@bp.post("/documents")
@require_scope("ingest")
@bp.doc(summary="Submit one patent document for ingest", description=_DOC,
        responses={202: "accepted: the job (done already in eager mode)", 400: "bad metadata or image",
                   413: "upload or image too large", 415: "unsupported image type"})
def submit_document():
    if not request.mimetype.startswith("multipart/form-data"):
        raise ProblemError(415, "send multipart/form-data with a 'metadata' field and 'images' files")
    metadata = request.form.get("metadata")
    if metadata is None:
        file = request.files.get("metadata")
        metadata = file.read().decode("utf-8", "replace") if file else None
    if not metadata:
        raise ProblemError(400, "metadata: required (a JSON object describing the patent)")
    files = [(f.filename or f"image{i}", f.read()) for i, f in enumerate(request.files.getlist("images"))]
    job = ingest_upload.submit_document(metadata, files, app_settings())
    return job, 202, {"Location": f"/jobs/{job['job_id']}"}
