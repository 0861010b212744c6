"""Ingest tasks (thin: the work is in backend.ingest.pipeline).

``prism.ingest.process(job_ids)`` runs the pipeline for a few jobs at once (full encoder batches). It is
``acks_late`` (a worker killed mid-task leaves the message to be redelivered; the pipeline is idempotent;
a worker starting on the same host also re-queues jobs whose process died, without waiting for the broker's
visibility timeout)
and retries transient ES / Redis / DB errors by :data:`backend.ingest.retry.CELERY` (the policy the in-process
runner uses, on a worker's time scale); when retries are exhausted the unfinished jobs are marked failed
with the error (``GET /jobs?status=failed``, ``POST /jobs/<id>/retry``).
"""
from __future__ import annotations

from celery.signals import worker_ready

from backend.ingest.retry import CELERY
from backend.settings import get_settings
from workers.celery_app import app

MAX_RETRIES = CELERY.attempts - 1


@worker_ready.connect
def _requeue_orphaned_jobs(sender=None, **_kw) -> None:
    """A worker starting re-drives the jobs left queued or running with no live owner (a killed worker on
    this host, messages lost with the broker): backend.ingest.reconcile."""
    from backend.ingest.jobs import requeue_orphaned

    try:
        requeue_orphaned(get_settings())
    except Exception as exc:  # never keep a worker from starting; the broker redelivers anyway
        import logging

        logging.getLogger(__name__).warning("could not re-queue orphaned ingest jobs: %s", exc)


@app.task(name="prism.ingest.process", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def process(self, job_ids: list[str]) -> dict:
    from backend.ingest.pipeline import fail_unfinished
    from backend.ingest.runners import process_jobs

    settings = get_settings()
    try:
        results = process_jobs(job_ids, settings)
    except Exception as exc:
        attempt = self.request.retries + 1
        if CELERY.retries(exc, attempt) and not self.request.is_eager:
            raise self.retry(exc=exc, countdown=CELERY.delay_s(attempt)) from exc
        results = fail_unfinished(settings.resolved_database_url, job_ids, CELERY.failure(exc, attempt))
    return {"jobs": [{"job_id": r.job_id, "status": r.status, "outcome": r.outcome, "error": r.error}
                     for r in results]}


@app.task(name="prism.jobs.reconcile", ignore_result=False)
def reconcile() -> dict:
    """Beat: re-drive ingest jobs with no live owner (idempotent; see backend.ingest.reconcile)."""
    from backend.ingest.reconcile import reconcile as reconcile_jobs

    return reconcile_jobs(get_settings()).as_dict()
