"""Hand new alerts to the webhook queue (one Celery task per alert). Call only after the alerts'
transaction has committed; anything lost between commit and enqueue is found by the sweep."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def enqueue_deliveries(alert_ids: list[int]) -> int:
    if not alert_ids:
        return 0
    from workers.tasks_watches import deliver_alert

    sent = 0
    for alert_id in alert_ids:
        try:
            deliver_alert.delay(alert_id)
            sent += 1
        except Exception:  # noqa: BLE001 - the sweep will pick it up
            log.exception("could not enqueue webhook delivery of alert %s", alert_id)
    return sent
