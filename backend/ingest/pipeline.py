"""The ingest pipeline: register -> parse -> render images -> caption -> embed -> store (DB commit) ->
index -> done.

:func:`run_jobs` processes several jobs together so the encoder sees full batches. Each job is its own
unit: bad input (parse error, rejected image, captioning garbage) fails that job only, with the reason
kept on its :class:`~backend.db.models.IngestJob`; transient errors (ES, Redis, DB, the captioning
endpoint) propagate so the caller (a Celery task, or the eager loop) retries. Everything is idempotent
by publication number: a rerun replaces the patent's rows and figure documents, it never duplicates them.
The search index is written only after the database commit.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from backend.db.models import Figure, IngestJob, JobStatus, Patent, utcnow
from backend.db.session import session_scope
from backend.ingest import blobstore, images
from backend.ingest.captioning import CaptioningError, caption_figures, get_captioner
from backend.ingest.captioning.base import figure_contexts
from backend.ingest.errors import is_transient
from backend.ingest.parsers.load import load_source
from backend.ingest.parsers.weekly_tar import open_zip
from backend.ingest.records import FigureRecord, ImageRef, IngestError, ParseError, PatentRecord
from backend.ingest.stage_times import StageTimes
from backend.ingest.unchanged import AlreadyDone
from backend.observability import metrics as observed
from backend.search.index.documents import text_document_id

log = logging.getLogger(__name__)

SEQ_LOCK_KEY = 0x50524953  # pg advisory lock serialising ingest_seq stamping (commit order == seq order)
IMAGE_THREADS = 2


@dataclass
class PreparedFigure:
    record: FigureRecord
    rendered: images.Rendered | None = None
    image_key: str | None = None
    thumb_key: str | None = None
    captions: list[str] = field(default_factory=list)
    image_vector: np.ndarray | None = None
    text_vector: np.ndarray | None = None
    sheet_key: str | None = None    # a figure split from a sheet: the sheet's display image (figure_split.py)


@dataclass
class PreparedJob:
    job_id: str
    record: PatentRecord
    figures: list[PreparedFigure]
    upload_keys: list[str] = field(default_factory=list)
    content_sha256: str | None = None               # backend/ingest/unchanged.py
    dense_text_vector: np.ndarray | None = None     # MiniLM, title + abstract + first claim


@dataclass
class Batch:
    job_ids: list[str]
    results: dict                   # job_id -> JobResult (failed ones, so far)
    prepared: list[PreparedJob]


@dataclass
class JobResult:
    job_id: str
    status: str                     # done | failed
    outcome: str | None = None      # ingested | updated
    publication_number: str | None = None
    figures: int = 0
    error: str | None = None


def new_job(session, locator: dict | None, origin: str, publication_number: str | None = None) -> IngestJob:
    job = IngestJob(id=str(uuid.uuid4()), status=JobStatus.queued, source=origin[:512],
                    publication_number=publication_number, payload={"source": locator}, attempts=0)
    session.add(job)
    return job


class Pipeline:
    """Holds the per-process parts (encoder, search backend, captioner, blob store) for ``settings``."""

    def __init__(self, settings, encoder=None, backend=None, captioner=None, blobs=None):
        self.settings = settings
        self._encoder = encoder
        self._backend = backend
        self.captioner = captioner or get_captioner(settings)
        self.blobs = blobs or blobstore.get_blob_store(settings)
        self.db_url = settings.resolved_database_url
        self.times = StageTimes()   # seconds per stage (bench/ingest_bench.py reads them)

    @property
    def encoder(self):
        if self._encoder is None:
            from backend.model.encoder import get_encoder

            self._encoder = get_encoder(self.settings)
        return self._encoder

    @property
    def backend(self):
        if self._backend is None:
            from backend.search import get_backend

            self._backend = get_backend(self.settings)
        return self._backend

    # -- the steps ---------------------------------------------------------------------------------
    def run_jobs(self, job_ids: list[str]) -> list[JobResult]:
        return self.finish(self.prepare(job_ids))

    @observed.ingest_batch_prepared
    def prepare(self, job_ids: list[str]) -> Batch:
        """Parse, render and caption (CPU work that can overlap the previous batch's embedding)."""
        results: dict[str, JobResult] = {}
        todo = self._start(job_ids, results)
        prepared: list[PreparedJob] = []
        with ThreadPoolExecutor(max_workers=IMAGE_THREADS) as pool:
            for job_id, locator, redo in todo:
                try:
                    prepared.append(self._prepare(job_id, locator, pool, redo))
                except AlreadyDone as done:   # stored and indexed with this very content: nothing to do
                    results[job_id] = self._done_unchanged(job_id, str(done))
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    if not isinstance(exc, (IngestError, CaptioningError)):
                        log.exception("ingest job %s failed", job_id)
                    message = str(exc) if isinstance(exc, (IngestError, CaptioningError)) else \
                        f"{type(exc).__name__}: {exc}"
                    results[job_id] = self._fail(job_id, message)
        return Batch(list(job_ids), results, prepared)

    @observed.ingest_batch_finished
    def finish(self, batch: Batch) -> list[JobResult]:
        """Embed, store (commit), index, mark done."""
        self._refuse_encoder_mix(batch)
        self._embed([f for p in batch.prepared for f in p.figures])
        if getattr(self.settings, "dense_text_at_ingest", False):
            with self.times.stage("dense text", len(batch.prepared)):
                self._embed_dense_text(batch.prepared)
        stored = []
        for job in batch.prepared:
            with self.times.stage("store"):
                outcome, seq = self._store(job)
            stored.append((job, outcome, seq))
        with self.times.stage("index", len(stored)):
            self._index(stored)
        self._done_all([(job, outcome) for job, outcome, _ in stored], batch.results)
        return [batch.results[j] for j in batch.job_ids if j in batch.results]

    def _refuse_encoder_mix(self, batch: Batch) -> None:
        """Fail the batch's jobs (nothing stored) when the index holds vectors of another encoder or of
        other dims: one index never mixes vectors of two encoders (``prism index reembed`` converts it)."""
        if not any(f.rendered is not None or (f.captions and self.settings.ingest_caption_vectors)
                   for p in batch.prepared for f in p.figures):
            return
        from backend.search.index.index_encoder import EncoderMismatch, check_writable

        encoder = self.encoder
        try:
            check_writable(self.backend, getattr(encoder, "model_id", None), getattr(encoder, "dim", None))
        except EncoderMismatch as exc:
            for job in batch.prepared:
                batch.results[job.job_id] = self._fail(job.job_id, str(exc))
            batch.prepared = []

    def _start(self, job_ids: list[str], results: dict[str, JobResult]) -> list[tuple[str, dict, bool]]:
        todo = []
        with session_scope(self.db_url) as session:
            for job_id in job_ids:
                job = session.get(IngestJob, job_id)
                if job is None:
                    results[job_id] = JobResult(job_id, "failed", error="no such job")
                    continue
                if job.status == JobStatus.done:   # a redelivered message for finished work
                    results[job_id] = JobResult(job_id, "done", job.outcome, job.publication_number)
                    continue
                job.status = JobStatus.running
                # who runs it: a worker starting on this host re-queues jobs whose process died
                job.payload = {**(job.payload or {}), "worker": {"host": socket.gethostname(), "pid": os.getpid()}}
                job.attempts = (job.attempts or 0) + 1
                job.started_at = utcnow()
                job.last_error = None
                todo.append((job_id, (job.payload or {}).get("source"), bool((job.payload or {}).get("redo"))))
        return todo

    def _prepare(self, job_id: str, locator: dict | None, pool: ThreadPoolExecutor, redo: bool = False) -> PreparedJob:
        if not locator:
            raise ParseError("job has no source to ingest")
        with self.times.stage("parse"):
            record = load_source(locator)
        figures = [PreparedFigure(f) for f in record.figures]
        with_images = [f for f in figures if f.record.image is not None]
        files = dict(zip(map(id, with_images), pool.map(lambda f: self._read_timed(f.record.image), with_images)))
        content = self._unless_unchanged(record, [files[id(f)][0] if id(f) in files else None for f in figures], redo)
        if with_images:
            model_size = int(getattr(self.encoder, "image_size", 224) or 224)
            rendered = list(pool.map(lambda f: self._render(f.record.image, model_size, files[id(f)]), with_images))
            for fig, (r, _original_ext) in zip(with_images, rendered):
                fig.rendered = r
                fig.image_key = blobstore.figure_key(r.sha256)
                fig.thumb_key = blobstore.thumb_key(r.sha256)
        with self.times.stage("captions", len(figures)):
            captions, notes = caption_figures(self.captioner, figure_contexts(record))   # notes: LLM answers replaced
        record.notes.extend(notes)
        for fig, figure_captions in zip(figures, captions):
            fig.captions = figure_captions
        if with_images and self.settings.ingest_split_figures:   # figures, not sheets
            from backend.ingest.figure_split import split_figures

            def split(fig):
                return split_figures([fig], lambda png, name: self._render_region(png, name, model_size))

            figures = [f for parts in pool.map(split, figures) for f in parts]
        uploads = [f.record.image.blob for f in with_images if f.record.image.blob]
        return PreparedJob(job_id, record, figures, uploads, content_sha256=content)

    def _unless_unchanged(self, record: PatentRecord, drawings: list[bytes | None], redo: bool) -> str:
        """The document's content hash; :class:`AlreadyDone` when it is stored and indexed as it is."""
        from backend.ingest import unchanged

        content = unchanged.content_sha256(record, drawings,
                                           unchanged.signature(self.settings, getattr(self.encoder, "model_id", None)))
        if not redo and unchanged.already_done(self.db_url, self.backend, record.publication_number, content):
            raise AlreadyDone(record.publication_number)
        return content

    def _done_unchanged(self, job_id: str, publication_number: str) -> JobResult:
        from backend.ingest.unchanged import OUTCOME

        with session_scope(self.db_url) as session:
            row = session.get(IngestJob, job_id)
            row.status, row.outcome, row.publication_number = JobStatus.done, OUTCOME, publication_number
            row.finished_at = utcnow()
        return JobResult(job_id, "done", OUTCOME, publication_number)

    def _read_timed(self, ref: ImageRef) -> tuple[bytes, str]:
        with self.times.stage("decode", 0):
            return self._read_image(ref)

    def _render(self, ref: ImageRef, model_size: int, file: tuple[bytes, str] | None = None
                ) -> tuple[images.Rendered, str]:
        with self.times.stage("decode"):
            data, ext = file or self._read_image(ref)
            r = images.render(data, ref.name or ref.describe(), self.settings.max_image_pixels, model_size)
        with self.times.stage("blobs"):
            self.blobs.put(blobstore.figure_key(r.sha256), r.display_png, "image/png")
            self.blobs.put(blobstore.thumb_key(r.sha256), r.thumb_png, "image/png")
            self.blobs.put(blobstore.original_key(r.sha256, ext), data)   # the file as received
        if self.settings.search_verify_top_k > 0:   # local features for the search's geometric verification
            from backend.search.ranking.verification import extract_bytes

            with self.times.stage("verification features"):
                features = extract_bytes(r.display_png).to_bytes()
            with self.times.stage("blobs"):
                self.blobs.put(blobstore.features_key(r.sha256), features)
        return r, ext

    def _render_region(self, png: bytes, name: str, model_size: int) -> tuple[images.Rendered, str, str]:
        """One figure region of a sheet rendered and stored like a figure: (rendered, image key, thumb key)."""
        with self.times.stage("decode"):
            r = images.render(png, name, self.settings.max_image_pixels, model_size)
        with self.times.stage("blobs"):
            self.blobs.put(blobstore.figure_key(r.sha256), r.display_png, "image/png")
            self.blobs.put(blobstore.thumb_key(r.sha256), r.thumb_png, "image/png")
        if self.settings.search_verify_top_k > 0:
            from backend.search.ranking.verification import extract_bytes

            with self.times.stage("verification features"):
                features = extract_bytes(r.display_png).to_bytes()
            with self.times.stage("blobs"):
                self.blobs.put(blobstore.features_key(r.sha256), features)
        return r, blobstore.figure_key(r.sha256), blobstore.thumb_key(r.sha256)

    def _read_image(self, ref: ImageRef) -> tuple[bytes, str]:
        name = ref.name or ref.member or ref.path or ref.blob or "image"
        ext = Path(name).suffix.lstrip(".").lower() or "bin"
        try:
            if ref.blob:
                return self.blobs.get(ref.blob), ext
            if ref.page is not None:   # a scanned PDF's drawing sheet, rendered again
                from backend.ingest.parsers.scanned_pdf import page_png

                return page_png(ref.path, ref.page, self.settings.pdf_dpi, self.settings.max_pdf_pages), "png"
            if ref.zip:
                with open_zip(ref.zip, ref.tar_offset) as zf:
                    return zf.read(ref.member), ext
            return Path(ref.path).read_bytes(), ext
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            raise images.ImageRejected(f"{ref.describe()}: cannot read the image: {exc}", status=400) from None

    def _embed(self, figures: list[PreparedFigure]) -> None:
        if not figures:
            return
        encoder = self.encoder
        with_images = [f for f in figures if f.rendered is not None]
        if with_images:
            size = getattr(encoder, "image_size", None)
            encode_prepared = getattr(encoder, "encode_prepared", None)
            with self.times.stage("drawing encoder", len(with_images)):
                if encode_prepared is not None and all(f.rendered.prepared is not None
                                                       and f.rendered.model_size == size for f in with_images):
                    # prepared in the image threads: the encoder skips its own drawing preparation
                    vectors = encode_prepared([f.rendered.prepared for f in with_images],
                                              [f.rendered.model for f in with_images])
                else:
                    vectors = encoder.encode_images([f.rendered.model for f in with_images])
            for fig, vec in zip(with_images, vectors):
                fig.image_vector = vec
        if self.settings.ingest_caption_vectors:   # no search reads them by default (settings.py)
            with self.times.stage("caption vectors", len(figures)):
                for fig, vec in zip(figures, caption_vectors(encoder, [f.captions for f in figures])):
                    fig.text_vector = vec

    def _embed_dense_text(self, jobs: list[PreparedJob]) -> None:
        """One MiniLM text vector per patent (backend/search/text/dense_text.py), stored on every figure."""
        from backend.search.text import dense_text

        texts = [dense_text.patent_text(j.record.title, j.record.abstract, j.record.claims) for j in jobs]
        if not any(texts):
            return
        for job, vec in zip(jobs, dense_text.encode(texts, self.settings)):
            job.dense_text_vector = vec if np.any(vec) else None

    def _store(self, job: PreparedJob) -> tuple[str, int]:
        for attempt in range(2):
            try:
                return self._store_once(job)
            except IntegrityError:   # two workers inserted the same new patent at once: the row exists now
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _store_once(self, job: PreparedJob) -> tuple[str, int]:
        rec = job.record
        with session_scope(self.db_url) as session:
            patent = session.scalar(select(Patent).where(Patent.publication_number == rec.publication_number)
                                    .with_for_update())
            outcome = "updated" if patent is not None else "ingested"
            if patent is None:
                patent = Patent(publication_number=rec.publication_number)
                session.add(patent)
            else:
                patent.figures.clear()
                session.flush()
            for name in ("kind", "country", "application_number", "title", "abstract", "claims", "applicants",
                         "inventors", "cpc", "ipc", "locarno", "family_id", "language"):
                setattr(patent, name, getattr(rec, name))
            patent.texts = rec.texts or None
            for name in ("filing_date", "publication_date", "priority_date"):
                value = getattr(rec, name)
                setattr(patent, name, _date(value))
            patent.source = rec.source[:64]
            patent.figures = [Figure(
                figure_id=figure_id(rec.publication_number, f.record.number, f.record.region),
                number=f.record.number, region=f.record.region, box=f.record.box, sheet_key=f.sheet_key,
                description=f.record.description, viewpoint=(f.record.viewpoint or None) and f.record.viewpoint[:64],
                object_name=(f.record.object_name or None) and f.record.object_name[:255],
                image_hash=f.rendered.sha256 if f.rendered else None, image_key=f.image_key, thumb_key=f.thumb_key,
                width=f.rendered.width if f.rendered else None, height=f.rendered.height if f.rendered else None,
                captions=f.captions) for f in job.figures]
            session.flush()
            seq = _next_seq(session)
            patent.ingest_seq = seq
            row = session.get(IngestJob, job.job_id)
            if outcome == "updated" and row.outcome == "ingested" and row.publication_number == rec.publication_number:
                outcome = "ingested"   # this job's earlier attempt stored it, then failed (ES down): still new
            row.publication_number = rec.publication_number
            row.outcome = outcome
            if job.content_sha256:   # a later job with the same content is a no-op (unchanged.py)
                row.payload = {**(row.payload or {}), "content_sha256": job.content_sha256}
            # what the source did not tell for sure (an OCR'd scan, a guessed sheet mapping): on the job
            row.payload = {**{k: v for k, v in (row.payload or {}).items() if k != "notes"},
                           **({"notes": list(rec.notes)} if rec.notes else {})}
        return outcome, seq

    def _index(self, stored: list[tuple[PreparedJob, str, int]]) -> None:
        if not stored:
            return
        backend = self.backend
        docs = []
        for job, _outcome, seq in stored:
            backend.delete_patent(job.record.publication_number)
            docs.extend(figure_documents(job, seq, getattr(self.encoder, "model_id", None)))
        if docs:
            backend.index_figures(docs)
        backend.refresh()

    def _done_all(self, finished: list[tuple[PreparedJob, str]], results: dict[str, JobResult]) -> None:
        if not finished:
            return
        with session_scope(self.db_url) as session:
            for job, outcome in finished:
                row = session.get(IngestJob, job.job_id)
                row.status = JobStatus.done
                row.outcome = outcome
                row.finished_at = utcnow()
                row.last_error = None
        for job, outcome in finished:
            for key in job.upload_keys:   # the upload is kept as originals/...; the staging copy goes
                try:
                    self.blobs.delete(key)
                except Exception:  # pragma: no cover - a leftover staging blob is harmless
                    log.warning("could not delete staged upload %s", key)
            results[job.job_id] = JobResult(job.job_id, "done", outcome, job.record.publication_number,
                                            len(job.figures))
        from backend.monitoring.ingest_check import enqueue_ingest_check

        enqueue_ingest_check([job.record.publication_number for job, _ in finished], self.settings)

    def _fail(self, job_id: str, error: str) -> JobResult:
        return mark_failed(self.db_url, job_id, error)


def caption_vectors(encoder, captions: list[list[str]]) -> list[np.ndarray | None]:
    """Each figure's text vector: the normalised mean of its captions' vectors (None without captions).
    Every distinct caption goes through the text tower once, in batches of the encoder's batch size
    (template captions repeat across the figures of a patent and across patents)."""
    distinct = list(dict.fromkeys(c for cs in captions for c in cs))
    if not distinct:
        return [None] * len(captions)
    vectors = encoder.encode_texts(distinct)
    row = {c: i for i, c in enumerate(distinct)}
    out: list[np.ndarray | None] = []
    for cs in captions:
        total = vectors[[row[c] for c in cs]].sum(axis=0) if cs else None
        norm = float(np.linalg.norm(total)) if total is not None else 0.0
        out.append(total / norm if norm > 0 else None)
    return out


@observed.ingest_job_failed
def mark_failed(db_url: str, job_id: str, error: str) -> JobResult:
    with session_scope(db_url) as session:
        row = session.get(IngestJob, job_id)
        if row is None:
            return JobResult(job_id, "failed", error=error)
        row.status = JobStatus.failed
        row.last_error = error[:4000]
        row.finished_at = utcnow()
        pub = row.publication_number
    log.warning("ingest job %s failed: %s", job_id, error)
    return JobResult(job_id, "failed", publication_number=pub, error=error)


def fail_unfinished(db_url: str, job_ids: list[str], error: str) -> list[JobResult]:
    """Mark every job of a batch that is not done as failed with ``error`` (done jobs stay done)."""
    results = []
    for job_id in job_ids:
        with session_scope(db_url) as session:
            row = session.get(IngestJob, job_id)
            done = row is not None and row.status == JobStatus.done
            outcome, pub = (row.outcome, row.publication_number) if row is not None else (None, None)
        results.append(JobResult(job_id, "done", outcome, pub) if done else mark_failed(db_url, job_id, error))
    return results


def _next_seq(session) -> int:
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQ_LOCK_KEY})
    return int(session.scalar(select(func.coalesce(func.max(Patent.ingest_seq), 0))) or 0) + 1


