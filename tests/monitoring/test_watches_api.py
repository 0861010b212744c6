"""Watches and alerts over HTTP (Flask test client, real SQLite; keys required where stated)."""
import pytest
from sqlalchemy import select

from backend.auth.keys import create_key
from backend.cli_db import upgrade_database
from backend.db.models import Alert, Watch
from backend.db.session import session_scope
from backend.monitoring.alerts import insert_alerts

WATCH = {"name": "folding chairs", "max_rank": 10, "schedule_s": 3600,
         "query": {"text": "folding chair", "filters": {"cpc": {"include": ["A47C"]}}}}


def test_crud_round_trip(client):
    created = client.post("/watches", json={**WATCH, "webhook_url": "https://hooks.example.org/prism"})
    assert created.status_code == 201, created.json
    body = created.json
    assert created.headers["Location"] == f"/watches/{body['id']}"
    assert body["webhook_secret"].startswith("whsec_") and body["has_webhook_secret"]
    assert body["owner"] == "anonymous" and body["query"]["text"] == "folding chair"
    wid = body["id"]

    got = client.get(f"/watches/{wid}").json
    assert "webhook_secret" not in got and got["has_webhook_secret"] and got["next_run_at"].endswith("+00:00")
    assert client.get("/watches").json["total"] == 1

    patched = client.patch(f"/watches/{wid}", json={"active": False, "min_score": 0.5, "webhook_url": None})
    assert patched.status_code == 200
    assert (patched.json["active"], patched.json["min_score"], patched.json["webhook_url"],
            patched.json["has_webhook_secret"]) == (False, 0.5, None, False)

    assert client.delete(f"/watches/{wid}").status_code == 204
    assert client.get(f"/watches/{wid}").status_code == 404


@pytest.mark.parametrize("change, fragment", [
    ({"query": {}}, "query: give text, image_figure_id, an image or a vector to search with"),
    ({"query": {"text": "x", "filters": []}}, "query.filters"),
    ({"schedule_s": 5}, "schedule_s"),
    ({"webhook_url": "ftp://x/y"}, "webhook_url"),
    ({"webhook_secret": "short", "webhook_url": "http://x.org/h"}, "webhook_secret"),
    ({"name": ""}, "name"),
    ({"name": "a\x00b"}, "NUL"),
    ({"max_rank": 0}, "max_rank"),
    ({"surprise": 1}, "surprise"),
    ({"query": {"text": "chair AND (lamp"}}, "unbalanced parenthesis: '(' is never closed (at position 11)"),
])
def test_bad_watches_are_400_problems_naming_the_field(client, change, fragment):
    resp = client.post("/watches", json={**WATCH, **change})
    assert resp.status_code == 400 and resp.content_type == "application/problem+json"
    assert fragment in resp.json["detail"] or fragment in str(resp.json.get("errors"))
    with session_scope(client.application.extensions["prism.settings"].resolved_database_url) as s:
        assert s.scalar(select(Watch.id)) is None  # nothing half-written


def test_empty_patch_and_unknown_ids(client):
    wid = client.post("/watches", json=WATCH).json["id"]
    assert client.patch(f"/watches/{wid}", json={}).status_code == 400
    assert client.get("/watches/999").status_code == 404
    assert client.get(f"/watches/{2**40}").status_code == 404
    assert client.post(f"/alerts/{2**40}/read").status_code == 404


def _alerts_for(url, wid, pubs):
    with session_scope(url) as s:
        watch = s.get(Watch, wid)
        return insert_alerts(s, watch, [{"publication_number": p, "score": 1.0, "rank": i + 1}
                                        for i, p in enumerate(pubs)])


