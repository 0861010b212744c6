"""Ingest job administration: read jobs (:func:`get_job`, :func:`list_jobs`, each marked ``stuck`` when it
has no live owner), run a failed or stuck one again (:func:`retry_job`), and re-drive the orphaned ones
(:func:`requeue_orphaned`, :func:`redrive_orphaned_at_start`).
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import func, select

from backend.db.models import IngestJob, JobStatus
from backend.db.session import session_scope
from backend.errors import ProblemError
from backend.ingest.runners import start_jobs
from backend.settings import Settings

log = logging.getLogger(__name__)


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