def _date(value):
    import datetime as dt

    return dt.date.fromisoformat(value) if value else None


def figure_id(publication_number: str, number: int, region: int = 0) -> str:
    """``US123-F3`` for sheet 3, ``US123-F3.2`` for the second figure region split from it."""
    return f"{publication_number}-F{number}" + (f".{region}" if region else "")


def _patent_fields(rec: PatentRecord, seq: int) -> dict:
    return {"publication_number": rec.publication_number, "kind": rec.kind, "country": rec.country,
            "title": rec.title, "abstract": rec.abstract, "claims": rec.claims, "applicants": list(rec.applicants),
            "cpc": list(rec.cpc), "ipc": list(rec.ipc), "locarno": list(rec.locarno),
            "filing_date": rec.filing_date, "publication_date": rec.publication_date,
            "priority_date": rec.priority_date, "ingest_seq": seq, "family_id": rec.family_id}


def figure_documents(job: PreparedJob, seq: int, model_id: str | None = None) -> list[dict]:
    """The figure documents of docs/contracts.md, patent fields denormalised onto every figure. A patent
    without figures gets one text-only document (``<number>-TEXT``, no image, no vectors, no invented
    figure or caption) so that text search still finds it."""
    rec = job.record
    docs = []
    if not job.figures:
        doc = _patent_fields(rec, seq)
        doc.update(figure_id=text_document_id(rec.publication_number), figure_number=0, description="",
                   viewpoint=None, object_name=None, captions=[], image_vector=None, text_vector=None,
                   image_key=None, thumb_key=None)
        doc.update(_language_fields(rec, ""))
        if job.dense_text_vector is not None:
            doc["dense_text_vector"] = job.dense_text_vector.astype(float).tolist()
        if model_id:
            doc["model_id"] = model_id
        return [doc]
    for f in job.figures:
        doc = {
            "figure_id": figure_id(rec.publication_number, f.record.number, f.record.region),
            "publication_number": rec.publication_number, "figure_number": f.record.number,
            "kind": rec.kind, "country": rec.country, "title": rec.title, "abstract": rec.abstract,
            "claims": rec.claims, "description": f.record.description, "viewpoint": f.record.viewpoint,
            "object_name": f.record.object_name, "captions": list(f.captions), "applicants": list(rec.applicants),
            "cpc": list(rec.cpc), "ipc": list(rec.ipc), "locarno": list(rec.locarno),
            "filing_date": rec.filing_date, "publication_date": rec.publication_date,
            "priority_date": rec.priority_date,
            "image_vector": f.image_vector.astype(float).tolist() if f.image_vector is not None else None,
            "text_vector": f.text_vector.astype(float).tolist() if f.text_vector is not None else None,
            "image_key": f.image_key, "thumb_key": f.thumb_key, "ingest_seq": seq, "family_id": rec.family_id,
        }
        if f.record.region:   # a figure split from its sheet: the sheet is kept for display with its box
            doc.update(figure_region=f.record.region, figure_box=f.record.box, sheet_key=f.sheet_key)
        doc.update(_language_fields(rec, f.record.description))
        if job.dense_text_vector is not None:
            doc["dense_text_vector"] = job.dense_text_vector.astype(float).tolist()
        if model_id:
            doc["model_id"] = model_id
        docs.append(doc)
    return docs


def _language_fields(rec: PatentRecord, figure_description: str) -> dict:
    """For a record with per-language texts (EPO): ``language``, ``texts`` (with the figure's description
    under the document's language) and the main fields limited to English, so that a search restricted to
    other languages does not find the document by its English fields and vice versa
    (backend/search/text/languages.py). Other records: nothing to change."""
    if not rec.texts:
        return {}
    texts = {lang: dict(parts) for lang, parts in rec.texts.items()}
    lang = rec.language or "en"
    if figure_description:
        texts.setdefault(lang, {})["description"] = figure_description
    english = texts.get("en", {})
    return {"language": rec.language, "texts": texts, "abstract": english.get("abstract", ""),
            "claims": english.get("claims", ""), "description": english.get("description", "")}
