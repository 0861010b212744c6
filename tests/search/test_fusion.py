"""Fusion (shared by both backends) and the request model, without any backend."""
from __future__ import annotations

import pytest

from backend.search.pipeline.candidates import query_terms
from backend.search.pipeline.paging import Cursor, decode, encode
from backend.search.ranking.fusion import Ranked, rrf, weighted
from backend.search.request import SearchRequest


def test_rrf_by_hand():
    lists = {"bm25": [Ranked("a", 9.0), Ranked("b", 5.0), Ranked("c", 1.0)],
             "vector": [Ranked("c", 0.9), Ranked("a", 0.5)]}
    out = rrf(lists, {"bm25": 1.0, "vector": 1.0}, k=60)
    assert [f.key for f in out] == ["a", "c", "b"]
    assert out[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert out[1].score == pytest.approx(1 / 63 + 1 / 61)
    assert out[2].score == pytest.approx(1 / 62)
    assert out[0].share("bm25") == pytest.approx((1 / 61) / (1 / 61 + 1 / 62))


def test_rrf_ties_break_by_key_and_weights_apply():
    out = rrf({"bm25": [Ranked("b", 1)], "vector": [Ranked("a", 1)]}, {"bm25": 1, "vector": 1}, k=1)
    assert [f.key for f in out] == ["a", "b"]
    out = rrf({"bm25": [Ranked("b", 1)], "vector": [Ranked("a", 1)]}, {"bm25": 3, "vector": 1}, k=1)
    assert [f.key for f in out] == ["b", "a"] and out[0].score == pytest.approx(1.5)


def test_weighted_min_max():
    lists = {"bm25": [Ranked("a", 10.0), Ranked("b", 6.0), Ranked("c", 2.0)],
             "vector": [Ranked("b", 0.8), Ranked("c", 0.6), Ranked("a", 0.4)]}
    out = {f.key: f.score for f in weighted(lists, {"bm25": 1.0, "vector": 2.0})}
    assert out == pytest.approx({"a": 1.0, "b": 0.5 + 2.0, "c": 0.0 + 1.0})
    single = weighted({"bm25": [Ranked("x", 3.0)], "vector": []}, {"bm25": 1, "vector": 1})
    assert single[0].score == 1.0


def test_cursor_round_trip_and_tampering():
    c = encode(Cursor(40), "abc")
    assert decode(c, "abc") == Cursor(40)
    tail = encode(Cursor(140, (7.25, "US1-F2"), 133), "abc")
    assert decode(tail, "abc") == Cursor(140, (7.25, "US1-F2"), 133)
    from backend.search.errors import SearchError

    for bad, fp in ((c, "other"), ("!!notbase64", "abc"), (encode(Cursor(-1), "abc"), "abc")):
        with pytest.raises(SearchError):
            decode(bad, fp)


def test_query_terms_drop_stop_words():
    assert query_terms("The folding chair, with the armrest!") == ["folding", "chair", "armrest"]


def test_request_model_normalises_and_rejects():
    req = SearchRequest.model_validate({"text": " chair ", "filters": {
        "cpc": {"include": ["A47C0007620000"]}, "locarno": {"include": ["LOC (13) Cl. 06-01"]},
        "applicants": ["ACME, Inc."], "countries": ["us"], "publication_numbers": ["US 8,926,509 B2"]}})
    assert req.text == "chair"
    assert req.filters.cpc.include == ["A47C7/62"] and req.filters.locarno.include == ["06-01"]
    assert req.filters.applicants == ["acme"] and req.filters.countries == ["US"]
    assert req.filters.publication_numbers == ["US8926509B2"]
    from pydantic import ValidationError

    for bad in ({}, {"text": "x", "size": 0}, {"text": "x", "fusion": "sum"}, {"text": "x", "unknown": 1},
                {"text": "x", "filters": {"dates": {"filing": {"gte": "2021-01-01", "lte": "2020-01-01"}}}},
                {"vector": [0, 0]}, {"text": "x", "filters": {"cpc": {"include": ["Q12"]}}}):
        with pytest.raises(ValidationError):
            SearchRequest.model_validate(bad)
