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

With a ``temperature`` the closer voters weigh more: voter ``i`` counts ``exp((s_i - s_1) / temperature)``
(``s_1`` the closest drawing's cosine) and the shares are of that weighted vote.

The re-ordering is *position-protected and banded* (:func:`banded_order`): the ``head`` drawings closest to
the query keep their places at the top (the first results are the nearest neighbours, as without the
consensus: a close match is never hidden), and below them a figure may pass another only when its cosine is
at most ``band`` below it, so a much closer drawing is never pushed under a much weaker one (:func:`guarantee`
says the rule in one sentence). Every move is said in plain words (:func:`reasons`: "ranked up 12: 4 of the
30 closest drawings are Locarno 02-04").

The query's own classification is never used, so it also works for an uploaded drawing of an unknown
patent. Settings: ``PRISM_SEARCH_CLASS_CONSENSUS_K`` (0: off), ``PRISM_SEARCH_CLASS_CONSENSUS_WEIGHT`` and
``PRISM_SEARCH_PATENT_CONSENSUS_WEIGHT``, ``PRISM_SEARCH_CLASS_CONSENSUS_TEMPERATURE``,
``PRISM_SEARCH_CLASS_CONSENSUS_HEAD``, ``PRISM_SEARCH_CLASS_CONSENSUS_BAND``; chosen on the dev split
(``bench/consensus_bench.py``, docs/benchmarks.md).
"""
from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Vote:
    code: str | None     # the figure's code with the largest share among the k nearest (None: no share)
    share: float         # that share, in [0, 1] (of the similarity-weighted vote with a temperature)
    count: int = 0       # how many of the k nearest carry that code


NO_VOTE = Vote(None, 0.0)


def class_codes(cpc_subclass: Iterable[str] = (), locarno_class: Iterable[str] = (),
                ipc_subclass: Iterable[str] = ()) -> set[str]:
    """A figure's codes as the consensus counts them: scheme-qualified, so a subclass and a Locarno class
    never collide. CPC and IPC share their subclass symbols (A47C is both), so they count as one code:
    ``subclass:A47C``."""
    return ({f"subclass:{c}" for c in (*(cpc_subclass or ()), *(ipc_subclass or ()))}
            | {f"locarno:{c}" for c in locarno_class or ()})


def consensus(similarities: Sequence[float], codes: Sequence[set[str]], k: int,
              weight: float, *, temperature: float = 0.0) -> tuple[np.ndarray, list[Vote]]:
    """Scores ``similarity + weight * share`` and each entry's vote, for a list of entries with their
    cosine to the query and their class codes. The voters are the ``k`` most similar entries (ties by
    position); with ``temperature`` > 0 voter ``i`` weighs ``exp((s_i - s_1) / temperature)``, else each
    counts once."""
    sims = np.asarray(similarities, dtype=np.float64)
    if len(sims) != len(codes):
        raise ValueError(f"{len(sims)} similarities but {len(codes)} code sets")
    if not temperature >= 0 or not math.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number >= 0, not {temperature}")
    if k <= 0 or weight == 0 or len(sims) == 0:
        return sims.copy(), [NO_VOTE] * len(sims)
    voters = np.argsort(-sims, kind="stable")[:k]
    weights = (np.exp((sims[voters] - sims[voters[0]]) / temperature) if temperature > 0
               else np.ones(len(voters)))
    weights = weights / weights.sum()
    counts: Counter[str] = Counter()
    mass: dict[str, float] = {}
    for i, w in zip(voters, weights):
        counts.update(codes[i])
        for c in codes[i]:
            mass[c] = mass.get(c, 0.0) + float(w)
    votes = []
    for own in codes:
        best = max(sorted(own), key=lambda c: (mass.get(c, 0.0), counts[c]), default=None)
        votes.append(Vote(best, min(1.0, mass[best]), counts[best]) if best is not None and counts[best]
                     else NO_VOTE)
    shares = np.array([v.share for v in votes], dtype=np.float64)
    return sims + weight * shares, votes


def list_consensus(similarities: Sequence[float], codes: Sequence[set[str]], patents: Sequence[str], k: int,
                   class_weight: float, patent_weight: float, *,
                   temperature: float = 0.0) -> tuple[np.ndarray, list[Vote], list[Vote]]:
    """Scores ``similarity + class_weight * class share + patent_weight * patent share`` of a vector list,
    with each entry's class vote and patent vote (``temperature``: see :func:`consensus`)."""
    sims = np.asarray(similarities, dtype=np.float64)
    by_class, class_votes = consensus(sims, codes, k, class_weight, temperature=temperature)
    by_patent, patent_votes = consensus(sims, [{f"patent:{p}"} for p in patents], k, patent_weight,
                                        temperature=temperature)
    return by_class + (by_patent - sims), class_votes, patent_votes


def banded_order(similarities: Sequence[float], scores: Sequence[float], band: float | None, *,
                 head: int = 0) -> list[int]:
    """The entries ordered by ``scores`` (best first) where the first ``head`` places go to the ``head`` most
    similar entries in similarity order, and below them no entry goes above one whose similarity is more
    than ``band`` higher: the next entry is the best-scored among those within ``band`` of the most similar
    entry still unplaced (ties: the more similar, then the earlier). ``band`` None: by score alone below
    the head."""
    sims = np.asarray(similarities, dtype=np.float64)
    score = np.asarray(scores, dtype=np.float64)
    if head < 0:
        raise ValueError(f"head must be >= 0, not {head}")
    if band is not None and not band >= 0:
        raise ValueError(f"band must be >= 0 or None, not {band}")
    if band is None and head == 0:
        return sorted(range(len(sims)), key=lambda i: (-score[i], -sims[i], i))
    by_sim = sorted(range(len(sims)), key=lambda i: (-sims[i], i))
    rank_of = {i: r for r, i in enumerate(by_sim)}
    placed = np.zeros(len(sims), dtype=bool)
    heap: list[tuple[float, int, int]] = []
    out: list[int] = []
    below = math.inf if band is None else band
    top = added = 0           # top: the most similar unplaced entry (in by_sim); added: entries in the heap
    while len(out) < len(sims):
        while placed[by_sim[top]]:
            top += 1
        # a head place: only entries as similar as the most similar unplaced one (band 0); below: ``band``.
        # The bar never rises (the band only widens), so an entry once in the heap stays placeable.
        bar = sims[by_sim[top]] - (0.0 if len(out) < head else below)
        while added < len(by_sim) and sims[by_sim[added]] >= bar:
            i = by_sim[added]
            heapq.heappush(heap, (-score[i], rank_of[i], i))
            added += 1
        _neg, _rank, i = heapq.heappop(heap)
        placed[i] = True
        out.append(i)
    return out


def guarantee(head: int, band: float | None) -> str:
    """The rule of :func:`banded_order` in one sentence, as the UI can show it."""
    kept = (f"The {head} drawings closest to the query keep their places at the top" if head > 1 else
            "The drawing closest to the query keeps its place at the top" if head == 1 else "")
    if band is None:
        rest = "the class vote orders the rest"
    else:
        rest = (f"a drawing is never ranked below one that is more than {band:g} less similar (cosine)"
                if band > 0 else "the order is by similarity")
    return f"{kept}; below them {rest}." if kept else f"{rest[0].upper()}{rest[1:]}."


def descending(scores: Sequence[float], order: Sequence[int]) -> np.ndarray:
    """Scores that fall strictly along ``order`` and otherwise stay as they are (each at most the one
    before it, less a hair): what a score-sorting consumer of a banded order sorts back into it."""
    out = np.asarray(scores, dtype=np.float64).copy()
    prev = np.inf
    for i in order:
        if np.isfinite(prev):
            out[i] = min(out[i], np.nextafter(prev, -np.inf))
        prev = out[i]
    return out


def _code_words(code: str) -> str:
    scheme, _, symbol = code.partition(":")
    return {"locarno": "Locarno", "subclass": "in"}.get(scheme, scheme) + f" {symbol}"


def reasons(similarities: Sequence[float], order: Sequence[int], class_votes: Sequence[Vote],
            patent_votes: Sequence[Vote], k: int, class_weight: float, patent_weight: float,
            band: float | None, *, head: int = 0) -> list[str | None]:
    """Per entry, why the consensus moved it (None: it kept its place by similarity): ranked up by the
    class or the patent that most of the ``k`` closest drawings share with it, or ranked down below
    entries within ``band`` that the closest drawings side with (``head``: the places kept by similarity,
    :func:`banded_order`)."""
    sims = np.asarray(similarities, dtype=np.float64)
    by_sim = sorted(range(len(sims)), key=lambda i: (-sims[i], i))
    sim_rank = {i: r for r, i in enumerate(by_sim)}
    voters = min(k, len(sims))
    out: list[str | None] = [None] * len(sims)
    for new_rank, i in enumerate(order):
        moved = sim_rank[i] - new_rank
        if moved == 0:
            continue
        cv, pv = class_votes[i], patent_votes[i]
        if moved > 0:
            if pv.code is not None and patent_weight * pv.share >= class_weight * cv.share:
                why = f"{_count(pv, voters)} of the {voters} closest drawings are from this patent"
            elif cv.code is not None:
                why = f"{_count(cv, voters)} of the {voters} closest drawings are {_code_words(cv.code)}"
            else:
                why = "entries closer to the query moved down"
            out[i] = f"ranked up {moved}: {why}"
        else:
            n = -moved
            within = f"at most {band:g} less similar " if band is not None else "less similar "
            kept = f", below the {head} closest" if head > 0 else ""
            out[i] = (f"ranked down {n}: {n} drawing{'s' if n > 1 else ''} {within}went first{kept}, in the class "
                      f"or patent of more of the {voters} closest drawings")
    return out


def _count(vote: Vote, voters: int) -> int:
    return vote.count or round(vote.share * voters)


def consensus_rows(sim: np.ndarray, codes: Sequence[set[str]], k: int, weight: float,
                   patents: Sequence[str] | None = None, patent_weight: float = 0.0,
                   band: float | None = None, *, head: int = 0, temperature: float = 0.0) -> np.ndarray:
    """:func:`list_consensus` applied to every row of a query x gallery similarity matrix (entries at -inf,
    such as the query itself, neither vote nor move); with ``band`` or ``head``, each row's order is
    :func:`banded_order` (scores made to fall along it: :func:`descending`)."""
    out = np.array(sim, dtype=np.float64, copy=True)
    for i, row in enumerate(sim):
        ok = np.flatnonzero(np.isfinite(row))
        if patents is None:
            scores, _votes = consensus(row[ok], [codes[j] for j in ok], k, weight, temperature=temperature)
        else:
            scores, _c, _p = list_consensus(row[ok], [codes[j] for j in ok], [patents[j] for j in ok], k, weight,
                                            patent_weight, temperature=temperature)
        if band is not None or head > 0:
            scores = descending(scores, banded_order(row[ok], scores, band, head=head))
        out[i, ok] = scores
    return out
