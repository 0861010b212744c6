"""A drawing query reaches every patent that passes the filters: after the head (the nearest figures, re-ordered
by the class consensus) the exact drawing ranking of every other patent with a drawing, by the cosine of its
closest figure; ``total`` counts them; pages walk it with the text tail's cursor rules; ``exclude_figures``
leaves single figures out. Both backends (Elasticsearch: the kNN head, then a ``script_score`` tail)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.search.conftest import indexed, unit
from tests.search.test_paging import WINDOW, paging_corpus, walk


@pytest.fixture
def paged(backend):
    docs = paging_corpus()
    return indexed(backend, docs), docs


def best_by_patent(docs: list[dict], query: np.ndarray, keep=lambda d: True) -> dict[str, tuple[float, str]]:
    """publication number -> (cosine of its closest figure, that figure), over the figures ``keep`` passes."""
    best: dict[str, tuple[float, str]] = {}
    for d in docs:
        if not keep(d):
            continue
        sim = float(np.dot(np.asarray(d["image_vector"], dtype=np.float32), query.astype(np.float32)))
        pub = d["publication_number"]
        if pub not in best or (sim, -ord(d["figure_id"][-1])) > (best[pub][0], -ord(best[pub][1][-1])):
            best[pub] = (sim, d["figure_id"])
    return best


@pytest.mark.parametrize("size", [7, 100])
def test_drawing_query_pages_through_every_patent_in_similarity_order(paged, size):
    backend, docs = paged
    query = np.asarray(unit(np.random.default_rng(5)))
    hits, totals = walk(backend, {"vector": query.tolist(), "explain": True}, size)
    pubs = [h["publication_number"] for h in hits]
    best = best_by_patent(docs, query)
    assert len(pubs) == len(set(pubs)), "a patent came twice"
    assert set(pubs) == set(best), "a patent is unreachable"
    assert set(totals) == {len(best)}
    head = {h["publication_number"] for h in hits[:WINDOW]}     # the window's figures, grouped: at most WINDOW
    tail = hits[len(head):]
    # past the head: the exact drawing ranking (closest figure of each patent, cosine desc), ranks counting on
    sims = [h["explain"]["vector"]["similarity"] for h in tail]
    assert sims == sorted(sims, reverse=True)
    assert all(abs(h["explain"]["vector"]["similarity"] - best[h["publication_number"]][0]) < 1e-4 for h in hits)
    assert all(h["figure_id"] == best[h["publication_number"]][1] for h in tail)
    ranks = [h["explain"]["vector"]["rank"] for h in tail]
    assert ranks == sorted(ranks) and ranks[0] > 1 and head


def test_without_consensus_the_whole_list_is_the_drawing_ranking(request, make_settings, backend):
    """Consensus off: head and tail together are exactly the cosine order of each patent's closest figure."""
    backend = type(backend)(backend.settings.model_copy(update={"search_class_consensus_k": 0}))   # same index
    docs = paging_corpus()
    indexed(backend, docs)
    query = np.asarray(unit(np.random.default_rng(8)))
    hits, _totals = walk(backend, {"vector": query.tolist(), "explain": True, "filters": {"countries": ["EP"]}}, 30)
    best = best_by_patent(docs, query, lambda d: d["country"] == "EP")
    want = sorted(best, key=lambda p: (-best[p][0], best[p][1]))
    assert [h["publication_number"] for h in hits] == want
    assert all(h["country"] == "EP" for h in hits)


def test_figures_ungrouped_reach_every_figure(paged):
    backend, docs = paged
    query = unit(np.random.default_rng(9))
    hits, totals = walk(backend, {"vector": query, "group_by_patent": False, "filters": {"countries": ["EP"]}}, 40)
    want = {d["figure_id"] for d in docs if d["country"] == "EP"}
    fids = [h["figure_id"] for h in hits]
    assert len(fids) == len(set(fids)) and set(fids) == want and set(totals) == {len(want)}


