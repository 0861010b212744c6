"""Bulk ingest (what ``prism ingest`` calls): :func:`ingest_paths` finds the documents under some paths,
creates a job for each, runs them (eager) or enqueues them and waits (celery), and sums up what happened.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import func, select

from backend.db.models import IngestJob, JobStatus
from backend.db.session import session_scope
from backend.ingest.parsers.discover import Item, discover
from backend.ingest.pipeline import new_job
from backend.ingest.progress_bar import TerminalBar, on_a_terminal
from backend.ingest.records import Summary
from backend.ingest.runners import batches, enqueue, owned_here, run_eager_overlapped
from backend.settings import Settings, get_settings

#: a bulk ingest's progress callback: (documents finished, documents in all, the last finished one's origin)
Progress = Callable[[int, int, str], None]


def ingest_paths(paths: Iterable[str | Path], settings: Settings | None = None, *, wait: bool = True,
                 progress: Progress | bool | None = None, timeout_s: float | None = None,
                 on_item: Callable[[Item], None] | None = None, resume: bool = True) -> Summary:
    """Ingest every document found under ``paths``; returns what happened.

    ``wait=False`` (celery mode only) returns after enqueueing, with ``summary.job_ids`` set.
    ``resume``: documents of a weekly archive's members that a finished job of the same archive already
    ingested are not done again (:mod:`backend.ingest.archive_resume`), nor documents stored and indexed
    with the same content (:mod:`backend.ingest.unchanged`); both counted as ``summary.resumed``.
    ``progress``: a :data:`Progress` callback told of each document finished; True, or None (the default)
    when standard error is a terminal, draws :class:`backend.ingest.progress_bar.TerminalBar`; False: none.
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
        owned_here(jobs, settings)
        job_ids = [j.id for j in jobs]
    summary.job_ids = job_ids
    origins = dict(zip(job_ids, (i.origin for i in items)))
    # about 8 figures per patent until parsed: enough to fill encoder batches across patents
    groups = batches([(j, 8) for j in job_ids], max(settings.embed_batch_size, 8))
    bar = TerminalBar() if progress is True or (progress is None and on_a_terminal()) else None
    report: Progress | None = progress if callable(progress) else bar
    on_done = _counted(report, [i.origin for i in items]) if report else None
    try:
        if settings.task_mode == "eager":
            run_eager_overlapped(groups, settings, on_done)
        else:
            for group in groups:
                enqueue(group, settings)
            if not wait:
                summary.seconds = time.monotonic() - started
                return summary
            wait_for_jobs(job_ids, settings, on_done=on_done, timeout_s=timeout_s)
    finally:
        if bar is not None:
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


def _counted(report: Progress, origins: list[str]) -> Callable[[int], None]:
    """The runners' ``on_done(n)`` (n more jobs finished) as calls of ``report``."""
    done = 0

    def on_done(n: int) -> None:
        nonlocal done
        done += n
        report(done, len(origins), origins[min(done, len(origins)) - 1] if done > 0 else "")
    return on_done


def wait_for_jobs(job_ids: list[str], settings: Settings, on_done: Callable[[int], None] | None = None,
                  timeout_s: float | None = None, poll_s: float = 0.5) -> None:
    """Poll until every job is done or failed; ``on_done(n)`` is told of each ``n`` jobs newly finished."""
    deadline = time.monotonic() + timeout_s if timeout_s else None
    finished_before = 0
    while True:
        with session_scope(settings.resolved_database_url) as session:
            finished = 0
            for chunk in range(0, len(job_ids), 500):
                finished += session.scalar(select(func.count()).select_from(IngestJob).where(
                    IngestJob.id.in_(job_ids[chunk:chunk + 500]),
                    IngestJob.status.in_([JobStatus.done, JobStatus.failed]))) or 0
        if on_done is not None and finished > finished_before:
            on_done(finished - finished_before)
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
