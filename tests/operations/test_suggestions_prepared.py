"""The classification suggestions of the query box (GET /classifications/suggest by title words) answer the
first call of a serving process from a title-word index its warm-up built, not by building it then."""
from __future__ import annotations

import pytest

from backend import warmup
from backend.classification.catalog import cpc_catalog


def _titles(folder):
    folder.mkdir()
    (folder / "cpc-section-A_20220801.txt").write_text(
        "A\t\tHUMAN NECESSITIES\r\n"
        "A47\t\tFURNITURE; DOMESTIC ARTICLES OR APPLIANCES\r\n"
        "A47C\t\tCHAIRS; SOFAS; BEDS\r\n"
        "A47C1/00\t0\tChairs adapted for special purposes\r\n"
        "A47C7/00\t0\tParts, details, or accessories of chairs or stools\r\n", encoding="utf-8")
    return folder


@pytest.fixture
def fresh_catalogs():
    cpc_catalog.cache_clear()
    warmup._set(status="cold")
    yield
    cpc_catalog.cache_clear()
    warmup._set(status="cold")


def test_without_warm_up_the_first_word_suggestion_builds_the_index(make_settings, fresh_catalogs, tmp_path):
    settings = make_settings(cpc_titles_dir=_titles(tmp_path / "titles"))
    catalog = cpc_catalog(str(settings.cpc_titles_dir))
    assert not catalog.prepared and catalog.index_builds == 0
    from backend.search import service

    assert [s["symbol"] for s in service.suggest("chair", "cpc", settings)][:1] == ["A47C"]
    assert catalog.index_builds == 1


def test_a_serving_process_prepares_the_suggestions_at_start(make_settings, fresh_catalogs, tmp_path, monkeypatch):
    settings = make_settings(cpc_titles_dir=_titles(tmp_path / "titles"))
    from backend.app import create_app
    from backend.cli_db import upgrade_database

    upgrade_database(settings.resolved_database_url)
    client = create_app(settings).test_client()
    monkeypatch.setattr(warmup, "warm_up", lambda settings, pipeline=None, search=False: {"seconds": 0.0})
    started = warmup.prepare_suggestions_in_background
    monkeypatch.setattr(warmup, "prepare_suggestions_in_background", lambda s: _joined(started(s)))
    warmup.start_background(settings, search=True).join(30)
    catalog = cpc_catalog(str(settings.cpc_titles_dir))
    assert catalog.prepared and catalog.index_builds == 1

    resp = client.get("/classifications/suggest?q=chairs&scheme=cpc")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    symbols = [s["symbol"] for s in resp.json["items"]]
    assert symbols[:3] == ["A47C", "A47C1/00", "A47C7/00"]
    assert catalog.index_builds == 1      # served from the prepared index: the request built nothing


def test_an_ingest_worker_does_not_prepare_suggestions(make_settings, fresh_catalogs, tmp_path, monkeypatch):
    settings = make_settings(cpc_titles_dir=_titles(tmp_path / "titles"))
    monkeypatch.setattr(warmup, "warm_up", lambda settings, pipeline=None, search=False: {"seconds": 0.0})
    warmup.start_background(settings).join(30)
    assert not cpc_catalog(str(settings.cpc_titles_dir)).prepared


def _joined(thread):
    thread.join(30)
    return thread
