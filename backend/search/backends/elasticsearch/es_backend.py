"""The Elasticsearch backend: BM25 and kNN in one ``_msearch`` round trip, fused in our code.

Every filter is in ``knn.filter`` *and* in the BM25 query's ``bool.filter`` (never ``post_filter``:
kNN would pick its k first and filters would then empty the page). Grouping: the kNN list collapses on
the group field; the BM25 list keeps the first figure of each group of an ungrouped over-fetch
(:mod:`.grouped_text`; collapse when that holds too few groups). The index and its client calls are
:mod:`.client`, the totals :mod:`.counting`, the drawing tail :mod:`.drawing_tail`; query bodies are pure
functions in :mod:`.queries`. ``search`` runs :class:`backend.search.pipeline.hybrid_search.HybridSearch`
over it (fusion, paging, facets and explain, shared with the embedded backend).
"""
from __future__ import annotations

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from backend.search.backends.elasticsearch import queries
from backend.search.backends.elasticsearch.client import (
    KNN_FIELD,
    MAX_NUM_CANDIDATES,
    RESCORE_OVERSAMPLE,
    RETRIEVAL_FILTER_PATH,
    TEXT_SORT,
    list_fields,
)
from backend.search.backends.elasticsearch.counting import Counting
from backend.search.backends.elasticsearch.grouped_text import GroupedText
from backend.search.backends.elasticsearch.queries import es_filters
from backend.search.errors import SearchBackendError
from backend.search.index import documents
from backend.search.pipeline.candidates import Candidate, Query
from backend.search.pipeline.hybrid_search import HybridSearch
from backend.search.ranking.rerank import QueryDrawing
from backend.search.request import SearchRequest
from backend.search.response import SearchResponse
from backend.settings import Settings

#: requests the page's highlighting is split into on a one-shard index (run side by side:
#: :meth:`ElasticsearchBackend.page_details`; with several shards the shards already do)
HIGHLIGHT_PARTS = 2


