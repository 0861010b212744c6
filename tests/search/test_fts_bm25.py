"""The embedded backend ranks plain words from FTS5's postings in NumPy (backend/search/backends/embedded/fts_bm25.py):
the same scores, order, ties, totals and pages as SQLite's own ``bm25()`` (the SQL path, kept for
phrases and the query language), with column weights, stemming, German/French fields, updates and
deletions (FTS5's ranking was most of a query's time at 100,000 figures)."""
from __future__ import annotations

import numpy as np
import pytest

from backend.search.backends.embedded import fts_bm25, text_search
from backend.search.pipeline import filters as filters_mod
from backend.search.pipeline.candidates import Query
from backend.search.request import Filters

from .conftest import figure, unit

WORDS = ["pump", "pumps", "pumping", "housing", "valve", "rotor", "water", "wheel", "chair", "café", "naïve", "seat", "spring", "bracket", "gear", "shaft", "blade", "lamp", "hinge"]
QUERIES = ["pump", "pumping housing", "water water valve", "cafe", "naive seat", "gear shaft blade lamp",
           "spring", "the pump", "nothing", "rotor hinge bracket chair", "x_ray pump", "wheel",
           "Pumpe", "Schraube Kopf", "pompe", "Pumpe pump"]


def corpus(seed: int = 3, patents: int = 120) -> list[dict]:
    """Patents of 1-4 figures, random words in every text column (some descriptions of over 127 tokens: a
    two-byte size in FTS5's docsize), German or French texts on some, many tied scores."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(patents):
        pub = f"EP{1000000 + i}B1"

        def words(lo, hi):
            return " ".join(rng.choice(WORDS, size=int(rng.integers(lo, hi))))

        texts = {}
        if i % 5 == 0:
            texts["de"] = {"title": "Pumpe mit Schraube", "claims": "Kopf der Pumpe " * int(rng.integers(1, 4))}
        if i % 7 == 0:
            texts["fr"] = {"title": "pompe", "abstract": "une pompe et une roue"}
        extra = {"texts": texts, "language": "en"} if texts else {}
        long = words(130, 160) if i % 9 == 0 else words(0, 12)
        for n in range(1, 2 + i % 4):
            docs.append(figure(pub, n, unit(rng), title=words(1, 5), abstract=words(0, 20), claims=words(0, 30),
                               description=long, captions=[words(0, 6)], object_name=words(0, 2),
                               country="US" if i % 3 else "EP", **extra))
    return docs


@pytest.fixture
def embedded(make_settings):
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

    backend = EmbeddedBackend(make_settings(search_backend="embedded", search_dense_text=False))
    backend.index_figures(corpus())
    backend.refresh()
    return backend


def sql_only(backend, monkeypatch):
    monkeypatch.setattr(text_search, "plain_scores", lambda store, snap, query: None)


def plain_query(backend, text: str, group: bool = False, spec=None):
    from backend.search.pipeline.candidates import query_terms

    return Query(text, query_terms(text), None, spec or filters_mod.build(Filters()), 10, group, None,
                 other_languages=("de", "fr"))


def test_scores_equal_fts5_bm25(embedded):
    snap = embedded.snapshot()
    assert embedded.has_languages(snap), "the corpus has German/French rows"
    checked = 0
    for text in QUERIES:
        query = plain_query(embedded, text)
        fast = text_search.plain_scores(embedded, snap, query)
        rows = text_search.plain_rows(embedded, query)
        if "x_ray" in text:     # FTS5 makes a phrase of it: the SQL path answers
            assert fast is None
            continue
        pos, scores = fast
        want = {snap.figure_ids[p]: -r for p, r in zip(np.searchsorted(snap.ids, [r[0] for r in rows]),
                                                        [r[1] for r in rows])}
        got = {snap.figure_ids[p]: s for p, s in zip(pos.tolist(), scores.tolist())}
        assert got.keys() == want.keys(), text
        for fid, score in want.items():
            assert got[fid] == pytest.approx(score, rel=1e-12, abs=1e-12), (text, fid)
        checked += bool(want)
    assert checked >= 10


@pytest.mark.parametrize("group", [False, True], ids=["figures", "patents"])
@pytest.mark.parametrize("country", [None, "EP"])
def test_search_pages_equal_the_sql_path(embedded, monkeypatch, group, country):
    filters = {"countries": [country]} if country else {}

    def walk(text):
        out, cursor = [], None
        for _ in range(100):
            resp = embedded.search({"text": text, "group_by_patent": group, "filters": filters, "size": 7,
                                    "cursor": cursor}, window=10)
            out.append((resp.total, resp.total_relation, [(h.figure_id, h.score) for h in resp.hits]))
            cursor = resp.next_cursor
            if cursor is None:
                return out
        raise AssertionError("paging did not end")

    fast = {text: walk(text) for text in QUERIES}
    sql_only(embedded, monkeypatch)
    slow = {text: walk(text) for text in QUERIES}
    assert fast == slow
    assert sum(len(pages) > 1 for pages in fast.values()) >= 5, "the tail (past the window) is compared too"


def test_updates_and_deletions_keep_the_scores(embedded, monkeypatch):
    docs = corpus()
    embedded.search({"text": "pump"})            # postings of the old snapshot cached
    changed = [{**d, "title": "pump pump pump"} for d in docs[:30]]
    embedded.index_figures(changed)              # re-indexed: new FTS rows
    embedded.delete_patent(docs[-1]["publication_number"])
    embedded.refresh()
    fast = [embedded.search({"text": text, "size": 30}) for text in QUERIES]
    sql_only(embedded, monkeypatch)
    slow = [embedded.search({"text": text, "size": 30}) for text in QUERIES]
    for a, b in zip(fast, slow):
        assert (a.total, [(h.figure_id, h.score) for h in a.hits]) == (b.total, [(h.figure_id, h.score) for h in b.hits])
    assert docs[-1]["figure_id"] not in {h.figure_id for r in fast for h in r.hits}


def test_counts_and_matching_keys_equal_the_sql_path(embedded, monkeypatch):
    snap = embedded.snapshot()
    keys = sorted({d["publication_number"] for d in corpus()})[:40]
    spec = filters_mod.build(Filters.model_validate({"countries": ["US"]}))
    queries = [plain_query(embedded, t, group, spec) for t in QUERIES for group in (False, True)]
    fast = [embedded.text_count(q, keys if q.group else [snap.figure_ids[i] for i in range(0, 200, 5)])
            for q in queries]
    sql_only(embedded, monkeypatch)
    queries = [plain_query(embedded, t, group, spec) for t in QUERIES for group in (False, True)]
    slow = [embedded.text_count(q, keys if q.group else [snap.figure_ids[i] for i in range(0, 200, 5)])
            for q in queries]
    assert fast == slow
    assert any(count > 0 and matching for count, _rel, matching in fast)


def test_common_words_are_read_ahead(make_settings):
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

    backend = EmbeddedBackend(make_settings(search_backend="embedded", search_dense_text=False))
    backend.parallel_min_rows = 1      # what an index of 20,000 figures does
    backend.index_figures(corpus(patents=40))
    backend.refresh()
    snap = backend.snapshot()
    assert backend.prewarming is not None
    backend.prewarming.join(timeout=60)
    index = snap.text_index("figures_fts", "porter unicode61 remove_diacritics 2")
    cached = set(index._cache)
    assert {"pump", "valv", "hous"} <= cached           # stemmed, as FTS5 indexes them
    assert "the" not in cached and "a" not in cached     # stop words: queries drop them
    hits = backend.search({"text": "pumps valve"}).hits
    assert hits and {"pump", "valv"} <= set(index._cache)


def test_tokens_are_fts5s():
    import sqlite3

    conn = sqlite3.connect(":memory:")
    tokenize = "porter unicode61 remove_diacritics 2"
    assert fts_bm25.tokens(conn, tokenize, "Pumping") == ("pump",)
    assert fts_bm25.tokens(conn, tokenize, "naïve") == ("naiv",)
    assert fts_bm25.tokens(conn, tokenize, "x_ray") == ("x", "rai")
    assert fts_bm25.tokens(conn, tokenize, "--") == ()


def test_row_size_reads_multi_byte_varints():
    assert fts_bm25._row_size(bytes([3, 0, 5])) == 8
    assert fts_bm25._row_size(bytes([0x81, 0x00, 2])) == 128 + 2     # 128 = 0x81 0x00
    assert fts_bm25._row_size(bytes([0x82, 0x2C])) == 300


def test_grouped_top_widens_past_a_patent_with_many_figures(make_settings, monkeypatch):
    """The best 4 x window figures all belong to one patent: the grouped list reads further (``_top``)."""
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

    rng = np.random.default_rng(5)
    backend = EmbeddedBackend(make_settings(search_backend="embedded", search_dense_text=False))
    docs = [figure("US1000000B2", n, unit(rng), title="pump pump pump housing") for n in range(1, 61)]
    docs += [figure(f"US{2000000 + i}B2", 1, unit(rng), title="pump " + ("housing " * (i % 4))) for i in range(30)]
    backend.index_figures(docs)
    backend.refresh()
    query = plain_query(backend, "pump housing", group=True)
    fast = [(c.figure_id, c.score) for c in text_search.bm25(backend, backend.snapshot(), query, None)]
    assert len(fast) == 10 and fast[0][0].startswith("US1000000B2")
    sql_only(backend, monkeypatch)
    query = plain_query(backend, "pump housing", group=True)
    assert fast == [(c.figure_id, c.score) for c in text_search.bm25(backend, backend.snapshot(), query, None)]
