"""Hand new alerts to the webhook queue (one Celery task per alert). Call only after the alerts'
transaction has committed; anything lost between commit and enqueue is found by the sweep.

In ``task_mode=eager`` (no worker) the first attempt is made in-process; its retries are left to
the sweep (``prism.webhooks.sweep`` / ``prism watches run-due``)."""
from __future__ import annotations

import logging

from backend.settings import Settings, get_settings
from backend.task_queue import WEBHOOKS_DELIVER

log = logging.getLogger(__name__)
DELIVER_TASK = WEBHOOKS_DELIVER


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
                from backend.task_queue import send

                send(DELIVER_TASK, [alert_id], settings)
            sent += 1
        except Exception:  # noqa: BLE001 - the sweep will pick it up
            log.exception("could not hand alert %s to webhook delivery", alert_id)
    return sent
