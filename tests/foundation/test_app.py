import json


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok"}


def test_readyz_reports_each_dependency(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json["checks"]["database"]["ok"] is True
    assert "embedded_index" in resp.json["checks"]


def test_readyz_degraded_when_es_down(make_settings):
    from backend.app import create_app

    settings = make_settings(search_backend="elasticsearch", es_url="http://127.0.0.1:9")
    resp = create_app(settings).test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json["checks"]["elasticsearch"]["ok"] is False


def test_errors_are_problem_json(client):
    resp = client.get("/no/such/route")
    assert resp.status_code == 404
    assert resp.content_type == "application/problem+json"
    body = json.loads(resp.data)
    assert body["status"] == 404 and body["title"] == "Not Found"


def test_openapi_31(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    assert "/healthz" in spec["paths"]


def test_method_not_allowed_keeps_allow_header(client):
    resp = client.delete("/healthz")
    assert resp.status_code == 405
    assert resp.content_type == "application/problem+json"
    assert "GET" in resp.headers["Allow"]
