"""The two faces of a backend, as the pipeline sees them (typing protocols, nothing to inherit).

:class:`Retrieval` is every read :class:`~backend.search.pipeline.hybrid_search.HybridSearch` asks of a
backend: the two ranked lists (filtered before ranking, at most ``window`` each, grouped when asked), the
rankings past them (text and drawing tails) and their counts, display fields and snippets of a page, and
the few index checks behind warnings. :class:`IndexWriter` is what ingest, re-embedding and deletion
write through. :class:`SearchBackend` is what :func:`backend.search.get_backend` returns: both, the
patent/figure look-ups of the service, and ``search`` (the pipeline run over itself).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from backend.search.pipeline.candidates import Candidate, Query
from backend.search.pipeline.filters import FilterSpec
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.search.ranking.rerank import QueryDrawing
    from backend.search.request import SearchRequest
    from backend.search.response import SearchResponse

#: (number counted - patents when grouping -, "eq" or "gte", the asked keys among them)
Count = tuple[int, str, set[str]]


class Retrieval(Protocol):
    """The reads of one search (semantics: docs/search.md, "Semantics")."""

    name: str
    settings: Settings
    #: the count and the checks are round trips to a server: the pipeline sends them beside the rest
    concurrent_calls: bool

    def dims(self, fresh: bool = False) -> int | None:
        """The vector dimension of the index (None while unknown); ``fresh`` skips any cached value."""

    def get_figure(self, figure_id: str) -> dict | None:
        """The stored figure (with its vectors), None when the index has no such figure."""

    def retrieve(self, query: Query) -> tuple[list[Candidate], list[Candidate]]:
        """(BM25 list, vector list), best first, each at most ``query.window`` long, filtered."""

    def dense(self, query: Query, vector: np.ndarray) -> list[Candidate]:
        """Figures nearest ``vector`` by their patent's MiniLM text vector, filtered, at most ``window``
        (none where the index holds no dense vectors)."""

    def text_after(self, query: Query, after: tuple[float, str], limit: int) -> list[Candidate]:
        """At most ``limit`` entries of the full BM25 ranking (score desc, figure id asc; grouped: each
        patent's best figure) strictly after ``after`` = (score, figure id), filtered."""

    def text_count(self, query: Query, keys: list[str]) -> Count:
        """How many entries :meth:`text_after` ranks in all, and which of ``keys`` it holds."""

    def vector_after(self, query: Query, after: tuple[float, str] | None, limit: int) -> list[Candidate]:
        """At most ``limit`` entries of the full drawing ranking (cosine desc, figure id asc; grouped: each
        patent's closest figure) strictly after ``after`` (None: from the top), filtered, above the floor."""

    def vector_count(self, query: Query, keys: list[str]) -> Count:
        """How many entries :meth:`vector_after` ranks in all, and which of ``keys`` it holds."""

    def page_details(self, query: Query, figure_ids: list[str], missing: list[str]
                     ) -> tuple[dict[str, dict[str, str]], dict[str, dict]]:
        """(figure id -> {text field: snippet with ``<mark>``ed words} for the page's ``figure_ids``, display
        fields of the ``missing`` ones)."""

    def hydrate(self, figure_ids: list[str]) -> dict[str, dict]:
        """Display fields (:data:`documents.HIT_FIELDS`) of these figures."""

    def carries_scheme(self, scheme: str) -> bool:
        """Whether any document has a symbol of ``scheme`` (cpc, ipc, locarno)."""

    def any_match(self, spec: FilterSpec) -> bool:
        """Whether any document passes ``spec``."""

    def has_language_fields(self) -> bool:
        """Whether the index can hold German/French text."""

    def check_families(self) -> None:
        """Raise InvalidQuery when this index cannot group by family."""


class IndexWriter(Protocol):
    """The writes: figure documents in (``documents.prepare`` shapes them), patents out."""

    def index_figures(self, docs: list[dict], remove: Sequence[str] = ()) -> None:
        """Index ``docs`` (replacing figures of the same id); ``remove``: figure ids deleted in the same write."""

    def delete_patent(self, publication_number: str) -> int: ...

    def refresh(self) -> None:
        """Make the writes so far visible to searches."""

    def encoder_ids(self) -> dict[str | None, int]:
        """``model_id`` -> number of figures with a vector (None: vectors of unrecorded origin)."""


class SearchBackend(Retrieval, IndexWriter, Protocol):
    """A configured backend: retrieval and writes, the service's look-ups, and the search itself."""

    def count(self) -> int: ...

    def get_patent_figures(self, publication_number: str) -> list[dict]: ...

    def family_members(self, family_id: str) -> list[dict]: ...

    def search(self, request: SearchRequest | dict, window: int | None = None,
               drawing: QueryDrawing | None = None) -> SearchResponse: ...
