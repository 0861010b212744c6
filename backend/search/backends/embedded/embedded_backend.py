"""The single-machine backend: SQLite FTS5 for text (plain words ranked by FTS5's ``bm25()`` computed in
NumPy from FTS5's postings, :mod:`.fts_bm25`; phrases and the query language by SQL), exact NumPy cosine
search for vectors.

:class:`EmbeddedBackend` is the store (:mod:`.store`: the SQLite file, writes, the in-memory
:mod:`.snapshot` of filters and vectors, rebuilt when another write bumps the stored generation) with the
reads of :class:`backend.search.pipeline.protocols.Retrieval` on top (:mod:`.text_search`,
:mod:`.vector_search`). Filters are applied before ranking, exactly as in the ES backend (``knn.filter``).
``search`` runs :class:`backend.search.pipeline.hybrid_search.HybridSearch` over it.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from backend.search.backends.embedded import text_search, vector_search
from backend.search.backends.embedded.store import EmbeddedStore
from backend.search.index import documents
from backend.search.pipeline.candidates import Candidate, Query
from backend.search.pipeline.hybrid_search import HybridSearch
from backend.search.pipeline.protocols import Count
from backend.search.ranking.rerank import QueryDrawing
from backend.search.request import SearchRequest
from backend.search.response import SearchResponse
from backend.settings import Settings


class EmbeddedBackend(EmbeddedStore):
    name = "embedded"
    #: every read is in this process: nothing is sent beside the rest of a search
    concurrent_calls = False

    def __init__(self, settings: Settings, directory: Path | None = None):
        super().__init__(settings, directory)
        self._pool: ThreadPoolExecutor | None = None
        self.pipeline = HybridSearch(self, settings)

    def search(self, request: SearchRequest | dict, window: int | None = None,
               drawing: QueryDrawing | None = None) -> SearchResponse:
        return self.pipeline.search(request, window, drawing)

    # -- retrieval ------------------------------------------------------------------------------
    def retrieve(self, query: Query) -> tuple[list[Candidate], list[Candidate]]:
        snap = self.snapshot()
        if not len(snap):
            return [], []
        mask = snap.mask(query.spec)
        if len(snap) < self.parallel_min_rows or not query.terms:
            return text_search.bm25(self, snap, query, mask), vector_search.knn(snap, query, mask)
        # large index: the nearest vectors and the unranked matches (what the total counts, text_count)
        # are read in other threads while FTS5 ranks the text (sqlite3 and faiss release the GIL)
        pool = self._workers()
        knn = pool.submit(vector_search.knn, snap, query, mask) if query.vector is not None else None
        if query.node is None and text_search.plain_scores(self, snap, query) is None:
            query.memo["pending_matches"] = (snap, pool.submit(text_search.matches, self, snap, query, mask))
        bm25 = text_search.bm25(self, snap, query, mask)
        return bm25, (knn.result() if knn is not None else [])

    def _workers(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(2, thread_name_prefix="prism-embedded-search")
        return self._pool

    def text_after(self, query: Query, after: tuple[float, str], limit: int) -> list[Candidate]:
        return text_search.text_after(self, query, after, limit)

    def text_count(self, query: Query, keys: list[str]) -> Count:
        return text_search.text_count(self, query, keys)

    def vector_after(self, query: Query, after: tuple[float, str] | None, limit: int) -> list[Candidate]:
        return vector_search.vector_after(self, query, after, limit)

    def vector_count(self, query: Query, keys: list[str]) -> Count:
        return vector_search.vector_count(self, query, keys)

    def dense(self, query: Query, vector: np.ndarray) -> list[Candidate]:
        return vector_search.dense(self, query, vector)

    def page_details(self, query: Query, figure_ids: list[str], missing: list[str]
                     ) -> tuple[dict[str, dict[str, str]], dict[str, dict]]:
        found = text_search.snippets(self, query, figure_ids) if query.terms and figure_ids else {}
        return found, (self.hydrate(missing) if missing else {})

    def has_language_fields(self) -> bool:
        return True

    def check_families(self) -> None:
        """Every figure has its family (its own number when unknown): any index can group by family."""

    def hydrate(self, figure_ids: list[str]) -> dict[str, dict]:
        out = {}
        conn = self.conn()
        for start in range(0, len(figure_ids), 500):
            chunk = figure_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for fid, doc_json in conn.execute(f"SELECT figure_id, doc FROM figures WHERE figure_id IN ({marks})",
                                              chunk):
                doc = json.loads(doc_json)
                out[fid] = {k: doc.get(k) for k in documents.HIT_FIELDS}
        return out
