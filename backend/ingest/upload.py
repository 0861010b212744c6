"""The upload API (``POST /documents``): :func:`submit_document` validates one document with its images,
stages them, creates its job and runs or enqueues it.
"""
from __future__ import annotations

import json
import uuid

from backend.db.session import session_scope
from backend.errors import ProblemError
from backend.ingest import blobstore, images
from backend.ingest.jobs import get_job
from backend.ingest.metadata import record_from_metadata
from backend.ingest.pipeline import new_job
from backend.ingest.records import ImageRef, IngestError
from backend.ingest.runners import owned_here, start_jobs
from backend.settings import Settings


def submit_document(metadata_text: str, files: list[tuple[str, bytes]], settings: Settings) -> dict:
    """Validate an upload completely, stage its images, create a job and run or enqueue it.

    Nothing is written when anything is wrong (bad metadata, a corrupt image, a bomb): the answer is a
    4xx problem naming it. Returns the job as :func:`backend.ingest.jobs.job_dict` renders it.
    """
    try:
        meta = json.loads(metadata_text or "")
    except ValueError as exc:
        raise ProblemError(400, f"metadata: not valid JSON ({exc})") from None
    by_name: dict[str, bytes] = {}
    for name, data in files:
        if name in by_name:
            raise ProblemError(400, f"images: two files named {name!r}")
        by_name[name] = data
    names_in_order = list(by_name)
    used: set[str] = set()
    refs: dict[str, str] = {}
    staging = uuid.uuid4().hex   # this request's own staged copies (never shared with another job)

    def resolve(name: str, index: int) -> ImageRef | None:
        if not name:   # figures without a named image take the uploads in order
            if index < len(names_in_order) and not (isinstance(meta, dict) and any(
                    isinstance(f, dict) and f.get("image") for f in meta.get("figures") or [])):
                name = names_in_order[index]
            else:
                return None
        if name not in by_name:
            raise IngestError(f"figures[{index}].image: no uploaded file named {name!r} "
                              f"(uploaded: {', '.join(names_in_order) or 'none'})", status=400)
        used.add(name)
        refs[name] = images.sha256(by_name[name])
        return ImageRef(blob=blobstore.upload_key(refs[name], staging), name=name)

    try:
        record = record_from_metadata(meta, resolve, source="api")
    except IngestError as exc:
        raise ProblemError(400, str(exc)) from None
    unused = [n for n in names_in_order if n not in used]
    if unused:
        raise ProblemError(400, f"images: file(s) not referenced by any figure: {', '.join(unused)}")
    for name in used:   # decode every image now: a bad one refuses the whole document
        try:
            images.decode(by_name[name], name, settings.max_image_pixels)
        except images.ImageRejected as exc:
            raise ProblemError(exc.status, str(exc)) from None
    blobs = blobstore.get_blob_store(settings)
    staged: list[str] = []
    try:
        for name in used:
            key = blobstore.upload_key(refs[name], staging)
            blobs.put(key, by_name[name])
            staged.append(key)
        with session_scope(settings.resolved_database_url) as session:
            job = new_job(session, {"format": "record", "record": record.to_dict()}, "api:POST /documents",
                          record.publication_number)
            owned_here([job], settings)
            job_id = job.id
    except BaseException:
        for key in staged:
            blobs.delete(key)
        raise
    start_jobs([job_id], settings)
    return get_job(job_id, settings)
