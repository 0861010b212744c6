"""A real ``celery beat`` + worker: beat keeps running due watches, and its sweep delivers an alert
whose enqueue was lost (the alert row is the outbox)."""
import datetime as dt
import time

import pytest
from sqlalchemy import func, select

from backend.auth.keys import ANONYMOUS
from backend.cli_db import upgrade_database
from backend.db.models import Alert, Watch, WatchRun, utcnow
from backend.db.session import session_scope
from backend.monitoring.alerts import insert_alerts
from backend.monitoring.watches import create_watch
from tests.monitoring.helpers import Receiver

pytestmark = [pytest.mark.services, pytest.mark.slow]
SECRET = "whsec_beat_test_secret_0123456789"


def test_beat_runs_watches_and_sweeps_lost_deliveries(make_settings, pg_database, redis_db_url,
                                                      celery_worker_proc, celery_beat_proc):
    settings = make_settings(task_mode="celery", redis_url=redis_db_url, database_url=pg_database,
                             watch_min_schedule_s=1, watch_beat_interval_s=1)
    upgrade_database(pg_database)
    with Receiver(SECRET) as rx:
        with session_scope(pg_database) as s:
            data = {"name": "w", "query": {"text": "chair"}, "schedule_s": 1, "webhook_url": rx.url,
                    "webhook_secret": SECRET}
            wid = create_watch(s, settings, ANONYMOUS, data)["id"]
            watch = s.get(Watch, wid)
            # an alert committed long ago whose delivery task never reached the broker
            (lost,) = insert_alerts(s, watch, [{"publication_number": "USD0907292", "rank": 1}],
                                    now=utcnow() - dt.timedelta(minutes=5))
        celery_worker_proc(settings)
        beat = celery_beat_proc(settings)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with session_scope(pg_database) as s:
                runs = s.scalar(select(func.count(WatchRun.id)).where(WatchRun.watch_id == wid))
            if runs >= 3 and rx.accepted():
                break
            time.sleep(0.5)
        time.sleep(3)  # more ticks: the delivered alert is not sent again
        assert beat.sent("prism.watches.run_due") >= 3 and beat.sent("prism.webhooks.sweep") >= 3
    assert runs >= 3
    assert [r["body"]["id"] for r in rx.received] == [f"alert-{lost}"] and rx.received[0]["valid"]
    with session_scope(pg_database) as s:
        assert s.get(Alert, lost).delivered
        statuses = set(s.scalars(select(WatchRun.status).where(WatchRun.watch_id == wid)))
        assert statuses == {"done"}
