"""The optional ingest-time watch check (``PRISM_WATCH_CHECK_ON_INGEST``): real ingest of generated USPTO
grant folders (real encoder, real search backend), alerts raised as soon as a matching filing is indexed,
without moving the watch's high-water mark, and never reported again by the scheduled run."""
from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import select

from backend.auth.keys import ANONYMOUS
from backend.cli_db import upgrade_database
from backend.db.models import Alert, Watch
from backend.db.session import session_scope
from backend.monitoring import runner
from backend.monitoring.watches import create_watch
from tests.ingest.helpers import write_patent_folder
from tests.monitoring.helpers import Receiver

CHAIR, LAMP, STOOL = "USD0999002", "USD0999003", "USD0999004"


def _folders(root):
    return {CHAIR: write_patent_folder(root, "D0999002", "Folding chair", figures=2, seed=2),
            LAMP: write_patent_folder(root, "D0999003", "Table lamp", figures=2, seed=3, locarno="2601", cpc=False),
            STOOL: write_patent_folder(root, "D0999004", "Bar stool", figures=2, seed=4, locarno="0601", cpc=False)}


def _watch(settings, **kw) -> dict:
    data = {"name": "chairs", "query": {"text": "chair"}, "schedule_s": 3600, **kw}
    with session_scope(settings.resolved_database_url) as s:
        return create_watch(s, settings, ANONYMOUS, data)


def _alerts(settings, watch_id) -> dict[str, str]:
    with session_scope(settings.resolved_database_url) as s:
        return {a.publication_number: (a.reason or {}).get("origin")
                for a in s.scalars(select(Alert).where(Alert.watch_id == watch_id))}


def _high_water(settings, watch_id) -> int:
    with session_scope(settings.resolved_database_url) as s:
        return s.get(Watch, watch_id).high_water_seq


def _ingest(settings, folders, **kw):
    from backend.ingest.bulk import ingest_paths

    summary = ingest_paths(folders, settings, progress=False, **kw)
    assert summary.failed == 0, summary.failures
    return summary


@pytest.mark.parametrize("enabled", [True, False], ids=["check-on-ingest", "scheduled-only"])
def test_ingest_time_check_raises_the_alert_at_once_and_only_once(make_settings, tmp_path, enabled):
    settings = make_settings(task_mode="eager", watch_min_schedule_s=1, watch_check_on_ingest=enabled)
    upgrade_database(settings.resolved_database_url)
    folders = _folders(tmp_path / "docs")
    _ingest(settings, [folders[STOOL]])                 # before the watch exists: never reported
    with Receiver() as rx:
        watch = _watch(settings, webhook_url=rx.url)
        rx.secret = watch["webhook_secret"]
        mark = _high_water(settings, watch["id"])
        _ingest(settings, [folders[CHAIR], folders[LAMP]])

        if enabled:
            assert _alerts(settings, watch["id"]) == {CHAIR: "ingest"}
            assert _high_water(settings, watch["id"]) == mark          # the scheduled run still examines them
            assert [r["body"]["alert"]["publication_number"] for r in rx.accepted()] == [CHAIR]
        else:
            assert _alerts(settings, watch["id"]) == {}

        summary = runner.run_watch(watch["id"], settings, force=True)
        assert summary.status == "done" and summary.examined == 2
        assert len(summary.alert_ids) == (0 if enabled else 1)
        assert _alerts(settings, watch["id"]) == {CHAIR: "ingest" if enabled else "scheduled"}
        assert _high_water(settings, watch["id"]) > mark


@pytest.mark.services
def test_ingest_time_check_runs_on_a_real_worker(make_settings, tmp_path, es_url, pg_database, redis_db_url,
                                                 celery_worker_proc):
    settings = make_settings(task_mode="celery", redis_url=redis_db_url, database_url=pg_database,
                             search_backend="elasticsearch", es_url=es_url,
                             es_index_prefix=f"chk{uuid.uuid4().hex[:10]}", watch_min_schedule_s=1,
                             watch_check_on_ingest=True)
    upgrade_database(pg_database)
    folders = _folders(tmp_path / "docs")
    watch = _watch(settings)
    celery_worker_proc(settings, queues="ingest,watches")
    try:
        _ingest(settings, [folders[CHAIR], folders[LAMP]], timeout_s=300)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _alerts(settings, watch["id"]):
            time.sleep(0.5)
        time.sleep(1)   # a second alert, were one wrongly raised, would be written by the same task
        assert _alerts(settings, watch["id"]) == {CHAIR: "ingest"}
        assert _high_water(settings, watch["id"]) == 0
    finally:
        from elasticsearch import Elasticsearch

        Elasticsearch(es_url).indices.delete(index=f"{settings.es_index_prefix}*", ignore_unavailable=True,
                                             allow_no_indices=True)
