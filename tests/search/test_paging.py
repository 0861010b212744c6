"""Every match is reachable: ``total`` counts the fused head and the whole text ranking behind it, and
pages walk all of it (search_after on Elasticsearch, a keyset on the embedded backend) - no repeats,
no gaps - on both backends, grouped or not, text-only or hybrid, with a filter."""
from __future__ import annotations

import numpy as np
import pytest

from tests.search.conftest import figure, indexed, unit

WINDOW = 10
N_PATENTS = 400


def paging_corpus() -> list[dict]:
    """400 patents, 1-3 figures each; 3 of 4 patents mention water (1-3 times: many tied scores)."""
    rng = np.random.default_rng(7)
    docs = []
    for i in range(N_PATENTS):
        pub = f"US{9000000 + i}B2"
        wet = i % 4 != 0
        title = ("water " * (1 + i % 3) + "pump housing") if wet else "dry sand sieve"
        for n in range(1, 2 + i % 3):
            docs.append(figure(pub, n, unit(rng), title=title, country="US" if i % 5 else "EP",
                               description=f"FIG. {n} is a view of the {'valve' if n % 2 else 'rotor'}"))
    return docs


@pytest.fixture
def paged(backend):
    docs = paging_corpus()
    return indexed(backend, docs), docs


def walk(backend, body: dict, size: int) -> tuple[list[dict], list[int]]:
    hits, totals, cursor = [], [], None
    for _ in range(1000):
        resp = backend.search({**body, "size": size, "cursor": cursor}, window=WINDOW)
        assert resp.total_relation == "eq"
        totals.append(resp.total)
        hits.extend(h.model_dump() for h in resp.hits)
        cursor = resp.next_cursor
        if cursor is None:
            return hits, totals
    raise AssertionError("paging did not end")


def expected(docs: list[dict], group: bool, country: str | None = None) -> set[str]:
    wet = [d for d in docs if "water" in d["title"] and (country is None or d["country"] == country)]
    return {d["publication_number"] if group else d["figure_id"] for d in wet}


@pytest.mark.parametrize("group", [False, True], ids=["figures", "patents"])
def test_text_paging_reaches_every_match(paged, group):
    backend, docs = paged
    want = expected(docs, group)
    assert len(want) > 20 * WINDOW
    hits, totals = walk(backend, {"text": "water", "group_by_patent": group, "explain": True}, 37)
    keys = [h["publication_number"] if group else h["figure_id"] for h in hits]
    assert len(keys) == len(set(keys)), "a result came twice"
    assert set(keys) == want, "missing or extra results"
    assert set(totals) == {len(want)}
    # one ranking: BM25 scores never increase, ties by figure id; the text rank counts on past the window
    order = [(-h["explain"]["bm25"]["score"], h["figure_id"]) for h in hits]
    assert order == sorted(order)
    assert [h["explain"]["bm25"]["rank"] for h in hits] == list(range(1, len(hits) + 1))
    if group:   # each patent is shown with its best figure
        best = {}
        for d in sorted(docs, key=lambda d: d["figure_id"]):
            best.setdefault(d["publication_number"], d["figure_id"])
        assert all(h["figure_id"] == best[h["publication_number"]] for h in hits)


@pytest.mark.parametrize("group", [False, True], ids=["figures", "patents"])
def test_hybrid_paging_head_then_drawing_tail(paged, group):
    """Text and a drawing: the fused head, then every other figure (patent) passing the filters in drawing
    order (tests/search/test_drawing_paging.py has the drawing-only cases)."""
    backend, docs = paged
    rng = np.random.default_rng(3)
    body = {"text": "water valve", "vector": unit(rng), "group_by_patent": group, "explain": True,
            "filters": {"countries": ["US"]}}
    hits, totals = walk(backend, body, 23)
    keys = [h["publication_number"] if group else h["figure_id"] for h in hits]
    assert len(keys) == len(set(keys))
    first = backend.search({**body, "size": 100}, window=WINDOW)
    head = [h for h in first.hits if (h.explain.vector is not None and h.explain.vector.rank <= WINDOW)
            or (h.explain.bm25 is not None and h.explain.bm25.rank <= WINDOW)]
    us = {d["publication_number"] if group else d["figure_id"] for d in docs if d["country"] == "US"}
    assert set(keys) == us
    assert set(totals) == {len(us)}
    assert all(h["country"] == "US" for h in hits)
    tail = hits[len(head):]
    assert tail and all(h["explain"]["bm25"] is None for h in tail)
    ranks = [h["explain"]["vector"]["rank"] for h in tail]
    assert ranks == sorted(ranks)


def test_window_sized_result_has_no_tail(paged):
    backend, docs = paged
    resp = backend.search({"text": "pump", "filters": {"publication_numbers": ["US9000001B2", "US9000002B2"]},
                           "group_by_patent": True, "size": 5}, window=WINDOW)
    assert resp.total == 2 and resp.next_cursor is None and len(resp.hits) == 2


def test_cursor_of_the_tail_is_tied_to_the_query(paged):
    from backend.search.errors import SearchError

    backend, _docs = paged
    resp = backend.search({"text": "water", "size": 15}, window=WINDOW)
    with pytest.raises(SearchError, match="different query"):
        backend.search({"text": "sand", "size": 15, "cursor": resp.next_cursor}, window=WINDOW)


def test_export_streams_every_result_page_by_page(paged, monkeypatch):
    import csv
    import io

    from backend.search import service

    backend, docs = paged
    monkeypatch.setattr(service, "EXPORT_PAGE", 50)
    settings = backend.settings.model_copy(update={"search_rank_window": WINDOW})
    want = expected(docs, group=True)
    chunks = list(service.export_csv({"text": "water"}, settings, limit=10_000))
    assert len(chunks) == -(-len(want) // 50), "one chunk per backend page"
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert [int(r["rank"]) for r in rows] == list(range(1, len(want) + 1))
    assert {r["publication_number"] for r in rows} == want
    capped = list(csv.DictReader(io.StringIO("".join(service.export_csv({"text": "water"}, settings, limit=120)))))
    assert [r["publication_number"] for r in capped] == [r["publication_number"] for r in rows[:120]]
