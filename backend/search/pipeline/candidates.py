"""What flows through the pipeline: the planned :class:`Query` a backend retrieves for, and the
:class:`Candidate` figures its ranked lists hold."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backend.search.pipeline import filters as filters_mod
from backend.search.pipeline.shards import ShardReport
from backend.search.text import lang_analysis
from backend.search.text.stop_words import STOP_WORDS

#: the classification schemes as users name them; each one's field that every symbol of it sets
SCHEME_LABELS = {"cpc": "CPC", "ipc": "IPC", "locarno": "Locarno"}
SCHEME_FIELDS = {"cpc": "cpc_section", "ipc": "ipc_section", "locarno": "locarno_class"}
#: what GET /patents/<n> lists per family member
FAMILY_MEMBER_FIELDS = ("publication_number", "kind", "country", "title", "publication_date", "filing_date")
MAX_FAMILY = 200
_WORDS = re.compile(r"\w+")


@dataclass
class Candidate:
    """One retrieved figure: its raw score in its list (BM25 score or cosine similarity)."""

    figure_id: str
    publication_number: str
    score: float
    cpc_subclass: list[str] = field(default_factory=list)
    locarno_class: list[str] = field(default_factory=list)
    source: dict | None = None          # display fields, when the backend already has them
    family_id: str | None = None        # the patent family (documents.prepare: own number when unknown)
    ipc_subclass: list[str] = field(default_factory=list)
    #: read for facets only (Query.facets): applicant keys, country, publication year
    applicant_keys: list[str] = field(default_factory=list)
    country: list[str] = field(default_factory=list)
    year: list[str] = field(default_factory=list)
    #: where a ranking read past this entry goes on, when not (score, figure id) (the backend's own keyset)
    keyset: tuple[float, str] | None = None

    def key(self, group_field: str) -> str:
        """What a grouped list keeps one of: the patent, or with ``one_per_family`` its family."""
        if group_field == "family_id":
            return self.family_id or self.publication_number
        return self.publication_number


@dataclass
class Query:
    """One search as the backends see it: words, vector, filters, window and grouping (no paging)."""

    text: str | None
    terms: list[str]
    vector: np.ndarray | None
    spec: filters_mod.FilterSpec
    window: int
    group: bool
    similarity_floor: float | None
    node: Any = None        # the query-language tree when the text is not plain words (query_language)
    group_field: str = "publication_number"     # or "family_id" (one_per_family)
    english: bool = True    # search the main (English) text fields (request ``languages``)
    #: plain words: the German/French languages searched in their own fields (tokens: :attr:`lang_terms`)
    other_languages: tuple[str, ...] = ()
    #: the request wants facets: every list's candidates carry their classification symbols
    facets: bool = False
    #: what the shards said (Elasticsearch): failed / timed out shards make the result partial
    shards: ShardReport = field(default_factory=ShardReport)
    _lang_terms: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)
    #: what a backend computes once for this search and reads again (its ranking, count and tail all ask);
    #: not an init field, so a copy made by dataclasses.replace (another vector, no words) starts empty
    memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def lang_terms(self) -> dict[str, list[str]]:
        """German/French query tokens (lang_analysis) per searched language that has any; computed on first
        use (the German word list loads then: the embedded backend asks only when it holds such text)."""
        if self._lang_terms is None:
            found = {lang: lang_analysis.query_tokens(self.text, lang) for lang in self.other_languages} \
                if self.text else {}
            self._lang_terms = {lang: tokens for lang, tokens in found.items() if tokens}
        return self._lang_terms


def query_terms(text: str | None) -> list[str]:
    """Lower-cased word tokens of ``text`` without English stop words (order kept, unique)."""
    if not text:
        return []
    words = _WORDS.findall(text.casefold())
    return list(dict.fromkeys(w for w in words if w not in STOP_WORDS))


def dedupe(cands: list[Candidate], group_field: str = "publication_number") -> list[Candidate]:
    """The first candidate of each group (patent or family), order kept."""
    seen: set[str] = set()
    out = []
    for c in cands:
        if c.key(group_field) not in seen:
            seen.add(c.key(group_field))
            out.append(c)
    return out
