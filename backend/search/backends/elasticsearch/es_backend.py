"""The Elasticsearch backend: BM25 and kNN in one ``_msearch`` round trip, fused in our code.

Every filter is in ``knn.filter`` *and* in the BM25 query's ``bool.filter`` (never ``post_filter``:
kNN would pick its k first and filters would then empty the page). Grouping: the kNN list collapses on
the group field; the BM25 list keeps the first figure of each group of an ungrouped over-fetch
(:meth:`ElasticsearchBackend._grouped_text`; collapse when that holds too few groups). Fusion, paging,
facets and explain are shared with the embedded backend (:mod:`.engine`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time

import numpy as np
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from backend.patent_numbers import lookup_keys, pick
from backend.search.backends.elasticsearch import queries
from backend.search.backends.elasticsearch.queries import es_filters
from backend.search.errors import IndexVersionError, InvalidQuery, SearchBackendError
from backend.search.index import documents, index_admin
from backend.search.pipeline.engine import (
    FAMILY_MEMBER_FIELDS,
    MAX_FAMILY,
    SCHEME_FIELDS,
    Candidate,
    Query,
    SearchBackend,
)
from backend.search.pipeline.filters import FilterSpec
from backend.search.pipeline.shards import ShardReport
from backend.search.text import languages
from backend.settings import Settings

log = logging.getLogger(__name__)

KNN_FIELD = "image_vector"
#: the drawing tail's kNN list of a query is kept this long for its next pages (pages agree; a page past the
#: head costs one kNN of 10,000 less), for this many queries
DRAWING_LIST_TTL_S = 300.0
DRAWING_LISTS_KEPT = 16
#: the keyset score of the drawing tail's second part (below every cosine: :meth:`ElasticsearchBackend._vector_after`)
REST_PHASE = -3.0
MAX_NUM_CANDIDATES = 10_000
#: the text ranking's order: score, then figure id (both backends)
TEXT_SORT = [{"_score": "desc"}, {"figure_id": "asc"}]
COUNT_PAGE = 10_000            # patents per composite-aggregation page when counting grouped matches
MAX_COUNT_PAGES = 10           # past 100,000 patents the grouped total is a lower bound ("gte")
#: up to this many matching patents the grouped total is one terms aggregation (under search.max_buckets)
TERMS_COUNT = 50_000
#: more matching patents than that: this many hash partitions of them, each one terms aggregation
COUNT_PARTITIONS = 4
#: the ranked lists' answer: scores, sort values and doc values (no ``_index`` per hit: a fifth of the bytes)
RETRIEVAL_FILTER_PATH = ["responses.hits.hits._id", "responses.hits.hits._score", "responses.hits.hits.sort",
                         "responses.hits.hits.fields", "responses._shards", "responses.timed_out", "responses.took",
                         "responses.error", "responses.status"]
#: the same for one search
SEARCH_FILTER_PATH = [p.removeprefix("responses.") for p in RETRIEVAL_FILTER_PATH]
#: what the count's _msearch sends back: no buckets, only their number
COUNT_FILTER_PATH = ["responses.hits.hits._source", "responses.hits.total", "responses._shards", "responses.timed_out",
                     "responses.error", "responses.status", "responses.aggregations.groups.sum_other_doc_count",
                     "responses.aggregations.n.count", "responses.terminated_early"]
DIMS_RECHECK_S = 5.0          # how long the index dims are trusted before the alias is looked up again
#: how long "the index carries this scheme / a document passes this filter" is trusted (a miss, which warns
#: the examiner, is asked again every time): two fewer requests beside most filtered searches
FOUND_RECHECK_S = 5.0
#: requests the page's highlighting is split into on a one-shard index (run side by side:
#: :meth:`ElasticsearchBackend._page_details`; with several shards the shards already do)
HIGHLIGHT_PARTS = 2
RESCORE_OVERSAMPLE = 2.0       # int8 quantised HNSW: re-rank the oversampled candidates on raw vectors
#: grouped BM25 list (_grouped_text): figures first read per wanted patent/family, at most; the backend
#: learns how many its searches need (:class:`FiguresPerGroup`; the synthetic corpus has ~5 a patent)
GROUP_OVERFETCH = 8
MIN_OVERFETCH = 1.5
#: the first read asks for the learnt figures per group times this (most searches then need no second read)
OVERFETCH_MARGIN = 1.15
#: figures read in all (the first read never more: Elasticsearch's index.max_result_window, default
#: 10,000) before the list falls back to ``collapse``
MAX_OVERFETCH = 10_000
#: what the grouped BM25 list reads per figure (doc values; no stored fields, no _source: _grouped_text):
#: the group; the classification symbols only for facets (the class consensus reads the vector list's)
GROUP_KEY_FIELDS = ("publication_number", "family_id")
GROUP_DOCVALUE_FIELDS = (*GROUP_KEY_FIELDS, "cpc_subclass", "ipc_subclass", "locarno_class")
#: what the other lists' bodies read per hit (the figure id too: kNN hits have no sort values)
LIST_DOCVALUE_FIELDS = ("figure_id", *GROUP_DOCVALUE_FIELDS)
#: read besides for facets only: applicant, country and publication year facets
FACET_DOCVALUE_FIELDS = ("applicant_keys", "country", {"field": "publication_date", "format": "yyyy"})


def _list_fields(query) -> list:
    return [*LIST_DOCVALUE_FIELDS, *FACET_DOCVALUE_FIELDS] if query.facets else list(LIST_DOCVALUE_FIELDS)


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


class ElasticsearchBackend(SearchBackend):
    name = "elasticsearch"
    concurrent_calls = True
    #: figures of the drawing tail read by one kNN (:meth:`_drawing_list`); the rest follow by figure id
    drawing_tail_k = MAX_NUM_CANDIDATES

    def __init__(self, settings: Settings, client: Elasticsearch | None = None):
        super().__init__(settings)
        self.es = client or index_admin.make_client(settings)
        self.prefix = settings.es_index_prefix
        self.alias = index_admin.alias_name(self.prefix)
        self._dims: int | None = None
        self._fields: set[str] | None = None
        self._dims_index: str | None = None
        self._dims_at = 0.0
        self._found: dict[tuple[str, str], float] = {}
        self.figures_per_group = FiguresPerGroup()
        self._drawing_lists: dict[tuple, tuple[float, tuple[list[Candidate], bool]]] = {}   # _drawing_list
        try:
            index_admin.check_version(self.es, self.prefix)
        except IndexVersionError:
            raise
        except (TransportError, ApiError) as exc:
            log.warning("could not check the Elasticsearch index at %s: %s", settings.es_url, exc)

    # -- storage ------------------------------------------------------------------------------
    def ensure_index(self, dims: int | None = None) -> str:
        return index_admin.ensure_index(self.es, self.settings, dims)

    def dims(self, fresh: bool = False) -> int | None:
        """The vector dims of the index behind the alias (re-read when the alias moves, e.g. after
        ``prism index reembed`` swapped in an index of other dims; checked at most every
        ``DIMS_RECHECK_S`` seconds unless ``fresh``)."""
        now = time.monotonic()
        if self._dims is None or fresh or now - self._dims_at > DIMS_RECHECK_S:
            indices = index_admin.concrete_indices(self.es, self.alias)
            index = indices[0] if indices else None
            if self._dims is None or index != self._dims_index:
                self._dims = index_admin.index_dims(self.es, index) if index else None
                self._dims_index = index
            self._dims_at = now
        return self._dims

    def encoder_ids(self) -> dict[str | None, int]:
        """``model_id`` -> number of figures with a vector (None: vectors of unrecorded origin)."""
        has_vector = {"bool": {"should": [{"exists": {"field": f}} for f in documents.VECTOR_FIELDS],
                               "minimum_should_match": 1}}
        try:
            resp = self.es.search(index=self.alias, size=0, query=has_vector, track_total_hits=False,
                                  aggs={"ids": {"terms": {"field": "model_id", "size": 1000}},
                                        "none": {"missing": {"field": "model_id"}}})
        except NotFoundError:
            return {}
        except (TransportError, ApiError) as exc:
            raise SearchBackendError(f"Elasticsearch model_id aggregation failed: {exc}") from exc
        out: dict[str | None, int] = {b["key"]: int(b["doc_count"]) for b in resp["aggregations"]["ids"]["buckets"]}
        if resp["aggregations"]["none"]["doc_count"]:
            out[None] = int(resp["aggregations"]["none"]["doc_count"])
        return out

    def count(self) -> int:
        try:
            return int(self.es.count(index=self.alias)["count"])
        except NotFoundError:
            return 0

    def carries_scheme(self, scheme: str) -> bool:
        query = {"exists": {"field": SCHEME_FIELDS[scheme]}}
        return self._found_recently(("scheme", scheme), "scheme check", query)

    def any_match(self, spec: FilterSpec) -> bool:
        query = {"bool": {"filter": es_filters(spec)}}
        return self._found_recently(("filter", json.dumps(query, sort_keys=True)), "filter check", query)

    def _found_recently(self, key: tuple[str, str], what: str, query: dict) -> bool:
        """Whether a document matches ``query``; a yes is trusted for :data:`FOUND_RECHECK_S` seconds
        (documents rarely lose a classification), a no is asked again each time."""
        now = time.monotonic()
        at = self._found.get(key)
        if at is not None and now - at < FOUND_RECHECK_S:
            return True
        resp = self._call(what, self.es.count, query=query, terminate_after=1)
        found = bool(resp and resp["count"])
        if found:
            if len(self._found) > 10_000:
                self._found.clear()
            self._found[key] = now
        return found

    def index_figures(self, docs: list[dict]) -> None:
        if not docs:
            return
        self.ensure_index()
        dims = self.dims()
        prepared = [documents.prepare(d, dims) for d in docs]
        known = self._mapped_fields()
        actions = [{"_op_type": "index", "_index": self.alias, "_id": d["figure_id"],
                    "_source": {k: v for k, v in d.items() if v is not None and (known is None or k in known)}}
                   for d in prepared]
        _ok, errors = helpers.bulk(self.es, actions, raise_on_error=False, raise_on_exception=False,
                                  chunk_size=500)
        if errors:
            first = errors[0].get("index", errors[0])
            raise SearchBackendError(f"indexing {len(errors)} of {len(actions)} figures failed; first: "
                                     f"{first.get('_id')}: {str(first.get('error'))[:300]}")

    def delete_patent(self, publication_number: str) -> int:
        keys = lookup_keys(publication_number, any_kind=False)
        try:
            resp = self.es.search(index=self.alias, query={"terms": {"publication_number": keys}}, size=10_000,
                                  source=False)
        except NotFoundError:
            return 0
        ids = [h["_id"] for h in resp["hits"]["hits"]]
        if not ids:
            return 0
        ok, errors = helpers.bulk(self.es, ({"_op_type": "delete", "_index": self.alias, "_id": i} for i in ids),
                                  raise_on_error=False, refresh=True)
        if errors:
            raise SearchBackendError(f"deleting {publication_number}: {str(errors[0])[:300]}")
        return ok

    def refresh(self) -> None:
        try:
            self.es.indices.refresh(index=self.alias)
        except NotFoundError:
            pass

    def get_figure(self, figure_id: str) -> dict | None:
        try:
            resp = self.es.get(index=self.alias, id=figure_id)
        except NotFoundError:
            return None
        return documents.public(resp["_source"])

    def get_patent_figures(self, publication_number: str) -> list[dict]:
        """The figures of the patent, found by any spelling of its number (patent_numbers.lookup_keys)."""
        keys = lookup_keys(publication_number)
        if not keys:
            return []
        try:
            resp = self.es.search(index=self.alias, query={"terms": {"publication_number": keys}}, size=10_000,
                                  sort=[{"figure_number": "asc"}, {"figure_id": "asc"}])
        except NotFoundError:
            return []
        sources = [h["_source"] for h in resp["hits"]["hits"]]
        chosen = pick([s["publication_number"] for s in sources], keys)
        return [documents.public(s) for s in sources if s["publication_number"] == chosen]

    # -- search -------------------------------------------------------------------------------
    def _bodies(self, query: Query) -> list[tuple[str, dict]]:
        filters = es_filters(query.spec)
        collapse = {"collapse": {"field": query.group_field}} if query.group else {}
        # doc values only (no stored fields, no _source): a list is ranked on a few keyword columns, and
        # the page's hits are hydrated by one mget (at 1M figures _source made the kNN fetch 3-5 ms slower)
        common = {"size": query.window, "stored_fields": ["_none_"], "docvalue_fields": _list_fields(query),
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

    def _page_details(self, query: Query, figure_ids: list[str], missing: list[str]
                      ) -> tuple[dict[str, dict[str, str]], dict[str, dict]]:
        """The page's snippets and display fields in one ``_msearch``: the page's figures by id (those found
        by their drawing alone too) with their ``_source`` fields and the query's words marked (a
        ``highlight_query``: the page is not searched again). Highlighting re-reads each hit's text, one hit
        after another within a request: the page in :data:`HIGHLIGHT_PARTS` requests, which Elasticsearch
        runs side by side (one request on an index of several shards: they run side by side already). A
        figure gone from the index meanwhile is looked up by ``mget`` (none found: no fields)."""
        from backend.search.query_language.to_es import highlight

        if not (query.terms and query.english and figure_ids):  # snippets mark words of the main (English) fields
            return {}, (self._hydrate(missing) if missing else {})
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
        return snippets, ({**sources, **self._hydrate(gone)} if gone else sources)

    def _call(self, what: str, fn, report: ShardReport | None = None, **kwargs):
        try:
            resp = fn(index=self.alias, **kwargs)
            if report is not None:
                report.add(resp)
            return resp
        except NotFoundError:
            return None
        except (TransportError, ApiError) as exc:
            raise SearchBackendError(f"Elasticsearch {what} failed: {exc}") from exc

    def _text_count(self, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
        """Figures: a hit count. Patents: the number of ``terms`` buckets over ``publication_number``
        (counted by a ``stats_bucket``, so the buckets never travel), exact when no matching document is
        left out of them; past :data:`TERMS_COUNT` patents, a composite aggregation pages through them
        (exact; past :data:`MAX_COUNT_PAGES` pages it stops and the count is a lower bound). One
        ``_msearch`` holds the count and the check which of ``keys`` match (always exact).

        Bounded (``settings.search_exact_total_up_to`` = N > 0): figures are counted up to N
        (``track_total_hits: N``: relation "gte" past it); patents among at most N + 1 matches per shard
        (``terminate_after``): fewer matches, all were counted, exact ("eq"); otherwise the number of
        patents among the collected matches is a lower bound ("gte"). Either way the work is bounded by N
        whatever the query matches."""
        if not query.terms:
            return 0, "eq", set()
        filters = es_filters(query.spec)
        return self._count(query, keys, lambda extra=None: queries.text_query(query, filters, extra))

    def _vector_count(self, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
        """What :meth:`_text_count` counts, for the drawing ranking (:meth:`_vector_after`): the figures with
        an image vector passing the filters."""
        if query.vector is None:
            return 0, "eq", set()
        filters = es_filters(query.spec)
        if query.similarity_floor is not None:   # the ranking is the kNN list alone (its floor)
            listed, complete = self._drawing_list(query)
            found = {c.key(query.group_field) if query.group else c.figure_id for c in listed}
            return len(listed), "eq" if complete else "gte", found.intersection(keys)
        return self._count(query, keys, lambda extra=None: {"bool": {"filter": [
            *filters, {"exists": {"field": KNN_FIELD}}, *(extra or [])]}})

    def _count(self, query: Query, keys: list[str], ranking) -> tuple[int, str, set[str]]:
        """:meth:`_text_count` of the documents ``ranking()`` matches (``ranking(extra)``: with these filter
        clauses too)."""
        field = query.group_field if query.group else "figure_id"
        text = ranking()
        bound = self.settings.search_exact_total_up_to
        bodies = []
        if keys:
            bodies.append({"query": ranking([{"terms": {field: keys}}]), "size": len(keys),
                           "_source": [field], "track_total_hits": False,
                           **({"collapse": {"field": field}} if query.group else {})})
        if query.group:
            bounded = {"terminate_after": bound + 1} if bound > 0 else {}
            bodies.append({"query": text, "size": 0, "track_total_hits": False, **bounded, "aggs": {
                "groups": {"terms": {"field": field, "size": TERMS_COUNT, "shard_size": TERMS_COUNT,
                                     "order": {"_key": "asc"}}},
                "n": {"stats_bucket": {"buckets_path": "groups>_count"}}}})
        else:
            bodies.append({"query": text, "size": 0, "track_total_hits": bound or True})
        searches = [part for body in bodies for part in ({"index": self.alias}, body)]
        try:
            resp = self.es.msearch(searches=searches, filter_path=COUNT_FILTER_PATH)
        except NotFoundError:
            return 0, "eq", set()
        except (TransportError, ApiError) as exc:
            raise SearchBackendError(f"Elasticsearch count failed: {exc}") from exc
        results = resp["responses"]
        for result in results:
            if "error" in result:
                err = result["error"]
                if isinstance(err, dict) and err.get("type") == "index_not_found_exception":
                    return 0, "eq", set()
                raise SearchBackendError(f"Elasticsearch count failed: {str(err)[:500]}")
        matching: set[str] = set()
        if keys:
            hits = (results[0].get("hits") or {}).get("hits") or []
            matching = {(h.get("_source") or {}).get(field) for h in hits} & set(keys)
        counted = results[-1]
        query.shards.add(counted)
        if not query.group:   # counted up to the bound: relation "gte" past it
            total = counted["hits"]["total"]
            return int(total["value"]), "gte" if total.get("relation") == "gte" else "eq", matching
        cut = "gte" if counted.get("terminated_early") else "eq"   # a shard held more than the bound
        aggs = counted.get("aggregations") or {}
        if cut == "gte" or not (aggs.get("groups") or {}).get("sum_other_doc_count"):
            # cut: the patents among the collected matches (a full bucket list under-counts them: still a bound)
            return int((aggs.get("n") or {}).get("count") or 0), cut, matching
        parts, overflowed = self._partitioned_count(query, text, field)
        cap = COUNT_PAGE * MAX_COUNT_PAGES
        if parts >= cap:   # at least that many (a full partition holds more than it counted)
            return cap, "gte", matching
        if not overflowed:
            return parts, "eq", matching
        count, after = 0, None
        for _ in range(MAX_COUNT_PAGES):
            comp = {"size": COUNT_PAGE, "sources": [{"p": {"terms": {"field": field}}}]}
            if after:
                comp["after"] = after
            resp = self._call("count", self.es.search, query.shards, query=text, size=0,
                              track_total_hits=False, aggs={"pubs": {"composite": comp}})
            if resp is None:
                return 0, "eq", matching
            agg = resp["aggregations"]["pubs"]
            count += len(agg["buckets"])
            after = agg.get("after_key")
            if len(agg["buckets"]) < COUNT_PAGE or not after:
                return count, "eq", matching
        return count, "gte", matching

    def _partitioned_count(self, query: Query, text: dict, field: str) -> tuple[int, bool]:
        """The number of distinct ``field`` values of the matches as :data:`COUNT_PARTITIONS` ``terms``
        aggregations over hash partitions of the values, in one ``_msearch`` (Elasticsearch runs them side
        by side), and whether a partition held more than :data:`TERMS_COUNT` values (then the number is a
        lower bound)."""
        searches = []
        for i in range(COUNT_PARTITIONS):
            searches += [{"index": self.alias}, {"query": text, "size": 0, "track_total_hits": False, "aggs": {
                "groups": {"terms": {"field": field, "size": TERMS_COUNT, "shard_size": TERMS_COUNT,
                                     "order": {"_key": "asc"},
                                     "include": {"partition": i, "num_partitions": COUNT_PARTITIONS}}},
                "n": {"stats_bucket": {"buckets_path": "groups>_count"}}}}]
        try:
            resp = self.es.msearch(searches=searches, filter_path=COUNT_FILTER_PATH)
        except (TransportError, ApiError) as exc:
            raise SearchBackendError(f"Elasticsearch count failed: {exc}") from exc
        total, overflowed = 0, False
        for result in resp["responses"]:
            if "error" in result:
                raise SearchBackendError(f"Elasticsearch count failed: {str(result['error'])[:500]}")
            query.shards.add(result)
            aggs = result.get("aggregations") or {}
            overflowed = overflowed or bool((aggs.get("groups") or {}).get("sum_other_doc_count"))
            total += int((aggs.get("n") or {}).get("count") or 0)
        return total, overflowed

    def _text_after(self, query: Query, after: tuple[float, str], limit: int) -> list[Candidate]:
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

    def _drawing_list(self, query: Query) -> tuple[list[Candidate], bool]:
        """The first part of the drawing ranking: the :attr:`drawing_tail_k` figures nearest the query vector
        (kNN, filtered, the same request on every page so pages agree), by (cosine desc, figure id asc);
        grouped: each group's first figure. And whether that is every figure the ranking holds. Kept on
        ``query`` (the tail and the count both ask)."""
        cached = getattr(query, "_drawing_list_of", None)
        if cached is not None:
            return cached
        filters = es_filters(query.spec)
        k = self.drawing_tail_k
        key = (self.alias, hashlib.sha1(np.asarray(query.vector, dtype=np.float32).tobytes()).hexdigest(),
               json.dumps(filters, sort_keys=True), query.group, query.group_field, query.similarity_floor, k)
        kept = self._drawing_lists.get(key)
        if kept is not None and time.monotonic() - kept[0] < DRAWING_LIST_TTL_S:   # the next page of the query
            query._drawing_list_of = kept[1]
            return kept[1]
        knn = {"field": KNN_FIELD, "query_vector": [float(x) for x in query.vector], "k": k,
               "num_candidates": min(MAX_NUM_CANDIDATES, max(k, self.settings.es_num_candidates)),
               "rescore_vector": {"oversample": RESCORE_OVERSAMPLE}}
        if filters:
            knn["filter"] = {"bool": {"filter": filters}}
        if query.similarity_floor is not None:
            knn["similarity"] = query.similarity_floor
        resp = self._call("drawing ranking", self.es.search, query.shards, knn=knn, size=k, stored_fields=["_none_"],
                          docvalue_fields=_list_fields(query), track_total_hits=False,
                          filter_path=SEARCH_FILTER_PATH)
        hits = ((resp or {}).get("hits") or {}).get("hits") or []
        cands = sorted((self._candidate(h, "knn") for h in hits), key=lambda c: (-c.score, c.figure_id))
        complete = len(hits) < k or query.similarity_floor is not None
        if query.group:
            seen: set[str] = set()
            cands = [c for c in cands if not (c.key(query.group_field) in seen or seen.add(c.key(query.group_field)))]
        query._drawing_list_of = (cands, complete)
        self._drawing_lists[key] = (time.monotonic(), (cands, complete))
        while len(self._drawing_lists) > DRAWING_LISTS_KEPT:
            try:     # the oldest out (another thread may be at it too)
                self._drawing_lists.pop(next(iter(self._drawing_lists)))
            except (KeyError, RuntimeError, StopIteration):
                break
        return cands, complete

    def _vector_after(self, query: Query, after: tuple[float, str] | None, limit: int) -> list[Candidate]:
        """The drawing ranking past ``after`` (None: from the top): first the :attr:`drawing_tail_k` nearest
        figures (:meth:`_drawing_list`: approximate like the kNN head, error bounded by its recall), then every
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
        """Up to ``limit`` figures with a vector passing the filters that :meth:`_drawing_list` does not hold
        (grouped: of the groups it does not hold, one figure each), by figure id (group) after ``after``,
        each with its cosine to the query vector (from its stored vector)."""
        field = query.group_field if query.group else "figure_id"
        held = sorted({c.key(query.group_field) if query.group else c.figure_id for c in listed})
        filters = [*es_filters(query.spec), {"exists": {"field": KNN_FIELD}}]
        body = {"query": {"bool": {"filter": filters, "must_not": [{"terms": {field: held}}] if held else []}},
                "sort": [{field: "asc"}], "size": limit, "track_total_hits": False,
                "_source": [KNN_FIELD], "docvalue_fields": _list_fields(query)}
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

    def _mapped_fields(self) -> set[str] | None:
        """The fields the live index maps (None while unknown). Fields that a newer mapping adds
        (``family_id``) are left out of writes into an index that predates them, which its strict
        mapping would refuse; ``prism index reindex`` then re-ingest brings them in."""
        if self._fields is None:
            try:
                mappings = self.es.indices.get_mapping(index=self.alias).body
            except NotFoundError:
                return None
            props = [set((m.get("mappings") or {}).get("properties") or {}) for m in mappings.values()]
            self._fields = set.intersection(*props) if props else None
        return self._fields

    def has_language_fields(self) -> bool:
        known = self._mapped_fields()
        return known is None or set(languages.FIELDS) <= known

    def family_members(self, family_id: str) -> list[dict]:
        known = self._mapped_fields()
        if known is not None and "family_id" not in known:
            return []
        resp = self._call("family members", self.es.search, query={"term": {"family_id": family_id}},
                          collapse={"field": "publication_number"}, size=MAX_FAMILY,
                          sort=[{"publication_number": "asc"}], source=list(FAMILY_MEMBER_FIELDS))
        hits = resp["hits"]["hits"] if resp else []
        return [{k: (h.get("_source") or {}).get(k) for k in FAMILY_MEMBER_FIELDS} for h in hits]

    def _check_families(self) -> None:
        known = self._mapped_fields()
        if known is not None and "family_id" not in known:
            raise InvalidQuery("one_per_family: this Elasticsearch index predates patent families; run "
                               "`prism index reindex` and re-ingest to group by family")
        # documents copied by a reindex from an older index have no family_id: collapse would put them
        # all in one group, so refuse until they are re-ingested
        resp = self._call("family check", self.es.count,
                          query={"bool": {"must_not": {"exists": {"field": "family_id"}}}})
        missing = int(resp["count"]) if resp else 0
        if missing:
            raise InvalidQuery(f"one_per_family: {missing} figures in the index have no family_id (indexed "
                               f"before families); re-ingest them (`prism ingest`) to group by family")

    def _retrieve(self, query: Query) -> tuple[list[Candidate], list[Candidate]]:
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

    # -- the grouped BM25 list without collapse -------------------------------------------------
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
        top) the collapse query answers (:meth:`_collapsed_text`). Candidates carry no ``_source``: the page
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

    def _dense(self, query: Query, vector) -> list[Candidate]:
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

    @staticmethod
    def _candidate(hit: dict, name: str) -> Candidate:
        score = float(hit["_score"] if hit.get("_score") is not None else hit["sort"][0])
        if name == "knn":  # cosine: _score = (1 + cos) / 2
            score = 2.0 * score - 1.0
        if "_source" not in hit and "fields" in hit:     # a list body's hit: doc values, hydrated later
            f = hit["fields"]
            fid = (f.get("figure_id") or [None])[0] or hit.get("_id") or hit["sort"][1]
            return Candidate(fid, (f.get("publication_number") or [""])[0], score, list(f.get("cpc_subclass") or []),
                             list(f.get("locarno_class") or []), None, family_id=(f.get("family_id") or [None])[0],
                             ipc_subclass=list(f.get("ipc_subclass") or []),
                             applicant_keys=list(f.get("applicant_keys") or []), country=list(f.get("country") or []),
                             year=list(f.get("publication_date") or []))
        src = hit.get("_source") or {}
        published = src.get("publication_date")
        return Candidate(src.get("figure_id") or hit["_id"], src.get("publication_number", ""), score,
                         list(src.get("cpc_subclass") or []), list(src.get("locarno_class") or []), src,
                         family_id=src.get("family_id"), ipc_subclass=list(src.get("ipc_subclass") or []),
                         applicant_keys=list(src.get("applicant_keys") or []),
                         country=[src["country"]] if src.get("country") else [],
                         year=[published[:4]] if published else [])

    def _hydrate(self, figure_ids: list[str]) -> dict[str, dict]:
        resp = self.es.mget(index=self.alias, ids=figure_ids, source=list(documents.HIT_FIELDS))
        return {d["_id"]: d["_source"] for d in resp["docs"] if d.get("found")}
