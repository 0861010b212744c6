"""The request gate with keys required: real SQLite database and real Redis for the rate limit."""
import pytest
from apiflask import APIBlueprint
from sqlalchemy import select

from backend.auth import require_scope
from backend.auth.keys import create_key, revoke_key
from backend.cli_db import upgrade_database
from backend.db.models import AuditEvent
from backend.db.session import session_scope

pytestmark = pytest.mark.services


def _probe_blueprint():
    bp = APIBlueprint("probe", __name__)

    @bp.post("/probe/ingest")
    @require_scope("ingest")
    def ingest_probe():
        return {"ok": True}

    @bp.get("/probe/admin")
    @require_scope("admin")
    def admin_probe():
        return {"ok": True}

    @bp.get("/probe/undeclared")
    def undeclared():
        return {"ok": True}

    return bp


@pytest.fixture
def secured(make_settings, redis_db_url):
    from backend.app import create_app

    settings = make_settings(auth_required=True, redis_url=redis_db_url, rate_limit_per_minute=5)
    upgrade_database(settings.resolved_database_url)
    app = create_app(settings)
    app.register_blueprint(_probe_blueprint())
    keys = {}
    with session_scope(settings.resolved_database_url) as s:
        for name, scopes in (("reader", "search"), ("loader", "ingest"), ("root", "admin"),
                             ("gone", "search")):
            key, token = create_key(s, name, scopes)
            keys[name] = token
        revoke_key(s, key.prefix)
    return app.test_client(), keys, settings


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_public_endpoints_need_no_key(secured):
    client, _, _ = secured
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_missing_bad_and_revoked_keys_are_401_problems(secured):
    client, keys, _ = secured
    resp = client.get("/watches")
    assert resp.status_code == 401 and resp.content_type == "application/problem+json"
    assert "Bearer" in resp.headers["WWW-Authenticate"] and "API key is required" in resp.json["detail"]
    assert client.get("/watches", headers=_bearer("prism_12345678_nope")).status_code == 401
    revoked = client.get("/watches", headers=_bearer(keys["gone"]))
    assert revoked.json["detail"] == "the API key is unknown or revoked"


def test_bearer_and_x_api_key_both_work(secured):
    client, keys, _ = secured
    assert client.get("/watches", headers=_bearer(keys["reader"])).status_code == 200
    assert client.get("/watches", headers={"X-API-Key": keys["reader"]}).status_code == 200


def test_scopes_are_enforced_admin_grants_all(secured):
    client, keys, _ = secured
    resp = client.post("/probe/ingest", headers=_bearer(keys["reader"]))
    assert resp.status_code == 403 and "'ingest' scope" in resp.json["detail"]
    assert client.post("/probe/ingest", headers=_bearer(keys["loader"])).status_code == 200
    assert client.get("/probe/admin", headers=_bearer(keys["loader"])).status_code == 403
    assert client.get("/probe/admin", headers=_bearer(keys["root"])).status_code == 200
    # no declaration and an unmapped blueprint: admin only
    assert client.get("/probe/undeclared", headers=_bearer(keys["reader"])).status_code == 403
    assert client.get("/probe/undeclared", headers=_bearer(keys["root"])).status_code == 200
    assert client.get("/watches", headers=_bearer(keys["root"])).status_code == 200


def test_rate_limit_answers_429_with_retry_after(secured):
    client, keys, _ = secured
    codes = [client.get("/watches", headers=_bearer(keys["reader"])).status_code for _ in range(12)]
    # 12 calls span at most two one-minute windows, so one window sees more than 5 of them
    assert 429 in codes and codes.index(429) >= 5
    limited = client.get("/watches", headers=_bearer(keys["reader"]))
    if limited.status_code == 429:
        assert 1 <= int(limited.headers["Retry-After"]) <= 61
        assert limited.content_type == "application/problem+json" and "rate limit" in limited.json["detail"]
    # other keys have their own budget
    assert client.get("/watches", headers=_bearer(keys["root"])).status_code == 200


def test_ingest_and_admin_calls_are_audited(secured):
    client, keys, settings = secured
    client.post("/probe/ingest", headers=_bearer(keys["loader"]))
    client.post("/probe/ingest", headers=_bearer(keys["reader"]))      # denied: audited too
    client.get("/probe/admin", headers=_bearer(keys["root"]))
    client.get("/watches", headers=_bearer(keys["reader"]))            # search: not audited
    with session_scope(settings.resolved_database_url) as s:
        events = [(e.action, e.method, e.status_code, e.detail["key"])
                  for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events == [("probe.ingest_probe", "POST", 200, "loader"),
                      ("probe.ingest_probe", "POST", 403, "reader"),
                      ("probe.admin_probe", "GET", 200, "root")]


def test_openapi_describes_security(secured):
    client, _, _ = secured
    spec = client.get("/openapi.json").json
    assert {"BearerAuth", "ApiKeyAuth"} <= set(spec["components"]["securitySchemes"])
    operation = spec["paths"]["/watches"]["get"]
    assert operation["security"] and operation["x-prism-scope"] == "search"
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_key_store_down_is_503_not_500(make_settings, redis_db_url):
    from backend.app import create_app

    settings = make_settings(auth_required=True, redis_url=redis_db_url)  # database never migrated
    resp = create_app(settings).test_client().get("/watches", headers=_bearer("prism_12345678_abc"))
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert resp.content_type == "application/problem+json"
