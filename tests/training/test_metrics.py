"""Retrieval metrics on hand-computed rankings."""
from __future__ import annotations

import numpy as np
import pytest

from backend.training import metrics as M


def test_per_query_hand_computed():
    # query A: relevant at ranks 1 and 3 of 5 -> AP = (1/1 + 2/3) / 2; R@2 = 1/2; MRR = 1
    # query B: relevant at rank 4 only -> AP = 1/4; R@2 = 0; MRR@2 = 0 (but 1/4 with k=10)
    # query C: nothing relevant -> left out
    ranked = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=bool)
    s = M.per_query(ranked, k=2)
    assert s["ap"][0] == pytest.approx((1 + 2 / 3) / 2)
    assert s["ap"][1] == pytest.approx(0.25)
    assert np.isnan(s["ap"][2])
    assert s["recall@2"][:2].tolist() == [0.5, 0.0]
    assert s["mrr@2"][:2].tolist() == [1.0, 0.0]
    assert M.per_query(ranked, k=10)["mrr@10"][1] == pytest.approx(0.25)
    summary = M.summarise(s)
    assert summary["n_queries"] == 2 and summary["n_without_relevant"] == 1
    assert summary["mAP"] == pytest.approx(((1 + 2 / 3) / 2 + 0.25) / 2)
    assert summary["recall@2"] == pytest.approx(0.25)


def test_rank_relevance_excludes_self_and_orders_by_similarity():
    sim = np.array([[1.0, 0.2, 0.9, 0.5],
                    [0.2, 1.0, 0.1, 0.3],
                    [0.9, 0.1, 1.0, 0.4],
                    [0.5, 0.3, 0.4, 1.0]])
    labels = np.array(["p", "q", "p", "q"])
    rel = labels[:, None] == labels[None, :]
    ranked = M.rank_relevance(sim, rel, exclude_self=True)
    # query 0 ranks 2 (p, rel), 3 (q), 1 (q); query 1 ranks 3 (q, rel), 0, 2; query 3 ranks 0, 2, 1 (rel)
    assert ranked.tolist() == [[True, False, False], [True, False, False],
                               [True, False, False], [False, False, True]]
    s = M.per_query(ranked, k=10)
    np.testing.assert_allclose(s["ap"], [1, 1, 1, 1 / 3])
    np.testing.assert_allclose(s["mrr@10"], [1, 1, 1, 1 / 3])
    with pytest.raises(ValueError):
        M.rank_relevance(sim[:, :3], rel[:, :3], exclude_self=True)


def test_class_buckets_terciles_and_thresholds():
    labels = ["a"] * 6 + ["b"] * 4 + ["c"] * 3 + ["d"] * 2 + ["e"] + ["f"]
    # 6 classes by frequency a,b | c,d | e,f (ties by name)
    assert M.class_buckets(labels) == {"a": "head", "b": "head", "c": "medium", "d": "medium",
                                       "e": "tail", "f": "tail"}
    assert M.class_buckets(labels, head_min=4, tail_max=1) == {
        "a": "head", "b": "head", "c": "medium", "d": "medium", "e": "tail", "f": "tail"}
    assert M.class_buckets(["x", "y"]) == {"x": "head", "y": "medium"}
    with pytest.raises(ValueError):
        M.class_buckets(labels, head_min=3)


def test_retrieval_report_instance_class_and_text():
    # 4 images: two patents (P1: 0,1; P2: 2,3); classes: 0,1,2 -> "chair", 3 -> "lamp"
    v = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1]], dtype=np.float32)
    rep = M.retrieval_report(v, ["P1", "P1", "P2", "P2"], ["chair", "chair", "chair", "lamp"], k=1,
                             text_vecs=np.array([[1, 0], [0, 1]], dtype=np.float32), text_index=[1, 3])
    # nearest neighbours: 0->1, 1->2 (0.96 vs 0.8), 2->1, 3->2
    # instance: q0 hit@1 (AP 1); q1 ranks 2,0 -> rel 0 at rank 2 (AP 1/2); q2 ranks 1,3 -> AP 1/2; q3 ranks 2 -> AP 1
    assert rep["instance"]["mAP"] == pytest.approx((1 + 0.5 + 0.5 + 1) / 4)
    assert rep["instance"]["recall@1"] == pytest.approx(0.5)
    # class: lamp has no other member -> 3 queries; q0: ranks 1,2,3 -> rel 1,1,0 AP 1
    # q1: ranks 2 (.96), 0 (.8), 3 -> AP 1; q2: ranks 1 (.96), 3 (.8), 0 (.6) -> rel 1,0,1 -> AP (1 + 2/3) / 2
    assert rep["class"]["n_queries"] == 3
    assert rep["class"]["mAP"] == pytest.approx((1 + 1 + (1 + 2 / 3) / 2) / 3)
    assert rep["buckets"] == {"head": ["chair"], "medium": ["lamp"], "tail": []}
    assert rep["instance"]["per_bucket"]["medium"]["n_queries"] == 1
    assert rep["instance"]["per_bucket"]["medium"]["mAP"] == pytest.approx(1.0)
    # text 0 = [1,0] should find image 1 -> ranks 0 (1.0), 1 (0.8): rank 2
    # text 1 = [0,1] should find image 3 -> rank 1
    assert rep["text_to_image"]["recall@1"] == pytest.approx(0.5)
    assert rep["text_to_image"]["recall@5"] == pytest.approx(1.0)
    assert rep["text_to_image"]["mrr@10"] == pytest.approx((0.5 + 1) / 2)
