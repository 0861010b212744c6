"""``prism backup`` / ``prism restore`` on the distributed setup: PostgreSQL (pg_dump / pg_restore), an
Elasticsearch snapshot in a filesystem repository inside the set, the blob store. A set restored into a new
database, index prefix and blob folder answers the same searches; a damaged one is refused and leaves the
installation empty."""
from __future__ import annotations

import shutil
import uuid

import pytest
import requests

from backend import devservices
from backend.backup import BackupError, backup, restore
from backend.cli_db import upgrade_database
from tests.operations.test_backup_embedded import ingest_three, results

pytestmark = pytest.mark.services


@pytest.fixture
def snapshot_root(es_url):
    """A folder under the node's path.repo for this test's set (removed afterwards)."""
    settings = requests.get(f"{es_url}/_nodes/settings", timeout=10).json()
    repos = {r for node in settings["nodes"].values() for r in node["settings"].get("path", {}).get("repo", [])}
    if str(devservices.ES_SNAPSHOTS) not in repos:
        pytest.skip(f"the Elasticsearch node at {es_url} has no path.repo {devservices.ES_SNAPSHOTS} (started before "
                    f"it was configured): `prism services down es && prism services up es`")
    folder = devservices.ES_SNAPSHOTS / f"test-{uuid.uuid4().hex[:10]}"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def second_pg_database(pg_url):
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = devservices.ensure_pg_database(name)
    yield url
    from backend.db.session import get_engine

    get_engine(url).dispose()
    devservices.drop_pg_database(name)


def _settings(make_settings, tmp_path, es_url, database_url, name):
    settings = make_settings(data_dir=tmp_path / name, database_url=database_url, search_backend="elasticsearch",
                             es_url=es_url, es_index_prefix=f"bk{uuid.uuid4().hex[:10]}")
    upgrade_database(database_url)
    return settings


def _drop(settings):
    from elasticsearch import Elasticsearch

    Elasticsearch(settings.es_url).indices.delete(index=f"{settings.es_index_prefix}*", ignore_unavailable=True,
                                                  allow_no_indices=True)


def test_restore_into_a_new_database_and_index_answers_the_same_searches(make_settings, tmp_path, es_url,
                                                                        pg_database, second_pg_database,
                                                                        snapshot_root):
    from elasticsearch import Elasticsearch

    office = _settings(make_settings, tmp_path, es_url, pg_database, "office")
    fresh = _settings(make_settings, tmp_path, es_url, second_pg_database, "restored")
    es = Elasticsearch(es_url)
    try:
        ingest_three(office)
        before = results(office)
        assert all(hits for hits in before)
        made = backup(office, snapshot_root)
        manifest = made.manifest
        assert manifest["record"]["kind"] == "postgresql" and manifest["record"]["counts"]["patents"] == 3
        assert manifest["index"]["kind"] == "elasticsearch" and manifest["index"]["figures"] >= 6
        assert any(name.startswith("index/es-repo/") for name in manifest["files"])

        # a damaged set first: refused, and the fresh installation stays empty
        damaged = snapshot_root.parent / f"{snapshot_root.name}-damaged"
        shutil.copytree(snapshot_root, damaged)
        try:
            dump = damaged / "record" / "prism.pgdump"
            dump.write_bytes(dump.read_bytes()[:1000])
            with pytest.raises(BackupError, match="truncated or damaged"):
                restore(fresh, damaged)
        finally:
            shutil.rmtree(damaged, ignore_errors=True)
        assert not es.indices.exists(index=f"{fresh.es_index_prefix}*", allow_no_indices=False)

        restore(fresh, snapshot_root)
        assert results(fresh) == before
        from backend.search import service

        data, _mime, _key = service.figure_blob("USD0999502-F1", "image", fresh)
        assert len(data) > 100
        with pytest.raises(BackupError, match="already holds data"):
            restore(fresh, snapshot_root)
    finally:
        _drop(office)
        _drop(fresh)
