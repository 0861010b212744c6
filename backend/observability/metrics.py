"""Prometheus metrics: every metric Prism exports is defined here, with the small hooks the call sites use.

Counters and histograms are written where the work happens (API requests, searches, ingest jobs, Celery
tasks, watch runs, webhook deliveries, rate-limit refusals, model loads). Figures that live in a store
(job states, queue depth, the embedded index's size, the Elasticsearch cluster's status) are read when
``/metrics`` is scraped (:class:`StoreCollector`), so they are right whichever process changed them.

Several processes (gunicorn workers, Celery worker children): set ``PROMETHEUS_MULTIPROC_DIR`` to one
folder they all share (created when missing) before they start; each process writes its own files there
(named by host and pid, so containers sharing a volume never collide) and ``/metrics`` sums them. Empty the
folder when the whole stack restarts (docs/operations.md). Without the variable each process counts in
memory and ``/metrics`` shows the answering process only.
"""
from __future__ import annotations

import functools
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_multiproc_dir = os.environ.get(MULTIPROC_ENV)
if _multiproc_dir:
    Path(_multiproc_dir).mkdir(parents=True, exist_ok=True)

from prometheus_client import (  # noqa: E402 - the folder must exist before the client reads the variable
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,  # noqa: E402
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

disable_created_metrics()   # no *_created series: the dashboard and alerts use rates

if _multiproc_dir:
    # file names carry host and pid: containers sharing the folder have overlapping pids
    _HOST = socket.gethostname().replace("_", "-")
    values.ValueClass = values.MultiProcessValue(lambda: f"{_HOST}-{os.getpid()}")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SLOW_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
SEARCH_KINDS = ("text", "drawing", "hybrid", "filter")

HTTP_REQUESTS = Counter("prism_http_requests_total", "API requests answered, by endpoint, method and status.",
                        ["endpoint", "method", "status"])
HTTP_SECONDS = Histogram("prism_http_request_duration_seconds", "API request latency (whole request).",
                         ["endpoint", "method"], buckets=LATENCY_BUCKETS)
SEARCHES = Counter("prism_searches_total", "Searches by kind (text, drawing, hybrid, filter) and outcome "
                   "(ok, invalid, error).", ["kind", "outcome"])
SEARCH_SECONDS = Histogram("prism_search_duration_seconds", "Search time by kind: parsing, drawing encoding, "
                           "backend and shaping the answer.", ["kind"], buckets=LATENCY_BUCKETS)
SEARCH_BACKEND_SECONDS = Histogram("prism_search_backend_duration_seconds", "Time spent in the search backend "
                                   "(embedded or Elasticsearch) per backend call, by kind.", ["kind"],
                                   buckets=LATENCY_BUCKETS)
INGEST_DOCUMENTS = Counter("prism_ingest_documents_total", "Ingest jobs finished, by outcome (ingested, "
                           "updated, failed).", ["outcome"])
INGEST_FIGURES = Counter("prism_ingest_figures_total", "Figures stored and indexed by ingest.")
INGEST_BATCH_SECONDS = Histogram("prism_ingest_batch_duration_seconds", "Ingest batch time (prepare to done).",
                                 buckets=SLOW_BUCKETS)
TASKS = Counter("prism_celery_tasks_total", "Celery tasks run, by task and state (success, failure, retry).",
                ["task", "state"])
TASK_SECONDS = Histogram("prism_celery_task_duration_seconds", "Celery task run time.", ["task"],
                         buckets=SLOW_BUCKETS)
WATCH_RUNS = Counter("prism_watch_runs_total", "Watch runs, by outcome (done, not_due, locked, missing, "
                     "failed).", ["outcome"])
WATCH_RUN_SECONDS = Histogram("prism_watch_run_duration_seconds", "Watch run time.", buckets=SLOW_BUCKETS)
ALERTS_CREATED = Counter("prism_watch_alerts_total", "Alerts created by watch runs.")
WEBHOOK_DELIVERIES = Counter("prism_webhook_deliveries_total", "Webhook delivery attempts, by outcome "
                             "(delivered, retry, gave_up, skipped).", ["outcome"])
RATE_LIMITED = Counter("prism_rate_limit_refusals_total", "Requests refused by the per-key rate limit (429).")
MODEL_LOAD_SECONDS = Histogram("prism_model_load_duration_seconds", "Time to load the drawing encoder.",
                               ["model"], buckets=SLOW_BUCKETS)

#: every metric name the app exports (the dashboard and alert rules may use only these; tested)
SCRAPE_TIME = ("prism_ingest_jobs", "prism_ingest_job_oldest_age_seconds", "prism_celery_queue_length",
               "prism_embedded_index_bytes", "prism_elasticsearch_cluster_status", "prism_metrics_store_up")


def search_kind(request) -> str:
    """text, drawing (a vector or a stored figure), hybrid (both) or filter (neither)."""
    drawing = bool(getattr(request, "vector", None) or getattr(request, "image_figure_id", None))
    text = bool((getattr(request, "text", None) or "").strip())
    return "hybrid" if text and drawing else "drawing" if drawing else "text" if text else "filter"


class _Search:
    kind = "unknown"


@contextmanager
def search_timer():
    """Around a whole search: ``seen.kind = search_kind(request)`` once the request is parsed."""
    seen, started, outcome = _Search(), time.perf_counter(), "ok"
    try:
        yield seen
    except Exception as exc:
        # refused (a search error the caller caused, a 4xx problem) or failed (the rest)
        at_fault = getattr(exc, "caller_at_fault", None)
        if at_fault is None:
            at_fault = getattr(exc, "status", 500) < 500
        outcome = "invalid" if at_fault else "error"
        raise
    finally:
        SEARCHES.labels(seen.kind, outcome).inc()
        if outcome == "ok":
            SEARCH_SECONDS.labels(seen.kind).observe(time.perf_counter() - started)
        _note_kind(seen.kind)


def _note_kind(kind: str) -> None:
    """The request's log line says which kind of search it was."""
    from flask import g, has_request_context

    if has_request_context():
        g.prism_search_kind = kind


@contextmanager
def search_backend_timer(request):
    started = time.perf_counter()
    try:
        yield
    finally:
        SEARCH_BACKEND_SECONDS.labels(search_kind(request)).observe(time.perf_counter() - started)


def ingest_batch_prepared(prepare):
    """Decorates ``Pipeline.prepare``: the batch remembers when it started."""
    @functools.wraps(prepare)
    def wrapper(self, job_ids):
        started = time.perf_counter()
        batch = prepare(self, job_ids)
        batch.started = started
        return batch
    return wrapper


def ingest_batch_finished(finish):
    """Decorates ``Pipeline.finish``: counts the jobs it finished (failed ones count in :func:`job_failed`)
    and logs one line per job."""
    @functools.wraps(finish)
    def wrapper(self, batch):
        results = finish(self, batch)
        seconds = time.perf_counter() - getattr(batch, "started", time.perf_counter())
        INGEST_BATCH_SECONDS.observe(seconds)
        from backend.observability.logs import job_line

        for result in results:
            if result.status == "done" and result.outcome:
                INGEST_DOCUMENTS.labels(result.outcome).inc()
                INGEST_FIGURES.inc(result.figures or 0)
                job_line(result, seconds)
        return results
    return wrapper


def ingest_job_failed(mark_failed):
    """Decorates ``mark_failed``: every job that ends failed is counted once, with its log line."""
    @functools.wraps(mark_failed)
    def wrapper(*args, **kwargs):
        result = mark_failed(*args, **kwargs)
        INGEST_DOCUMENTS.labels("failed").inc()
        from backend.observability.logs import job_line

        job_line(result, None)
        return result
    return wrapper


def watch_run_observed(run_watch):
    """Decorates ``run_watch``: runs by outcome, their time and the alerts they made."""
    @functools.wraps(run_watch)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        summary = run_watch(*args, **kwargs)
        WATCH_RUNS.labels(summary.status).inc()
        if summary.status in ("done", "failed"):
            WATCH_RUN_SECONDS.observe(time.perf_counter() - started)
        ALERTS_CREATED.inc(len(summary.alert_ids or ()))
        return summary
    return wrapper


def delivery_observed(attempt_delivery):
    """Decorates ``attempt_delivery``: attempts by outcome."""
    @functools.wraps(attempt_delivery)
    def wrapper(*args, **kwargs):
        outcome = attempt_delivery(*args, **kwargs)
        WEBHOOK_DELIVERIES.labels(outcome.status).inc()
        return outcome
    return wrapper


@contextmanager
def model_load_timer(model: str):
    started = time.perf_counter()
    yield
    MODEL_LOAD_SECONDS.labels(model).observe(time.perf_counter() - started)


# -- read at scrape time ---------------------------------------------------------------------------------
class StoreCollector:
    """Job states and ages (database), queue depth (broker), index size or cluster status; each part that
    cannot be read is reported as ``prism_metrics_store_up{part} 0`` instead of failing the scrape."""

    def __init__(self, settings):
        self.settings = settings

    def describe(self):
        return []

    def collect(self):
        up = GaugeMetricFamily("prism_metrics_store_up", "Whether a store read at scrape time answered.",
                               labels=["part"])
        for part, read in (("database", self._jobs), ("broker", self._queues), ("index", self._index)):
            try:
                families = list(read())
            except Exception:  # noqa: BLE001 - a store that is down must not hide the other figures
                up.add_metric([part], 0)
                continue
            up.add_metric([part], 1)
            yield from families
        yield up

    def _jobs(self):
        from sqlalchemy import func, select

        from backend.db.models import IngestJob, JobStatus, utcnow
        from backend.db.session import session_scope

        counts = GaugeMetricFamily("prism_ingest_jobs", "Ingest jobs by status.", labels=["status"])
        oldest = GaugeMetricFamily("prism_ingest_job_oldest_age_seconds", "Age of the oldest queued job (since "
                                   "created) and of the oldest running job (since started); 0 when none.",
                                   labels=["status"])
        with session_scope(self.settings.resolved_database_url) as session:
            rows = dict(session.execute(select(IngestJob.status, func.count()).group_by(IngestJob.status)).all())
            first_queued = session.scalar(select(func.min(IngestJob.created_at))
                                          .where(IngestJob.status == JobStatus.queued))
            first_running = session.scalar(select(func.min(IngestJob.started_at))
                                           .where(IngestJob.status == JobStatus.running))
        for status in JobStatus:
            counts.add_metric([status.value], rows.get(status, 0))
        now = utcnow()
        for status, since in (("queued", first_queued), ("running", first_running)):
            if since is not None and since.tzinfo is None:
                since = since.replace(tzinfo=now.tzinfo)
            oldest.add_metric([status], max(0.0, (now - since).total_seconds()) if since else 0.0)
        return [counts, oldest]

    def _queues(self):
        if self.settings.task_mode != "celery":
            return []
        import redis

        from backend.task_queue import QUEUES

        client = redis.Redis.from_url(self.settings.resolved_broker_url, socket_timeout=1, socket_connect_timeout=1)
        depth = GaugeMetricFamily("prism_celery_queue_length", "Messages waiting in each Celery queue.",
                                  labels=["queue"])
        for queue in QUEUES:
            depth.add_metric([queue], client.llen(queue))
        return [depth]

    def _index(self):
        if self.settings.search_backend == "elasticsearch":
            from elasticsearch import Elasticsearch

            health = Elasticsearch(self.settings.es_hosts, request_timeout=2).cluster.health()
            status = GaugeMetricFamily("prism_elasticsearch_cluster_status", "1 for the cluster's current status "
                                       "(green, yellow, red), 0 for the others.", labels=["status"])
            for name in ("green", "yellow", "red"):
                status.add_metric([name], 1 if health["status"] == name else 0)
            return [status]
        folder = self.settings.resolved_embedded_dir
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        return [GaugeMetricFamily("prism_embedded_index_bytes", "Size of the embedded index on disk (SQLite "
                                  "database and snapshot files).", value=size)]


def render(settings) -> tuple[bytes, str]:
    """The exposition text of every process (multiprocess folder) or of this one, plus the store figures."""
    registry = CollectorRegistry()
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=folder)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    store = CollectorRegistry()
    store.register(StoreCollector(settings))
    return text + generate_latest(store), CONTENT_TYPE_LATEST


def exported_names() -> set[str]:
    """Every sample name ``/metrics`` can carry (histogram ``_bucket``/``_sum``/``_count``, counter ``_total``)."""
    names = set()
    for metric in (HTTP_REQUESTS, HTTP_SECONDS, SEARCHES, SEARCH_SECONDS, SEARCH_BACKEND_SECONDS, INGEST_DOCUMENTS,
                   INGEST_FIGURES, INGEST_BATCH_SECONDS, TASKS, TASK_SECONDS, WATCH_RUNS, WATCH_RUN_SECONDS,
                   ALERTS_CREATED, WEBHOOK_DELIVERIES, RATE_LIMITED, MODEL_LOAD_SECONDS):
        for family in metric.describe():
            if family.type == "histogram":
                names.update(f"{family.name}{s}" for s in ("_bucket", "_sum", "_count"))
            elif family.type == "counter":
                names.add(f"{family.name}_total")
            else:
                names.add(family.name)
    return names | set(SCRAPE_TIME)
