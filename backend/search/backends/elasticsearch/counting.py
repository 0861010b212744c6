"""The total of a search on Elasticsearch: how many figures (patents, families) the text or drawing ranking
holds past the fused head, bounded by ``settings.search_exact_total_up_to``."""
from __future__ import annotations

from elasticsearch import ApiError, NotFoundError, TransportError

from backend.search.backends.elasticsearch import queries
from backend.search.backends.elasticsearch.client import KNN_FIELD
from backend.search.backends.elasticsearch.drawing_tail import DrawingTail
from backend.search.backends.elasticsearch.queries import es_filters
from backend.search.errors import SearchBackendError
from backend.search.pipeline.candidates import Query

COUNT_PAGE = 10_000            # patents per composite-aggregation page when counting grouped matches
MAX_COUNT_PAGES = 10           # past 100,000 patents the grouped total is a lower bound ("gte")
#: up to this many matching patents the grouped total is one terms aggregation (under search.max_buckets)
TERMS_COUNT = 50_000
#: more matching patents than that: this many hash partitions of them, each one terms aggregation
COUNT_PARTITIONS = 4
#: what the count's _msearch sends back: no buckets, only their number
COUNT_FILTER_PATH = ["responses.hits.hits._source", "responses.hits.total", "responses._shards", "responses.timed_out",
                     "responses.error", "responses.status", "responses.aggregations.groups.sum_other_doc_count",
                     "responses.aggregations.n.count", "responses.terminated_early"]


class Counting(DrawingTail):
    """The counts (:class:`backend.search.pipeline.protocols.Retrieval`'s ``text_count`` and ``vector_count``)."""

    def text_count(self, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
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

    def vector_count(self, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
        """What :meth:`text_count` counts, for the drawing ranking (:meth:`vector_after`): the figures with
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
        """:meth:`text_count` of the documents ``ranking()`` matches (``ranking(extra)``: with these filter
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
