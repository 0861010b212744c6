"""Run one watch on request (POST /watches/<id>/run): in-process in ``task_mode=eager``, else queued for
a worker. A forced run ignores the schedule and the pause; it examines what was ingested since the
watch's high-water mark, like a scheduled run."""
from __future__ import annotations

from backend.settings import Settings
from backend.task_queue import WATCHES_RUN


def run_now(watch_id: int, settings: Settings) -> tuple[dict, int]:
    """(answer, HTTP status): the run's summary and 200, or ``{"status": "queued"}`` and 202."""
    if settings.task_mode != "eager":
        from backend.task_queue import send

        send(WATCHES_RUN, [watch_id, True], settings)
        return {"watch_id": watch_id, "status": "queued"}, 202
    from backend.monitoring.dispatch import enqueue_deliveries
    from backend.monitoring.runner import run_watch

    summary = run_watch(watch_id, settings, force=True)
    if summary.webhook and summary.alert_ids:
        enqueue_deliveries(summary.alert_ids, settings)
    return summary.as_dict(), 200
