"""The search contract (docs/contracts.md), run against both backends: embedded and the real ES."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from backend.api.problems import status_of
from backend.patent_numbers import normalise_lenient
from backend.search.errors import SearchError
from tests.search.conftest import DIMS, PATENTS, figure

pytestmark = pytest.mark.services

ALL_PUBS = {p for p, _, _ in PATENTS}


def q_vector(seed: int = 7) -> list[float]:
    v = np.random.default_rng(seed).normal(size=DIMS)
    return (v / np.linalg.norm(v)).tolist()


def pubs(backend, filters=None, **kw) -> set[str]:
    """Publication numbers a vector query returns with these filters (the corpus fits one page)."""
    body = {"vector": q_vector(), "filters": filters or {}, "size": 100, **kw}
    response = backend.search(body)
    assert response.next_cursor is None
    found = [h.publication_number for h in response.hits]
    assert len(found) == len(set(found)), "grouped results repeat a patent"
    return set(found)


@pytest.mark.parametrize("symbol, expected", [
    ("A", {"USD0000001", "USD0000002", "DE0000006U1"}),                       # section
    ("H01", {"EP0000003B1", "US4B2"}),                                    # class
    ("A47B", {"DE0000006U1"}),                                                  # subclass
    ("A47C 4/00", {"USD0000001", "DE0000006U1"}),                               # main group
    ("H01L0021020000", {"EP0000003B1", "US4B2"}),                         # subgroup + its child 21/027
    ("H01L 21/027", {"US4B2"}),                                           # subgroup, exact
    ("A47C7/004", {"USD0000002"}),
])
def test_cpc_filter_at_each_level(backend, corpus, symbol, expected):
    assert pubs(backend, {"cpc": {"include": [symbol]}}) == expected


def test_cpc_include_several_is_or_and_exclude_removes(backend, corpus):
    assert pubs(backend, {"cpc": {"include": ["A47C", "F21S"]}}) == {
        "USD0000001", "USD0000002", "DE0000006U1", "US5B2"}
    assert pubs(backend, {"cpc": {"include": ["A47C"], "exclude": ["A47C 4/28"]}}) == {"USD0000001", "USD0000002"}
    assert pubs(backend, {"cpc": {"exclude": ["A", "H01L 21/02"]}}) == {"US5B2"}


def test_locarno_filters(backend, corpus):
    assert pubs(backend, {"locarno": {"include": ["6"]}}) == {"USD0000001", "USD0000002", "DE0000006U1"}
    assert pubs(backend, {"locarno": {"include": ["0603"]}}) == {"DE0000006U1"}
    assert pubs(backend, {"locarno": {"include": ["06"], "exclude": ["06-03"]}}) == {"USD0000001", "USD0000002"}
    assert pubs(backend, {"locarno": {"include": ["26-05"]}}) == {"US5B2"}


def test_ipc_filter(backend, corpus):
    assert pubs(backend, {"ipc": {"include": ["H01L21/00"]}}) == {"EP0000003B1", "US4B2"}
    assert pubs(backend, {"ipc": {"include": ["H01L21/02"]}}) == {"EP0000003B1"}


@pytest.mark.parametrize("kind, rng, expected", [
    ("filing", {"gte": "2019-01-01", "lte": "2020-12-31"}, {"USD0000001", "USD0000002"}),
    ("filing", {"lte": "2018-01-10"}, {"EP0000003B1", "US5B2"}),
    ("publication", {"gte": "2020-01-01", "lte": "2020-06-01"}, {"USD0000001", "DE0000006U1"}),
    ("priority", {"gte": "2019-06-01"}, {"USD0000002"}),
])
def test_date_ranges_per_type(backend, corpus, kind, rng, expected):
    assert pubs(backend, {"dates": {kind: rng}}) == expected


def test_applicant_country_kind_and_publication_filters(backend, corpus):
    # "Acme Corp." and "Ácme Corporation" normalise to the same applicant
    assert pubs(backend, {"applicants": ["ACME corporation"]}) == {"USD0000001", "EP0000003B1"}
    assert pubs(backend, {"countries": ["ep", "de"]}) == {"EP0000003B1", "DE0000006U1"}
    assert pubs(backend, {"kinds": ["b2"]}) == {"US4B2", "US5B2"}
    assert pubs(backend, {"publication_numbers": ["US 0000004 B2", "USD0000001"]}) == {"US4B2", "USD0000001"}
    assert pubs(backend, {"countries": ["US"], "cpc": {"include": ["H"]}}) == {"US4B2"}


def test_filters_apply_to_text_ranking_too(backend, corpus):
    response = backend.search({"text": "chair semiconductor", "filters": {"cpc": {"include": ["H01L"]}}})
    assert {h.publication_number for h in response.hits} == {"EP0000003B1", "US4B2"}


def test_pagination_has_no_duplicates_or_gaps(backend, corpus):
    body = {"text": "chair lamp semiconductor", "vector": q_vector(3), "group_by_patent": False, "size": 100}
    everything = [h.figure_id for h in backend.search(body).hits]
    assert len(everything) == len(corpus)
    paged, cursor = [], None
    for _ in range(10):
        page = backend.search({**body, "size": 3, "cursor": cursor})
        assert page.total == len(corpus)
        paged += [h.figure_id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert paged == everything
    with pytest.raises(SearchError) as err:
        backend.search({**body, "text": "other", "size": 3, "cursor": page_cursor(backend, body)})
    assert status_of(err.value) == 400 and "cursor" in err.value.detail


def page_cursor(backend, body):
    return backend.search({**body, "size": 3}).next_cursor


def test_group_by_patent_returns_best_figure_once(backend, corpus):
    q = np.asarray(q_vector(11))
    grouped = backend.search({"vector": q.tolist(), "size": 100, "group_by_patent": True, "explain": True})
    assert [h.publication_number for h in grouped.hits].__len__() == len(PATENTS)
    best = {}
    for doc in corpus:
        sim = float(np.dot(q, doc["image_vector"]))
        pub = normalise_lenient(doc["publication_number"])     # US0000004B2 is stored as US4B2
        if pub not in best or sim > best[pub][0]:
            best[pub] = (sim, doc["figure_id"])
    expected_order = sorted(best, key=lambda p: -best[p][0])
    assert [h.publication_number for h in grouped.hits] == expected_order
    for hit in grouped.hits:
        assert hit.figure_id == best[hit.publication_number][1]
        assert hit.explain.vector.similarity == pytest.approx(best[hit.publication_number][0], abs=1e-4)
    flat = backend.search({"vector": q.tolist(), "size": 100, "group_by_patent": False})
    assert flat.total == len(corpus)


def test_facets_count_the_result_set(backend, corpus):
    response = backend.search({"vector": q_vector(), "facets": True, "size": 1,
                               "filters": {"locarno": {"include": ["06"]}}})
    facets = {name: {b.key: b.count for b in buckets} for name, buckets in response.facets.items()}
    assert facets["cpc_subclass"] == {"A47C": 3, "A47B": 1}
    assert facets["locarno_class"] == {"06": 3}
    assert len(response.hits) == 1 and response.total == 3


def test_facets_count_a_text_result_set(backend, corpus):
    """The text list's candidates carry their classification symbols when facets are asked (Elasticsearch
    reads them from doc values only then)."""
    response = backend.search({"text": "chair", "facets": True, "size": 1})
    facets = {name: {b.key: b.count for b in buckets} for name, buckets in response.facets.items()}
    assert facets["cpc_subclass"] == {"A47C": 2}
    assert facets["locarno_class"] == {"06": 2}
    assert len(response.hits) == 1 and response.total == 2


def test_rrf_fusion_order_hand_checked(backend):
    """BM25 ranks W1 > W2 > W3 (term frequency 3, 2, 1; W4 does not match); cosine ranks W4 > W3 > W2 > W1.
    With k=60, weights text 1 and image 2:
        W1 = 1/61 + 2/64 = 0.0476434     W2 = 1/62 + 2/63 = 0.0478751
        W3 = 1/63 + 2/62 = 0.0481311     W4 = 0    + 2/61 = 0.0327869
    so the fused order is W3, W2, W1, W4."""
    e = np.eye(DIMS)

    def vec(cos):  # unit vector with cosine `cos` to e0
        return (cos * e[0] + np.sqrt(1 - cos**2) * e[1]).tolist()

    backend.index_figures([
        figure("W1", 1, vec(0.3), title="widget widget widget"),
        figure("W2", 1, vec(0.5), title="widget widget gadget"),
        figure("W3", 1, vec(0.7), title="widget gadget gizmo"),
        figure("W4", 1, vec(0.9), title="gadget gizmo doohickey"),
    ])
    backend.refresh()
    response = backend.search({"text": "widget", "vector": e[0].tolist(), "weights": {"text": 1, "image": 2},
                               "explain": True})
    assert [h.publication_number for h in response.hits] == ["W3", "W2", "W1", "W4"]
    expected = {"W1": 1 / 61 + 2 / 64, "W2": 1 / 62 + 2 / 63, "W3": 1 / 63 + 2 / 62, "W4": 2 / 61}
    for hit in response.hits:
        assert hit.explain.fused == pytest.approx(expected[hit.publication_number], rel=1e-9)
    w3 = response.hits[0].explain
    assert (w3.bm25.rank, w3.vector.rank) == (3, 2)
    assert w3.text_share == pytest.approx((1 / 63) / expected["W3"], abs=1e-6)
    assert w3.vector.similarity == pytest.approx(0.7, abs=1e-3)
    w4 = response.hits[-1].explain
    assert w4.bm25 is None and w4.image_share == 1.0

    weighted = backend.search({"text": "widget", "vector": e[0].tolist(), "fusion": "weighted", "explain": True})
    by = {h.publication_number: h.explain for h in weighted.hits}
    bm = {p: x.bm25.score for p, x in by.items() if x.bm25}
    vs = {p: x.vector.similarity for p, x in by.items()}
    for p, x in by.items():  # min-max normalised per list, then summed
        t = (bm[p] - min(bm.values())) / (max(bm.values()) - min(bm.values())) if p in bm else 0.0
        v = (vs[p] - min(vs.values())) / (max(vs.values()) - min(vs.values()))
        assert x.fused == pytest.approx(t + v, abs=1e-6)
    assert by["W1"].fused == pytest.approx(1.0, abs=1e-6) and by["W4"].fused == pytest.approx(1.0, abs=1e-6)


def test_empty_results(backend, corpus):
    response = backend.search({"text": "xylophonequartz", "facets": True})
    assert (response.total, response.hits, response.next_cursor) == (0, [], None)
    response = backend.search({"vector": q_vector(), "filters": {"cpc": {"include": ["B"]}}})
    assert response.total == 0 and response.hits == []


def test_stop_words_only_query_is_empty(backend, corpus):
    assert backend.search({"text": "the and of with"}).total == 0


def test_non_ascii_text(backend, corpus):
    from backend.search.index import index_admin

    hits = backend.search({"text": "Stühle"}).hits
    assert [h.publication_number for h in hits] == ["DE0000006U1"]
    assert hits[0].title == "Stühle und Tische"
    assert [h.publication_number for h in backend.search({"text": "accoudoirs pliante"}).hits] == ["DE0000006U1"]
    folds = backend.name == "embedded" or index_admin.has_analysis_common(backend.es)
    if folds:  # accent folding needs ES's analysis-common module (absent in the integ-test distribution)
        assert [h.publication_number for h in backend.search({"text": "stuhle"}).hits] == ["DE0000006U1"]


def test_wrong_vector_dimension_is_a_clear_400(backend, corpus):
    with pytest.raises(SearchError) as err:
        backend.search({"vector": [0.5] * (DIMS + 1)})
    assert status_of(err.value) == 400
    assert f"{DIMS + 1} dimensions" in err.value.detail and f"expects {DIMS}" in err.value.detail


def test_zero_vector_is_a_clear_400(backend, corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("error")    # no numpy overflow warning on the way to the 400
        with pytest.raises(SearchError) as err:
            backend.search({"vector": [0.0] * DIMS})
    assert status_of(err.value) == 400 and err.value.detail.startswith("vector:") and "all zeros" in err.value.detail


def test_a_vector_beyond_float32_is_normalised_in_float64(backend, corpus):
    # the same direction at any scale is the same query (watches validate vectors the same way)
    with warnings.catch_warnings():
        warnings.simplefilter("error")    # no numpy overflow warning on the way
        huge = backend.search({"vector": [1e39] + [0.0] * (DIMS - 1), "group_by_patent": False})
    unit = backend.search({"vector": [1.0] + [0.0] * (DIMS - 1), "group_by_patent": False})
    assert huge.hits and [h.figure_id for h in huge.hits] == [h.figure_id for h in unit.hits]


def test_more_like_this_uses_the_stored_vector(backend, corpus):
    response = backend.search({"image_figure_id": "USD0000002-F2", "group_by_patent": False, "explain": True})
    assert response.hits[0].figure_id == "USD0000002-F2"
    assert response.hits[0].explain.vector.similarity == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(SearchError) as err:
        backend.search({"image_figure_id": "NOPE-F1"})
    assert status_of(err.value) == 404


def test_unknown_or_malformed_symbol_is_a_400_naming_it(backend, corpus):
    for bad in ("X99Q", "A47C 99/99", "33-01"):
        scheme = "locarno" if "-" in bad else "cpc"
        with pytest.raises(SearchError) as err:
            backend.search({"text": "chair", "filters": {scheme: {"include": [bad]}}})
        assert status_of(err.value) == 400 and bad in err.value.detail


def test_similarity_floor(make_settings, backend, corpus):
    q = np.asarray(q_vector())
    floored = type(backend)(backend.settings.model_copy(update={"knn_similarity_floor": 0.2}))   # same index
    hits = floored.search({"vector": q.tolist(), "group_by_patent": False, "size": 100}).hits
    expected = {d["figure_id"] for d in corpus if float(np.dot(q, d["image_vector"])) >= 0.2}
    assert {h.figure_id for h in hits} == expected and 0 < len(expected) < len(corpus)


def test_documents_replace_delete_and_read_back(backend, corpus):
    fig = backend.get_figure("USD0000001-F2")
    assert fig["cpc"] == ["A47C4/04"] and fig["locarno"] == ["06-01"] and len(fig["image_vector"]) == DIMS
    backend.index_figures([{**corpus[1], "title": "Replaced title"}])
    backend.refresh()
    assert backend.get_figure("USD0000001-F2")["title"] == "Replaced title"
    assert [f["figure_number"] for f in backend.get_patent_figures("USD0000001")] == [1, 2]
    assert backend.count() == len(corpus)
    assert backend.delete_patent("USD0000001") == 2
    backend.refresh()
    assert backend.get_patent_figures("USD0000001") == [] and backend.get_figure("USD0000001-F1") is None
    assert "USD0000001" not in pubs(backend)


def test_bad_documents_are_rejected_whole(backend, corpus):
    from backend.search.index.documents import InvalidDocument

    good = figure("NEW1", 1, corpus[0]["image_vector"], title="new")
    with pytest.raises(InvalidDocument, match="NEW2-F1: image_vector has 3 dimensions"):
        backend.index_figures([good, figure("NEW2", 1, [1.0, 0.0, 0.0])])
    backend.refresh()
    assert backend.get_figure("NEW1-F1") is None
