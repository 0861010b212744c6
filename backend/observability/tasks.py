"""Celery's side: the publisher puts the current request id in each task's headers; the worker binds it
with the task id, the task name and (for ingest) the job ids while the task runs, then logs one line and
counts the task. Connected by :func:`connect_publisher` (on import of :mod:`backend.observability`) and
:func:`connect_worker` (``workers/celery_app.py``)."""
from __future__ import annotations

import time

from celery import signals

from backend.observability import logs, metrics

HEADER = "prism_request_id"
_running: dict[str, tuple[float, object]] = {}


def _add_request_id(headers=None, **_kw) -> None:
    rid = logs.current().get("request_id")
    if rid and headers is not None and not headers.get(HEADER):
        headers[HEADER] = rid


def connect_publisher() -> None:
    signals.before_task_publish.connect(_add_request_id, weak=False, dispatch_uid="prism-request-id")


def _prerun(task_id=None, task=None, args=None, **_kw) -> None:
    from backend.task_queue import INGEST_PROCESS

    request = getattr(task, "request", None)
    rid = getattr(request, HEADER, None) or (request.get(HEADER) if hasattr(request, "get") else None)
    fields = {"task_id": task_id, "task": getattr(task, "name", None), "request_id": rid}
    if getattr(task, "name", None) == INGEST_PROCESS and args:
        fields["job_ids"] = list(args[0])
    _running[task_id] = (time.perf_counter(), logs.bind(**fields))


def _postrun(task_id=None, task=None, state=None, **_kw) -> None:
    started, token = _running.pop(task_id, (None, None))
    name = getattr(task, "name", "?")
    state = (state or "unknown").lower()
    if started is not None:
        seconds = time.perf_counter() - started
        metrics.TASKS.labels(name, state).inc()
        metrics.TASK_SECONDS.labels(name).observe(seconds)
        logs.task_line(name, task_id, state, seconds)
    if token is not None:
        try:
            logs.unbind(token)
        except ValueError:
            pass


def connect_worker() -> None:
    signals.task_prerun.connect(_prerun, weak=False, dispatch_uid="prism-task-prerun")
    signals.task_postrun.connect(_postrun, weak=False, dispatch_uid="prism-task-postrun")
