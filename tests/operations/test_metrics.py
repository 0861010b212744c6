"""``GET /metrics`` after real work on the embedded default: ingests through ``POST /documents`` (the real
encoder and index), searches of each kind, a watch run, a rate-limit refusal; scraped with an admin key."""
from __future__ import annotations

import pytest

from backend.auth.keys import create_key
from backend.cli_db import upgrade_database
from backend.db.session import session_scope
from tests.operations.helpers import document_form, samples, total, value

pytestmark = pytest.mark.services   # Redis: the rate limiter


@pytest.fixture
def secured(make_settings, redis_db_url):
    from backend.app import create_app

    settings = make_settings(auth_required=True, redis_url=redis_db_url, rate_limit_per_minute=40)
    upgrade_database(settings.resolved_database_url)
    app = create_app(settings)
    tokens = {}
    with session_scope(settings.resolved_database_url) as s:
        for name, scopes in (("examiner", "search"), ("loader", "ingest"), ("operator", "admin")):
            tokens[name] = {"Authorization": f"Bearer {create_key(s, name, scopes)[1]}"}
    return app.test_client(), tokens, settings


def _scrape(client, headers) -> dict:
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.content_type.startswith("text/plain")
    return samples(resp.get_data(as_text=True))


def test_metrics_need_the_admin_scope(secured):
    client, tokens, _ = secured
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers=tokens["examiner"])
    assert refused.status_code == 403 and "admin" in refused.json["detail"]
    assert client.get("/metrics", headers=tokens["operator"]).status_code == 200


def test_scrape_after_ingest_searches_and_a_watch_run(secured):
    from backend.model.encoder import clear_cache

    client, tokens, settings = secured
    clear_cache()   # this test's ingest loads the encoder: its load time is observed
    before = _scrape(client, tokens["operator"])
    # a watch alerts on what is filed after it was made
    watch = client.post("/watches", json={"name": "teapots", "schedule_s": 86400, "query": {"text": "teapot"}},
                        headers=tokens["examiner"]).json
    for i, (pub, title) in enumerate((("USD0999201", "Chair"), ("USD0999202", "Teapot"), ("USD0999203", "Lamp"))):
        resp = client.post("/documents", data=document_form(pub, title, seed=10 * i),
                           content_type="multipart/form-data", headers=tokens["loader"])
        assert resp.status_code == 202 and resp.json["status"] == "done", resp.json
    resp = client.post("/documents", data=document_form("USD0999201", "Chair", seed=5),
                       content_type="multipart/form-data", headers=tokens["loader"])
    assert resp.json["outcome"] == "updated"
    for body in ({"text": "chair"}, {"image_figure_id": "USD0999202-F1"},
                 {"text": "teapot", "image_figure_id": "USD0999202-F1"}, {"text": "chair"}):
        assert client.post("/search", json=body, headers=tokens["examiner"]).status_code == 200
    assert client.post("/search", json={"size": 0}, headers=tokens["examiner"]).status_code == 400
    ran = client.post(f"/watches/{watch['id']}/run", headers=tokens["examiner"]).json
    assert ran["status"] == "done" and ran["alerts"] >= 1
    after = _scrape(client, tokens["operator"])

    def grew(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("prism_ingest_documents_total", outcome="ingested") == 3
    assert grew("prism_ingest_documents_total", outcome="updated") == 1
    assert grew("prism_ingest_figures_total") >= 8   # two drawings each (a text-only document may count too)
    assert grew("prism_ingest_batch_duration_seconds_count") == 4
    assert value(after, "prism_ingest_jobs", status="done") == 4        # read from the database: absolute
    assert value(after, "prism_ingest_jobs", status="failed") == 0
    assert grew("prism_model_load_duration_seconds_count") == 1
    assert grew("prism_searches_total", kind="text", outcome="ok") == 2
    assert grew("prism_searches_total", kind="drawing", outcome="ok") == 1
    assert grew("prism_searches_total", kind="hybrid", outcome="ok") == 1
    assert grew("prism_searches_total", outcome="invalid") == 1
    for kind, n in (("text", 2), ("drawing", 1), ("hybrid", 1)):
        assert grew("prism_search_duration_seconds_count", kind=kind) == n
        # the backend's share of the time is counted apart, and is part of the whole
        assert grew("prism_search_backend_duration_seconds_count", kind=kind) >= n
        assert 0 < grew("prism_search_backend_duration_seconds_sum", kind=kind) <= \
            grew("prism_search_duration_seconds_sum", kind=kind)
    assert grew("prism_http_requests_total", endpoint="search.search", method="POST", status="200") == 4
    assert grew("prism_http_requests_total", endpoint="search.search", method="POST", status="400") == 1
    assert grew("prism_http_request_duration_seconds_count", endpoint="documents.submit_document") == 4
    assert grew("prism_watch_runs_total", outcome="done") == 1
    assert grew("prism_watch_alerts_total") == ran["alerts"]
    assert grew("prism_watch_run_duration_seconds_count") == 1
    assert value(after, "prism_embedded_index_bytes") > value(before, "prism_embedded_index_bytes") > 0
    assert value(after, "prism_metrics_store_up", part="database") == 1
    # eager mode has no broker queues to read
    assert total(after, "prism_celery_queue_length") == 0


def test_failed_jobs_are_counted_once(make_settings):
    from prometheus_client import REGISTRY

    from backend.ingest.pipeline import mark_failed, new_job

    settings = make_settings()
    upgrade_database(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as s:
        job_id = new_job(s, None, "test").id
    before = REGISTRY.get_sample_value("prism_ingest_documents_total", {"outcome": "failed"}) or 0
    result = mark_failed(settings.resolved_database_url, job_id, "ImageRejected: figure 1 is not an image")
    assert result.status == "failed"
    assert REGISTRY.get_sample_value("prism_ingest_documents_total", {"outcome": "failed"}) == before + 1


def test_rate_limit_refusals_are_counted(make_settings, redis_db_url):
    from backend.app import create_app

    settings = make_settings(auth_required=True, redis_url=redis_db_url, rate_limit_per_minute=2)
    upgrade_database(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as s:
        loader = {"X-API-Key": create_key(s, "burst", "ingest")[1]}
        operator = {"X-API-Key": create_key(s, "ops", "admin")[1]}
    client = create_app(settings).test_client()
    before = _scrape(client, operator)
    codes = [client.get("/jobs", headers=loader).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    after = _scrape(client, operator)
    assert value(after, "prism_rate_limit_refusals_total") - value(before, "prism_rate_limit_refusals_total") == 1
    assert total(after, "prism_http_requests_total", endpoint="jobs.list_jobs", status="429") - \
        total(before, "prism_http_requests_total", endpoint="jobs.list_jobs", status="429") == 1
