"""The Celery app, built from the same settings as the API.

One place for queues, routing and the beat schedule. Tasks are thin: they call services.
Start a worker with ``celery -A workers.celery_app worker``; beat with ``celery -A workers.celery_app beat``.
"""
from __future__ import annotations

from celery import Celery, signals
from kombu import Queue

from backend.settings import Settings, get_settings

# Task modules imported by the worker. Each area appends its own line.
TASK_MODULES: list[str] = [
    "workers.tasks_system",
    "workers.tasks_watches",
    "workers.tasks_ingest",
]

# queues, routes and task names are the enqueue port's (backend/task_queue.py): backend/ sends by name
from backend.observability.tasks import connect_worker as connect_worker_observability  # noqa: E402
from backend.task_queue import QUEUES, ROUTES  # noqa: E402

# name -> (task, seconds). Beat enqueues; the task itself decides what is due (idempotent runs).
BEAT_SCHEDULE: dict[str, dict] = {
    # monitoring: stale ticks expire instead of piling up while no worker listens
    "watches-run-due": {"task": "prism.watches.run_due", "schedule": get_settings().watch_beat_interval_s,
                        "options": {"expires": get_settings().watch_beat_interval_s}},
    "webhooks-sweep": {"task": "prism.webhooks.sweep", "schedule": get_settings().watch_beat_interval_s,
                       "options": {"expires": get_settings().watch_beat_interval_s}},
    # ingest: re-drive jobs whose worker died or whose message the broker lost (default queue)
    "jobs-reconcile": {"task": "prism.jobs.reconcile", "schedule": get_settings().job_reconcile_interval_s,
                       "options": {"expires": get_settings().job_reconcile_interval_s}},
}


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("prism", broker=settings.resolved_broker_url, backend=settings.redis_url,
                 include=list(TASK_MODULES))
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        result_expires=24 * 3600,
        task_queues=[Queue(q) for q in QUEUES],
        task_default_queue="default",
        task_routes=ROUTES,
        beat_schedule=BEAT_SCHEDULE,
        task_always_eager=settings.task_mode == "eager",
        task_eager_propagates=True,
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        enable_utc=True,
        worker_hijack_root_logger=False,
    )
    return app


def send(task_name: str, args: list, settings: Settings, queue: str | None = None) -> None:
    """Publish ``task_name`` to the broker of ``settings`` (see :func:`backend.task_queue.send`)."""
    from backend.task_queue import send as send_task

    send_task(task_name, args, settings, queue)


@signals.setup_logging.connect
def _logs(**_kw) -> None:
    """Prism's log lines (JSON or text, PRISM_LOG_FORMAT) with the task's ids, instead of Celery's own."""
    from backend.observability.logs import configure

    configure()


connect_worker_observability()
app = make_celery()


@signals.worker_process_init.connect
def _warm_models(**_kw) -> None:
    """Each worker process loads its models as it starts (backend/warmup.py; in a thread, as Celery gives a new
    process a few seconds to report in), not inside its first task; a task that comes meanwhile waits for them."""
    from backend.ingest.runners import get_pipeline
    from backend.warmup import start_background

    start_background(get_settings(), get_pipeline)
