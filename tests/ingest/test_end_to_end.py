"""Real services end to end: Redis broker, a real Celery worker process, PostgreSQL, Elasticsearch,
the real encoder (default checkpoint if packaged, else the config's seeded random weights)."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import func, select

from backend.cli_db import upgrade_database
from backend.db.models import Figure, IngestJob, JobStatus, Patent
from backend.db.session import session_scope
from tests.conftest import WorkerProcess, settings_env

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.shared_data]

KILL_SUBSET = 16


def _search_core():
    search = pytest.importorskip("backend.search", reason="the search core (backend.search) is not in this checkout")
    if not hasattr(search, "get_backend"):
        pytest.skip("backend.search.get_backend is not available yet")
    return search


def _settings(make_settings, es_url, pg_database, redis_db_url, **extra):
    settings = make_settings(task_mode="celery", redis_url=redis_db_url, database_url=pg_database,
                             search_backend="elasticsearch", es_url=es_url,
                             es_index_prefix=f"ingt{uuid.uuid4().hex[:10]}", visibility_timeout_s=60, **extra)
    upgrade_database(pg_database)
    return settings


def _drop(settings):
    from elasticsearch import Elasticsearch

    Elasticsearch(settings.es_url).indices.delete(index=f"{settings.es_index_prefix}*", ignore_unavailable=True,
                                                  allow_no_indices=True)


def _db_figures(settings) -> dict[str, int]:
    with session_scope(settings.resolved_database_url) as s:
        rows = s.execute(select(Patent.publication_number, func.count(Figure.id)).join(Figure)
                         .group_by(Patent.publication_number))
        return dict(rows.all())


def _index_figures(settings, pubs) -> dict[str, list[str]]:
    from backend.search import get_backend

    backend = get_backend(settings)
    backend.refresh()
    return {p: [d["figure_id"] for d in backend.get_patent_figures(p)] for p in pubs}


def test_impact_sample_through_a_real_worker(make_settings, shared_data, es_url, pg_database, redis_db_url,
                                             celery_worker_proc):
    search = _search_core()
    from backend.ingest.bulk import ingest_paths

    settings = _settings(make_settings, es_url, pg_database, redis_db_url)
    celery_worker_proc(settings, queues="ingest")
    try:
        summary = ingest_paths([shared_data / "impact"], settings, progress=False, timeout_s=900)
        assert (summary.ingested, summary.failed, summary.skipped) == (50, 0, 0), summary.failures[:3]
        db = _db_figures(settings)
        assert len(db) == 50 and sum(db.values()) == summary.figures
        indexed = _index_figures(settings, db)
        for pub, count in db.items():
            assert len(indexed[pub]) == count == len(set(indexed[pub])), pub
        with session_scope(settings.resolved_database_url) as s:
            seqs = s.scalars(select(Patent.ingest_seq)).all()
        assert sorted(seqs) == list(range(1, 51))          # one stamp per ingest, no gaps, no repeats

        # "more like this" from each drawing of one patent: its other drawings come back near the top
        # (by chance, about 9 x 7/387 = 0.16 of them would be in a top 10)
        backend = search.get_backend(settings)
        probe_pub = "USD0907292"
        probes = [f["figure_id"] for f in backend.get_patent_figures(probe_pub)]
        assert len(probes) == db[probe_pub]
        same_counts = []
        for figure_id in probes:
            request = search.SearchRequest.model_validate({
                "image_figure_id": figure_id, "weights": {"text": 0.0, "image": 1.0},
                "group_by_patent": False, "size": 10, "facets": False})
            response = backend.search(request)
            hits = response.hits if hasattr(response, "hits") else response["hits"]
            ids = [h.figure_id if hasattr(h, "figure_id") else h["figure_id"] for h in hits]
            pubs = [h.publication_number if hasattr(h, "publication_number") else h["publication_number"]
                    for h in hits]
            assert (ids and ids[0] == figure_id) or pubs[0] == probe_pub   # the drawing itself (or its twin)
            same_counts.append(sum(1 for p in pubs[1:] if p == probe_pub))
        print(f"\nimage queries from the {len(probes)} drawings of {probe_pub}: same patent in 2..10: {same_counts}")
        assert sum(same_counts) / len(same_counts) >= 1.0, same_counts
    finally:
        _drop(settings)


def test_worker_killed_mid_ingest_every_document_indexed_once(make_settings, shared_data, es_url, pg_database,
                                                              redis_db_url, celery_worker_proc, tmp_path):
    _search_core()
    from backend.ingest.bulk import ingest_paths, wait_for_jobs

    settings = _settings(make_settings, es_url, pg_database, redis_db_url, embed_batch_size=8)  # one job per task
    folders = sorted(p for p in (shared_data / "impact").iterdir() if p.is_dir())[:KILL_SUBSET]
    queued = ingest_paths(folders, settings, wait=False, progress=False)
    job_ids = queued.job_ids
    assert len(job_ids) == KILL_SUBSET
    try:
        def counts():
            with session_scope(settings.resolved_database_url) as s:
                done = s.scalar(select(func.count()).select_from(IngestJob).where(IngestJob.status == JobStatus.done))
                running = s.scalar(select(func.count()).select_from(IngestJob)
                                   .where(IngestJob.status == JobStatus.running))
            return done, running

        # A watcher thread kills the worker (SIGKILL: no chance to ack or clean up) the moment the first
        # job is running or done -- whether or not the worker has printed "ready." by then.
        worker = WorkerProcess(settings_env(settings), tmp_path / "killed-worker.log", queues="ingest")
        killed: dict = {}

        def watch():
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if worker.proc is not None:
                    done, running = counts()
                    if done >= 1 or running >= 1:
                        worker.kill(9)
                        killed["at"] = counts()
                        return
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            worker.start()
        except RuntimeError:
            pass                                          # killed before it printed "ready."
        watcher.join(timeout=320)
        worker.stop()
        assert "at" in killed, "the worker never started a job"
        done_at_kill, running_at_kill = killed["at"]
        assert done_at_kill < KILL_SUBSET, "the worker finished everything before it could be killed"
        print(f"\nkilled the worker with {done_at_kill} done and {running_at_kill} running")

        celery_worker_proc(settings, queues="ingest")     # a fresh worker picks up the unacked messages
        wait_for_jobs(job_ids, settings, timeout_s=420)
        with session_scope(settings.resolved_database_url) as s:
            jobs = s.scalars(select(IngestJob)).all()
            assert all(j.status == JobStatus.done for j in jobs), [(j.status, j.last_error) for j in jobs]
            assert s.scalar(select(func.count()).select_from(Patent)) == KILL_SUBSET
        db = _db_figures(settings)
        indexed = _index_figures(settings, db)
        all_ids = [fid for ids in indexed.values() for fid in ids]
        assert len(all_ids) == len(set(all_ids)) == sum(db.values())
        for pub, count in db.items():
            assert len(indexed[pub]) == count, pub
    finally:
        _drop(settings)
