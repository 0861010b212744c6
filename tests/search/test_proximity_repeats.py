"""A word repeated inside NEAR/ADJ or a "phrase"~n means as many different occurrences of it, within the
distance, on both backends (FTS5's NEAR alone lets one occurrence stand for both)."""
from __future__ import annotations

import pytest

from tests.search.conftest import figure
from tests.search.test_query_language_differential import answer

pytestmark = pytest.mark.services

DOCS = {
    "US2000001B1": "razor strop hone razor",     # two razors, two words between
    "US2000002B1": "one razor only",
    "US2000003B1": "view view",
    "US2000004B1": "front view",
    "US2000005B1": "view side top view",
    "US2000006B1": "razor blade razor blade razor",
}

CASES = {
    '"razor razor"~3': {"US2000001B1", "US2000006B1"},
    '"razor razor"~1': {"US2000006B1"},
    '"razor razor"~0': set(),
    '"razor razor razor"~2': {"US2000006B1"},
    '"razor blade razor"~0': {"US2000006B1"},
    "view NEAR/0 view": {"US2000003B1"},
    "view NEAR/2 view": {"US2000003B1", "US2000005B1"},
    "view ADJ/2 view": {"US2000003B1", "US2000005B1"},
    "razor NEAR/0 razor": set(),
    '"razor blade" NEAR/0 razor': {"US2000006B1"},
}


@pytest.fixture
def repeats(make_settings, es_url, monkeypatch):
    import uuid

    from backend.search import get_backend
    from backend.search.index import index_admin

    monkeypatch.setenv("PRISM_SEARCH_DENSE_TEXT", "false")
    docs = [figure(pub, 1, None, title="Shaving set", description=text) for pub, text in DOCS.items()]
    embedded = get_backend(make_settings(search_backend="embedded"))
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index_prefix=prefix)
    es = index_admin.make_client(settings)
    index_admin.create_index(es, prefix, 8)
    try:
        elastic = get_backend(settings)
        for backend in (embedded, elastic):
            backend.index_figures(docs)
            backend.refresh()
        yield embedded, elastic
    finally:
        index_admin.delete_all(es, prefix)


@pytest.mark.parametrize("query", list(CASES))
def test_repeated_words_need_distinct_occurrences_on_both_backends(repeats, query):
    embedded, elastic = repeats
    assert answer(embedded, query) == CASES[query], "embedded"
    assert answer(elastic, query) == CASES[query], "elasticsearch"