class ElasticsearchBackend(Counting, GroupedText):
    name = "elasticsearch"
    #: every read is a round trip: the count and the checks are sent beside the rest of a search
    concurrent_calls = True

    def __init__(self, settings: Settings, client: Elasticsearch | None = None):
        super().__init__(settings, client)
        self.pipeline = HybridSearch(self, settings)

    def search(self, request: SearchRequest | dict, window: int | None = None,
               drawing: QueryDrawing | None = None) -> SearchResponse:
        return self.pipeline.search(request, window, drawing)

    def _bodies(self, query: Query) -> list[tuple[str, dict]]:
        filters = es_filters(query.spec)
        collapse = {"collapse": {"field": query.group_field}} if query.group else {}
        # doc values only (no stored fields, no _source): a list is ranked on a few keyword columns, and
        # the page's hits are hydrated by one mget (at 1M figures _source made the kNN fetch 3-5 ms slower)
        common = {"size": query.window, "stored_fields": ["_none_"], "docvalue_fields": list_fields(query),
                  "track_total_hits": False, **collapse}
        out = []
        if query.node is not None:
            from backend.search.query_language.to_es import check_expansions

            try:
                check_expansions(self.es, self.alias, query.node)
            except NotFoundError:
                pass
        if query.terms:
            # ties by figure id, here in ES too: the text ranking continues past the window from the
            # last entry with search_after (paging.py), so the window must end exactly where it does
            text = queries.text_query(query, filters)
            out.append(("bm25", self._grouped_body(query, text) if query.group else
                        {**common, "query": text, "sort": TEXT_SORT}))
        if query.vector is not None:
            knn = {"field": KNN_FIELD, "query_vector": [float(x) for x in query.vector], "k": query.window,
                   "num_candidates": min(MAX_NUM_CANDIDATES, max(self.settings.es_num_candidates, query.window)),
                   "rescore_vector": {"oversample": RESCORE_OVERSAMPLE}}
            if filters:
                knn["filter"] = {"bool": {"filter": filters}}
            if query.similarity_floor is not None:
                knn["similarity"] = query.similarity_floor
            out.append(("knn", {**common, "knn": knn}))
        return out

    def retrieve(self, query: Query) -> tuple[list[Candidate], list[Candidate]]:
        bodies = self._bodies(query)
        if not bodies:
            return [], []
        searches: list[dict] = []
        for _name, body in bodies:
            searches.extend([{"index": self.alias}, body])
        try:
            resp = self.es.msearch(searches=searches, filter_path=RETRIEVAL_FILTER_PATH)
        except NotFoundError:
            return [], []
        except (TransportError, ApiError) as exc:
            raise SearchBackendError(f"Elasticsearch search failed: {exc}") from exc
        lists: dict[str, list[Candidate]] = {"bm25": [], "knn": []}
        for (name, body), result in zip(bodies, resp["responses"]):
            query.shards.add(result)
            if "error" in result:
                err = result["error"]
                if isinstance(err, dict) and err.get("type") == "index_not_found_exception":
                    continue
                raise SearchBackendError(f"Elasticsearch {name} search failed: {str(err)[:500]}")
            hits = (result.get("hits") or {}).get("hits") or []     # filter_path drops an empty list
            if name == "bm25" and query.group:
                cands = self._grouped_text(query, hits, body)
            else:
                cands = [self._candidate(h, name) for h in hits]
            lists[name] = sorted(cands, key=lambda c: (-c.score, c.figure_id))
        return lists["bm25"], lists["knn"]

    def page_details(self, query: Query, figure_ids: list[str], missing: list[str]
                      ) -> tuple[dict[str, dict[str, str]], dict[str, dict]]:
        """The page's snippets and display fields in one ``_msearch``: the page's figures by id (those found
        by their drawing alone too) with their ``_source`` fields and the query's words marked (a
        ``highlight_query``: the page is not searched again). Highlighting re-reads each hit's text, one hit
        after another within a request: the page in :data:`HIGHLIGHT_PARTS` requests, which Elasticsearch
        runs side by side (one request on an index of several shards: they run side by side already). A
        figure gone from the index meanwhile is looked up by ``mget`` (none found: no fields)."""
        from backend.search.query_language.to_es import highlight

        if not (query.terms and query.english and figure_ids):  # snippets mark words of the main (English) fields
            return {}, (self.hydrate(missing) if missing else {})
        # plain words: only the English clause can mark the English fields (require_field_match), so the
        # German/French clauses are left out (a quarter of the highlighting time)
        marks = {**highlight(documents.TEXT_FIELDS),
                 "highlight_query": (queries.text_clause(query) if query.node is not None
                                     else queries.english_clause(query))}
        wanted = set(missing)
        parts = HIGHLIGHT_PARTS if query.shards.total <= 1 else 1     # shards: known from the ranked lists
        step = -(-len(figure_ids) // parts)
        searches = []
        for start in range(0, len(figure_ids), step):
            ids = figure_ids[start:start + step]
            searches += [{"index": self.alias},
                         {"query": {"ids": {"values": ids}}, "highlight": marks, "size": len(ids),
                          "track_total_hits": False,
                          "_source": list(documents.HIT_FIELDS) if wanted.intersection(ids) else False}]
        try:
            resp = self.es.msearch(searches=searches)
        except NotFoundError:
            return {}, {}
        except (TransportError, ApiError) as exc:
            raise SearchBackendError(f"Elasticsearch highlight failed: {exc}") from exc
        snippets, sources = {}, {}
        for result in resp["responses"]:
            if "error" in result:
                err = result["error"]
                if isinstance(err, dict) and err.get("type") == "index_not_found_exception":
                    continue
                raise SearchBackendError(f"Elasticsearch highlight failed: {str(err)[:500]}")
            for h in result["hits"]["hits"]:
                marked = {f: frags[0] for f, frags in (h.get("highlight") or {}).items() if frags}
                if marked:
                    snippets[h["_id"]] = marked
                if h["_id"] in wanted and "_source" in h:
                    sources[h["_id"]] = h["_source"]
        gone = [f for f in missing if f not in sources]
        return snippets, ({**sources, **self.hydrate(gone)} if gone else sources)

    def text_after(self, query: Query, after: tuple[float, str], limit: int) -> list[Candidate]:
        """``search_after`` on (_score desc, figure_id asc). Grouped (collapse cannot be combined with
        search_after on _score): figures are read in order and a figure is kept when it is its
        patent's best one (checked with one collapsed search per batch)."""
        if not query.terms or limit <= 0:
            return []
        filters = es_filters(query.spec)
        out: list[Candidate] = []
        cursor = [after[0], after[1]]
        while len(out) < limit:
            size = max(limit - len(out), 10) * (3 if query.group else 1)
            resp = self._call("text ranking", self.es.search, query.shards, query=queries.text_query(query, filters),
                              sort=TEXT_SORT, search_after=cursor, size=size, track_total_hits=False,
                              source=list(documents.HIT_FIELDS))
            hits = resp["hits"]["hits"] if resp else []
            if not hits:
                return out
            cands = [self._candidate(h, "bm25") for h in hits]
            best = self._best_figures(query, filters, cands) if query.group else None
            for hit, cand in zip(hits, cands):
                cursor = hit["sort"]
                if best is None or best.get(cand.key(query.group_field)) == cand.figure_id:
                    out.append(cand)
                    if len(out) == limit:
                        return out
            if len(hits) < size:
                return out
        return out

    def _best_figures(self, query: Query, filters: list[dict], cands: list[Candidate]) -> dict[str, str]:
        """patent (or family) -> figure id of its best-ranked matching figure, for these candidates."""
        field = query.group_field
        groups = sorted({c.key(field) for c in cands})
        resp = self._call("best figures", self.es.search, size=len(groups), source=False,
                          query=queries.text_query(query, filters, [{"terms": {field: groups}}]),
                          sort=TEXT_SORT, collapse={"field": field}, track_total_hits=False)
        hits = resp["hits"]["hits"] if resp else []
        return {h["fields"][field][0]: h["sort"][1] for h in hits}

    def dense(self, query: Query, vector) -> list[Candidate]:
        """kNN over the patents' MiniLM text vectors (filters in ``knn.filter``, grouped by collapse)."""
        filters = es_filters(query.spec)
        knn = {"field": documents.DENSE_FIELD, "query_vector": [float(x) for x in vector], "k": query.window,
               "num_candidates": min(MAX_NUM_CANDIDATES, max(self.settings.es_num_candidates, query.window)),
               "rescore_vector": {"oversample": RESCORE_OVERSAMPLE},
               "similarity": self.settings.search_dense_min_similarity}
        if filters:
            knn["filter"] = {"bool": {"filter": filters}}
        body = {"size": query.window, "_source": list(documents.HIT_FIELDS), "track_total_hits": False, "knn": knn}
        if query.group:
            body["collapse"] = {"field": "publication_number"}
        try:
            resp = self.es.search(index=self.alias, **body)
        except NotFoundError:
            return []
        except (TransportError, ApiError) as exc:
            raise SearchBackendError(f"Elasticsearch dense text search failed: {exc}") from exc
        query.shards.add(resp)
        cands = [self._candidate(h, "knn") for h in resp["hits"]["hits"]]
        return sorted(cands, key=lambda c: (-c.score, c.figure_id))
