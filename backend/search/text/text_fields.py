"""The text fields BM25 ranks on and their weights - one table for both backends.

The weights were chosen on the dev half of the judged collection of ``bench/text_ranking.py`` (see
docs/search.md, "Text ranking"): the title is no longer boosted (captions built from the title already
repeat its words), and captions count a quarter (they restate the title and the figure description).
The embedded backend passes them to FTS5 ``bm25()`` as column weights (term frequencies are weighted,
one document length); Elasticsearch uses them as ``multi_match`` boosts.
"""
from __future__ import annotations

from backend.search.index.documents import TEXT_FIELDS

#: Field -> weight. A weight of 0 keeps the field stored and searchable by field queries but out of the
#: plain-words ranking.
FIELD_WEIGHTS: dict[str, float] = {"title": 1.0, "abstract": 1.0, "claims": 0.5, "description": 0.5,
                                   "captions": 0.25}

assert set(FIELD_WEIGHTS) == set(TEXT_FIELDS)


def fts_weights() -> list[float]:
    """Column weights in the FTS table's column order (:data:`documents.TEXT_FIELDS`)."""
    return [float(FIELD_WEIGHTS[f]) for f in TEXT_FIELDS]


def es_fields() -> list[str]:
    """``multi_match`` fields with boosts (``title^3``); fields of weight 0 are left out."""
    return [f if FIELD_WEIGHTS[f] == 1 else f"{f}^{FIELD_WEIGHTS[f]:g}" for f in TEXT_FIELDS if FIELD_WEIGHTS[f] > 0]
