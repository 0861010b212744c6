"""Running ingest jobs: in this process (``task_mode=eager``: :func:`run_eager`, and
:func:`run_eager_overlapped` for bulk ingest) or on the Celery ``ingest`` queue (:func:`enqueue`); the
Celery task calls :func:`process_jobs`. One :class:`~backend.ingest.pipeline.Pipeline` per process and
configuration (:func:`get_pipeline`).
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import contextmanager

from backend.db.models import IngestJob
from backend.ingest.pipeline import JobResult, Pipeline, fail_unfinished
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



def run_eager_overlapped(groups: list[list[str]], settings: Settings,
                         on_done: Callable[[int], None] | None = None) -> None:
    """Eager bulk ingest: parse/render/caption group k+1 in a thread while group k is embedded,
    stored and indexed. A group that meets any error is redone by :func:`run_eager` (with its retries).
    ``on_done(n)`` is called as each group of ``n`` jobs finishes."""
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
            if on_done is not None:
                on_done(len(group))


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


def start_jobs(job_ids: list[str], settings: Settings) -> None:
    if settings.task_mode == "eager":
        run_eager(job_ids, settings)
    else:
        enqueue(job_ids, settings)


def owned_here(jobs: list[IngestJob], settings: Settings) -> None:
    """In eager mode this process runs the jobs it creates: recorded, so the reconciler can tell a job
    whose process died (OOM, a gunicorn timeout) from one that waits its turn."""
    if settings.task_mode == "eager":
        from backend.ingest.reconcile import this_process

        for job in jobs:
            job.payload = {**(job.payload or {}), "worker": this_process()}
