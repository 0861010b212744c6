"""Class consensus (backend/search/ranking/class_consensus.py) and its place in the engine's vector list."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

from backend.search.backends.embedded.embedded_backend import EmbeddedBackend
from backend.search.ranking import class_consensus as cc


def test_the_nearest_figures_vote_and_the_cosine_is_kept():
    sims = [0.9, 0.8, 0.7, 0.6, 0.5]
    codes = [{"cpc:A47C"}, {"cpc:B60N"}, {"cpc:A47C"}, {"cpc:A47C", "locarno:06-01"}, set()]
    scores, votes = cc.consensus(sims, codes, k=3, weight=2.0)
    # voters: the three most similar - A47C twice, B60N once
    assert [v.code for v in votes] == ["cpc:A47C", "cpc:B60N", "cpc:A47C", "cpc:A47C", None]
    assert votes[0].share == pytest.approx(2 / 3) and votes[1].share == pytest.approx(1 / 3)
    assert votes[4] == cc.NO_VOTE
    assert np.allclose(scores, [0.9 + 4 / 3, 0.8 + 2 / 3, 0.7 + 4 / 3, 0.6 + 4 / 3, 0.5])
    # the 4th figure (outside the voters) now ranks above the 2nd: it is in the neighbourhood's class
    assert scores[3] > scores[1]


def test_off_and_bad_input():
    sims = [0.9, 0.1]
    scores, votes = cc.consensus(sims, [{"cpc:A"}, {"cpc:A"}], k=0, weight=2.0)
    assert list(scores) == sims and votes == [cc.NO_VOTE] * 2
    with pytest.raises(ValueError, match="2 similarities but 1 code sets"):
        cc.consensus(sims, [{"cpc:A"}], k=3, weight=1.0)


def test_codes_are_scheme_qualified_and_cpc_ipc_subclasses_are_one_code():
    assert cc.class_codes(["A47C"], ["06-01"]) == {"subclass:A47C", "locarno:06-01"}
    assert cc.class_codes(["A47C"], [], ["A47C", "B60N"]) == {"subclass:A47C", "subclass:B60N"}
    assert cc.class_codes(None, None) == set()


def test_rows_skip_excluded_entries():
    sim = np.array([[-np.inf, 0.9, 0.2, 0.1], [0.9, -np.inf, 0.3, 0.2]])
    codes = [{"x:a"}, {"x:b"}, {"x:c"}, {"x:b"}]
    out = cc.consensus_rows(sim, codes, k=1, weight=1.0)
    assert out[0, 0] == -np.inf and out[1, 1] == -np.inf
    assert out[0, 3] == pytest.approx(1.1) and out[0, 2] == pytest.approx(0.2)   # voter 1 carries x:b


def _figure(fid: str, vec, cpc: list[str], ipc: list[str] | None = None) -> dict:
    v = np.asarray(vec, dtype=np.float32)
    return {"figure_id": fid, "publication_number": fid.split("-")[0], "figure_number": int(fid.split("-F")[1]),
            "title": "a part",
            "cpc": cpc, "ipc": ipc or [], "image_vector": (v / np.linalg.norm(v)).tolist()}


def _backend(request, make_settings, kind: str, k: int, patent_weight: float = 0.0, band: float | None = None,
             head: int = 0, temperature: float = 0.0):
    common = dict(search_class_consensus_k=k, search_class_consensus_weight=2.0, search_verify_top_k=0,
                  search_dense_text=False, search_patent_consensus_weight=patent_weight, search_class_consensus_band=band,
                  search_class_consensus_head=head, search_class_consensus_temperature=temperature)
    if kind == "embedded":
        return EmbeddedBackend(make_settings(search_backend="embedded", **common))
    from backend.search import get_backend
    from backend.search.index import index_admin

    es_url = request.getfixturevalue("es_url")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index_prefix=prefix, **common)
    es = index_admin.make_client(settings)
    index_admin.create_index(es, prefix, 4)
    request.addfinalizer(lambda: index_admin.delete_all(es, prefix))
    return get_backend(settings)


@pytest.mark.parametrize("kind", ["embedded", "elasticsearch"])
@pytest.mark.parametrize("k", [0, 3])
def test_engine_reorders_the_vector_list_and_explains_it(request, make_settings, kind, k):
    backend = _backend(request, make_settings, kind, k)
    backend.index_figures([
        _figure("US1-F1", [1.0, 0.00, 0, 0], ["A47C 1/00"]),
        _figure("US2-F1", [1.0, 0.10, 0, 0], ["B60N 2/00"]),
        _figure("US3-F1", [1.0, 0.15, 0, 0], ["A47C 7/00"]),
        _figure("US4-F1", [1.0, 0.20, 0, 0], ["A47C 3/00"]),
        _figure("US5-F1", [1.0, 0.30, 0, 0], ["B60N 2/00"]),
    ])
    backend.refresh()
    res = backend.search({"vector": [1.0, 0.0, 0.0, 0.0], "size": 5, "explain": True, "group_by_patent": False})
    order = [h.figure_id for h in res.hits]
    if k == 0:
        assert order == ["US1-F1", "US2-F1", "US3-F1", "US4-F1", "US5-F1"]
        assert all(h.explain.vector.class_consensus is None for h in res.hits)
    else:   # voters US1, US2, US3: A47C twice -> the A47C figures (US4 too) go before B60N
        assert order == ["US1-F1", "US3-F1", "US4-F1", "US2-F1", "US5-F1"]
        us4 = res.hits[2].explain.vector
        assert us4.consensus_class == "subclass:A47C" and us4.class_consensus == pytest.approx(2 / 3)
        assert us4.similarity == pytest.approx(1 / np.sqrt(1.04), abs=2e-3)   # the cosine, not the boosted score


def test_a_patent_among_the_nearest_lifts_its_other_sheets():
    sims = [0.9, 0.8, 0.7, 0.3]
    codes = [set(), set(), set(), set()]
    scores, _class_votes, patent_votes = cc.list_consensus(sims, codes, ["US1", "US2", "US3", "US1"], k=3,
                                                           class_weight=2.0, patent_weight=1.5)
    assert patent_votes[3].code == "patent:US1" and patent_votes[3].share == pytest.approx(1 / 3)
    assert np.allclose(scores, [0.9 + 0.5, 0.8 + 0.5, 0.7 + 0.5, 0.3 + 0.5])


@pytest.mark.parametrize("kind", ["embedded", "elasticsearch"])
def test_engine_patent_consensus_brings_up_another_view(request, make_settings, kind):
    backend = _backend(request, make_settings, kind, k=2, patent_weight=2.0)
    backend.index_figures([
        _figure("US1-F1", [1.0, 0.00, 0, 0], []),
        _figure("US2-F1", [1.0, 0.10, 0, 0], []),
        _figure("US3-F1", [1.0, 0.20, 0, 0], []),
        _figure("US1-F2", [1.0, 0.60, 0, 0], []),      # another view of US1: far from the query drawing
    ])
    backend.refresh()
    res = backend.search({"vector": [1.0, 0.0, 0.0, 0.0], "size": 4, "explain": True, "group_by_patent": False})
    # voters US1-F1 and US2-F1: US1's other sheet gains 2 x 1/2 and passes US3-F1
    assert [h.figure_id for h in res.hits] == ["US1-F1", "US2-F1", "US1-F2", "US3-F1"]
    assert res.hits[2].explain.vector.patent_consensus == pytest.approx(0.5)


@pytest.mark.parametrize("kind", ["embedded", "elasticsearch"])
def test_engine_counts_an_ipc_only_patent_in_its_subclass(request, make_settings, kind):
    """Patents classified by IPC alone (Korean utility models, older documents) vote and gain like CPC ones."""
    backend = _backend(request, make_settings, kind, k=3)
    backend.index_figures([
        _figure("KR1-F1", [1.0, 0.00, 0, 0], [], ["A47C 1/00"]),
        _figure("KR2-F1", [1.0, 0.10, 0, 0], [], ["B60N 2/00"]),
        _figure("US3-F1", [1.0, 0.15, 0, 0], ["A47C 7/00"]),
        _figure("KR4-F1", [1.0, 0.20, 0, 0], [], ["A47C 3/00"]),
        _figure("US5-F1", [1.0, 0.30, 0, 0], ["B60N 2/00"]),
    ])
    backend.refresh()
    res = backend.search({"vector": [1.0, 0.0, 0.0, 0.0], "size": 5, "explain": True, "group_by_patent": False})
    assert [h.figure_id for h in res.hits] == ["KR1-F1", "US3-F1", "KR4-F1", "KR2-F1", "US5-F1"]
    assert res.hits[2].explain.vector.consensus_class == "subclass:A47C"


def test_banded_order_never_puts_a_weaker_entry_above_a_much_closer_one():
    sims = [0.90, 0.88, 0.70, 0.69, 0.40]
    scores = [0.90, 0.88, 1.70, 0.69, 2.40]     # consensus lifts the 3rd and the 5th a lot
    assert cc.banded_order(sims, scores, None) == [4, 2, 0, 1, 3]
    order = cc.banded_order(sims, scores, 0.05)
    assert order == [0, 1, 2, 3, 4]             # nothing within 0.05 to pass: the similarity order stays
    assert cc.banded_order(sims, scores, 0.25) == [2, 0, 1, 3, 4]   # 0.70 may pass 0.90 and 0.88, not more
    rng = np.random.default_rng(0)
    for _ in range(50):
        s, b = rng.random(30), rng.random(30) * 2
        order = cc.banded_order(s, s + b, 0.1)
        assert sorted(order) == list(range(30))
        for a, i in enumerate(order):          # no entry above one more than the band closer
            assert all(s[j] - s[i] <= 0.1 + 1e-12 for j in order[a + 1:])
        falling = cc.descending(s + b, order)
        assert list(np.argsort(-falling, kind="stable")) == order


def test_reasons_say_in_plain_words_why_a_hit_moved():
    sims = [0.90, 0.88, 0.87]
    codes = [{"locarno:02-04"}, {"subclass:B60N"}, {"locarno:02-04"}]
    scores, cv, pv = cc.list_consensus(sims, codes, ["US1", "US2", "US3"], 3, 1.0, 0.0)
    order = cc.banded_order(sims, scores, 0.05)
    assert order == [0, 2, 1]
    why = cc.reasons(sims, order, cv, pv, 3, 1.0, 0.0, 0.05)
    assert why[0] is None
    assert why[2] == "ranked up 1: 2 of the 3 closest drawings are Locarno 02-04"
    assert why[1] == ("ranked down 1: 1 drawing at most 0.05 less similar went first, in the class or patent of "
                      "more of the 3 closest drawings")


@pytest.mark.parametrize("kind", ["embedded", "elasticsearch"])
def test_engine_keeps_a_much_closer_drawing_above_and_explains_every_move(request, make_settings, kind):
    backend = _backend(request, make_settings, kind, k=3, band=0.05)
    backend.index_figures([
        _figure("US1-F1", [1.0, 0.00, 0, 0], ["B60N 2/00"]),     # the closest (1.0): another class
        _figure("US2-F1", [1.0, 0.40, 0, 0], ["A47C 1/00"]),     # 0.928
        _figure("US3-F1", [1.0, 0.42, 0, 0], ["A47C 3/00"]),     # 0.922
        _figure("US4-F1", [1.0, 0.44, 0, 0], ["B60N 3/00"]),     # 0.915
        _figure("US5-F1", [1.0, 0.46, 0, 0], ["A47C 7/00"]),     # 0.908
    ])
    backend.refresh()
    res = backend.search({"vector": [1.0, 0.0, 0.0, 0.0], "size": 5, "explain": True})
    # voters US1-US3: A47C 2 of 3. US1 stays first (nothing within 0.05 of it may pass it, whatever the vote);
    # within the band US5 (A47C) passes US4 (B60N)
    assert [h.publication_number for h in res.hits] == ["US1", "US2", "US3", "US5", "US4"]
    why = {h.publication_number: h.explain.vector.reason for h in res.hits}
    assert why["US1"] is why["US2"] is why["US3"] is None
    assert why["US5"] == "ranked up 1: 2 of the 3 closest drawings are in A47C"
    assert why["US4"].startswith("ranked down 1: 1 drawing at most 0.05 less similar went first")


def test_the_closer_voters_weigh_more_with_a_temperature():
    sims = [0.90, 0.60, 0.58, 0.50]
    codes = [{"locarno:02-04"}, {"subclass:B60N"}, {"subclass:B60N"}, {"locarno:02-04"}]
    _scores, equal = cc.consensus(sims, codes, k=3, weight=1.0)
    assert equal[3].code == "locarno:02-04" and equal[3].share == pytest.approx(1 / 3) and equal[3].count == 1
    _scores, weighted = cc.consensus(sims, codes, k=3, weight=1.0, temperature=0.1)
    w = np.exp((np.array([0.90, 0.60, 0.58]) - 0.90) / 0.1)
    assert weighted[3].share == pytest.approx(w[0] / w.sum())        # the one close voter outweighs two far ones
    assert weighted[3].share > 0.8 and weighted[3].count == 1
    assert weighted[1].share == pytest.approx((w[1] + w[2]) / w.sum()) and weighted[1].count == 2
    with pytest.raises(ValueError, match="temperature"):
        cc.consensus(sims, codes, k=3, weight=1.0, temperature=-1.0)


def test_the_head_keeps_the_closest_drawings_in_similarity_order():
    sims = [0.95, 0.94, 0.93, 0.60, 0.55, 0.20]
    scores = [0.95, 0.94, 9.00, 0.60, 9.00, 9.00]     # the vote wants the 3rd, 5th and 6th first
    assert cc.banded_order(sims, scores, None, head=2) == [0, 1, 2, 4, 5, 3]
    # below the head (0.95, 0.94) the band: 0.93 first (nothing within it wants otherwise), then
    assert cc.banded_order(sims, scores, 0.02, head=2) == [0, 1, 2, 3, 4, 5]  # 0.55 is 0.05 below 0.60: stays
    assert cc.banded_order(sims, scores, 0.1, head=2) == [0, 1, 2, 4, 3, 5]   # 0.55 may pass 0.60, 0.20 not
    assert cc.banded_order(sims, scores, 0.45, head=2) == [0, 1, 2, 4, 5, 3]  # 0.20 may pass 0.60 too
    assert cc.banded_order(sims, scores, 0.5, head=0)[:2] == [2, 4]           # no head: the vote may lead
    with pytest.raises(ValueError, match="head"):
        cc.banded_order(sims, scores, 0.1, head=-1)


@pytest.mark.parametrize("head, band", [(10, 0.5), (3, 0.1), (0, 0.05), (10, None)])
def test_the_rule_as_stated_holds_for_any_vote(head, band):
    """:func:`guarantee`'s sentence: the ``head`` closest keep their places in order; below them no drawing is
    above one more than ``band`` more similar - whatever the consensus scores."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        s = rng.random(40)
        scores = s + rng.random(40) * 20
        order = cc.banded_order(s, scores, band, head=head)
        assert sorted(order) == list(range(40))
        by_sim = list(np.argsort(-s, kind="stable"))
        assert order[:head] == by_sim[:head]
        if band is not None:
            for a, i in enumerate(order):
                assert all(s[j] - s[i] <= band + 1e-12 for j in order[a + 1:])
    sentence = cc.guarantee(head, band)
    assert sentence.endswith(".") and "\n" not in sentence
    if head:
        assert f"The {head} drawings closest to the query keep their places at the top" in sentence
    if band:
        assert f"more than {band:g} less similar" in sentence


