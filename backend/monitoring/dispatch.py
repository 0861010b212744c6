"""Hand new alerts to the webhook queue (one Celery task per alert). Call only after the alerts'
transaction has committed; anything lost between commit and enqueue is found by the sweep.

In ``task_mode=eager`` (no worker) the first attempt is made in-process; its retries are left to
the sweep (``prism.webhooks.sweep`` / ``prism watches run-due``)."""
from __future__ import annotations

import logging

from backend.settings import Settings, get_settings

log = logging.getLogger(__name__)
DELIVER_TASK = "prism.webhooks.deliver"
CHECK_NEW_TASK = "prism.watches.check_new"


def enqueue_deliveries(alert_ids: list[int], settings: Settings | None = None) -> int:
    if not alert_ids:
        return 0
    settings = settings or get_settings()
    sent = 0
    for alert_id in alert_ids:
        try:
            if settings.task_mode == "eager":
                from backend.monitoring.webhooks import attempt_delivery

                attempt_delivery(alert_id, settings)
            else:
                from workers.celery_app import send

                send(DELIVER_TASK, [alert_id], settings)
            sent += 1
        except Exception:  # noqa: BLE001 - the sweep will pick it up
            log.exception("could not hand alert %s to webhook delivery", alert_id)
    return sent


def enqueue_ingest_check(publication_numbers: list[str], settings: Settings) -> None:
    """After ingest has committed and indexed these patents: check them against the watches now
    (``settings.watch_check_on_ingest``), in-process in eager mode, else as one task on the watches
    queue. Never raises: ingest does not fail because of monitoring; the scheduled runs still see them."""
    if not publication_numbers or not settings.watch_check_on_ingest:
        return
    try:
        if settings.task_mode == "eager":
            from backend.monitoring.runner import check_new_document

            for pub in publication_numbers:
                check_new_document(pub, settings)
        else:
            from workers.celery_app import send

            send(CHECK_NEW_TASK, [list(publication_numbers)], settings)
    except Exception:  # noqa: BLE001
        log.exception("could not hand %d new patents to the ingest-time watch check",
                      len(publication_numbers))
