"""Partial results: when Elasticsearch answers from some shards only (``_shards.failed`` > 0
or ``timed_out``), the search response says ``partial: true`` with the shard counts, and the CLI says
so. A fake Elasticsearch client stands in for the server here; the real thing (a node of a
three-node cluster killed) is in tests/ingest/test_cluster_faults.py. The embedded backend has no
shards: never partial."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from backend.search.index import index_admin
from backend.search.pipeline.shards import ShardReport

from .conftest import corpus_docs

INDEX = "fake-figures-v2-1"
FAILED_SHARDS = {"total": 3, "successful": 2, "skipped": 0, "failed": 1,
                 "failures": [{"shard": 1, "index": INDEX, "node": None,
                               "reason": {"type": "no_shard_available_action_exception", "reason": None}}]}
ALL_SHARDS = {"total": 3, "successful": 3, "skipped": 0, "failed": 0}


class _Resp(dict):
    @property
    def body(self):
        return self


class _Indices:
    def get_alias(self, name):
        return _Resp({INDEX: {"aliases": {name: {}}}})

    def get_mapping(self, index):
        return _Resp({INDEX: {"mappings": {"_meta": {"mapping_version": index_admin.MAPPING_VERSION},
                                           "properties": {"image_vector": {"dims": 8}}}}})


class FakeES:
    """Answers every search with the same two hits and the given ``_shards`` / ``timed_out``."""

    def __init__(self, shards: dict, timed_out: bool = False):
        self.shards, self.timed_out, self.indices = shards, timed_out, _Indices()

    def _result(self) -> dict:
        hits = [{"_id": d["figure_id"], "_score": 2.0 - i, "_source": d, "sort": [2.0 - i, d["figure_id"]]}
                for i, d in enumerate(corpus_docs()[:2])]
        return {"took": 3, "timed_out": self.timed_out, "_shards": self.shards, "hits": {"hits": hits}}

    def msearch(self, searches, filter_path=None):
        return _Resp({"responses": [self._result() for _ in searches[::2]]})

    def search(self, **_kwargs):
        return _Resp({**self._result(), "hits": {"hits": []}})

    def count(self, **_kwargs):
        return _Resp({"count": 2, "_shards": self.shards})

    def mget(self, index, ids, source):
        return _Resp({"docs": []})


def _search(make_settings, es: FakeES) -> dict:
    from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend

    settings = make_settings(search_backend="elasticsearch", es_index_prefix="fake", search_dense_text=False,
                             search_verify_top_k=0)
    return ElasticsearchBackend(settings, client=es).search({"text": "chair", "size": 5}).to_json()


def test_a_failed_shard_makes_the_response_partial_with_the_counts(make_settings):
    out = _search(make_settings, FakeES(FAILED_SHARDS))
    assert out["partial"] is True
    assert out["shards"] == {"total": 3, "successful": 2, "skipped": 0, "failed": 1, "timed_out": False,
                             "failure_reasons": ["no_shard_available_action_exception"]}
    assert [h["figure_id"] for h in out["hits"]]          # what the other shards found is still there


def test_a_timed_out_search_is_partial(make_settings):
    out = _search(make_settings, FakeES(ALL_SHARDS, timed_out=True))
    assert out["partial"] is True and out["shards"]["timed_out"] is True and out["shards"]["failed"] == 0


def test_all_shards_answering_is_not_partial(make_settings):
    out = _search(make_settings, FakeES({**ALL_SHARDS, "skipped": 2}))   # skipped shards cannot match
    assert out["partial"] is False
    assert "shards" not in out


def test_the_embedded_backend_is_never_partial(make_settings):
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

    backend = EmbeddedBackend(make_settings(search_backend="embedded", search_dense_text=False))
    backend.index_figures(corpus_docs())
    out = backend.search({"text": "chair"}).to_json()
    assert out["hits"] and out["partial"] is False and "shards" not in out


def test_the_report_keeps_the_worst_of_several_searches():
    report = ShardReport()
    report.add({"_shards": ALL_SHARDS, "timed_out": False})
    report.add({"_shards": FAILED_SHARDS, "timed_out": False})
    report.add({"_shards": ALL_SHARDS, "timed_out": False})
    assert (report.total, report.successful, report.failed, report.partial) == (3, 2, 1, True)
    assert "1 of 3 shards failed" in report.describe()


@pytest.mark.parametrize("partial", [True, False])
def test_the_cli_says_when_results_are_partial(monkeypatch, make_settings, partial):
    from backend.search import service
    from backend.search.search_cli import search_command

    make_settings()
    answer = {"total": 1, "total_relation": "eq", "parsed_query": "chair", "partial": partial,
              "hits": [{"publication_number": "USD0000001", "figure_number": 1, "score": 0.5, "title": "Chair"}]}
    if partial:
        answer["shards"] = {"total": 3, "successful": 2, "skipped": 0, "failed": 1, "timed_out": False}
    monkeypatch.setattr(service, "search", lambda body, settings: answer)
    result = CliRunner().invoke(search_command, ["chair"])
    assert result.exit_code == 0, result.output
    line = "warning: partial results: 1 of 3 shards failed (some matches may be missing)"
    assert (line in result.output) is partial
    as_json = CliRunner().invoke(search_command, ["chair", "--json"])
    assert json.loads(as_json.output)["partial"] is partial
