"""An ingest followed from the API through a real Celery worker (PostgreSQL, Elasticsearch, Redis): the
caller's ``X-Request-ID`` is echoed, carried in the task's headers and found on the worker's JSON log lines
with the task and job ids; the worker's counters reach the API's ``/metrics`` through the shared
multiprocess folder."""
from __future__ import annotations

import io
import json
import logging
import time
import uuid

import pytest

from backend.cli_db import upgrade_database
from tests.operations.helpers import document_form, samples, total, value

pytestmark = pytest.mark.services


@pytest.fixture
def json_log():
    """Prism's JSON handler on the root logger, writing into a buffer, removed afterwards."""
    from backend.observability.logs import HANDLER_NAME, configure

    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    from backend.settings import Settings

    configure(Settings(log_format="json"), stream=buffer)
    yield buffer
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(level)


def _lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def test_an_ingest_followed_from_the_api_through_the_worker(make_settings, es_url, pg_database, redis_db_url,
                                                            celery_worker_proc, tmp_path, monkeypatch, json_log):
    from elasticsearch import Elasticsearch

    from backend.app import create_app

    metrics_dir = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))   # the worker's and the scrape's
    settings = make_settings(task_mode="celery", redis_url=redis_db_url, database_url=pg_database,
                             search_backend="elasticsearch", es_url=es_url, log_format="json",
                             es_index_prefix=f"obs{uuid.uuid4().hex[:10]}")
    upgrade_database(pg_database)
    worker = celery_worker_proc(settings, queues="ingest,default")
    try:
        client = create_app(settings).test_client()
        rid = f"examiner-desk-{uuid.uuid4().hex[:8]}"
        resp = client.post("/documents", data=document_form("USD0999301", "Chair"), content_type="multipart/form-data",
                           headers={"X-Request-ID": rid})
        assert resp.status_code == 202, resp.json
        assert resp.headers["X-Request-ID"] == rid
        job_id = resp.json["job_id"]
        deadline = time.monotonic() + 600
        while client.get(f"/jobs/{job_id}").json["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
            time.sleep(0.5)
        assert client.get(f"/jobs/{job_id}").json["status"] == "done"

        # the API's line for the upload, with the caller's id
        api = [r for r in _lines(json_log.getvalue()) if r.get("logger") == "prism.request"]
        upload = [r for r in api if r.get("endpoint") == "documents.submit_document"]
        assert len(upload) == 1 and upload[0]["request_id"] == rid and upload[0]["status"] == 202
        assert upload[0]["duration_ms"] > 0 and upload[0]["key"] == "anonymous"
        # the worker's lines of that ingest carry the same id, the task id and the job id
        deadline = time.monotonic() + 30
        while True:
            mine = [r for r in _lines(worker.log.read_text(errors="replace")) if r.get("request_id") == rid]
            task = [r for r in mine if r.get("logger") == "prism.task"]
            if task or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(task) == 1, worker.log.read_text()[-3000:]
        assert task[0]["task"] == "prism.ingest.process" and task[0]["task_state"] == "success"
        assert task[0]["job_ids"] == [job_id] and task[0]["task_id"] and task[0]["duration_ms"] > 0
        job = [r for r in mine if r.get("logger") == "prism.job"]
        assert len(job) == 1 and job[0]["job_id"] == job_id and job[0]["outcome"] == "ingested"
        assert job[0]["task_id"] == task[0]["task_id"] and job[0]["figures"] >= 2

        # the worker counted in the shared folder; the API's scrape sums it
        scraped = client.get("/metrics")
        assert scraped.status_code == 200
        after = samples(scraped.get_data(as_text=True))
        assert value(after, "prism_ingest_documents_total", outcome="ingested") == 1
        assert value(after, "prism_ingest_figures_total") == job[0]["figures"]
        assert value(after, "prism_celery_tasks_total", task="prism.ingest.process", state="success") == 1
        assert total(after, "prism_model_load_duration_seconds_count") == 1
        assert value(after, "prism_ingest_jobs", status="done") == 1
        assert value(after, "prism_celery_queue_length", queue="ingest") == 0
        assert value(after, "prism_metrics_store_up", part="broker") == 1
        assert sum(value(after, "prism_elasticsearch_cluster_status", status=s) for s in ("green", "yellow")) == 1
        assert any(p.name.startswith("counter_") for p in metrics_dir.iterdir())
    finally:
        Elasticsearch(es_url).indices.delete(index=f"{settings.es_index_prefix}*", ignore_unavailable=True,
                                             allow_no_indices=True)
