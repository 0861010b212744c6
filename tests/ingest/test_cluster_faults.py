"""On a real three-node Elasticsearch cluster (``prism services up es --es-nodes 3``), the node
holding the figure index's primary shard is SIGKILLed while an ingest runs and searches are answered;
searches keep answering, the ingest completes, and once the node is back the index holds every figure
exactly once.

Too heavy for CI's two cores next to everything else: runs with ``make test-cluster`` (which starts the
cluster and sets PRISM_TEST_CLUSTER=1); skipped otherwise."""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import pytest
import requests

from backend import devcluster
from backend.cli_db import upgrade_database

from .helpers import write_patent_folder

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.cluster,
              pytest.mark.skipif(os.environ.get("PRISM_TEST_CLUSTER") != "1",
                                 reason="cluster fault test: run `make test-cluster` (starts a 3-node ES cluster)")]

NODES = 3
PATENTS = 12


@pytest.fixture
def cluster():
    devcluster.up(NODES)
    devcluster.wait_for(NODES, ("green",), timeout=600)
    yield devcluster.urls(NODES)
    for i in range(NODES):   # leave the cluster whole for the next run
        devcluster.start_node(i, NODES)
    devcluster.wait_for(NODES, ("green", "yellow"), timeout=600)


def _primary_node(base: str, index_pattern: str) -> int:
    shards = requests.get(f"{base}/_cat/shards/{index_pattern}?format=json", timeout=10).json()
    (primary,) = [s for s in shards if s["prirep"] == "p"]
    return int(primary["node"].rsplit("-", 1)[1])


def test_a_node_killed_during_ingest_and_searches(make_settings, tmp_path, cluster):
    from backend.ingest.bulk import ingest_paths
    from backend.search import get_backend
    from backend.search import service as search_service
    from backend.search.index import index_admin

    prefix = f"cl{uuid.uuid4().hex[:10]}"
    settings = make_settings(task_mode="eager", search_backend="elasticsearch", es_url=",".join(cluster),
                             es_index_prefix=prefix, embed_batch_size=8)
    upgrade_database(settings.resolved_database_url)
    es = index_admin.make_client(settings)
    try:
        first = write_patent_folder(tmp_path / "first", "D0999500", "Folding chair", figures=2, seed=50)
        assert ingest_paths([first], settings, progress=False).ingested == 1      # creates the index
        health = requests.get(f"{cluster[0]}/_cluster/health/{prefix}-*?wait_for_status=green&timeout=120s",
                              timeout=130).json()
        assert health["status"] == "green" and health["active_shards"] == 2      # a primary and a replica
        victim = _primary_node(cluster[0], f"{prefix}-*")

        folders = [write_patent_folder(tmp_path / "corpus", f"D09995{i:02d}", f"Chair {i}", figures=2, seed=51 + i)
                   for i in range(1, PATENTS)]
        answers, errors, stop = [], [], threading.Event()

        def search_loop():
            while not stop.is_set():
                try:
                    out = search_service.search({"text": "chair", "size": 5}, settings)
                    answers.append(out["total"])
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors.append(repr(exc))
                time.sleep(0.1)

        searcher = threading.Thread(target=search_loop, daemon=True)
        searcher.start()
        result: dict = {}
        ingester = threading.Thread(target=lambda: result.update(summary=ingest_paths(folders, settings,
                                                                                       progress=False)))
        ingester.start()
        time.sleep(1.0)
        devcluster.kill_node(victim, signal.SIGKILL)                             # mid-ingest, mid-searches
        killed_answers = len(answers)
        ingester.join(timeout=900)
        time.sleep(2.0)
        stop.set()
        searcher.join(timeout=120)
        summary = result["summary"]
        print(f"\nkilled es-node-{victim}; searches answered {len(answers)} ({len(answers) - killed_answers} after "
              f"the kill), errors {len(errors)}; ingest {summary.ingested} ingested, {summary.failed} failed")
        assert (summary.ingested, summary.failed) == (PATENTS - 1, 0), summary.failures
        assert errors == [], errors[:3]
        assert len(answers) > killed_answers                                     # it kept answering

        devcluster.start_node(victim, NODES)                                     # the node comes back
        devcluster.wait_for(NODES, ("green",), timeout=600)
        backend = get_backend(settings)
        backend.refresh()
        pubs = ["USD0999500"] + [f"USD09995{i:02d}" for i in range(1, PATENTS)]
        for pub in pubs:
            ids = sorted(d["figure_id"] for d in backend.get_patent_figures(pub))
            assert ids == [f"{pub}-F1", f"{pub}-F2"], (pub, ids)
        assert es.count(index=f"{prefix}-figures")["count"] == 2 * PATENTS       # exactly once each
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*", allow_no_indices=True,
                                                     expand_wildcards="all")


