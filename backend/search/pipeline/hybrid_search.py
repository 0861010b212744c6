"""The hybrid search, composed with a backend: plan -> retrieve -> fuse -> verify -> page -> render.

:class:`HybridSearch` holds the pipeline; the backend it is given (:class:`.protocols.Retrieval`) only
*retrieves* (BM25 list and nearest-vector list, filters applied before ranking, at most ``window`` entries
each, grouped by patent when asked), reads the tails past them, counts and *hydrates* display fields.
Cursor, query vector resolution, grouping, fusion (:mod:`backend.search.ranking.fusion`), class consensus,
geometric verification, paging (:mod:`.paging`), facets and explain are here, so the embedded and
Elasticsearch backends give the same answers (semantics: docs/search.md).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import cast

import numpy as np

from backend.search.pipeline import filters as filters_mod
from backend.search.pipeline import hits as render
from backend.search.pipeline import paging
from backend.search.pipeline.candidates import SCHEME_LABELS, Candidate, Query, dedupe
from backend.search.pipeline.planning import coerce_request, fingerprint, plan, query_vector
from backend.search.pipeline.protocols import Retrieval
from backend.search.query_language.plain_query import is_plain_words
from backend.search.ranking import class_consensus, multi_view, rerank
from backend.search.ranking.fusion import DENSE, TEXT, VECTOR, Fused, Ranked, fuse
from backend.search.request import SearchRequest
from backend.search.response import Hit, SearchResponse, ViewMatch
from backend.search.text.languages import ANALYSED
from backend.settings import Settings

_BESIDE: ThreadPoolExecutor | None = None      # threads for HybridSearch.beside (shared, made on first use)
_BESIDE_LOCK = threading.Lock()


class HybridSearch:
    """One backend's search: ``HybridSearch(retrieval, settings).search(request)``. The settings are the
    ones given (never changed here); no HTTP (errors are backend/search/errors.py's)."""

    def __init__(self, retrieval: Retrieval, settings: Settings):
        self.retrieval = retrieval
        self.settings = settings

    def search(self, request: SearchRequest | dict, window: int | None = None,
               drawing: rerank.QueryDrawing | None = None) -> SearchResponse:
        """A page of results; ``drawing``: the uploaded query drawing's features for the verification."""
        request = coerce_request(request)
        r, s = self.retrieval, self.settings
        window = max(window or self.window_for(request), 1)
        stamp = fingerprint(request, window)
        cursor = paging.decode(request.cursor, stamp)
        views = multi_view.view_vectors(r, request)
        vector = multi_view.mean_vector(views) if views else query_vector(r, request)
        dims = r.dims() if vector is not None else None
        use_vector = vector is not None and request.weights.image > 0 and dims is not None
        if request.one_per_family:
            r.check_families()
        warning_checks = self.beside(self.scheme_warnings, request)
        query, parsed = plan(request, vector, use_vector, window, s.knn_similarity_floor)
        group, group_field = query.group, query.group_field
        bm25, knn = r.retrieve(query) if (query.text or query.vector is not None) else ([], [])
        bm25, knn = bm25[:window], knn[:window]
        dense = self.dense_list(request, query)
        if group:
            bm25, knn, dense = dedupe(bm25, group_field), dedupe(knn, group_field), dedupe(dense, group_field)
        keyof = (lambda c: c.key(group_field)) if group else (lambda c: c.figure_id)
        view_matches: dict = {}
        if views and query.vector is not None:   # several drawings: their lists fused per patent (multi_view.py)
            knn, view_matches = multi_view.fuse_views(r, query, views, keyof)
        nearest = knn                   # by cosine: the verification's candidates
        knn, knn_scores, votes = self.class_consensus(knn, keyof)
        by_list = {TEXT: {keyof(c): c for c in bm25}, VECTOR: {keyof(c): c for c in knn}}
        lists = {TEXT: [Ranked(keyof(c), c.score) for c in bm25],
                 VECTOR: [Ranked(keyof(c), knn_scores[keyof(c)]) for c in knn]}
        weights = {TEXT: request.weights.text, VECTOR: request.weights.image}
        if dense:
            by_list[DENSE] = {keyof(c): c for c in dense}
            lists[DENSE] = [Ranked(keyof(c), c.score) for c in dense]
            weights[DENSE] = request.weights.text
        fused = fuse(request.fusion, lists, weights, s.rrf_k)
        checks: dict = {}
        verified: dict[str, Candidate] = {}
        if knn and s.search_verify_top_k > 0:   # second stage: geometric verification (rerank.py)
            checks, checked = rerank.verify_nearest(r, s, drawing, request, query, nearest)
            fused, verified = rerank.verified_first(fused, checks, checked, keyof)

        # past the window (paging.py): with a drawing, the drawing ranking of every patent the head does not
        # hold (from its top: an approximate kNN head may have missed some); else the rest of the text ranking
        total, relation, tail_start, skip, counting = len(fused), "eq", None, set(), None
        drawing_tail = query.vector is not None
        if drawing_tail:
            skip = {item.key for item in fused}
            counting = self.beside(r.vector_count, query, sorted(skip))   # total: joined below
        elif query.terms and len(bm25) >= window:
            skip = {k for name in (VECTOR, DENSE) for k in by_list.get(name, {}) if k not in by_list[TEXT]}
            counting = self.beside(r.text_count, query, sorted(skip))   # total: joined below
            tail_start = (bm25[-1].score, bm25[-1].figure_id)

        def representative(item: Fused) -> Candidate:
            if item.key in verified:   # the verified figure stands for its patent
                return verified[item.key]
            names = sorted(item.contributions, key=lambda n: (-item.contributions[n], n != TEXT))
            return by_list[names[0]][item.key]

        head_page = fused[cursor.offset:cursor.offset + request.size]
        entries = [(item, representative(item)) for item in head_page]
        if drawing_tail:
            after, rank = cursor.after, cursor.rank
        else:
            after, rank = cursor.after or tail_start, cursor.rank or len(bm25)
        wanted = request.size - len(entries)
        exhausted = False
        if wanted > 0 and (tail_start is not None or drawing_tail):
            name, head, weight = (VECTOR, nearest, request.weights.image) if drawing_tail else \
                (TEXT, bm25, request.weights.text)
            bounds = (min(c.score for c in head), max(c.score for c in head)) if head else None
            tail, after, rank, exhausted = self.read_tail(query, after, rank, wanted, skip, keyof,
                                                          r.vector_after if drawing_tail else r.text_after)
            for cand, list_rank in tail:
                score = paging.tail_score(request.fusion, weight, list_rank, cand.score, s.rrf_k, bounds)
                item = Fused(keyof(cand), score, {name: list_rank}, {name: cand.score}, {name: score})
                entries.append((item, cand))
        hits = self.render(request, query, entries, view_matches)
        if checks:
            rerank.annotate(hits, checks)
        if request.explain and votes:
            render.explain_votes(hits, entries, by_list[VECTOR], votes, keyof)
        if counting is not None:
            n_list, relation, matching = counting.result()   # the head's entries among the counted: once
            total = len(fused) + max(0, n_list - (0 if drawing_tail else len(bm25)) - len(matching))
        end = cursor.offset + len(entries)
        in_tail = end > len(fused)
        next_cursor = None
        # a lower bound (bounded count, "gte"): the pages go on past it while the text ranking lasts
        more = end < total or relation == "gte"
        total = max(total, end) if relation == "gte" else total
        if entries and more and not exhausted:
            next_cursor = paging.encode(paging.Cursor(end, after if in_tail else None, rank if in_tail else 0),
                                        stamp)
        facets = render.facets([representative(item) for item in fused], s) if request.facets else None
        return SearchResponse(total=total, total_relation="gte" if relation == "gte" else "eq",
                              next_cursor=next_cursor, hits=hits,
                              facets=facets, parsed_query=parsed.render() if parsed is not None else None,
                              warnings=warning_checks.result() + self.language_warnings(request) or None,
                              partial=query.shards.partial,
                              shards=query.shards.to_json() if query.shards.partial else None)

    def render(self, request: SearchRequest, query: Query, entries: list[tuple[Fused, Candidate]],
               view_matches: dict) -> list[Hit]:
        """The page's hits: display fields hydrated where the lists had none, snippets, views matched."""
        missing = [c.figure_id for _item, c in entries if c.source is None]
        snippets, sources = self.retrieval.page_details(query, [c.figure_id for _item, c in entries], missing)
        hits = []
        for item, cand in entries:
            src = cand.source if cand.source is not None else sources.get(cand.figure_id, {})
            hits.append(render.render_hit(item, cand, src, request.explain, request.lang))
            if hits[-1].explain is not None and item.key in view_matches:
                hits[-1].explain.views = [ViewMatch(view=i + 1, figure_id=fid, similarity=sim)
                                          for i, (fid, sim) in enumerate(view_matches[item.key])]
        if query.terms and hits:
            render.add_snippets(hits, snippets, request.explain)
        return hits

    def window_for(self, request: SearchRequest) -> int:
        """How many entries each ranked list contributes: a query with a drawing ranks its
        ``search_drawing_window`` nearest figures (the class consensus re-orders within them, the tail past
        them is in drawing order); a text-only query its ``search_rank_window``."""
        s = self.settings
        drawing = request.weights.image > 0 and (request.vector is not None or bool(request.image_figure_id)
                                                 or bool(request.vectors) or bool(request.image_figure_ids))
        return max(s.search_rank_window, s.search_drawing_window) if drawing else s.search_rank_window

    def class_consensus(self, knn: list[Candidate], keyof) -> tuple[list[Candidate], dict[str, float], dict]:
        """The vector list re-ordered by class and patent consensus within the similarity band
        (class_consensus.py): (list, score by key - the cosine plus the weighted shares, made to fall along
        the banded order -, (class vote, patent vote, why it moved) by key; empty when off)."""
        s = self.settings
        k, wc, wp = s.search_class_consensus_k, s.search_class_consensus_weight, s.search_patent_consensus_weight
        if not knn or k <= 0 or (wc <= 0 and wp <= 0):
            return knn, {keyof(c): c.score for c in knn}, {}
        sims = [c.score for c in knn]
        scores, class_votes, patent_votes = class_consensus.list_consensus(
            sims, [class_consensus.class_codes(c.cpc_subclass, c.locarno_class, c.ipc_subclass) for c in knn],
            [c.publication_number for c in knn], k, wc, wp, temperature=s.search_class_consensus_temperature)
        order = class_consensus.banded_order(sims, cast(Sequence[float], scores), s.search_class_consensus_band,
                                             head=s.search_class_consensus_head)
        scores = class_consensus.descending(cast(Sequence[float], scores), order)
        why = class_consensus.reasons(sims, order, class_votes, patent_votes, k, wc, wp, s.search_class_consensus_band,
                                      head=s.search_class_consensus_head)
        return ([knn[i] for i in order], {keyof(knn[i]): float(scores[i]) for i in order},
                {keyof(knn[i]): (class_votes[i], patent_votes[i], why[i]) for i in order})

    def beside(self, fn, *args) -> Future:
        """``fn(*args)`` in a thread beside the rest of the search when the backend's calls are round trips
        (``concurrent_calls``), else at once (a hand-off to a thread costs more than an in-memory call);
        its result (or exception) from the future."""
        global _BESIDE
        if self.retrieval.concurrent_calls:
            if _BESIDE is None:
                with _BESIDE_LOCK:
                    if _BESIDE is None:
                        _BESIDE = ThreadPoolExecutor(8, thread_name_prefix="prism-search-beside")
            return _BESIDE.submit(fn, *args)
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - re-raised by result(), as from a thread
            done.set_exception(exc)
        return done

    def scheme_warnings(self, request: SearchRequest) -> list[str]:
        """A warning per included classification that no document of the index carries (whatever the
        other filters): the scheme as a whole (CPC on a design-only corpus) or the symbol. Such a filter
        alone explains an empty result."""
        out = []
        for scheme, label in SCHEME_LABELS.items():
            include = getattr(request.filters, scheme).include
            if not include:
                continue
            if not self.retrieval.carries_scheme(scheme):
                out.append(f"filters.{scheme}: no document in this index carries a {label} classification, "
                           f"so the {label} filter matches nothing")
                continue
            absent = [s for s in include if not self.retrieval.any_match(
                filters_mod.FilterSpec(must_any=[[filters_mod.symbol_clause(scheme, s)]]))]
            if absent:
                out.append(f"filters.{scheme}: no document in this index carries {label} {', '.join(absent)}")
        return out

    def language_warnings(self, request: SearchRequest) -> list[str]:
        """A warning when the request names German or French and the index has no fields for them (an
        Elasticsearch index created before the per-language fields): that alone explains no such hit."""
        wanted = [lang for lang in (request.languages or ()) if lang in ANALYSED]
        if wanted and request.text and not self.retrieval.has_language_fields():
            return [f"languages: this index was created before the German/French fields, so {', '.join(wanted)} "
                    f"finds nothing; run `prism index reindex` and ingest the EPO documents again"]
        return []

    def dense_list(self, request: SearchRequest, query: Query) -> list[Candidate]:
        """The dense text list: only for plain-word queries, and only with PRISM_SEARCH_DENSE_TEXT on."""
        if not (self.settings.search_dense_text and query.terms and query.english
                and is_plain_words(request.text)):
            return []
        from backend.search.text import dense_text

        vector: np.ndarray | None = dense_text.encode_query(request.text or "", self.settings)
        if vector is None:
            return []
        found = self.retrieval.dense(query, vector)[:query.window]
        return dedupe(found) if query.group else found

    @staticmethod
    def read_tail(query: Query, after: tuple[float, str] | None, rank: int, wanted: int, skip: set[str], keyof,
                  read) -> tuple[list[tuple[Candidate, int]], tuple[float, str] | None, int, bool]:
        """Up to ``wanted`` entries of a ranking (``read``: the backend's text or vector tail) after ``after``
        that the head does not hold, with their rank in that ranking; returns them, the new keyset and rank,
        and whether the ranking ran out."""
        out: list[tuple[Candidate, int]] = []
        while len(out) < wanted:
            limit = wanted - len(out) + len(skip)
            batch = read(query, after, limit)
            for cand in batch:
                after, rank = cand.keyset or (cand.score, cand.figure_id), rank + 1
                if keyof(cand) in skip:
                    continue
                out.append((cand, rank))
                if len(out) == wanted:
                    break
            if len(batch) < limit and len(out) < wanted:
                return out, after, rank, True
        return out, after, rank, False
