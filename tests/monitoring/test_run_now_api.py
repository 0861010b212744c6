"""POST /watches/<id>/run (run now, paused or not, whatever the schedule) and the edits the watches page
makes with PATCH (query, schedule, webhook, pause/resume), over HTTP with the real embedded backend."""
from __future__ import annotations

from backend.db.session import session_scope
from backend.search import get_backend
from tests.monitoring.helpers import put_patent
from tests.search.conftest import figure

WATCH = {"name": "folding chairs", "schedule_s": 86400, "query": {"text": "folding chair"}}


def _file(client, pub: str, seq: int, title: str) -> None:
    """A patent as ingest leaves it: its row (ingest_seq) and its indexed figure."""
    settings = client.application.extensions["prism.settings"]
    with session_scope(settings.resolved_database_url) as session:
        put_patent(session, pub, seq, title)
    backend = get_backend(settings)
    backend.index_figures([figure(pub, 1, None, title=title, ingest_seq=seq)])
    backend.refresh()


def test_run_now_reports_new_filings_even_when_paused(client):
    wid = client.post("/watches", json=WATCH).json["id"]
    assert client.patch(f"/watches/{wid}", json={"active": False}).json["active"] is False
    _file(client, "USD0000101", 101, "Folding chair with armrest")
    _file(client, "USD0000102", 102, "Table lamp")
    ran = client.post(f"/watches/{wid}/run")
    assert ran.status_code == 200, ran.json
    assert (ran.json["status"], ran.json["examined"], ran.json["alerts"]) == ("done", 2, 1)
    alerts = client.get(f"/watches/{wid}/alerts").json["items"]
    assert [a["publication_number"] for a in alerts] == ["USD0000101"]
    again = client.post(f"/watches/{wid}/run").json
    assert (again["examined"], again["alerts"]) == (0, 0), "a run moves the watch's mark"
    assert client.get(f"/watches/{wid}").json["last_run"]["status"] == "done"


def test_edit_query_schedule_webhook_and_resume(client):
    wid = client.post("/watches", json=WATCH).json["id"]
    edited = client.patch(f"/watches/{wid}", json={"query": {"text": "table lamp"}, "schedule_s": 3600,
                                                    "webhook_url": "https://hooks.example.org/prism",
                                                    "active": True})
    assert edited.status_code == 200, edited.json
    got = client.get(f"/watches/{wid}").json
    assert (got["query"]["text"], got["schedule_s"], got["webhook_url"], got["active"]) == (
        "table lamp", 3600, "https://hooks.example.org/prism", True)
    _file(client, "USD0000103", 103, "Table lamp with dimmer")
    assert client.post(f"/watches/{wid}/run").json["alerts"] == 1
    bad = client.patch(f"/watches/{wid}", json={"query": {"text": "lamp AND (shade"}})
    assert bad.status_code == 400 and "query" in bad.json["detail"]


def test_run_now_of_an_unknown_watch_is_404(client):
    resp = client.post("/watches/999/run")
    assert resp.status_code == 404 and resp.content_type == "application/problem+json"
