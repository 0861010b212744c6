"""Webhook deliveries through a real Celery worker and Redis broker: retries with countdown, and a
hanging endpoint that does not hold up the others."""
import socket
import threading
import time

import pytest
from sqlalchemy import select

from backend.auth.keys import ANONYMOUS
from backend.cli_db import upgrade_database
from backend.db.models import Alert, AlertDelivery, Watch
from backend.db.session import session_scope
from backend.monitoring.alerts import insert_alerts
from backend.monitoring.watches import create_watch
from tests.monitoring.helpers import Receiver

pytestmark = [pytest.mark.services, pytest.mark.slow]
SECRET = "whsec_worker_test_secret_0123456789"


class Blackhole:
    """Accepts connections and never answers (a hung webhook endpoint)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


def _wait(predicate, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_retries_and_a_hung_endpoint_do_not_block_others(make_settings, pg_database, redis_db_url,
                                                         celery_worker_proc):
    from backend.monitoring.dispatch import enqueue_deliveries

    settings = make_settings(task_mode="celery", redis_url=redis_db_url, database_url=pg_database,
                             webhook_timeout_s=2, webhook_backoff_s=1, webhook_max_attempts=3)
    upgrade_database(pg_database)
    hole = Blackhole()
    with Receiver(SECRET, status_codes=[503]) as rx:
        with session_scope(pg_database) as s:
            base = {"query": {"text": "x"}, "webhook_secret": SECRET}
            hung = create_watch(s, settings, ANONYMOUS, {**base, "name": "hung", "webhook_url": hole.url})
            live = create_watch(s, settings, ANONYMOUS, {**base, "name": "live", "webhook_url": rx.url})
            hung_ids = insert_alerts(s, s.get(Watch, hung["id"]), [{"publication_number": "USD1", "rank": 1}])
            live_hits = [{"publication_number": f"USD{i}", "rank": i} for i in range(1, 4)]
            live_ids = insert_alerts(s, s.get(Watch, live["id"]), live_hits)
        celery_worker_proc(settings, concurrency=2)
        # the hung endpoint's task goes first
        assert enqueue_deliveries(hung_ids + live_ids, settings) == 4
        assert _wait(lambda: len({r["body"]["id"] for r in rx.accepted()}) == 3), rx.received
        accepted = rx.accepted()
        assert sorted(r["body"]["id"] for r in accepted) == sorted(f"alert-{i}" for i in live_ids)
        # the first POST was answered 503 and retried by the worker (countdown), then accepted once
        assert [r["answered"] for r in rx.received].count(503) == 1 and len(rx.received) == 4
        assert all(r["valid"] for r in rx.received)
    # the hung endpoint: attempts time out, are logged, then given up
    assert _wait(lambda: _attempts(pg_database, hung_ids[0]) == 3, timeout=120)
    hole.close()
    with session_scope(pg_database) as s:
        errors = s.scalars(select(AlertDelivery.error).where(AlertDelivery.alert_id == hung_ids[0])).all()
        assert all("Timeout" in e for e in errors), errors
        alert = s.get(Alert, hung_ids[0])
        assert not alert.delivered and alert.next_attempt_at is None
        delivered = s.scalars(select(Alert.delivered).where(Alert.id.in_(live_ids))).all()
        assert delivered == [True, True, True]


def _attempts(url, alert_id):
    with session_scope(url) as s:
        return len(s.scalars(select(AlertDelivery.id).where(AlertDelivery.alert_id == alert_id)).all())
