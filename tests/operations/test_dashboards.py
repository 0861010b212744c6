"""The Grafana dashboard, the Prometheus alerting rules and the compose scrape config use only metrics the
app exports, and every alert has its runbook in docs/operations.md."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from backend.observability.metrics import exported_names
from backend.settings import REPO_ROOT

DOCKER = REPO_ROOT / "docker"
METRIC = re.compile(r"\bprism_[a-z0-9_]+\b")
OPERATIONS = REPO_ROOT / "docs" / "operations.md"


def _rules() -> list[dict]:
    doc = yaml.safe_load((DOCKER / "prometheus" / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dash = json.loads((DOCKER / "grafana" / "prism-dashboard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lowercase, spaces to '-', punctuation dropped."""
    out = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return out


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_metric_referenced_is_exported(source):
    exprs = [r["expr"] for r in _rules()] if source == "alerts" else _dashboard_exprs()
    assert exprs
    named = {m for e in exprs for m in METRIC.findall(e)}
    assert named, source
    unknown = named - exported_names()
    assert not unknown, f"{source} uses metrics the app does not export: {sorted(unknown)}"


def test_the_dashboard_covers_what_an_operator_asks_about():
    used = {m for e in _dashboard_exprs() for m in METRIC.findall(e)}
    for wanted in ("prism_search_duration_seconds_bucket", "prism_search_backend_duration_seconds_bucket",
                   "prism_ingest_documents_total", "prism_ingest_figures_total", "prism_ingest_jobs",
                   "prism_celery_queue_length", "prism_watch_runs_total", "prism_webhook_deliveries_total",
                   "prism_rate_limit_refusals_total", "prism_model_load_duration_seconds_sum",
                   "prism_embedded_index_bytes", "prism_elasticsearch_cluster_status"):
        assert wanted in used, wanted
    dash = json.loads((DOCKER / "grafana" / "prism-dashboard.json").read_text())
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])


def test_alerts_name_a_severity_and_a_runbook_that_exists():
    anchors = _anchors(OPERATIONS.read_text())
    names = set()
    for rule in _rules():
        assert rule["alert"] not in names
        names.add(rule["alert"])
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md" and anchor in anchors, (rule["alert"], anchor)
    for wanted in ("PrismTextSearchSlow", "PrismDrawingSearchSlow", "PrismIngestStalled", "PrismJobsStuck",
                   "PrismWebhookFailures", "PrismElasticsearchNotGreen"):
        assert wanted in names


def test_compose_scrapes_the_api_with_the_rules_and_a_shared_metrics_folder():
    compose = yaml.safe_load((DOCKER / "compose.yml").read_text())
    services = compose["services"]
    prom = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    job = prom["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["api:8000"]
    assert job["authorization"]["credentials_file"] and prom["rule_files"] == ["/etc/prometheus/alerts.yml"]
    mounts = " ".join(services["prometheus"]["volumes"])
    assert "./prometheus/alerts.yml" in mounts and "./prometheus/prometheus.yml" in mounts
    folder = services["api"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    for name in ("api", "worker"):   # one folder for every process whose counts /metrics sums
        assert services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == folder
        assert any(v.endswith(f":{folder}") for v in services[name]["volumes"]), name


def test_the_names_list_is_what_a_scrape_shows(client):
    """exported_names() is not a wish list: the metrics read at scrape time and the families defined in
    the module appear in a real scrape (the labelled ones once observed)."""
    from tests.operations.helpers import samples

    client.post("/search", json={"text": "chair"})
    scraped = {name for name, _ in samples(client.get("/metrics").get_data(as_text=True))}
    assert scraped <= exported_names() | {"python_gc_objects_collected_total", "python_gc_objects_uncollectable_total",
                                          "python_gc_collections_total", "python_info"} | \
        {n for n in scraped if n.startswith("process_")}
    for name in ("prism_searches_total", "prism_search_duration_seconds_bucket", "prism_ingest_jobs",
                 "prism_embedded_index_bytes", "prism_metrics_store_up", "prism_http_requests_total"):
        assert name in scraped, name
