"""The enqueue port: how ``backend/`` hands work to the workers without importing ``workers/``.

Task names, queues and routing are data here; :func:`send` publishes a task by name to the broker of
the given settings with a Celery *client* (no task code is imported). ``workers/celery_app.py`` builds
the consuming app from the same :data:`QUEUES` and :data:`ROUTES` and registers the tasks under these
names; a task is a thin function that calls a service in ``backend/``.
"""
from __future__ import annotations

import functools
from typing import Any

from backend.settings import Settings

QUEUES = ("ingest", "watches", "default")
ROUTES = {
    "prism.ingest.*": {"queue": "ingest"},
    "prism.watches.*": {"queue": "watches"},
}

INGEST_PROCESS = "prism.ingest.process"          # args: [job_ids]
JOBS_RECONCILE = "prism.jobs.reconcile"          # no args
WATCHES_CHECK_NEW = "prism.watches.check_new"    # args: [publication_numbers]
WATCHES_RUN = "prism.watches.run"                # args: [watch_id, force]
WEBHOOKS_DELIVER = "prism.webhooks.deliver"      # args: [alert_id]


def queue_for(task_name: str) -> str:
    for pattern, route in ROUTES.items():
        if task_name.startswith(pattern.rstrip("*")):
            return route["queue"]
    return "default"


@functools.lru_cache(maxsize=8)
def _client(broker_url: str) -> Any:
    from celery import Celery

    app = Celery("prism-client", broker=broker_url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True)
    return app


def send(task_name: str, args: list, settings: Settings, queue: str | None = None) -> None:
    """Publish ``task_name`` with ``args`` to the broker of ``settings`` (the one place that enqueues).

    In task_mode=eager the caller runs the work in-process instead of calling this."""
    url = settings.resolved_broker_url
    app = _client(url)
    with app.connection_for_write(url) as conn:
        app.send_task(task_name, args=args, queue=queue or queue_for(task_name), connection=conn,
                      ignore_result=True)
