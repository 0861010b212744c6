"""Watch runs on a real SQLite database with a small in-memory search stand-in (the search core
is exercised for real in test_end_to_end.py)."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from backend.auth.keys import ANONYMOUS
from backend.cli_db import upgrade_database
from backend.db.models import Alert, Watch, WatchRun, utcnow
from backend.db.session import session_scope
from backend.monitoring import runner
from backend.monitoring.watches import create_watch
from tests.monitoring.helpers import FakeSearch, put_patent


@pytest.fixture
def env(make_settings):
    settings = make_settings(watch_min_schedule_s=1)
    upgrade_database(settings.resolved_database_url)
    return settings


def _watch(settings, **kw) -> int:
    data = {"name": "chairs", "query": {"text": "chair"}, "schedule_s": 3600, **kw}
    with session_scope(settings.resolved_database_url) as s:
        return create_watch(s, settings, ANONYMOUS, data)["id"]


def _patents(settings, *rows):
    with session_scope(settings.resolved_database_url) as s:
        for pub, seq, title in rows:
            put_patent(s, pub, seq, title)


def _alerts(settings, watch_id):
    with session_scope(settings.resolved_database_url) as s:
        return sorted(s.scalars(select(Alert.publication_number).where(Alert.watch_id == watch_id)))


def _watch_row(settings, watch_id) -> Watch:
    with session_scope(settings.resolved_database_url) as s:
        return s.get(Watch, watch_id)


def test_new_watch_starts_at_the_current_high_water_mark(env):
    _patents(env, ("USD1", 1, "folding chair"), ("USD2", 2, "old chair"))
    wid = _watch(env)
    assert _watch_row(env, wid).high_water_seq == 2
    fake = FakeSearch({"USD1": "folding chair", "USD2": "old chair"})
    summary = runner.run_watch(wid, env, force=True, backend=fake)
    assert summary.status == "done" and summary.alert_ids == [] and fake.requests == []


def test_run_reports_new_matches_once_and_moves_the_mark(env):
    _patents(env, ("USD0", 5, "old chair"))
    wid = _watch(env)
    _patents(env, ("USD1", 6, "folding chair"), ("USD2", 7, "lamp"), ("USD3", 8, "chair with armrest"))
    fake = FakeSearch({"USD0": "old chair", "USD1": "folding chair", "USD2": "lamp", "USD3": "chair armrest"})
    summary = runner.run_watch(wid, env, force=True, backend=fake)
    assert summary.status == "done" and (summary.from_seq, summary.to_seq) == (5, 8) and summary.examined == 3
    assert _alerts(env, wid) == ["USD1", "USD3"]
    # the search was restricted to exactly the new filings, one hit per patent, explained
    req = fake.requests[0]          # (the request normalised the numbers: USD1 -> USD0000001)
    assert sorted(req["filters"]["publication_numbers"]) == ["USD0000001", "USD0000002", "USD0000003"]
    assert req["group_by_patent"] is True and req["explain"] is True
    row = _watch_row(env, wid)
    assert row.high_water_seq == 8 and row.next_run_at is not None

    # nothing new: nothing searched, nothing reported
    assert runner.run_watch(wid, env, force=True, backend=fake).alert_ids == []
    # a matching patent re-ingested (new sequence number) is examined again but not reported twice
    _patents(env, ("USD1", 9, "folding chair v2"))
    again = runner.run_watch(wid, env, force=True, backend=fake)
    assert again.examined == 1 and again.alert_ids == [] and _alerts(env, wid) == ["USD1", "USD3"]
    with session_scope(env.resolved_database_url) as s:
        runs = s.scalars(select(WatchRun).where(WatchRun.watch_id == wid).order_by(WatchRun.id)).all()
        assert [(r.from_seq, r.to_seq, r.alerts_created, r.status) for r in runs] == [
            (5, 8, 2, "done"), (8, 8, 0, "done"), (8, 9, 0, "done")]


def test_thresholds_rank_and_score(env):
    wid_rank = _watch(env, max_rank=1)
    wid_score = _watch(env, min_score=2.0)
    _patents(env, ("USD1", 1, ""), ("USD2", 2, ""))
    fake = FakeSearch({"USD1": "chair", "USD2": "chair chair"})
    runner.run_watch(wid_rank, env, force=True, backend=fake)
    runner.run_watch(wid_score, env, force=True, backend=fake)
    assert _alerts(env, wid_rank) == ["USD2"]
    assert _alerts(env, wid_score) == ["USD2"]
    with session_scope(env.resolved_database_url) as s:
        alert = s.scalar(select(Alert).where(Alert.watch_id == wid_rank))
        assert alert.rank == 1 and alert.score == 2.0 and alert.reason["ingest_seq"] == 2


def test_a_failing_run_changes_nothing_and_is_retried(env):
    wid = _watch(env)
    _patents(env, ("USD1", 1, ""), ("USD2", 2, ""))
    fake = FakeSearch({"USD1": "chair", "USD2": "chair"})
    fake.fail_with = ConnectionError("search backend down")
    failed = runner.run_watch(wid, env, force=True, backend=fake)
    assert failed.status == "failed" and "search backend down" in failed.error
    row = _watch_row(env, wid)
    assert row.high_water_seq == 0 and _alerts(env, wid) == []
    with session_scope(env.resolved_database_url) as s:
        assert s.scalar(select(WatchRun.status).order_by(WatchRun.id.desc())) == "failed"
    fake.fail_with = None
    assert len(runner.run_watch(wid, env, force=True, backend=fake).alert_ids) == 2
    assert _watch_row(env, wid).high_water_seq == 2


def test_run_due_runs_only_due_active_watches(env):
    due = _watch(env)
    later = _watch(env)
    paused = _watch(env, active=False)
    past = utcnow() - dt.timedelta(seconds=5)
    with session_scope(env.resolved_database_url) as s:
        s.get(Watch, due).next_run_at = past
        s.get(Watch, paused).next_run_at = past
    _patents(env, ("USD1", 1, ""))
    summaries = runner.run_due(env, backend=FakeSearch({"USD1": "chair"}))
    assert [(x.watch_id, x.status) for x in summaries] == [(due, "done")]
    assert _alerts(env, due) == ["USD1"] and _alerts(env, later) == [] and _alerts(env, paused) == []
    assert runner.run_watch(later, env, backend=FakeSearch()).status == "not_due"
    # the due watch was rescheduled one schedule ahead
    nxt = _watch_row(env, due).next_run_at.replace(tzinfo=dt.UTC)
    assert nxt > utcnow() + dt.timedelta(seconds=3000)


def test_large_backlogs_run_in_batches_without_splitting_a_sequence(env, monkeypatch):
    monkeypatch.setattr(runner, "BATCH", 3)
    wid = _watch(env)
    # seq 3 is shared by two patents: a batch boundary must not fall between them
    rows = [("USD1", 1), ("USD2", 2), ("USD3", 3), ("USD4", 3), ("USD5", 4), ("USD6", 5), ("USD7", 6)]
    _patents(env, *[(p, s, "") for p, s in rows])
    fake = FakeSearch({p: "chair" for p, _ in rows})
    summary = runner.run_watch(wid, env, force=True, backend=fake)
    assert summary.examined == 7 and len(summary.alert_ids) == 7 and summary.to_seq == 6
    assert [len(r["filters"]["publication_numbers"]) for r in fake.requests] == [4, 3]
    with session_scope(env.resolved_database_url) as s:
        assert s.scalar(select(func.count(WatchRun.id))) == 2


def test_ingest_time_check_alerts_without_moving_the_mark(env, monkeypatch):
    sent = []
    monkeypatch.setattr("backend.monitoring.dispatch.enqueue_deliveries",
                        lambda ids, settings=None: sent.extend(ids) or len(ids))
    wid = _watch(env, webhook_url="http://127.0.0.1:9/hook")
    ranked = _watch(env, max_rank=5)
    _patents(env, ("USD1", 1, ""))
    fake = FakeSearch({"USD1": "chair"})
    ids = runner.check_new_document("USD1", env, backend=fake)
    assert len(ids) == 1 and sent == ids
    assert _alerts(env, wid) == ["USD1"] and _alerts(env, ranked) == []
    assert _watch_row(env, wid).high_water_seq == 0
    # the scheduled run sees the same patent and does not report it again
    assert runner.run_watch(wid, env, force=True, backend=fake).alert_ids == []
    assert runner.check_new_document("USD404", env, backend=fake) == []


def test_a_filing_not_yet_indexed_holds_the_mark_back(env):
    """Ingest commits the row before it writes the index: the run stops before such a filing."""
    wid = _watch(env)
    _patents(env, ("USD1", 1, ""), ("USD2", 2, ""), ("USD3", 3, ""), ("USD4", 4, ""))
    fake = FakeSearch({"USD1": "chair", "USD3": "chair", "USD4": "chair lamp"})  # USD2 not indexed yet
    fake.indexed_seq = {"USD1": 1, "USD3": 3, "USD4": 3}                          # USD4: old version
    summary = runner.run_watch(wid, env, force=True, backend=fake)
    assert summary.to_seq == 1 and _alerts(env, wid) == ["USD1"]
    row = _watch_row(env, wid)
    assert row.high_water_seq == 1
    assert row.next_run_at.replace(tzinfo=dt.UTC) <= utcnow() + dt.timedelta(seconds=31)
    # indexing catches up (USD2 does not match the watch; USD4 now indexed at its sequence number)
    fake.docs["USD2"] = "lamp"
    fake.indexed_seq.update(USD2=2, USD4=4)
    again = runner.run_watch(wid, env, force=True, backend=fake)
    assert again.to_seq == 4 and _alerts(env, wid) == ["USD1", "USD3", "USD4"]
