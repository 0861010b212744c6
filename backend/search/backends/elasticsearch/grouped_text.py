"""The grouped BM25 list on Elasticsearch without ``collapse``: the first figure of each patent (family) in
an ungrouped over-fetch whose size the backend learns (:class:`FiguresPerGroup`); ``collapse`` past
:data:`MAX_OVERFETCH` figures."""
from __future__ import annotations

import math

from backend.search.backends.elasticsearch import queries
from backend.search.backends.elasticsearch.client import (
    FACET_DOCVALUE_FIELDS,
    GROUP_DOCVALUE_FIELDS,
    GROUP_KEY_FIELDS,
    SEARCH_FILTER_PATH,
    TEXT_SORT,
    EsIndex,
)
from backend.search.backends.elasticsearch.queries import es_filters
from backend.search.index import documents
from backend.search.pipeline.candidates import Candidate, Query

#: grouped BM25 list (_grouped_text): figures first read per wanted patent/family, at most; the backend
#: learns how many its searches need (:class:`FiguresPerGroup`; the synthetic corpus has ~5 a patent)
GROUP_OVERFETCH = 8
MIN_OVERFETCH = 1.5
#: the first read asks for the learnt figures per group times this (most searches then need no second read)
OVERFETCH_MARGIN = 1.15
#: figures read in all (the first read never more: Elasticsearch's index.max_result_window, default
#: 10,000) before the list falls back to ``collapse``
MAX_OVERFETCH = 10_000


class FiguresPerGroup:
    """How many figures the grouped BM25 list read per patent (family) it kept, averaged over this
    backend's last searches: the next search's first read asks for that many per wanted group (plus
    :data:`OVERFETCH_MARGIN`, between :data:`MIN_OVERFETCH` and :data:`GROUP_OVERFETCH`). Only the work
    depends on it, never the list (:meth:`ElasticsearchBackend._grouped_text` reads on when short)."""

    WEIGHT = 0.2     # of the newest search

    def __init__(self) -> None:
        self.value = float(GROUP_OVERFETCH)

    def factor(self) -> float:
        return min(float(GROUP_OVERFETCH), max(MIN_OVERFETCH, self.value * OVERFETCH_MARGIN))

    def saw(self, read: int, groups: int) -> None:
        if groups:
            self.value += self.WEIGHT * (read / groups - self.value)


class GroupedText(EsIndex):
    """The grouped BM25 list of :meth:`ElasticsearchBackend.retrieve`."""

    def __init__(self, settings, client=None):
        super().__init__(settings, client)
        self.figures_per_group = FiguresPerGroup()

    def _grouped_body(self, query: Query, text: dict) -> dict:
        """The ungrouped top ``window`` x (figures a group, learnt: :class:`FiguresPerGroup`) figures in text
        order. Without ``collapse`` Lucene skips non-competitive documents (block-max WAND; the fewer asked,
        the more it skips), and without stored fields or ``_source`` the fetch reads a doc value or two per
        hit (the figure id is the sort's second value)."""
        size = min(math.ceil(query.window * self.figures_per_group.factor()), MAX_OVERFETCH)
        return {"query": text, "sort": TEXT_SORT, "size": size, "track_total_hits": False,
                "stored_fields": ["_none_"],
                "docvalue_fields": [*GROUP_DOCVALUE_FIELDS, *FACET_DOCVALUE_FIELDS] if query.facets
                else list(GROUP_KEY_FIELDS)}

    def _grouped_text(self, query: Query, hits: list[dict], body: dict) -> list[Candidate]:
        """The best figure of each of the first ``window`` patents (families) in text order - what
        ``collapse`` returns: the first figure of each group in the figures read, once they hold ``window``
        groups or every match. The over-fetch is read on (``search_after`` the last figure, same size) while
        it holds fewer groups; past :data:`MAX_OVERFETCH` figures (a few groups with very many figures on
        top) the collapse query answers (:meth:`collapsed_text`). Candidates carry no ``_source``: the page
        hydrates."""
        family = query.group_field == "family_id"
        firsts: dict[str, dict] = {}
        read, size = 0, body["size"]
        while True:
            for hit in hits:     # the group of each hit from its doc values; a candidate only for the firsts
                read += 1
                f = hit.get("fields") or {}
                key = (((f.get("family_id") or (None,))[0] if family else None)
                       or (f.get("publication_number") or ("",))[0])
                if key not in firsts:
                    firsts[key] = hit
                    if len(firsts) >= query.window:
                        break
            if len(firsts) >= query.window or len(hits) < size:     # the window's groups, or every match
                break
            if read >= MAX_OVERFETCH:
                return self._collapsed_text(query)
            size = min(body["size"], MAX_OVERFETCH - read)
            resp = self._call("bm25 search", self.es.search, query.shards, filter_path=SEARCH_FILTER_PATH,
                              **{**body, "size": size, "search_after": hits[-1]["sort"]})
            hits = ((resp or {}).get("hits") or {}).get("hits") or []
        self.figures_per_group.saw(read, len(firsts))
        return [self._candidate(hit, "bm25") for hit in firsts.values()]

    def _collapsed_text(self, query: Query) -> list[Candidate]:
        """The grouped BM25 list by ``collapse`` on the group field (every match is scored)."""
        resp = self._call("bm25 search", self.es.search, query.shards, size=query.window,
                          query=queries.text_query(query, es_filters(query.spec)), sort=TEXT_SORT,
                          collapse={"field": query.group_field}, source=list(documents.HIT_FIELDS),
                          track_total_hits=False)
        return [self._candidate(h, "bm25") for h in (resp["hits"]["hits"] if resp else [])]