def test_every_move_under_the_head_rule_is_explained():
    rng = np.random.default_rng(3)
    sims = np.sort(rng.random(30))[::-1]
    codes = [{"locarno:02-04"} if i % 3 == 0 else {"subclass:B60N"} for i in range(30)]
    patents = [f"US{i}" for i in range(30)]
    scores, cv, pv = cc.list_consensus(sims, codes, patents, 10, 16.0, 2.0, temperature=0.07)
    order = cc.banded_order(sims, scores, 0.5, head=10)
    why = cc.reasons(sims, order, cv, pv, 10, 16.0, 2.0, 0.5, head=10)
    moved = [i for r, i in enumerate(order) if r != i]
    assert moved and all(why[i] is None for i in range(10))   # the head keeps its places: no reason needed
    for r, i in enumerate(order):
        assert (why[i] is None) == (r == i)
    ups = [why[i] for r, i in enumerate(order) if r < i]
    assert ups and all(u.startswith(f"ranked up {i - r}: ") and "of the 10 closest drawings are" in u
                       for u, (r, i) in zip(ups, [(r, i) for r, i in enumerate(order) if r < i]))
    downs = [why[i] for r, i in enumerate(order) if r > i]
    assert downs and all("at most 0.5 less similar went first, below the 10 closest" in d for d in downs)


