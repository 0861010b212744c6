"""The drawing tail on Elasticsearch: every figure (patent) with a drawing passing the filters, by cosine to
the query vector - the nearest 10,000 by one kNN kept for the query's next pages, then the rest by figure id
with their exact cosine."""
from __future__ import annotations

import hashlib
import json
import time

import numpy as np

from backend.search.backends.elasticsearch.client import (
    KNN_FIELD,
    MAX_NUM_CANDIDATES,
    RESCORE_OVERSAMPLE,
    SEARCH_FILTER_PATH,
    EsIndex,
    list_fields,
)
from backend.search.backends.elasticsearch.queries import es_filters
from backend.search.pipeline.candidates import Candidate, Query

#: the drawing tail's kNN list of a query is kept this long for its next pages (pages agree; a page past the
#: head costs one kNN of 10,000 less), for this many queries
DRAWING_LIST_TTL_S = 300.0
DRAWING_LISTS_KEPT = 16
#: the keyset score of the drawing tail's second part (below every cosine: :meth:`DrawingTail.vector_after`)
REST_PHASE = -3.0


class DrawingTail(EsIndex):
    """``vector_after``: the drawing ranking past the fused head."""

    #: figures of the drawing tail read by one kNN (:meth:`_drawing_list`); the rest follow by figure id
    drawing_tail_k = MAX_NUM_CANDIDATES

    def __init__(self, settings, client=None):
        super().__init__(settings, client)
        self._drawing_lists: dict[tuple, tuple[float, tuple[list[Candidate], bool]]] = {}   # _drawing_list

    def _drawing_list(self, query: Query) -> tuple[list[Candidate], bool]:
        """The first part of the drawing ranking: the :attr:`drawing_tail_k` figures nearest the query vector
        (kNN, filtered, the same request on every page so pages agree), by (cosine desc, figure id asc);
        grouped: each group's first figure. And whether that is every figure the ranking holds. Kept on
        ``query`` (the tail and the count both ask)."""
        cached = query.memo.get("drawing_list")
        if cached is not None:
            return cached
        filters = es_filters(query.spec)
        k = self.drawing_tail_k
        key = (self.alias, hashlib.sha1(np.asarray(query.vector, dtype=np.float32).tobytes()).hexdigest(),
               json.dumps(filters, sort_keys=True), query.group, query.group_field, query.similarity_floor, k)
        kept = self._drawing_lists.get(key)
        if kept is not None and time.monotonic() - kept[0] < DRAWING_LIST_TTL_S:   # the next page of the query
            query.memo["drawing_list"] = kept[1]
            return kept[1]
        knn = {"field": KNN_FIELD, "query_vector": [float(x) for x in query.vector], "k": k,
               "num_candidates": min(MAX_NUM_CANDIDATES, max(k, self.settings.es_num_candidates)),
               "rescore_vector": {"oversample": RESCORE_OVERSAMPLE}}
        if filters:
            knn["filter"] = {"bool": {"filter": filters}}
        if query.similarity_floor is not None:
            knn["similarity"] = query.similarity_floor
        resp = self._call("drawing ranking", self.es.search, query.shards, knn=knn, size=k, stored_fields=["_none_"],
                          docvalue_fields=list_fields(query), track_total_hits=False,
                          filter_path=SEARCH_FILTER_PATH)
        hits = ((resp or {}).get("hits") or {}).get("hits") or []
        cands = sorted((self._candidate(h, "knn") for h in hits), key=lambda c: (-c.score, c.figure_id))
        complete = len(hits) < k or query.similarity_floor is not None
        if query.group:
            seen: set[str] = set()
            cands = [c for c in cands if not (c.key(query.group_field) in seen or seen.add(c.key(query.group_field)))]
        query.memo["drawing_list"] = (cands, complete)
        self._drawing_lists[key] = (time.monotonic(), (cands, complete))
        while len(self._drawing_lists) > DRAWING_LISTS_KEPT:
            try:     # the oldest out (another thread may be at it too)
                self._drawing_lists.pop(next(iter(self._drawing_lists)))
            except (KeyError, RuntimeError, StopIteration):
                break
        return cands, complete

    def vector_after(self, query: Query, after: tuple[float, str] | None, limit: int) -> list[Candidate]:
        """The drawing ranking past ``after`` (None: from the top): first the :attr:`drawing_tail_k` nearest
        figures (:meth:`drawing_list`: approximate like the kNN head, error bounded by its recall), then every
        other figure with a vector passing the filters (grouped: every other patent) in figure-id (patent)
        order with its exact cosine, so every one is reachable. No script: the cluster needs no painless."""
        if query.vector is None or limit <= 0:
            return []
        listed, complete = self._drawing_list(query)
        out: list[Candidate] = []
        rest_after = None
        if after is None or after[0] > REST_PHASE:
            start = 0
            if after is not None:
                start = next((i for i, c in enumerate(listed) if (-c.score, c.figure_id) > (-after[0], after[1])),
                             len(listed))
            out = listed[start:start + limit]
            if len(out) == limit or complete:
                return out
        else:
            rest_after = after[1]
        return out + self._drawing_rest(query, listed, rest_after, limit - len(out))

    def _drawing_rest(self, query: Query, listed: list[Candidate], after: str | None, limit: int) -> list[Candidate]:
        """Up to ``limit`` figures with a vector passing the filters that :meth:`drawing_list` does not hold
        (grouped: of the groups it does not hold, one figure each), by figure id (group) after ``after``,
        each with its cosine to the query vector (from its stored vector)."""
        field = query.group_field if query.group else "figure_id"
        held = sorted({c.key(query.group_field) if query.group else c.figure_id for c in listed})
        filters = [*es_filters(query.spec), {"exists": {"field": KNN_FIELD}}]
        body = {"query": {"bool": {"filter": filters, "must_not": [{"terms": {field: held}}] if held else []}},
                "sort": [{field: "asc"}], "size": limit, "track_total_hits": False,
                "_source": [KNN_FIELD], "docvalue_fields": list_fields(query)}
        if query.group:
            body["collapse"] = {"field": field}
        if after is not None:
            body["search_after"] = [after]
        resp = self._call("drawing ranking", self.es.search, query.shards, **body)
        out = []
        for hit in (resp or {}).get("hits", {}).get("hits", []):
            vector = np.asarray((hit.get("_source") or {}).get(KNN_FIELD) or [], dtype=np.float32)
            norm = float(np.linalg.norm(vector)) if vector.size == len(query.vector) else 0.0
            cos = float(vector @ query.vector) / norm if norm else 0.0
            cand = self._candidate({**{k: v for k, v in hit.items() if k != "_source"}, "_score": cos}, "rest")
            cand.keyset = (REST_PHASE, hit["sort"][0])
            out.append(cand)
        return out
