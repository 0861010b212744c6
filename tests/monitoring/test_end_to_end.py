"""End to end: real Redis, PostgreSQL and Elasticsearch, a ``celery beat`` subprocess with a 1 s
schedule, a ``celery worker`` subprocess, and a webhook receiver on 127.0.0.1 that verifies every
signature. A watch for graphical user interfaces (Locarno 14-04) sees real design patents ingested:
some match, some do not, one is ingested twice (and again later). Exactly the expected alerts must be
delivered, exactly once each, with valid signatures."""
from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select

from backend.auth.keys import create_key
from backend.cli_db import upgrade_database
from backend.db.models import Alert, AlertDelivery, WatchRun
from backend.db.session import session_scope
from tests.monitoring.helpers import Receiver

pytestmark = [pytest.mark.services, pytest.mark.shared_data, pytest.mark.slow]

BEFORE = ["USD0913312"]                                   # GUI, ingested before the watch exists
MATCHING = ["USD0910059", "USD0937859", "USD0937858"]     # GUI designs, Locarno 14-04
NOT_MATCHING = ["USD0939223", "USD0915080", "USD0929296"]  # fabric, napkin, wheel
LATER_MATCHING = ["USD0913313"]                           # GUI, ingested after the first deliveries
TWICE = "USD0910059"


def _folder(shared_data, pub):
    (path,) = sorted((shared_data / "impact").glob(f"{pub}-*"))
    return path


def _ingest(settings, shared_data, pubs, resume=True):
    """Ingest real patents the way `prism ingest` does (in-process, eager); without the ingest service,
    write them as ingest does: figure documents through the search backend, then the Patent rows with
    a new ingest_seq."""
    try:
        from backend.ingest.bulk import ingest_paths
    except ImportError:
        return _index_like_ingest(settings, shared_data, pubs)
    return ingest_paths([_folder(shared_data, p) for p in pubs], settings=settings, resume=resume)


def _index_like_ingest(settings, shared_data, pubs):
    import ast
    import csv

    from backend.db.models import Patent
    from backend.search import get_backend

    rows = {f"US{r['id']}": r for r in csv.DictReader(open(shared_data / "impact" / "sample_data.csv"))}
    backend = get_backend(settings)
    with session_scope(settings.resolved_database_url) as s:
        for pub in pubs:
            row = rows[pub]
            seq = int(s.scalar(select(func.max(Patent.ingest_seq))) or 0) + 1
            klass = ast.literal_eval(row["class_search"])[0]
            locarno = [f"{klass[:2]}-{klass[2:]}"]
            descriptions = ([d for d in ast.literal_eval(row["fig_desc"]) if d.startswith("FIG")]
                            or [row["title"]])
            backend.index_figures([{
                "figure_id": f"{pub}-F{n}", "publication_number": pub, "figure_number": n, "kind": "S1",
                "country": "US", "title": row["title"], "abstract": "", "claims": row["claim"],
                "description": d, "viewpoint": None, "object_name": None, "captions": [], "applicants": [],
                "cpc": [], "ipc": [],
                "locarno": locarno, "filing_date": None, "priority_date": None,
                "publication_date": f"{row['date'][:4]}-{row['date'][4:6]}-{row['date'][6:]}",
                "image_vector": None, "text_vector": None, "image_key": None, "thumb_key": None,
                "ingest_seq": seq} for n, d in enumerate(descriptions, 1)])
            patent = s.scalar(select(Patent).where(Patent.publication_number == pub))
            if patent is None:
                patent = Patent(publication_number=pub, title=row["title"], country="US", kind="S1",
                                locarno=locarno)
                s.add(patent)
            patent.ingest_seq = seq
            s.flush()
    backend.refresh()


