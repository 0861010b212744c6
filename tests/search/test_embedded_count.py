"""The embedded backend counts the text matches without ranking them (FTS5 rowids only, no bm25): the
count and the keys it reports as matching are the same as from the ranked rows, grouped or not, with a
filter or without (the count was half the cost of a hybrid query at 100k figures)."""
from __future__ import annotations

import pytest

from backend.search.backends.embedded import text_search
from backend.search.pipeline import filters as filters_mod
from backend.search.pipeline.candidates import Query
from backend.search.request import Filters

from .test_paging import paging_corpus


@pytest.fixture
def embedded(make_settings):
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

    backend = EmbeddedBackend(make_settings(search_backend="embedded", search_dense_text=False))
    backend.index_figures(paging_corpus())
    backend.refresh()
    return backend


@pytest.mark.parametrize("group", [False, True], ids=["figures", "patents"])
@pytest.mark.parametrize("country", [None, "EP"])
def test_unranked_count_matches_the_ranked_rows(embedded, group, country):
    docs = paging_corpus()
    spec = filters_mod.build(Filters.model_validate({"countries": [country]} if country else {}))
    query = Query("water", ["water"], None, spec, 10, group, None)
    field = "publication_number" if group else "figure_id"
    want = {d[field] for d in docs if "water" in d["title"] and (country is None or d["country"] == country)}
    dry = {d[field] for d in docs if "water" not in d["title"]}
    keys = sorted(want)[:3] + sorted(dry)[:3]
    count, relation, matching = embedded.text_count(query, keys)
    assert (count, relation) == (len(want), "eq")
    assert matching == set(sorted(want)[:3])
    # the ranked rows (what the count read before) give the same set
    snap = embedded.snapshot()
    ranked = {snap.figure_ids[p] for p in snap.ids.searchsorted([r[0] for r in text_search.plain_rows(embedded, query)])}
    assert {d["figure_id"] for d in docs if "water" in d["title"]} == ranked
