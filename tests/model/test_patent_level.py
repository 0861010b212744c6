"""Patent-level scoring of the drawing benchmark (bench/patent_level.py): a patent scores its best figure,
the query's own patent is left out of same-class rankings."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from backend.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))
patent_level = pytest.importorskip("patent_level")


def test_a_patent_scores_its_best_figure_and_a_copy_counts_once():
    patents = np.array(["A", "A", "B", "C"])
    sim = np.array([[0.1, 0.9, 0.5, 0.2],      # copy of an A drawing: A first
                    [0.1, 0.2, 0.5, 0.6]])     # copy of a B drawing: C, then B
    names, scores = patent_level.patent_scores(sim, patents)
    assert list(names) == ["A", "B", "C"] and scores[0].tolist() == [0.9, 0.5, 0.2]
    got = patent_level.copies(sim, patents, np.array(["A", "B"]))
    assert got["Hit@1"] == 0.5 and got["mAP"] == pytest.approx((1 + 1 / 2) / 2)


def test_same_class_leaves_the_own_patent_out_and_counts_patents_not_figures():
    patents = np.array(["A", "A", "B", "C", "D"])
    labels = np.array(["x", "x", "x", "y", "x"])
    sim = np.array([[1.0, 0.99, 0.2, 0.9, 0.1],     # A's own sister figure (0.99) must not count
                    [0.0, 0.0, 0.0, 0.0, 0.0],
                    [0.0, 0.0, 0.0, 0.0, 0.0],
                    [0.0, 0.0, 0.0, 0.0, 0.0],
                    [0.0, 0.0, 0.0, 0.0, 0.0]])
    got = patent_level.same_class(sim, patents, labels, patents, labels, queries=[0])
    # ranking of other patents: C (y), B (x), D (x): relevant at ranks 2 and 3
    assert got["mAP"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert got["P@10"] == pytest.approx(2 / 10) and got["Hit@10"] == 1.0 and got["queries"] == 1
    # a query whose class no other patent holds is not scored
    assert patent_level.same_class(sim, patents, labels, patents, labels, queries=[3])["queries"] == 0


def test_text_recall_is_the_share_of_relevant_drawings_in_the_top_k():
    sim = np.array([[0.9, 0.1, 0.8], [0.1, 0.2, 0.3]])
    relevant = np.array([[True, False, True], [True, False, False]])
    assert patent_level.text_recall(sim, relevant, k=1) == pytest.approx((0.5 + 0.0) / 2)


def test_the_consensus_sees_each_patent_once_as_the_search_groups_it():
    """bench/drawing_retrieval.py's per-patent consensus: each row keeps a patent's best figure only."""
    drawing_retrieval = pytest.importorskip("drawing_retrieval")
    sim = np.array([[0.2, 0.9, 0.5, -np.inf],
                    [0.8, 0.1, 0.3, 0.4]])
    got = drawing_retrieval.best_figure_per_patent(sim, ["A", "A", "B", "B"])
    assert got[0].tolist() == [-np.inf, 0.9, 0.5, -np.inf]
    assert got[1].tolist() == [0.8, -np.inf, -np.inf, 0.4]
