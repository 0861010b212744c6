"""Versioned ES index behind an alias: create, refuse a wrong version, zero-downtime reindex, lock, CLI."""
from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from backend.search.errors import IndexVersionError, ReindexInProgress
from backend.search.index import index_admin
from tests.search.conftest import DIMS, corpus_docs

pytestmark = pytest.mark.services


@pytest.fixture
def es_settings(make_settings, es_url):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index_prefix=prefix)
    es = index_admin.make_client(settings)
    yield settings, es
    index_admin.delete_all(es, prefix)


def _old_version_index(es, prefix: str, docs: list[dict]) -> str:
    """An index of mapping 'version 0' behind the alias, holding ``docs``."""
    from backend.search.index.documents import prepare

    body = index_admin.definition_for(es, DIMS)
    body["mappings"]["_meta"]["mapping_version"] = 0
    name = f"{index_admin.alias_name(prefix)}-v0-old"
    es.indices.create(index=name, settings=body["settings"],
                      mappings=body["mappings"], aliases={index_admin.alias_name(prefix): {}})
    for doc in docs:
        src = {k: v for k, v in prepare(doc, DIMS).items() if v is not None}
        es.index(index=name, id=doc["figure_id"], document=src)
    es.indices.refresh(index=name)
    return name


def test_create_puts_a_versioned_index_behind_the_alias(es_settings):
    settings, es = es_settings
    name = index_admin.ensure_index(es, settings, dims=DIMS)
    prefix = settings.es_index_prefix
    assert name.startswith(f"{prefix}-figures-v{index_admin.MAPPING_VERSION}-")
    assert index_admin.concrete_indices(es, f"{prefix}-figures") == [name]
    assert index_admin.ensure_index(es, settings) == name           # idempotent
    mapping = es.indices.get_mapping(index=name)[name]["mappings"]
    assert mapping["dynamic"] == "strict" and mapping["_meta"]["mapping_version"] == index_admin.MAPPING_VERSION
    assert mapping["properties"]["image_vector"]["dims"] == DIMS
    assert mapping["properties"]["image_vector"]["index_options"]["type"] == "int8_hnsw"


def test_wrong_mapping_version_is_refused_then_fixed_by_reindex(es_settings):
    from backend.app import create_app
    from backend.search import get_backend
    from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend

    settings, es = es_settings
    docs = corpus_docs()
    old = _old_version_index(es, settings.es_index_prefix, docs)
    with pytest.raises(IndexVersionError, match="prism index reindex"):
        ElasticsearchBackend(settings)
    with pytest.raises(IndexVersionError, match="mapping version 0"):
        create_app(settings)
    result = index_admin.reindex(es, settings)
    assert result["old"] == [old] and result["documents"] == len(docs) and result["dims"] == DIMS
    assert not es.indices.exists(index=old)
    assert index_admin.concrete_indices(es, index_admin.alias_name(settings.es_index_prefix)) == [result["new"]]
    backend = get_backend(settings)
    assert backend.count() == len(docs)
    assert backend.search({"text": "semiconductor"}).total == 2
    create_app(settings)  # starts now


def test_failed_reindex_leaves_the_alias_and_drops_the_new_index(es_settings):
    settings, es = es_settings
    old = _old_version_index(es, settings.es_index_prefix, corpus_docs()[:2])
    with pytest.raises(Exception):  # noqa: B017 - whichever error the bulk write raises, the alias must stay
        index_admin.reindex(es, settings, dims=DIMS + 1)   # 8-dim vectors do not fit a 9-dim mapping
    alias = index_admin.alias_name(settings.es_index_prefix)
    assert index_admin.concrete_indices(es, alias) == [old]
    leftovers = [i for i in es.indices.get(index=f"{alias}-v{index_admin.MAPPING_VERSION}-*").body]
    assert leftovers == []
    assert not es.indices.exists(index=index_admin.lock_name(settings.es_index_prefix))


def test_a_second_reindex_is_kept_out(es_settings):
    settings, es = es_settings
    index_admin.ensure_index(es, settings, dims=DIMS)
    es.indices.create(index=index_admin.lock_name(settings.es_index_prefix))
    with pytest.raises(ReindexInProgress, match="--break-lock"):
        index_admin.reindex(es, settings)
    result = index_admin.reindex(es, settings, break_lock=True)
    assert result["new"].startswith(f"{settings.es_index_prefix}-figures-v{index_admin.MAPPING_VERSION}-")


def test_cli_create_status_reindex(es_settings):
    from backend.cli import _register, cli

    settings, es = es_settings
    _register()
    runner = CliRunner()
    out = runner.invoke(cli, ["index", "status", "--json"])
    assert out.exit_code == 1 and json.loads(out.stdout)["indices"] == []
    out = runner.invoke(cli, ["index", "create", "--dims", str(DIMS)])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["index", "reindex"])
    assert out.exit_code == 0 and f"mapping v{index_admin.MAPPING_VERSION}, dims 8" in out.output
    out = runner.invoke(cli, ["index", "status", "--json"])
    info = json.loads(out.stdout)
    assert info["ok"] and info["indices"][0]["dims"] == DIMS
    # usable by this version, but its 8-dim vectors are not the encoder's: stale, exit 1 (test_reembed.py)
    assert out.exit_code == 1 and info["stale"] and "prism index reembed" in out.stderr


def test_reindex_carries_over_writes_made_while_it_copies(es_settings, monkeypatch):
    """Ingest goes on during a reindex: an addition, a re-ingest and a deletion made while the copy runs,
    and an addition that reaches the old index just before the alias swap, all end up in the new index."""
    from backend.search import get_backend
    from backend.search.index.documents import prepare

    settings, es = es_settings
    docs = corpus_docs()
    old = _old_version_index(es, settings.es_index_prefix, docs)
    alias = index_admin.alias_name(settings.es_index_prefix)

    def write(index, doc):
        es.index(index=index, id=doc["figure_id"], document={k: v for k, v in prepare(doc, DIMS).items()
                                                            if v is not None})

    added = {**docs[0], "figure_id": "USD0000999-F1", "publication_number": "USD0000999",
             "title": "zeppelin mooring mast", "ingest_seq": 99}
    reingested = {**docs[1], "title": "hovercraft skirt", "ingest_seq": 100}
    deleted = docs[2]["figure_id"]
    late = {**docs[0], "figure_id": "USD0000998-F1", "publication_number": "USD0000998",
            "title": "gyrocopter rotor", "ingest_seq": 101}

    def during_copy(done, total):
        if done == total:            # the bulk copy has finished reading the old index
            write(alias, added)
            write(alias, reingested)
            es.delete(index=alias, id=deleted)

    swap = es.indices.update_aliases

    def swap_then_late_write(**kw):
        write(old, late)             # sent to the old index an instant before the swap
        return swap(**kw)

    monkeypatch.setattr(es.indices, "update_aliases", swap_then_late_write)
    result = index_admin.reindex(es, settings, progress=during_copy)
    assert not es.indices.exists(index=old)
    backend = get_backend(settings)
    assert backend.count() == len(docs) + 1   # + added + late - deleted
    assert backend.get_figure(deleted) is None
    assert backend.get_figure(added["figure_id"])["title"] == "zeppelin mooring mast"
    assert backend.get_figure(reingested["figure_id"])["title"] == "hovercraft skirt"
    assert backend.get_figure(late["figure_id"])["title"] == "gyrocopter rotor"
    assert result["new"] == index_admin.concrete_indices(es, alias)[0]