def _seq(url, pub):
    from backend.db.models import Patent

    with session_scope(url) as s:
        return s.scalar(select(Patent.ingest_seq).where(Patent.publication_number == pub))


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_watch_alerts_delivered_exactly_once(make_settings, shared_data, es_url, pg_database, redis_db_url,
                                             celery_worker_proc, celery_beat_proc):
    pytest.importorskip("backend.search", reason="the search core (backend.search) is not in this checkout")
    from backend.app import create_app

    settings = make_settings(
        task_mode="celery", redis_url=redis_db_url, database_url=pg_database, search_backend="elasticsearch",
        es_url=es_url, es_index_prefix=f"e2e{uuid.uuid4().hex[:8]}", auth_required=True,
        watch_min_schedule_s=1, watch_beat_interval_s=1, webhook_backoff_s=1, webhook_timeout_s=3,
    )
    upgrade_database(pg_database)
    eager = settings.model_copy(update={"task_mode": "eager"})   # this process ingests in-process
    _ingest(eager, shared_data, BEFORE)

    with session_scope(pg_database) as s:
        _, token = create_key(s, "examiner", "search")
    api = create_app(settings).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    created = api.post("/watches", headers=auth, json={
        "name": "GUI designs", "schedule_s": 1, "webhook_url": "http://127.0.0.1:1/placeholder",
        "query": {"text": "graphical user interface", "filters": {"locarno": {"include": ["14-04"]}}},
    })
    assert created.status_code == 201, created.json
    watch = created.json

    with Receiver(watch["webhook_secret"], status_codes=[503]) as rx:
        patched = api.patch(f"/watches/{watch['id']}", headers=auth, json={"webhook_url": rx.url})
        assert patched.status_code == 200 and patched.json["has_webhook_secret"]
        # new filings: matching, not matching, and one ingested twice
        _ingest(eager, shared_data, MATCHING[:1] + NOT_MATCHING + MATCHING[1:])
        first_seq = _seq(pg_database, TWICE)
        _ingest(eager, shared_data, [TWICE], resume=False)   # unchanged content, ingested again on purpose
        assert _seq(pg_database, TWICE) > first_seq   # re-ingest stamps a new sequence number

        celery_worker_proc(settings)
        beat = celery_beat_proc(settings)
        _wait(lambda: {r["body"]["alert"]["publication_number"] for r in rx.accepted()} >= set(MATCHING), 180,
              "the matching filings to be delivered")

        # a later batch while beat keeps firing: the twice-ingested patent again, one new match
        _ingest(eager, shared_data, [TWICE] + LATER_MATCHING, resume=False)
        _wait(lambda: any(r["body"]["alert"]["publication_number"] in LATER_MATCHING for r in rx.accepted()),
              180, "the later filing to be delivered")
        time.sleep(4)  # several more beat ticks: nothing else may arrive
        runs_fired = beat.sent("prism.watches.run_due")

    accepted = Counter(r["body"]["alert"]["publication_number"] for r in rx.accepted())
    expected = MATCHING + LATER_MATCHING
    print(f"\nbeat sent run_due {runs_fired} times; receiver got {len(rx.received)} POSTs, "
          f"{sum(r['valid'] for r in rx.received)} with valid signatures; "
          f"accepted per patent: {dict(accepted)}")
    assert all(r["valid"] for r in rx.received)
    assert accepted == Counter(expected)              # exactly the expected alerts, exactly once each
    assert runs_fired >= 3
    # the first POST was answered 503 and redelivered (same event id), everything logged
    assert [r["answered"] for r in rx.received].count(503) == 1 and len(rx.received) == len(expected) + 1
    with session_scope(pg_database) as s:
        alerts = s.scalars(select(Alert).where(Alert.watch_id == watch["id"])).all()
        assert sorted(a.publication_number for a in alerts) == sorted(expected)
        assert all(a.delivered for a in alerts)
        assert s.scalar(select(func.count(AlertDelivery.id))) == len(expected) + 1
        assert s.scalar(select(func.count(WatchRun.id)).where(WatchRun.status == "failed")) == 0
    listed = api.get(f"/watches/{watch['id']}/alerts", headers=auth).json
    assert sorted(a["publication_number"] for a in listed["items"]) == sorted(expected)
    assert {a["delivery"] for a in listed["items"]} == {"delivered"}
