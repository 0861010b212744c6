"""Re-ingest of an unchanged document is a no-op ("already done"), by content hash.

A document's content hash covers what ingest makes of it: the parsed record (text, classes, figure
descriptions; not where its files lie), the bytes of every drawing, and what shapes the stored result
(the encoder's model id, the captioner, the settings that change figures or vectors). The pipeline keeps
it on the job that stored the patent (``payload["content_sha256"]``); a later job of the same patent
with the same hash is done at once (outcome ``unchanged``) while the patent is still in the database and
in the search index. Anything else (a new drawing, a corrected title, another encoder, the patent
deleted meanwhile) ingests it again. ``prism ingest --no-resume`` always does.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json

from sqlalchemy import select

from backend.db.models import IngestJob, JobStatus, Patent
from backend.db.session import session_scope
from backend.ingest.records import IngestError, PatentRecord

OUTCOME = "unchanged"


class AlreadyDone(IngestError):
    """This job's document is stored and indexed with the same content: nothing to do."""


def signature(settings, model_id: str | None) -> dict:
    """What besides the document decides what ingest stores."""
    return {"model_id": model_id, "captioner": settings.captioner,
            "llm": [settings.llm_model, settings.llm_captions_per_figure] if settings.captioner == "llm" else None,
            "split_figures": settings.ingest_split_figures, "sheet_ocr": settings.ingest_sheet_ocr,
            "dense_text": settings.dense_text_at_ingest, "caption_vectors": settings.ingest_caption_vectors,
            "verification_features": settings.search_verify_top_k > 0, "pdf_dpi": settings.pdf_dpi}


def content_sha256(record: PatentRecord, images: list[bytes | None], settings_signature: dict) -> str:
    """``images``: the bytes of each figure's drawing, in figure order (None for a figure without one)."""
    data = dataclasses.asdict(record)
    for fig in data["figures"]:
        fig["image"] = None          # where the file lies is not content; its bytes are
    digest = hashlib.sha256(json.dumps([settings_signature, data], sort_keys=True, default=str).encode())
    for blob in images:
        digest.update(hashlib.sha256(blob).digest() if blob is not None else b"-")
    return digest.hexdigest()


def already_done(db_url: str, backend, publication_number: str, content: str) -> bool:
    """The latest finished job of this patent stored this very content, and the patent is still in the
    database and in the search index."""
    with session_scope(db_url) as session:
        payload = session.scalar(
            select(IngestJob.payload).where(IngestJob.publication_number == publication_number,
                                            IngestJob.status == JobStatus.done,
                                            IngestJob.outcome.in_(["ingested", "updated"]))
            .order_by(IngestJob.finished_at.desc()).limit(1))
        if not payload or payload.get("content_sha256") != content:
            return False
        if session.scalar(select(Patent.id).where(Patent.publication_number == publication_number)) is None:
            return False
    return bool(backend.get_patent_figures(publication_number))
