"""Fusing ranked lists (BM25 and vector) into one, in our code so both backends agree exactly.

* :func:`rrf` — reciprocal rank fusion: ``fused(d) = sum_l w_l / (k + rank_l(d))`` (rank from 1).
* :func:`weighted` — per-query min-max normalised scores: ``fused(d) = sum_l w_l * (s_l(d) - min_l) /
  (max_l - min_l)`` (a list whose scores are all equal normalises to 1).

Ties are broken by key (ascending) so the order is total and pages are stable.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

TEXT, VECTOR = "bm25", "vector"
DENSE = "dense"          # the dense text list (MiniLM text vectors), fused with BM25 for plain words


@dataclass(frozen=True)
class Ranked:
    """One entry of a ranked list: ``key`` (figure id or publication number) and its raw score."""

    key: str
    score: float


@dataclass
class Fused:
    key: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)          # list name -> rank (1-based)
    scores: dict[str, float] = field(default_factory=dict)       # list name -> raw score
    contributions: dict[str, float] = field(default_factory=dict)

    def share(self, name: str) -> float:
        total = sum(self.contributions.values())
        return self.contributions.get(name, 0.0) / total if total > 0 else 0.0


def _rank_maps(lists: dict[str, list[Ranked]]) -> dict[str, dict[str, tuple[int, float]]]:
    out: dict[str, dict[str, tuple[int, float]]] = {}
    for name, entries in lists.items():
        seen: dict[str, tuple[int, float]] = {}
        for entry in entries:
            if entry.key not in seen:
                seen[entry.key] = (len(seen) + 1, entry.score)
        out[name] = seen
    return out


def _combine(lists: dict[str, list[Ranked]], contribution: Callable[[str, int, float], float]) -> list[Fused]:
    fused: dict[str, Fused] = {}
    for name, ranks in _rank_maps(lists).items():
        for key, (rank, score) in ranks.items():
            item = fused.setdefault(key, Fused(key, 0.0))
            item.ranks[name] = rank
            item.scores[name] = score
            item.contributions[name] = contribution(name, rank, score)
    for item in fused.values():
        item.score = sum(item.contributions.values())
    return sorted(fused.values(), key=lambda f: (-f.score, f.key))


def rrf(lists: dict[str, list[Ranked]], weights: dict[str, float], k: int = 60) -> list[Fused]:
    """Reciprocal rank fusion of ``lists`` (each best first)."""
    if k < 1:
        raise ValueError("rrf k must be >= 1")
    return _combine(lists, lambda name, rank, _score: weights.get(name, 1.0) / (k + rank))


def weighted(lists: dict[str, list[Ranked]], weights: dict[str, float]) -> list[Fused]:
    """Weighted sum of per-list min-max normalised scores."""
    bounds = {}
    for name, entries in lists.items():
        scores = [e.score for e in entries]
        bounds[name] = (min(scores), max(scores)) if scores else (0.0, 0.0)

    def contribution(name: str, _rank: int, score: float) -> float:
        lo, hi = bounds[name]
        norm = 1.0 if hi == lo else (score - lo) / (hi - lo)
        return weights.get(name, 1.0) * norm

    return _combine(lists, contribution)


def fuse(mode: str, lists: dict[str, list[Ranked]], weights: dict[str, float], k: int = 60) -> list[Fused]:
    if mode == "rrf":
        return rrf(lists, weights, k)
    if mode == "weighted":
        return weighted(lists, weights)
    raise ValueError(f"unknown fusion {mode!r}; expected rrf or weighted")
