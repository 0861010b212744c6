"""Webhook delivery against a real HTTP receiver on 127.0.0.1 (signatures verified there)."""
import datetime as dt
import socket

import pytest
from sqlalchemy import select

from backend.auth.keys import ANONYMOUS
from backend.cli_db import upgrade_database
from backend.db.models import Alert, AlertDelivery, Watch, utcnow
from backend.db.session import session_scope
from backend.monitoring import webhooks
from backend.monitoring.alerts import insert_alerts
from backend.monitoring.watches import create_watch

SECRET = "whsec_unit_test_secret_0123456789"


@pytest.fixture
def env(make_settings):
    settings = make_settings(webhook_timeout_s=2, webhook_max_attempts=3, webhook_backoff_s=10)
    upgrade_database(settings.resolved_database_url)
    return settings


def _alert(settings, url: str) -> int:
    with session_scope(settings.resolved_database_url) as s:
        data = {"name": "w", "query": {"text": "chair"}, "webhook_url": url, "webhook_secret": SECRET}
        wid = create_watch(s, settings, ANONYMOUS, data)["id"]
        watch = s.get(Watch, wid)
        (alert_id,) = insert_alerts(s, watch, [{"publication_number": "USD0907292", "score": 0.9, "rank": 1}])
    return alert_id


def _deliveries(settings, alert_id):
    with session_scope(settings.resolved_database_url) as s:
        return [(d.attempt, d.status_code, d.succeeded, bool(d.error))
                for d in s.scalars(select(AlertDelivery).where(AlertDelivery.alert_id == alert_id)
                                   .order_by(AlertDelivery.attempt))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_delivery_is_signed_and_logged(env):
    from tests.monitoring.helpers import Receiver

    with Receiver(SECRET) as rx:
        alert_id = _alert(env, rx.url)
        out = webhooks.attempt_delivery(alert_id, env)
    assert out.status == "delivered" and out.attempt == 1
    (got,) = rx.received
    assert got["valid"] and got["body"]["id"] == f"alert-{alert_id}"
    assert got["body"]["alert"]["publication_number"] == "USD0907292"
    assert got["body"]["type"] == "prism.alert.created"
    assert got["headers"]["X-Prism-Event-Id"] == f"alert-{alert_id}"
    assert got["headers"]["X-Prism-Timestamp"] == got["headers"]["X-Prism-Signature"].split(",")[0][2:]
    assert _deliveries(env, alert_id) == [(1, 200, True, False)]
    # delivered alerts are never posted again
    assert webhooks.attempt_delivery(alert_id, env).status == "skipped"
    assert len(rx.received) == 1


def test_failures_back_off_exponentially_then_give_up(env):
    from tests.monitoring.helpers import Receiver

    with Receiver(SECRET, status_codes=[500, 503, 502]) as rx:
        alert_id = _alert(env, rx.url)
        first = webhooks.attempt_delivery(alert_id, env)
        assert first.status == "retry" and first.retry_in_s == 10
        # not due yet: a duplicate task does nothing
        assert webhooks.attempt_delivery(alert_id, env).status == "skipped"
        second = webhooks.attempt_delivery(alert_id, env, now=utcnow() + dt.timedelta(seconds=11))
        assert second.status == "retry" and second.retry_in_s == 20
        third = webhooks.attempt_delivery(alert_id, env, now=utcnow() + dt.timedelta(seconds=40))
        assert third.status == "gave_up"
    assert [r["answered"] for r in rx.received] == [500, 503, 502]
    assert _deliveries(env, alert_id) == [(1, 500, False, True), (2, 503, False, True), (3, 502, False, True)]
    with session_scope(env.resolved_database_url) as s:
        alert = s.get(Alert, alert_id)
        assert not alert.delivered and alert.next_attempt_at is None and alert.delivery_attempts == 3


def test_a_dead_endpoint_is_logged_and_retried(env):
    alert_id = _alert(env, f"http://127.0.0.1:{_free_port()}/hook")
    out = webhooks.attempt_delivery(alert_id, env)
    assert out.status == "retry" and "ConnectionError" in out.error
    assert _deliveries(env, alert_id) == [(1, None, False, True)]


def test_gone_stops_retries(env):
    from tests.monitoring.helpers import Receiver

    with Receiver(SECRET, status_codes=[410]) as rx:
        alert_id = _alert(env, rx.url)
        assert webhooks.attempt_delivery(alert_id, env).status == "gave_up"


def test_claim_lets_only_one_caller_post(env):
    alert_id = _alert(env, "http://127.0.0.1:9/hook")
    with session_scope(env.resolved_database_url) as s:
        # another worker claimed it a moment ago (lease in the future)
        s.get(Alert, alert_id).next_attempt_at = utcnow() + dt.timedelta(seconds=30)
    assert webhooks.attempt_delivery(alert_id, env).status == "skipped"
    assert _deliveries(env, alert_id) == []


def test_sweep_finds_only_overdue_undelivered_alerts(env):
    alert_id = _alert(env, "http://127.0.0.1:9/hook")
    assert webhooks.due_alert_ids(env) == []                     # just created: the enqueue will handle it
    later = utcnow() + dt.timedelta(seconds=120)
    assert webhooks.due_alert_ids(env, now=later) == [alert_id]  # enqueue lost: the sweep hands it out
    with session_scope(env.resolved_database_url) as s:
        s.get(Alert, alert_id).delivered = True
    assert webhooks.due_alert_ids(env, now=later) == []


def test_backoff_is_capped_below_the_visibility_timeout(env):
    assert [webhooks.backoff_s(env, n) for n in (1, 2, 3)] == [10, 20, 40]
    assert webhooks.backoff_s(env, 30) <= env.visibility_timeout_s / 2


def test_eager_mode_delivers_in_process(env):
    from backend.monitoring.dispatch import enqueue_deliveries
    from tests.monitoring.helpers import Receiver

    assert env.task_mode == "eager"
    with Receiver(SECRET) as rx:
        alert_id = _alert(env, rx.url)
        assert enqueue_deliveries([alert_id], env) == 1
    assert [r["body"]["id"] for r in rx.accepted()] == [f"alert-{alert_id}"]
    assert _deliveries(env, alert_id) == [(1, 200, True, False)]