def test_alerts_listed_filtered_and_marked_read(client):
    url = client.application.extensions["prism.settings"].resolved_database_url
    wid = client.post("/watches", json=WATCH).json["id"]
    ids = _alerts_for(url, wid, ["USD1", "USD2"])
    listed = client.get(f"/watches/{wid}/alerts").json
    assert listed["total"] == 2 and {a["publication_number"] for a in listed["items"]} == {"USD1", "USD2"}
    assert client.post(f"/alerts/{ids[0]}/read").json["read"] is True
    unread = client.get("/alerts?unread=1").json
    assert [a["id"] for a in unread["items"]] == [ids[1]]
    assert [a["id"] for a in client.get("/alerts?unread=0").json["items"]] == [ids[0]]
    detail = client.get(f"/alerts/{ids[1]}").json
    assert detail["deliveries"] == [] and detail["delivery"] == "none"
    assert detail["watch_name"] == WATCH["name"]


@pytest.mark.services
def test_keys_see_only_their_own_watches_admin_sees_all(make_settings, redis_db_url):
    from backend.app import create_app

    settings = make_settings(auth_required=True, redis_url=redis_db_url)
    upgrade_database(settings.resolved_database_url)
    tokens = {}
    with session_scope(settings.resolved_database_url) as s:
        for name, scopes in (("alice", "search"), ("bob", "search"), ("root", "admin"), ("loader", "ingest")):
            tokens[name] = create_key(s, name, scopes)[1]
    client = create_app(settings).test_client()

    def h(name):
        return {"Authorization": f"Bearer {tokens[name]}"}

    alice = client.post("/watches", json=WATCH, headers=h("alice")).json
    assert alice["owner"] == "alice"
    assert client.post("/watches", json={**WATCH, "owner": "alice"}, headers=h("bob")).status_code == 403
    for_bob = client.post("/watches", json={**WATCH, "owner": "bob"}, headers=h("root"))
    assert for_bob.status_code == 201 and for_bob.json["owner"] == "bob"
    assert client.post("/watches", json=WATCH, headers=h("loader")).status_code == 403

    assert client.get(f"/watches/{alice['id']}", headers=h("bob")).status_code == 404
    assert client.delete(f"/watches/{alice['id']}", headers=h("bob")).status_code == 404
    assert [w["owner"] for w in client.get("/watches", headers=h("bob")).json["items"]] == ["bob"]
    assert client.get("/watches", headers=h("root")).json["total"] == 2

    (aid,) = _alerts_for(settings.resolved_database_url, alice["id"], ["USD9"])
    assert client.post(f"/alerts/{aid}/read", headers=h("bob")).status_code == 404
    assert client.get("/alerts", headers=h("bob")).json["total"] == 0
    assert client.post(f"/alerts/{aid}/read", headers=h("alice")).status_code == 200
    with session_scope(settings.resolved_database_url) as s:
        assert s.scalar(select(Alert.read)) is True


def test_a_watch_keeps_a_shortlist(client):
    """The shortlist saved with a watch: canonical numbers, each once, in order; PATCH replaces or clears it;
    a bad number is a 400 naming it."""
    spellings = ["US D917866 S", "USD0917867", "USD917866S"]
    created = client.post("/watches", json={**WATCH, "shortlist": spellings})
    assert created.status_code == 201, created.json
    wid = created.json["id"]
    assert created.json["shortlist"] == ["USD0917866", "USD0917867"]
    assert client.get(f"/watches/{wid}").json["shortlist"] == ["USD0917866", "USD0917867"]
    assert client.post("/watches", json=WATCH).json["shortlist"] == []
    patched = client.patch(f"/watches/{wid}", json={"shortlist": ["EP0049154B2"]})
    assert patched.status_code == 200 and patched.json["shortlist"] == ["EP0049154B2"]
    assert client.patch(f"/watches/{wid}", json={"shortlist": None}).json["shortlist"] == []
    bad = client.post("/watches", json={**WATCH, "shortlist": ["USD0917866", "not a number!"]})
    assert bad.status_code == 400
    assert "shortlist" in bad.json["detail"] and "not a number!" in bad.json["detail"]
    too_long = client.post("/watches", json={**WATCH, "shortlist": ["x" * 65]})
    assert too_long.status_code == 400 and "shortlist" in str(too_long.json)
