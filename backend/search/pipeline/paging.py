"""Paging past the rank window: the cursor and the "fused head, then the text ranking" rule.

The result list of a search is

1. the **fused head**: the fusion (RRF or weighted) of the first ``window`` entries of the BM25 list
   and the ``window`` nearest vectors, then
2. the **text tail**: the rest of the BM25 ranking (entries ``window + 1 ...``), best first, without
   the keys the head already holds (vector hits that also match the text further down).

``total`` is the exact size of that list (the head + every further text match); pages walk it with
an opaque cursor: an offset inside the head, and past it a keyset (score and figure id of the last
text entry shown) so the tail is read with ``search_after`` (Elasticsearch) or from the ranked
matches (embedded) without skipping or repeating anything.
"""
from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

from backend.search.errors import InvalidQuery

_NOT_OURS = "cursor: not a cursor this API returned"


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: ``offset`` results shown so far; ``after`` the (score, figure id) of
    the last text-tail entry read (None while still in the head); ``rank`` its text rank."""

    offset: int = 0
    after: tuple[float, str] | None = None
    rank: int = 0


def encode(cursor: Cursor, fingerprint: str) -> str:
    data: dict = {"o": cursor.offset, "f": fingerprint}
    if cursor.after is not None:
        data["a"] = [cursor.after[0], cursor.after[1]]
        data["r"] = cursor.rank
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str | None, fingerprint: str) -> Cursor:
    if not text:
        return Cursor()
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        offset, fp, rank = _integer(data["o"]), str(data["f"]), _integer(data.get("r", 0))
        after = None
        if "a" in data:
            score, fid = data["a"]
            after = (float(score), str(fid))
            if not math.isfinite(after[0]):
                raise ValueError
    except (ValueError, KeyError, TypeError, OverflowError):
        raise InvalidQuery(_NOT_OURS) from None
    if offset < 0 or rank < 0:
        raise InvalidQuery(_NOT_OURS)
    if fp != fingerprint:
        raise InvalidQuery("cursor: belongs to a different query (change only size, facets or explain "
                           "between pages)")
    return Cursor(offset, after, rank)


def _integer(value: object) -> int:
    """An offset or rank as this API writes it: a JSON integer below 2**53 (1e999, 1.5 or "3" are not)."""
    if type(value) is not int or not 0 <= value < 2 ** 53:
        raise ValueError
    return value


def tail_score(mode: str, weight: float, rank: int, score: float, k: int, bounds: tuple[float, float] | None
               ) -> float:
    """The score shown for a text-tail entry, on the fused scale: RRF ``w / (k + rank)``; weighted:
    ``w`` times the score min-max normalised with the head's BM25 bounds, at least 0."""
    if mode == "rrf":
        return weight / (k + rank)
    if not bounds or bounds[1] == bounds[0]:
        return 0.0
    lo, hi = bounds
    return max(0.0, weight * (score - lo) / (hi - lo))
