"""Class consensus: a drawing query's vector list re-ordered by the classes of its nearest figures.

Same-class prior art is what an examiner wants most from a drawing query, and the drawing encoder alone
finds it poorly (a small model on line art: `bench/drawing_retrieval.py`, task c). But the index knows
every figure's classification. The ``k`` figures nearest the query vote: each class code they carry (CPC
or IPC subclass, Locarno class) counts once per figure, and every figure in the list gains
``weight * share`` where ``share`` is the largest vote share among its own codes. A figure in the class
that dominates the drawing's neighbourhood rises above one that merely looks alike; the cosine itself is
left as it is (``explain.vector.similarity``), the share is reported beside it.

The same vote by *patent* (``patent_weight``): a patent with several sheets among the k nearest lifts its
other sheets too - the other views of a drawing that matched.

The query's own classification is never used, so it also works for an uploaded drawing of an unknown
patent. Settings: ``PRISM_SEARCH_CLASS_CONSENSUS_K`` (0: off), ``PRISM_SEARCH_CLASS_CONSENSUS_WEIGHT`` and
``PRISM_SEARCH_PATENT_CONSENSUS_WEIGHT``; chosen on the dev split (docs/model.md).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Vote:
    code: str | None     # the figure's code with the largest share among the k nearest (None: no share)
    share: float         # that share, in [0, 1]


NO_VOTE = Vote(None, 0.0)


def class_codes(cpc_subclass: Iterable[str] = (), locarno_class: Iterable[str] = (),
                ipc_subclass: Iterable[str] = ()) -> set[str]:
    """A figure's codes as the consensus counts them: scheme-qualified, so a subclass and a Locarno class
    never collide. CPC and IPC share their subclass symbols (A47C is both), so they count as one code:
    ``subclass:A47C``."""
    return ({f"subclass:{c}" for c in (*(cpc_subclass or ()), *(ipc_subclass or ()))}
            | {f"locarno:{c}" for c in locarno_class or ()})


def consensus(similarities: Sequence[float], codes: Sequence[set[str]], k: int,
              weight: float) -> tuple[np.ndarray, list[Vote]]:
    """Scores ``similarity + weight * share`` and each entry's vote, for a list of entries with their
    cosine to the query and their class codes. The voters are the ``k`` most similar entries (ties by
    position)."""
    sims = np.asarray(similarities, dtype=np.float64)
    if len(sims) != len(codes):
        raise ValueError(f"{len(sims)} similarities but {len(codes)} code sets")
    if k <= 0 or weight == 0 or len(sims) == 0:
        return sims.copy(), [NO_VOTE] * len(sims)
    voters = np.argsort(-sims, kind="stable")[:k]
    counts: Counter[str] = Counter()
    for i in voters:
        counts.update(codes[i])
    n = len(voters)
    votes = []
    for own in codes:
        best = max(sorted(own), key=lambda c: counts[c], default=None)
        votes.append(Vote(best, counts[best] / n) if best is not None and counts[best] else NO_VOTE)
    shares = np.array([v.share for v in votes], dtype=np.float64)
    return sims + weight * shares, votes


def list_consensus(similarities: Sequence[float], codes: Sequence[set[str]], patents: Sequence[str], k: int,
                   class_weight: float, patent_weight: float) -> tuple[np.ndarray, list[Vote], list[Vote]]:
    """Scores ``similarity + class_weight * class share + patent_weight * patent share`` of a vector list,
    with each entry's class vote and patent vote."""
    sims = np.asarray(similarities, dtype=np.float64)
    by_class, class_votes = consensus(sims, codes, k, class_weight)
    by_patent, patent_votes = consensus(sims, [{f"patent:{p}"} for p in patents], k, patent_weight)
    return by_class + (by_patent - sims), class_votes, patent_votes


def consensus_rows(sim: np.ndarray, codes: Sequence[set[str]], k: int, weight: float,
                   patents: Sequence[str] | None = None, patent_weight: float = 0.0) -> np.ndarray:
    """:func:`list_consensus` applied to every row of a query x gallery similarity matrix (entries at -inf,
    such as the query itself, neither vote nor move)."""
    out = np.array(sim, dtype=np.float64, copy=True)
    for i, row in enumerate(sim):
        ok = np.flatnonzero(np.isfinite(row))
        if patents is None:
            scores, _votes = consensus(row[ok], [codes[j] for j in ok], k, weight)
        else:
            scores, _c, _p = list_consensus(row[ok], [codes[j] for j in ok], [patents[j] for j in ok], k, weight,
                                            patent_weight)
        out[i, ok] = scores
    return out
