"""Retrieval metrics: mAP, Recall@k, MRR@k per query, overall and per class-frequency bucket.

Definitions (per query ``q`` over a gallery ranked by descending similarity, ties broken by
gallery order; the query itself is excluded when ``exclude_self``):

- ``AP(q) = (1/R) sum_{r: item r relevant} precision@r`` with ``R`` relevant items in the gallery,
- ``Recall@k(q) = |relevant in top k| / R``,
- ``MRR@k(q) = 1 / rank of the first relevant item`` if that rank <= k, else 0.

Queries with no relevant item (``R = 0``) are left out of the means and counted separately.

Buckets (:func:`class_buckets`): classes are ranked by frequency (descending, ties by name) and
split into terciles of the *classes*: the first third is ``head``, the next ``medium``, the rest
``tail`` (with C classes, rank r < C/3 -> head, r < 2C/3 -> medium). Alternatively fixed
thresholds: ``head`` if count >= head_min, ``tail`` if count <= tail_max, else ``medium``.
A query belongs to its class's bucket.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

BUCKETS = ("head", "medium", "tail")


def rank_relevance(sim: np.ndarray, relevant: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    """Relevance flags of each query's gallery in ranked order, shape (n_queries, n_gallery)."""
    sim = np.asarray(sim, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if sim.shape != relevant.shape or sim.ndim != 2:
        raise ValueError(f"similarity {sim.shape} and relevance {relevant.shape} must be equal 2-D shapes")
    if exclude_self:
        if sim.shape[0] != sim.shape[1]:
            raise ValueError("exclude_self needs a square (gallery == queries) similarity matrix")
        sim = sim.copy()
        relevant = relevant.copy()
        np.fill_diagonal(sim, -np.inf)
        np.fill_diagonal(relevant, False)
    order = np.argsort(-sim, axis=1, kind="stable")
    ranked = np.take_along_axis(relevant, order, axis=1)
    if exclude_self:
        ranked = ranked[:, :-1]  # the query itself sorts last (similarity -inf)
    return ranked


def per_query(ranked: np.ndarray, k: int = 10) -> dict[str, np.ndarray]:
    """AP, Recall@k, MRR@k and R for every query from ranked relevance flags."""
    ranked = np.asarray(ranked, dtype=bool)
    n_rel = ranked.sum(axis=1)
    hits = np.cumsum(ranked, axis=1)
    positions = np.arange(1, ranked.shape[1] + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.where(n_rel > 0, (ranked * hits / positions).sum(axis=1) / np.maximum(n_rel, 1), np.nan)
        kk = min(k, ranked.shape[1])
        recall = np.where(n_rel > 0, (hits[:, kk - 1] if kk else 0) / np.maximum(n_rel, 1), np.nan)
    first = np.where(ranked.any(axis=1), ranked.argmax(axis=1) + 1, 0)
    mrr = np.where(n_rel > 0, np.where((first > 0) & (first <= k), 1.0 / np.maximum(first, 1), 0.0), np.nan)
    return {"ap": ap, f"recall@{k}": recall, f"mrr@{k}": mrr, "n_relevant": n_rel}


def summarise(scores: dict[str, np.ndarray], mask: np.ndarray | None = None) -> dict[str, float | int]:
    valid = scores["n_relevant"] > 0
    if mask is not None:
        valid = valid & mask
        considered = int(mask.sum())
    else:
        considered = int(valid.size)
    out: dict[str, float | int] = {"n_queries": int(valid.sum()), "n_without_relevant": considered - int(valid.sum())}
    for name, values in scores.items():
        if name == "n_relevant":
            continue
        key = "mAP" if name == "ap" else name
        out[key] = float(np.mean(values[valid])) if valid.any() else float("nan")
    return out


def class_buckets(labels: Iterable[str], head_min: int | None = None, tail_max: int | None = None) -> dict[str, str]:
    """Class -> "head" | "medium" | "tail" (see module docstring for the rule)."""
    counts = Counter(labels)
    if (head_min is None) != (tail_max is None):
        raise ValueError("give both head_min and tail_max, or neither")
    if head_min is not None:
        if tail_max >= head_min:
            raise ValueError(f"tail_max ({tail_max}) must be below head_min ({head_min})")
        return {c: "head" if n >= head_min else "tail" if n <= tail_max else "medium" for c, n in counts.items()}
    ranked = sorted(counts, key=lambda c: (-counts[c], str(c)))
    total = len(ranked)
    return {c: "head" if 3 * r < total else "medium" if 3 * r < 2 * total else "tail" for r, c in enumerate(ranked)}


def retrieval_report(
    image_vecs: np.ndarray,
    patents: Sequence[str],
    classes: Sequence[str],
    buckets: dict[str, str] | None = None,
    k: int = 10,
    text_vecs: np.ndarray | None = None,
    text_index: Sequence[int] | None = None,
) -> dict:
    """Image->image retrieval (every image queries all others) at instance and class level.

    ``text_vecs[t]`` describes image ``text_index[t]``; text->image Recall@{1,5,10} counts a hit
    when that image is in the top k.
    """
    image_vecs = np.asarray(image_vecs, dtype=np.float32)
    n = image_vecs.shape[0]
    if len(patents) != n or len(classes) != n:
        raise ValueError("patents and classes need one entry per image")
    patents_a = np.asarray(patents, dtype=object)
    classes_a = np.asarray(classes, dtype=object)
    rule = "class-frequency terciles (over this set)" if buckets is None else "given"
    buckets = buckets if buckets is not None else class_buckets(classes)
    sim = image_vecs @ image_vecs.T
    report: dict = {"n_images": n, "k": k, "bucket_rule": rule}
    bucket_of = np.asarray([buckets.get(c, "tail") for c in classes], dtype=object)
    for level, labels in (("instance", patents_a), ("class", classes_a)):
        relevant = labels[:, None] == labels[None, :]
        scores = per_query(rank_relevance(sim, relevant, exclude_self=True), k=k)
        report[level] = summarise(scores)
        report[level]["per_bucket"] = {b: summarise(scores, bucket_of == b) for b in BUCKETS}
    report["buckets"] = {b: sorted({str(c) for c in classes if buckets.get(c, "tail") == b}) for b in BUCKETS}
    if text_vecs is not None and len(text_vecs):
        text_vecs = np.asarray(text_vecs, dtype=np.float32)
        target = np.asarray(text_index)
        tsim = text_vecs @ image_vecs.T
        order = np.argsort(-tsim, axis=1, kind="stable")
        rank = np.argmax(order == target[:, None], axis=1) + 1
        report["text_to_image"] = {"n_texts": len(target),
                                   **{f"recall@{kk}": float(np.mean(rank <= kk)) for kk in (1, 5, 10)},
                                   "mrr@10": float(np.mean(np.where(rank <= 10, 1.0 / rank, 0.0)))}
    return report