def test_two_celery_workers_one_killed_and_a_node_killed_nothing_lost_or_doubled(
        make_settings, tmp_path, cluster, pg_database, redis_db_url):
    from sqlalchemy import func, select

    from backend.db.models import Figure, IngestJob, JobStatus, Patent
    from backend.db.session import session_scope
    from backend.ingest.bulk import ingest_paths, wait_for_jobs
    from backend.ingest.reconcile import reconcile
    from backend.search import get_backend
    from backend.search.index import index_admin
    from tests.conftest import WorkerProcess, settings_env

    prefix = f"cw{uuid.uuid4().hex[:10]}"
    settings = make_settings(task_mode="celery", search_backend="elasticsearch", es_url=",".join(cluster),
                             es_index_prefix=prefix, database_url=pg_database, redis_url=redis_db_url,
                             embed_batch_size=8, visibility_timeout_s=60)
    upgrade_database(pg_database)
    es = index_admin.make_client(settings)
    index_admin.ensure_index(es, settings)
    patents = 16
    folders = [write_patent_folder(tmp_path / "corpus", f"D09996{i:02d}", f"Lamp {i}", figures=2, seed=70 + i)
               for i in range(patents)]
    env = settings_env(settings)
    workers = [WorkerProcess(env, tmp_path / f"worker{i}.log", queues="ingest") for i in range(2)]
    try:
        for worker in workers:
            worker.start()
        queued = ingest_paths(folders, settings, wait=False, progress=False)

        def done() -> int:
            with session_scope(pg_database) as s:
                return s.scalar(select(func.count()).select_from(IngestJob)
                                .where(IngestJob.status == JobStatus.done)) or 0

        deadline = time.monotonic() + 600
        while done() < 2:
            assert time.monotonic() < deadline, workers[0].log.read_text()[-2000:]
            time.sleep(0.05)
        workers[0].kill(9)                                                        # mid-batch
        victim = _primary_node(cluster[0], f"{prefix}-*")
        devcluster.kill_node(victim, signal.SIGKILL)                              # and the primary's node
        done_at_kill = done()
        print(f"\nkilled worker 0 and es-node-{victim} with {done_at_kill} of {patents} jobs done")
        time.sleep(1.0)
        reconcile(settings)                         # what beat does every PRISM_JOB_RECONCILE_INTERVAL_S
        wait_for_jobs(queued.job_ids, settings, timeout_s=900)
        devcluster.start_node(victim, NODES)
        devcluster.wait_for(NODES, ("green",), timeout=600)
    finally:
        for worker in workers:
            worker.stop()
    try:
        with session_scope(pg_database) as s:
            statuses = s.scalars(select(IngestJob.status)).all()
            per_patent = dict(s.execute(select(Patent.publication_number, func.count(Figure.id)).join(Figure)
                                        .group_by(Patent.publication_number)).all())
        assert set(statuses) == {JobStatus.done}, statuses
        assert len(per_patent) == patents and set(per_patent.values()) == {2}
        backend = get_backend(settings)
        backend.refresh()
        for pub in per_patent:
            assert sorted(d["figure_id"] for d in backend.get_patent_figures(pub)) == [f"{pub}-F1", f"{pub}-F2"]
        assert es.count(index=f"{prefix}-figures")["count"] == 2 * patents
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*", allow_no_indices=True,
                                                     expand_wildcards="all")


def test_a_shard_whose_only_copy_is_on_a_dead_node_flags_partial_results(make_settings, cluster):
    """A 0-replica index of three shards: the node holding one primary is SIGKILLed; searches (service,
    HTTP API) still answer from the other shards and say ``partial: true`` with the shard counts."""
    import numpy as np

    from backend.app import create_app
    from backend.search import get_backend
    from backend.search import service as search_service
    from backend.search.errors import SearchBackendError
    from backend.search.index import index_admin

    prefix = f"cp{uuid.uuid4().hex[:10]}"
    settings = make_settings(search_backend="elasticsearch", es_url=",".join(cluster), es_index_prefix=prefix,
                             search_dense_text=False, search_verify_top_k=0)
    es = index_admin.make_client(settings)
    body = index_admin.definition_for(es, 8)
    body["settings"].update({"number_of_shards": 3, "number_of_replicas": 0})
    body["settings"].pop("auto_expand_replicas", None)
    es.indices.create(index=index_admin.new_index_name(prefix), settings=body["settings"],
                      mappings=body["mappings"], aliases={index_admin.alias_name(prefix): {"is_write_index": True}})
    try:
        health = requests.get(f"{cluster[0]}/_cluster/health/{prefix}-*?wait_for_status=green&timeout=120s",
                              timeout=130).json()
        assert health["status"] == "green" and health["active_shards"] == 3            # no replicas
        rng = np.random.default_rng(5)
        docs = []
        for i in range(30):
            v = rng.normal(size=8)
            docs.append({"figure_id": f"USD09997{i:02d}-F1", "publication_number": f"USD09997{i:02d}",
                         "figure_number": 1, "title": f"Folding chair {i}", "kind": "S1", "country": "US",
                         "image_vector": (v / np.linalg.norm(v)).tolist()})
        backend = get_backend(settings)
        backend.index_figures(docs)
        backend.refresh()
        whole = search_service.search({"text": "chair", "size": 50}, settings)
        assert whole["partial"] is False and "shards" not in whole and whole["total"] == 30

        shards = requests.get(f"{cluster[0]}/_cat/shards/{prefix}-*?format=json", timeout=10).json()
        holders = [int(s["node"].rsplit("-", 1)[1]) for s in shards if s["prirep"] == "p"]
        assert len(set(holders)) > 1, shards                     # the other nodes keep some of the shards
        victim = holders[0]
        lost = holders.count(victim)
        devcluster.kill_node(victim, signal.SIGKILL)

        out, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline:                       # a master election may refuse a moment
            try:
                out = search_service.search({"text": "chair", "size": 50}, settings)
                if out["partial"]:
                    break
            except SearchBackendError:
                pass
            time.sleep(0.5)
        print(f"\nkilled es-node-{victim} ({lost} of 3 shards, no replicas): {out and out.get('shards')}")
        assert out is not None and out["partial"] is True, out
        assert out["shards"]["total"] == 3 and out["shards"]["failed"] == lost
        assert out["shards"]["successful"] == 3 - lost
        assert 0 < len(out["hits"]) < 30                         # what the live shards hold, nothing more

        api = create_app(settings).test_client().post("/search", json={"text": "chair", "size": 50})
        assert api.status_code == 200, api.json
        assert api.json["partial"] is True and api.json["shards"]["failed"] == lost
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*", allow_no_indices=True,
                                                     expand_wildcards="all")
