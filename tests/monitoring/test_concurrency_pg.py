"""Races on real PostgreSQL: two workers on one watch, a worker dying mid-run, duplicate inserts."""
import threading

import pytest
from sqlalchemy import select

from backend.auth.keys import ANONYMOUS
from backend.cli_db import upgrade_database
from backend.db.models import Alert, Watch
from backend.db.session import session_scope
from backend.monitoring import runner
from backend.monitoring.alerts import insert_alerts
from backend.monitoring.watches import create_watch
from tests.monitoring.helpers import FakeSearch, put_patent

pytestmark = pytest.mark.services


@pytest.fixture
def env(make_settings, pg_database):
    settings = make_settings(database_url=pg_database, watch_min_schedule_s=1)
    upgrade_database(pg_database)
    with session_scope(pg_database) as s:
        data = {"name": "w", "query": {"text": "chair"}, "schedule_s": 60}
        wid = create_watch(s, settings, ANONYMOUS, data)["id"]
        for i in range(1, 6):
            put_patent(s, f"USD{i}", i, "")
    return settings, wid


def _alerts(url, wid):
    with session_scope(url) as s:
        return sorted(s.scalars(select(Alert.publication_number).where(Alert.watch_id == wid)))


def test_a_second_worker_skips_a_watch_that_is_being_run(env):
    settings, wid = env
    entered, release = threading.Event(), threading.Event()
    slow = FakeSearch({f"USD{i}": "chair" for i in range(1, 6)})

    def hold(_body):
        entered.set()
        assert release.wait(30)

    slow.on_search = hold
    results = {}
    first = threading.Thread(
        target=lambda: results.setdefault("a", runner.run_watch(wid, settings, force=True, backend=slow)))
    first.start()
    assert entered.wait(30)
    # while the first run holds the row lock, a racing run skips the watch instead of waiting
    results["b"] = runner.run_watch(wid, settings, force=True, backend=FakeSearch({"USD1": "chair"}))
    release.set()
    first.join(30)
    assert results["b"].status == "locked" and results["b"].alert_ids == []
    assert results["a"].status == "done" and len(results["a"].alert_ids) == 5
    assert _alerts(settings.resolved_database_url, wid) == [f"USD{i}" for i in range(1, 6)]


def test_a_worker_dying_mid_run_leaves_the_watch_untouched(env):
    settings, wid = env

    class Died(BaseException):
        """Stands in for the process being killed between search and commit."""

    fake = FakeSearch({f"USD{i}": "chair" for i in range(1, 6)})

    def die(_body):
        raise Died()

    fake.on_search = die
    with pytest.raises(Died):
        runner.run_watch(wid, settings, force=True, backend=fake)
    with session_scope(settings.resolved_database_url) as s:
        assert s.get(Watch, wid).high_water_seq == 0
    assert _alerts(settings.resolved_database_url, wid) == []
    fake.on_search = None
    assert len(runner.run_watch(wid, settings, force=True, backend=fake).alert_ids) == 5
    assert len(runner.run_watch(wid, settings, force=True, backend=fake).alert_ids) == 0


def test_insert_on_conflict_reports_only_new_rows(env):
    settings, wid = env
    hits = [{"publication_number": "USD1", "score": 1.0, "rank": 1},
            {"publication_number": "USD2", "rank": 2}]
    with session_scope(settings.resolved_database_url) as s:
        watch = s.get(Watch, wid)
        assert len(insert_alerts(s, watch, hits)) == 2
    with session_scope(settings.resolved_database_url) as s:
        watch = s.get(Watch, wid)
        more = hits + [{"publication_number": "USD3", "rank": 3}]
        assert len(insert_alerts(s, watch, more)) == 1
    assert _alerts(settings.resolved_database_url, wid) == ["USD1", "USD2", "USD3"]
