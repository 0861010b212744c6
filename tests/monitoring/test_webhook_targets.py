"""Webhooks to loopback, private, link-local and metadata addresses are
refused when a watch is saved and again at delivery (after resolving the name, and on the connected
socket), unless PRISM_WEBHOOK_ALLOWED_NETWORKS allows them. The receivers are real HTTP servers on
127.0.0.1; name resolution is replaced where a test needs a name to point somewhere."""
from __future__ import annotations

import socket

import pytest

from backend.auth.keys import ANONYMOUS
from backend.cli_db import upgrade_database
from backend.db.models import Watch
from backend.db.session import session_scope
from backend.monitoring import webhook_targets, webhooks
from backend.monitoring.alerts import insert_alerts
from backend.monitoring.watches import create_watch
from tests.monitoring.helpers import Receiver

SECRET = "whsec_unit_test_secret_0123456789"
PUBLIC = "93.184.215.14"


@pytest.fixture
def strict(make_settings, monkeypatch):
    monkeypatch.delenv("PRISM_WEBHOOK_ALLOWED_NETWORKS", raising=False)
    settings = make_settings(webhook_allowed_networks="", webhook_timeout_s=2)
    upgrade_database(settings.resolved_database_url)
    return settings


@pytest.fixture
def client(strict):
    from backend.app import create_app

    app = create_app(strict)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.mark.parametrize("url, rule", [
    ("http://127.0.0.1:6390/x", "127.0.0.1 is loopback"),
    ("http://127.1.2.3/x", "loopback"),
    ("http://[::1]:8080/x", "::1 is loopback"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local"),
    ("http://10.1.2.3/x", "10.1.2.3 is private"),
    ("https://192.168.0.10/x", "private"),
    ("http://172.16.5.5/x", "private"),
    ("http://[fd00:ec2::254]/x", "private"),
    ("http://100.64.0.1/x", "shared address space"),
    ("http://0.0.0.0:9200/x", "unspecified"),
    ("http://localhost:6379/x", "'localhost' is a local name"),
    ("http://redis.localhost/x", "local name"),
])
def test_a_watch_with_a_non_public_webhook_is_refused_naming_the_rule(client, url, rule):
    resp = client.post("/watches", json={"name": "w", "query": {"text": "chair"}, "webhook_url": url})
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    assert resp.json["detail"].startswith("webhook_url: ") and rule in resp.json["detail"]
    patched = client.post("/watches", json={"name": "w", "query": {"text": "chair"}})
    assert patched.status_code == 201
    resp = client.patch(f"/watches/{patched.json['id']}", json={"webhook_url": url})
    assert resp.status_code == 400 and rule in resp.json["detail"]


@pytest.mark.parametrize("address, rule", [("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"),
                                           ("fe80::1%eth0", "link-local"), ("224.0.0.1", "multicast"),
                                           ("240.0.0.1", "reserved"), (PUBLIC, None), ("2606:4700::1111", None)])
def test_rules_for_addresses(address, rule):
    reason = webhook_targets.refusal(address, [])
    assert (reason is None) if rule is None else (rule in reason)


def test_a_name_is_resolved_before_it_is_accepted(client, monkeypatch):
    monkeypatch.setattr(webhook_targets, "_resolve", lambda host, port: [PUBLIC, "127.0.0.1"])
    resp = client.post("/watches", json={"name": "w", "query": {"text": "chair"},
                                         "webhook_url": "https://hooks.example.org/prism"})
    assert resp.status_code == 400
    assert "host 'hooks.example.org': 127.0.0.1 is loopback" in resp.json["detail"]
    monkeypatch.setattr(webhook_targets, "_resolve", lambda host, port: [PUBLIC])
    resp = client.post("/watches", json={"name": "w", "query": {"text": "chair"},
                                         "webhook_url": "https://hooks.example.org/prism"})
    assert resp.status_code == 201


def test_the_allow_list_lets_an_on_premises_receiver_through(make_settings, monkeypatch):
    monkeypatch.delenv("PRISM_WEBHOOK_ALLOWED_NETWORKS", raising=False)
    settings = make_settings(webhook_allowed_networks="127.0.0.1, 10.20.0.0/16")
    upgrade_database(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as s:
        for url in ("http://127.0.0.1:6390/x", "http://10.20.3.4/x"):
            create_watch(s, settings, ANONYMOUS, {"name": "w", "query": {"text": "c"}, "webhook_url": url})
        with pytest.raises(Exception, match="10.21.0.1 is private"):
            create_watch(s, settings, ANONYMOUS, {"name": "w", "query": {"text": "c"},
                                                  "webhook_url": "http://10.21.0.1/x"})


def test_a_bad_allow_list_is_a_settings_error(monkeypatch):
    from backend.settings import SettingsError, load_settings

    monkeypatch.setenv("PRISM_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8, intranet")
    with pytest.raises(SettingsError, match="PRISM_WEBHOOK_ALLOWED_NETWORKS: .*'intranet' is not an IP"):
        load_settings()


def _alert_for(settings, url: str) -> int:
    with session_scope(settings.resolved_database_url) as s:
        data = {"name": "w", "query": {"text": "chair"}, "webhook_url": url, "webhook_secret": SECRET}
        wid = create_watch(s, settings, ANONYMOUS, data)["id"]
        (alert_id,) = insert_alerts(s, s.get(Watch, wid), [{"publication_number": "USD0907292", "score": 0.9,
                                                             "rank": 1}])
    return alert_id


def test_delivery_rechecks_the_name_and_gives_up_when_it_now_points_inside(strict, monkeypatch):
    with Receiver(SECRET) as rx:
        port = rx.server.server_address[1]
        monkeypatch.setattr(webhook_targets, "_resolve", lambda host, p: [PUBLIC])   # when the watch is saved
        alert_id = _alert_for(strict, f"http://hooks.example.org:{port}/hook")
        monkeypatch.setattr(webhook_targets, "_resolve", lambda host, p: ["127.0.0.1"])   # at delivery
        out = webhooks.attempt_delivery(alert_id, strict)
    assert out.status == "gave_up" and out.attempt == 1
    assert out.error.startswith("target refused: host 'hooks.example.org': 127.0.0.1 is loopback")
    assert rx.received == []


def test_the_connected_address_is_checked_too(strict, monkeypatch):
    """DNS rebinding: the name passes the check, then resolves to loopback when the socket connects."""
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, *args, **kw):
        if host == "rebind.example.org":
            return real_getaddrinfo("127.0.0.1", *args, **kw)
        return real_getaddrinfo(host, *args, **kw)

    with Receiver(SECRET) as rx:
        port = rx.server.server_address[1]
        monkeypatch.setattr(webhook_targets, "_resolve", lambda host, p: [PUBLIC])   # every check passes
        alert_id = _alert_for(strict, f"http://rebind.example.org:{port}/hook")
        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        out = webhooks.attempt_delivery(alert_id, strict)
    assert out.status == "gave_up"
    assert out.error.startswith("target refused: connected to 127.0.0.1 is loopback"), out.error
    assert rx.received == []


def test_an_allowed_receiver_still_gets_its_alert(make_settings):
    settings = make_settings(webhook_allowed_networks="127.0.0.1")
    upgrade_database(settings.resolved_database_url)
    with Receiver(SECRET) as rx:
        out = webhooks.attempt_delivery(_alert_for(settings, rx.url), settings)
    assert out.status == "delivered" and len(rx.accepted()) == 1