def test_hybrid_query_reaches_every_patent_with_the_drawing_ranking_after_the_head(paged):
    backend, docs = paged
    query = np.asarray(unit(np.random.default_rng(3)))
    body = {"text": "water valve", "vector": query.tolist(), "explain": True, "filters": {"countries": ["US"]}}
    hits, totals = walk(backend, body, 23)
    pubs = [h["publication_number"] for h in hits]
    want = {d["publication_number"] for d in docs if d["country"] == "US"}
    assert len(pubs) == len(set(pubs)) and set(pubs) == want and set(totals) == {len(want)}
    first = backend.search({**body, "size": 100}, window=WINDOW)
    head = [h for h in first.hits if (h.explain.bm25 is not None and h.explain.bm25.rank <= WINDOW)
            or (h.explain.vector is not None and h.explain.vector.rank <= WINDOW)]
    tail = hits[len(head):]
    assert tail and all(h["explain"]["bm25"] is None for h in tail)   # the drawing ranking, not the text's
    sims = [h["explain"]["vector"]["similarity"] for h in tail]
    assert sims == sorted(sims, reverse=True)


def test_exclude_figures_leaves_the_figure_out_and_keeps_its_patent(paged):
    backend, docs = paged
    three = next(d for d in docs if d["figure_id"].endswith("-F3"))     # a patent with three figures
    pub = three["publication_number"]
    body = {"image_figure_id": f"{pub}-F1", "group_by_patent": False, "size": 100}
    plain = backend.search(body, window=WINDOW)
    assert plain.hits[0].figure_id == f"{pub}-F1"          # more like this: the figure itself first
    hits, totals = walk(backend, {**body, "exclude_figures": [f"{pub}-F1", f"{pub}-F2"]}, 100)
    fids = {h["figure_id"] for h in hits}
    assert f"{pub}-F1" not in fids and f"{pub}-F2" not in fids and f"{pub}-F3" in fids
    assert set(totals) == {len(docs) - 2}
    grouped, _totals = walk(backend, {"image_figure_id": f"{pub}-F1", "exclude_figures": [f"{pub}-F1"]}, 100)
    shown = {h["publication_number"]: h["figure_id"] for h in grouped}
    assert shown[pub] in {f"{pub}-F2", f"{pub}-F3"}     # the patent stays, shown by a sister sheet


def test_exclude_figures_is_validated(paged):
    from backend.api.problems import status_of
    from backend.search.errors import SearchError

    backend, _docs = paged
    with pytest.raises(SearchError) as err:
        backend.search({"vector": unit(np.random.default_rng(1)), "exclude_figures": ["  "]})
    assert status_of(err.value) == 400 and "exclude_figures" in err.value.detail


def test_drawing_cursor_is_tied_to_the_query(paged):
    from backend.search.errors import SearchError

    backend, _docs = paged
    rng = np.random.default_rng(2)
    resp = backend.search({"vector": unit(rng), "size": 100}, window=WINDOW)
    assert resp.next_cursor
    with pytest.raises(SearchError, match="different query"):
        backend.search({"vector": unit(rng), "size": 100, "cursor": resp.next_cursor}, window=WINDOW)


@pytest.mark.parametrize("group", [True, False], ids=["patents", "figures"])
def test_elasticsearch_goes_on_past_the_knn_list(paged, group):
    """Past the figures one kNN reads (drawing_tail_k), every other figure passing the filters follows by
    figure id (patent), with its exact cosine: still each once, every one reachable."""
    backend, docs = paged
    if backend.name != "elasticsearch":
        pytest.skip("Elasticsearch only: the embedded drawing ranking is exact to its end")
    backend.drawing_tail_k = 25
    query = np.asarray(unit(np.random.default_rng(4)))
    hits, totals = walk(backend, {"vector": query.tolist(), "group_by_patent": group, "explain": True,
                                  "filters": {"countries": ["US"]}}, 30)
    us = [d for d in docs if d["country"] == "US"]
    want = {d["publication_number"] if group else d["figure_id"] for d in us}
    keys = [h["publication_number"] if group else h["figure_id"] for h in hits]
    assert len(keys) == len(set(keys)) and set(keys) == want and set(totals) == {len(want)}
    rest = hits[-(len(want) - 40):]        # well past the head and the 25 listed figures: by key
    assert [h["publication_number"] if group else h["figure_id"] for h in rest] == sorted(
        h["publication_number"] if group else h["figure_id"] for h in rest)
    vectors = {d["figure_id"]: np.asarray(d["image_vector"]) for d in docs}
    assert all(abs(h["explain"]["vector"]["similarity"] - float(vectors[h["figure_id"]] @ query)) < 1e-4
               for h in rest)
