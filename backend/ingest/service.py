"""Ingest entry points: the CLI (:func:`ingest_paths`), the API (:func:`submit_document`, jobs) and the
Celery tasks (:func:`process_jobs`). In ``task_mode=eager`` the pipeline runs in this process; in
``celery`` mode jobs are sent to the ``ingest`` queue and, for the CLI, waited for.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from backend.db.models import IngestJob, JobStatus
from backend.db.session import session_scope
from backend.errors import ProblemError
from backend.ingest import blobstore, images
from backend.ingest.metadata import record_from_metadata
from backend.ingest.parsers.discover import Item, discover
from backend.ingest.pipeline import JobResult, Pipeline, fail_unfinished, new_job
from backend.ingest.records import ImageRef, IngestError, Summary
from backend.ingest.retry import IN_PROCESS
from backend.settings import Settings, get_settings

log = logging.getLogger(__name__)

_PIPELINES: dict[tuple, Pipeline] = {}


def get_pipeline(settings: Settings) -> Pipeline:
    """One pipeline (encoder, backend, captioner) per process and configuration."""
    key = (settings.resolved_database_url, settings.search_backend, settings.es_url, settings.es_index_prefix,
           str(settings.resolved_embedded_dir), str(settings.resolved_blob_dir), settings.blob_store,
           settings.s3_endpoint_url, settings.s3_bucket, settings.captioner,
           settings.model_name, str(settings.checkpoint), settings.llm_base_url)
    pipe = _PIPELINES.get(key)
    if pipe is None:
        pipe = _PIPELINES[key] = Pipeline(settings)
    return pipe


def batches(job_figures: list[tuple[str, int]], figures_per_batch: int) -> list[list[str]]:
    """Group jobs so one batch holds about ``figures_per_batch`` figures (the encoder's batch size)."""
    out, current, count = [], [], 0
    for job_id, n in job_figures:
        current.append(job_id)
        count += max(n, 1)
        if count >= figures_per_batch:
            out.append(current)
            current, count = [], 0
    if current:
        out.append(current)
    return out


# -- running jobs -------------------------------------------------------------------------------------
def process_jobs(job_ids: list[str], settings: Settings | None = None) -> list[JobResult]:
    """Run the pipeline for these jobs in this process (what the Celery task calls)."""
    settings = settings or get_settings()
    return get_pipeline(settings).run_jobs(list(job_ids))


def run_eager(job_ids: list[str], settings: Settings) -> list[JobResult]:
    """In-process, retried by :data:`backend.ingest.retry.IN_PROCESS`; then the jobs fail with the error kept."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return process_jobs(job_ids, settings)
        except Exception as exc:
            if IN_PROCESS.retries(exc, attempt):
                time.sleep(IN_PROCESS.delay_s(attempt))
                continue
            log.exception("ingest batch failed")
            return fail_unfinished(settings.resolved_database_url, job_ids, IN_PROCESS.failure(exc, attempt))


def run_eager_overlapped(groups: list[list[str]], settings: Settings, bar=None) -> None:
    """Eager bulk ingest: parse/render/caption group k+1 in a thread while group k is embedded,
    stored and indexed. A group that meets any error is redone by :func:`run_eager` (with its retries)."""
    from concurrent.futures import ThreadPoolExecutor

    pipe = get_pipeline(settings)
    _ = pipe.encoder   # load the model before the threads start
    with _torch_threads_beside_image_threads(), \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-prepare") as ahead:
        future = ahead.submit(pipe.prepare, groups[0]) if groups else None
        for i, group in enumerate(groups):
            try:
                batch = future.result()
            except Exception:
                batch = None
            future = ahead.submit(pipe.prepare, groups[i + 1]) if i + 1 < len(groups) else None
            try:
                if batch is None:
                    raise RuntimeError("prepare failed")
                pipe.finish(batch)
            except Exception:
                log.warning("ingest batch %d: redoing it step by step", i + 1, exc_info=True)
                run_eager(group, settings)
            if bar is not None:
                bar.update(len(group))


@contextmanager
def _torch_threads_beside_image_threads():
    """While images are rendered in IMAGE_THREADS threads next to the encoder, give torch only the other
    cores: on a small machine its spinning intra-op threads otherwise fight the image threads (and any
    other process) for the same cores, which made the forward pass several times slower."""
    from backend.ingest.pipeline import IMAGE_THREADS

    try:
        import torch
    except ImportError:  # pragma: no cover - torch comes with the model package
        yield
        return
    before = torch.get_num_threads()
    wanted = max(1, min(before, (os.cpu_count() or 1) - IMAGE_THREADS))
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def enqueue(job_ids: list[str], settings: Settings) -> None:
    """Send one task for these jobs to the broker of ``settings`` (not the broker the Celery app was
    built with when this process first imported it)."""
    from backend.task_queue import INGEST_PROCESS, send

    send(INGEST_PROCESS, [list(job_ids)], settings)


# -- the CLI entry point -------------------------------------------------------------------------------
def ingest_paths(paths: Iterable[str | Path], settings: Settings | None = None, *, wait: bool = True,
                 progress: bool | None = None, timeout_s: float | None = None,
                 on_item: Callable[[Item], None] | None = None, resume: bool = True) -> Summary:
    """Ingest every document found under ``paths``; returns what happened.

    ``wait=False`` (celery mode only) returns after enqueueing, with ``summary.job_ids`` set.
    ``resume``: documents of a weekly archive's members that a finished job of the same archive already
    ingested are not done again (:mod:`backend.ingest.archive_resume`), nor documents stored and indexed
    with the same content (:mod:`backend.ingest.unchanged`); both counted as ``summary.resumed``.
    """
    settings = settings or get_settings()
    started = time.monotonic()
    summary = Summary()
    items, unreadable = [], []
    for item in discover(paths):
        if on_item:
            on_item(item)
        if item.skip:
            summary.skipped += 1
            summary.skips.append((item.origin, item.skip))
        elif item.error:
            summary.failed += 1
            summary.failures.append((item.origin, item.error))
            unreadable.append(item)
        else:
            items.append(item)
    if unreadable:
        _record_unreadable(unreadable, settings)
    if resume:
        from backend.ingest.archive_resume import finished_origins

        done = finished_origins(settings.resolved_database_url, items)
        summary.resumed = sum(1 for item in items if item.origin[:512] in done)
        items = [item for item in items if item.origin[:512] not in done]
    if not items:
        summary.seconds = time.monotonic() - started
        return summary
    with session_scope(settings.resolved_database_url) as session:
        jobs = [new_job(session, item.locator, item.origin) for item in items]
        if not resume:   # also documents stored with the same content (backend/ingest/unchanged.py)
            for job in jobs:
                job.payload = {**job.payload, "redo": True}
        _owned_here(jobs, settings)
        job_ids = [j.id for j in jobs]
    summary.job_ids = job_ids
    origins = dict(zip(job_ids, (i.origin for i in items)))
    # about 8 figures per patent until parsed: enough to fill encoder batches across patents
    groups = batches([(j, 8) for j in job_ids], max(settings.embed_batch_size, 8))
    show = _show_progress() if progress is None else progress
    from tqdm import tqdm

    bar = _MemberProgress(tqdm(total=len(job_ids), unit="doc", desc="ingest", disable=not show,
                               dynamic_ncols=True), [i.origin for i in items])
    try:
        if settings.task_mode == "eager":
            run_eager_overlapped(groups, settings, bar)
        else:
            for group in groups:
                enqueue(group, settings)
            if not wait:
                summary.seconds = time.monotonic() - started
                return summary
            wait_for_jobs(job_ids, settings, bar=bar, timeout_s=timeout_s)
    finally:
        bar.close()
    _tally(summary, job_ids, origins, settings)
    summary.seconds = time.monotonic() - started
    return summary


def _record_unreadable(items: list[Item], settings: Settings) -> None:
    """A failed job row for each input that could not be read (a manifest line that is not JSON, a broken
    archive), so ``GET /jobs?status=failed`` lists it beside the documents that failed later."""
    from backend.db.models import utcnow

    now = utcnow()
    with session_scope(settings.resolved_database_url) as session:
        for item in items:
            job = new_job(session, None, item.origin)
            job.status, job.last_error, job.finished_at, job.attempts = JobStatus.failed, item.error, now, 1


class _MemberProgress:
    """The ingest bar, naming the document (an archive's member: ``weekly.tar!US...ZIP``) reached."""

    def __init__(self, bar, origins: list[str]):
        self.bar, self.origins, self.done = bar, origins, 0

    def update(self, n: int) -> None:
        self.done += n
        if 0 < self.done <= len(self.origins):
            self.bar.set_postfix_str(self.origins[self.done - 1].rsplit("!", 1)[-1].rsplit("/", 1)[-1],
                                     refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def _show_progress() -> bool:
    import sys

    return sys.stderr.isatty()


def wait_for_jobs(job_ids: list[str], settings: Settings, bar=None, timeout_s: float | None = None,
                  poll_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s if timeout_s else None
    finished_before = 0
    while True:
        with session_scope(settings.resolved_database_url) as session:
            finished = 0
            for chunk in range(0, len(job_ids), 500):
                finished += session.scalar(select(func.count()).select_from(IngestJob).where(
                    IngestJob.id.in_(job_ids[chunk:chunk + 500]),
                    IngestJob.status.in_([JobStatus.done, JobStatus.failed]))) or 0
        if bar is not None and finished > finished_before:
            bar.update(finished - finished_before)
        finished_before = finished
        if finished >= len(job_ids):
            return
        if deadline and time.monotonic() > deadline:
            raise TimeoutError(f"{len(job_ids) - finished} of {len(job_ids)} ingest jobs still unfinished "
                               f"after {timeout_s}s (is a worker consuming the 'ingest' queue?)")
        time.sleep(poll_s)


def _tally(summary: Summary, job_ids: list[str], origins: dict[str, str], settings: Settings) -> None:
    from backend.db.models import Figure, Patent

    with session_scope(settings.resolved_database_url) as session:
        rows = {}
        for chunk in range(0, len(job_ids), 500):
            for job in session.scalars(select(IngestJob).where(IngestJob.id.in_(job_ids[chunk:chunk + 500]))):
                rows[job.id] = (job.status, job.outcome, job.last_error, job.publication_number)
                for note in (job.payload or {}).get("notes") or []:
                    summary.notes.append((origins.get(job.id, job.id), note))
        pubs = [r[3] for r in rows.values() if r[0] == JobStatus.done and r[3] and r[1] != "unchanged"]
        if pubs:
            summary.figures = session.scalar(select(func.count()).select_from(Figure).join(Patent)
                                             .where(Patent.publication_number.in_(pubs))) or 0
    for job_id in job_ids:
        status, outcome, error, pub = rows.get(job_id, (JobStatus.failed, None, "job vanished", None))
        if status == JobStatus.done:
            if outcome == "unchanged":   # stored and indexed with this content already (unchanged.py)
                summary.resumed += 1
            elif outcome == "updated":
                summary.updated += 1
            else:
                summary.ingested += 1
            if pub and pub not in summary.publication_numbers:
                summary.publication_numbers.append(pub)
        else:
            summary.failed += 1
            summary.failures.append((origins.get(job_id, job_id), error or str(status)))


# -- the API -------------------------------------------------------------------------------------------
def submit_document(metadata_text: str, files: list[tuple[str, bytes]], settings: Settings) -> dict:
    """Validate an upload completely, stage its images, create a job and run or enqueue it.

    Nothing is written when anything is wrong (bad metadata, a corrupt image, a bomb): the answer is a
    4xx problem naming it. Returns the job as :func:`job_dict` renders it.
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
            _owned_here([job], settings)
            job_id = job.id
    except BaseException:
        for key in staged:
            blobs.delete(key)
        raise
    start_jobs([job_id], settings)
    return get_job(job_id, settings)


def requeue_orphaned(settings: Settings) -> list[str]:
    """Re-drive ingest jobs left queued or running with no live owner (a killed worker or API process, a
    broker that lost its messages): see :mod:`backend.ingest.reconcile`. Called when a worker starts, on
    beat and by ``prism jobs recover``. Idempotent."""
    from backend.ingest.reconcile import reconcile

    return reconcile(settings).redriven


def redrive_orphaned_at_start(settings: Settings) -> threading.Thread | None:
    """Eager mode: an API worker that starts (gunicorn replacing one killed by OOM or its timeout) re-drives
    the jobs whose process died, in a background thread so the worker serves requests meanwhile. Returns
    the thread (None in celery mode, where each Celery worker does this when it starts)."""
    if settings.task_mode != "eager":
        return None

    def _run() -> None:
        try:
            redriven = requeue_orphaned(settings)
        except Exception:  # noqa: BLE001 - a start-up extra: the worker serves requests either way
            log.warning("re-driving orphaned ingest jobs at start failed", exc_info=True)
            return
        if redriven:
            log.warning("re-drove %d ingest job(s) left by a process that died", len(redriven))

    thread = threading.Thread(target=_run, name="prism-redrive-orphaned", daemon=True)
    thread.start()
    return thread


def _owned_here(jobs: list[IngestJob], settings: Settings) -> None:
    """In eager mode this process runs the jobs it creates: recorded, so the reconciler can tell a job
    whose process died (OOM, a gunicorn timeout) from one that waits its turn."""
    if settings.task_mode == "eager":
        from backend.ingest.reconcile import this_process

        for job in jobs:
            job.payload = {**(job.payload or {}), "worker": this_process()}


def start_jobs(job_ids: list[str], settings: Settings) -> None:
    if settings.task_mode == "eager":
        run_eager(job_ids, settings)
    else:
        enqueue(job_ids, settings)


def job_dict(job: IngestJob, stuck_reason: str | None = None) -> dict:
    return {
        "job_id": job.id, "status": job.status.value if hasattr(job.status, "value") else str(job.status),
        "outcome": job.outcome, "publication_number": job.publication_number, "source": job.source,
        "attempts": job.attempts or 0, "last_error": job.last_error,
        "notes": list((job.payload or {}).get("notes") or []),
        "created_at": _iso(job.created_at), "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at),
        "stuck": stuck_reason is not None, "stuck_reason": stuck_reason,
    }


def stuck_reasons(jobs: list[IngestJob], settings: Settings) -> dict[str, str]:
    """job id -> why it is stuck, for the queued or running ``jobs`` with no live owner (the
    reconciler's rule, :func:`backend.ingest.reconcile.staleness`; the broker is read only when a queued
    job without a recorded process needs it)."""
    from backend.db.models import utcnow
    from backend.ingest.reconcile import broker_job_ids, staleness

    unfinished = [j for j in jobs if j.status in (JobStatus.queued, JobStatus.running)]
    if not unfinished:
        return {}
    in_broker = None
    if settings.task_mode == "celery" and any(j.status == JobStatus.queued and not (j.payload or {}).get("worker")
                                              for j in unfinished):
        in_broker = broker_job_ids(settings)
    now = utcnow()
    out = {}
    for job in unfinished:
        why = staleness(job, settings, now=now, in_broker=in_broker)
        if why:
            out[job.id] = why
    return out


def _iso(value):
    return value.isoformat() if value else None


def get_job(job_id: str, settings: Settings) -> dict:
    with session_scope(settings.resolved_database_url) as session:
        job = session.get(IngestJob, job_id)
        if job is None:
            raise ProblemError(404, f"no ingest job {job_id!r}")
        return job_dict(job, stuck_reasons([job], settings).get(job.id))


def list_jobs(settings: Settings, status: str | None = None, limit: int = 50, offset: int = 0) -> dict:
    """Jobs, newest first; each says whether it is ``stuck`` (queued or running with no live owner, see
    :mod:`backend.ingest.reconcile`) and why. ``status="stuck"`` lists only those."""
    with session_scope(settings.resolved_database_url) as session:
        order = (IngestJob.created_at.desc(), IngestJob.id)
        if status == "stuck":
            unfinished = list(session.scalars(select(IngestJob).where(
                IngestJob.status.in_([JobStatus.queued, JobStatus.running])).order_by(*order)))
            reasons = stuck_reasons(unfinished, settings)
            stuck = [j for j in unfinished if j.id in reasons]
            page = stuck[offset:offset + limit]
            return {"items": [job_dict(j, reasons[j.id]) for j in page], "total": len(stuck), "limit": limit,
                    "offset": offset}
        query = select(IngestJob)
        count = select(func.count()).select_from(IngestJob)
        if status:
            query = query.where(IngestJob.status == JobStatus(status))
            count = count.where(IngestJob.status == JobStatus(status))
        total = session.scalar(count) or 0
        rows = list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))
        reasons = stuck_reasons(rows, settings)
        return {"items": [job_dict(j, reasons.get(j.id)) for j in rows], "total": total, "limit": limit,
                "offset": offset}


def retry_job(job_id: str, settings: Settings) -> dict:
    """Run a failed job again, or a stuck one (queued or running with no live owner: see
    :mod:`backend.ingest.reconcile`)."""
    from backend.ingest.reconcile import claim, find_stale, this_process

    with session_scope(settings.resolved_database_url) as session:
        job = session.get(IngestJob, job_id)
        if job is None:
            raise ProblemError(404, f"no ingest job {job_id!r}")
        status = job.status
        if status == JobStatus.failed:
            job.status = JobStatus.queued
            job.finished_at = None
            if settings.task_mode == "eager":
                job.payload = {**(job.payload or {}), "worker": this_process()}
    if status == JobStatus.done:
        raise ProblemError(409, f"job {job_id} is done; only failed or stuck jobs can be retried")
    if status != JobStatus.failed:
        stale = find_stale(settings, job_ids=[job_id])
        if not stale:
            raise ProblemError(409, f"job {job_id} is {status.value} and its owner is alive; only failed or stuck "
                                    f"jobs can be retried (a job is stuck after PRISM_JOB_STALE_AFTER_S = "
                                    f"{settings.job_stale_after_s} s without a live owner)")
        if not claim(settings, stale, owner=this_process() if settings.task_mode == "eager" else None):
            raise ProblemError(409, f"job {job_id} changed meanwhile; look at it again")
    start_jobs([job_id], settings)
    return get_job(job_id, settings)
