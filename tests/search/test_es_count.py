"""Elasticsearch counts the text matches in one ``_msearch``: grouped, a ``terms`` aggregation
whose buckets are counted by ``stats_bucket`` and never sent; past ``TERMS_COUNT`` patents hash partitions
of them, each one such aggregation; past that the composite pages as before. Both give the exact number and the same matching keys, on the real node."""
from __future__ import annotations

import pytest

from backend.search.backends.elasticsearch import counting
from backend.search.pipeline import filters as filters_mod
from backend.search.pipeline.candidates import Query
from backend.search.request import Filters

from .conftest import elasticsearch_with
from .test_paging import paging_corpus


@pytest.fixture
def es(backend):
    return elasticsearch_with(backend, paging_corpus(), "the embedded count is tested in test_embedded_count.py")


@pytest.mark.parametrize("group", [False, True], ids=["figures", "patents"])
@pytest.mark.parametrize("country", [None, "EP"])
def test_count_is_exact_by_terms_and_by_composite_pages(es, monkeypatch, group, country):
    docs = paging_corpus()
    spec = filters_mod.build(Filters.model_validate({"countries": [country]} if country else {}))
    field = "publication_number" if group else "figure_id"
    want = {d[field] for d in docs if "water" in d["title"] and (country is None or d["country"] == country)}
    dry = {d[field] for d in docs if "water" not in d["title"]}
    keys = sorted(want)[:3] + sorted(dry)[:3]

    def count():
        return es.text_count(Query("water", ["water"], None, spec, 10, group, None), keys)

    assert count() == (len(want), "eq", set(sorted(want)[:3]))
    if group and len(want) > 100:   # more than one terms aggregation holds: hash partitions count them
        monkeypatch.setattr(counting, "TERMS_COUNT", 100)
        partitioned, seen = es._partitioned_count, []
        monkeypatch.setattr(es, "_partitioned_count", lambda *a: seen.append(partitioned(*a)) or seen[-1])
        assert count() == (len(want), "eq", set(sorted(want)[:3]))
        assert seen == [(len(want), False)]       # the partitions counted (not the composite pages)
    # more than the partitions hold: the composite pages count them
    monkeypatch.setattr(counting, "TERMS_COUNT", 7)
    monkeypatch.setattr(counting, "COUNT_PAGE", 50)
    assert count() == (len(want), "eq", set(sorted(want)[:3]))
    if group and len(want) > 100:   # past MAX_COUNT_PAGES pages the count is a lower bound, as before
        monkeypatch.setattr(counting, "MAX_COUNT_PAGES", 2)
        assert count() == (100, "gte", set(sorted(want)[:3]))
        # full partitions already hold that many: the same lower bound without the pages
        monkeypatch.setattr(counting, "TERMS_COUNT", 40)
        assert count() == (100, "gte", set(sorted(want)[:3]))
