"""The grouped BM25 list of Elasticsearch without ``collapse``: the ungrouped top window x
(figures a group, learnt) figures, the first of each patent/family kept, read on with ``search_after`` while
they hold fewer than window groups, and the collapse query past MAX_OVERFETCH figures. It must equal what
``collapse`` returns, on the real node, on an index where patents have many figures (up to 30; most of them
tie on the patent's text)."""
from __future__ import annotations

import numpy as np
import pytest

from backend.search import query_language
from backend.search.backends.elasticsearch import grouped_text
from backend.search.pipeline import filters as filters_mod
from backend.search.pipeline.candidates import Query, query_terms
from backend.search.request import Filters

from .conftest import elasticsearch_with, figure, unit

WORDS = ["valve", "pump", "housing", "rotor", "seal"]


def many_figure_corpus() -> list[dict]:
    """60 patents of 1-30 figures; titles repeat 1-3 of WORDS, figure descriptions differ; 3 patents a family."""
    rng = np.random.default_rng(11)
    docs = []
    for i in range(60):
        pub = f"US{7000000 + i}B2"
        title = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(1 + i % 3)) + " assembly"
        for n in range(1, 2 + (i * 7) % 30):
            docs.append(figure(pub, n, unit(rng), title=title, family_id=f"FAM{i // 3}",
                               description=f"FIG. {n} is a view of the {WORDS[n % len(WORDS)]}"))
    return docs


@pytest.fixture
def es(backend):
    return elasticsearch_with(backend, many_figure_corpus(), "the embedded backend groups its own ranked list", 300)


def grouped_query(text: str, window: int, group_field: str) -> Query:
    parsed = query_language.parse(text)
    node = None if parsed.plain else parsed.node
    terms = query_language.query_words(node) if node is not None else query_terms(text)
    return Query(text, terms, None, filters_mod.build(Filters()), window, True, None, node, group_field)


def listed(cands) -> list[tuple]:
    return [(c.figure_id, c.publication_number, c.score, c.family_id, sorted(c.cpc_subclass)) for c in cands]


def reads(monkeypatch, es) -> tuple[list[int], list[int]]:
    """(sizes of the BM25 searches that read on, windows of the collapse queries) while the test runs."""
    more, fallbacks = [], []
    collapsed, search = es._collapsed_text, es.es.search
    monkeypatch.setattr(es, "_collapsed_text", lambda q: fallbacks.append(q.window) or collapsed(q))
    monkeypatch.setattr(es.es, "search", lambda **kw: more.append(kw["size"]) or search(**kw))
    return more, fallbacks


@pytest.mark.parametrize("group_field", ["publication_number", "family_id"])
@pytest.mark.parametrize("text", ["valve rotor", 'ti:pump AND (valve OR "seal assembly")'], ids=["plain", "language"])
def test_grouped_bm25_list_equals_collapse(es, monkeypatch, text, group_field):
    more, fallbacks = reads(monkeypatch, es)
    for window in (5, 10, 40):
        query = grouped_query(text, window, group_field)
        want = es._collapsed_text(query)
        assert 0 < len(want) <= window
        keys = [c.key(group_field) for c in want]
        assert len(keys) == len(set(keys))           # collapse: one figure a group
        # the first read holds the window's groups: no other query
        monkeypatch.setattr(es.figures_per_group, "value", 30.0)
        monkeypatch.setattr(grouped_text, "GROUP_OVERFETCH", 30)
        more.clear(), fallbacks.clear()
        got = es.retrieve(query)[0]
        assert listed(got) == listed(want)
        assert more == fallbacks == []
        assert all(c.source is None for c in got)    # doc values only: the page hydrates its hits
        # one figure a group read first: the top figures belong to few patents (many figures each), so
        # the first read is full with fewer groups than the window -> read on with search_after
        monkeypatch.setattr(es.figures_per_group, "value", 0.0)
        monkeypatch.setattr(grouped_text, "MIN_OVERFETCH", 1.0)
        more.clear(), fallbacks.clear()
        assert listed(es.retrieve(query)[0]) == listed(want)
        assert more and set(more) == {window} and fallbacks == []
        # ... and past MAX_OVERFETCH figures read, the collapse query answers
        monkeypatch.setattr(grouped_text, "MAX_OVERFETCH", window + 1)
        monkeypatch.setattr(es.figures_per_group, "value", 0.0)
        more.clear(), fallbacks.clear()
        assert listed(es.retrieve(query)[0]) == listed(want)
        assert more == [1, window] and fallbacks == [window]     # one read on, then the collapse query
        monkeypatch.setattr(grouped_text, "MAX_OVERFETCH", 10_000)


def test_figures_per_group_are_learnt_from_the_searches(es, monkeypatch):
    """The first read's size follows what the backend's searches needed: from GROUP_OVERFETCH per group
    towards this corpus's figures per kept patent (plus the margin), never the list itself."""
    query = grouped_query("valve rotor", 10, "publication_number")
    want = listed(es._collapsed_text(query))
    sizes = []
    for _ in range(30):
        sizes.append(es._bodies(query)[0][1]["size"])
        assert listed(es.retrieve(query)[0]) == want
    assert sizes[0] == 10 * grouped_text.GROUP_OVERFETCH
    assert sizes[-1] < sizes[0]
    # the 10 patents' first figures: the average it converges to
    needed = es._grouped_body(query, {"match_all": {}})["size"]
    assert needed == sizes[-1] >= 10 * grouped_text.MIN_OVERFETCH


def test_grouped_bm25_list_reads_every_match_when_the_over_fetch_is_not_full(es, monkeypatch):
    """Fewer matches than the first read: it holds them all (no other query) and gives every matching
    patent once, as collapse does."""
    more, fallbacks = reads(monkeypatch, es)
    query = grouped_query("ti:seal", 100, "publication_number")
    want = es._collapsed_text(query)
    matching = {d["publication_number"] for d in many_figure_corpus() if "seal" in d["title"]}
    assert {c.publication_number for c in want} == matching and len(want) < 100
    more.clear(), fallbacks.clear()
    assert listed(es.retrieve(query)[0]) == listed(want)
    assert more == fallbacks == []


def test_grouped_search_pages_are_those_of_collapse(es, monkeypatch):
    """Through the whole pipeline (hydration of the doc-value candidates, fusion, tail): the same pages."""
    body = {"text": "valve rotor", "group_by_patent": True, "size": 7}

    def pages() -> list[list[tuple]]:
        out, cursor = [], None
        for _ in range(20):
            resp = es.search({**body, "cursor": cursor}, window=10)
            out.append([(h.figure_id, h.title, h.score, h.description) for h in resp.hits])
            cursor = resp.next_cursor
            if cursor is None:
                return out
        raise AssertionError("the pages did not end")

    got = pages()
    monkeypatch.setattr(es, "_grouped_text", lambda query, hits, b: es._collapsed_text(query))
    assert got == pages()
    assert all(title for page in got for _fid, title, _s, _d in page)


def test_over_fetch_stays_within_the_result_window(es):
    """A large rank window: the first read asks for at most index.max_result_window figures (the rest is
    read on with search_after, then the collapse query)."""
    text = {"match_all": {}}
    assert es._grouped_body(grouped_query("valve", 100, "family_id"), text)["size"] == \
        100 * grouped_text.GROUP_OVERFETCH
    assert es._grouped_body(grouped_query("valve", 5000, "family_id"), text)["size"] == \
        grouped_text.MAX_OVERFETCH == 10_000
