"""Monitoring tasks (thin: each calls a service in backend.monitoring).

* ``prism.watches.run_due`` (beat) — run every due watch; safe when fired twice or run by two workers.
* ``prism.watches.run`` — run one watch now (``force`` ignores its schedule).
* ``prism.watches.check_new`` — the optional ingest-time check of new patents (``watch_check_on_ingest``).
* ``prism.webhooks.deliver`` — one task per alert; retried with exponential backoff (countdown) on
  the default queue, apart from the watch runs, with short HTTP timeouts.
* ``prism.webhooks.sweep`` (beat) — re-enqueue overdue deliveries (lost enqueues, dead workers).
"""
from __future__ import annotations

from backend.settings import get_settings
from workers.celery_app import app


def _enqueue_for(summaries) -> int:
    from backend.monitoring.dispatch import enqueue_deliveries

    settings = get_settings()
    return sum(enqueue_deliveries(s.alert_ids, settings) for s in summaries if s.webhook and s.alert_ids)


@app.task(name="prism.watches.run_due", ignore_result=False)
def run_due() -> dict:
    from backend.monitoring.runner import run_due as run_due_watches

    summaries = run_due_watches(get_settings())
    queued = _enqueue_for(summaries)
    return {"watches": [s.as_dict() for s in summaries], "deliveries_queued": queued}


@app.task(name="prism.watches.run")
def run_watch(watch_id: int, force: bool = False) -> dict:
    from backend.monitoring.runner import run_watch as run_one

    summary = run_one(int(watch_id), get_settings(), force=force)
    _enqueue_for([summary])
    return summary.as_dict()


@app.task(name="prism.watches.check_new")
def check_new(publication_numbers: list[str]) -> dict:
    """Ingest-time check of freshly indexed patents against every watch (``watch_check_on_ingest``)."""
    from backend.monitoring.runner import check_new_document

    settings = get_settings()
    return {pub: check_new_document(pub, settings) for pub in publication_numbers}


@app.task(name="prism.webhooks.deliver", bind=True, max_retries=None, acks_late=True)
def deliver_alert(self, alert_id: int) -> dict:
    from backend.monitoring.webhooks import attempt_delivery

    outcome = attempt_delivery(int(alert_id), get_settings())
    if outcome.status == "retry" and not self.request.is_eager:
        # eager mode (no worker) leaves the retry to the sweep instead of sleeping in-process
        raise self.retry(countdown=outcome.retry_in_s, max_retries=None)
    return outcome.as_dict()


@app.task(name="prism.webhooks.sweep")
def sweep_deliveries() -> dict:
    from backend.monitoring.dispatch import enqueue_deliveries
    from backend.monitoring.webhooks import due_alert_ids

    settings = get_settings()
    grace = 0.0 if settings.task_mode == "eager" else None
    ids = due_alert_ids(settings) if grace is None else due_alert_ids(settings, grace_s=grace)
    return {"queued": enqueue_deliveries(ids, settings)}