@pytest.mark.parametrize("kind", ["embedded", "elasticsearch"])
def test_engine_keeps_the_head_and_reorders_below_it(request, make_settings, kind):
    backend = _backend(request, make_settings, kind, k=3, band=0.5, head=2, temperature=0.07)
    backend.index_figures([
        _figure("US1-F1", [1.0, 0.00, 0, 0], ["B60N 2/00"]),     # 1.000
        _figure("US2-F1", [1.0, 0.30, 0, 0], ["A47C 1/00"]),     # 0.958
        _figure("US3-F1", [1.0, 0.32, 0, 0], ["A47C 3/00"]),     # 0.952
        _figure("US4-F1", [1.0, 0.60, 0, 0], ["B60N 3/00"]),     # 0.857
        _figure("US5-F1", [1.0, 0.70, 0, 0], ["A47C 7/00"]),     # 0.819
    ])
    backend.refresh()
    res = backend.search({"vector": [1.0, 0.0, 0.0, 0.0], "size": 5, "explain": True})
    # the first 2 stay (US1 although its class is outvoted); below them the A47C figures go first
    assert [h.publication_number for h in res.hits] == ["US1", "US2", "US3", "US5", "US4"]
    why = {h.publication_number: h.explain.vector.reason for h in res.hits}
    assert why["US1"] is why["US2"] is why["US3"] is None
    assert why["US5"].startswith("ranked up 1: ") and why["US4"].startswith("ranked down 1: ")
