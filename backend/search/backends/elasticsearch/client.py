"""The Elasticsearch index behind the alias: the client calls that write, look up and check it, and how a
hit becomes a :class:`Candidate`. The search reads are built on it (:mod:`.es_backend`)."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from backend.patent_numbers import lookup_keys, pick
from backend.search.backends.elasticsearch.queries import es_filters
from backend.search.errors import IndexVersionError, InvalidQuery, SearchBackendError
from backend.search.index import documents, index_admin
from backend.search.pipeline.candidates import FAMILY_MEMBER_FIELDS, MAX_FAMILY, SCHEME_FIELDS, Candidate
from backend.search.pipeline.filters import FilterSpec
from backend.search.pipeline.shards import ShardReport
from backend.search.text import languages
from backend.settings import Settings

log = logging.getLogger(__name__)

KNN_FIELD = "image_vector"
MAX_NUM_CANDIDATES = 10_000
#: the text ranking's order: score, then figure id (both backends)
TEXT_SORT = [{"_score": "desc"}, {"figure_id": "asc"}]
#: the ranked lists' answer: scores, sort values and doc values (no ``_index`` per hit: a fifth of the bytes)
RETRIEVAL_FILTER_PATH = ["responses.hits.hits._id", "responses.hits.hits._score", "responses.hits.hits.sort",
                         "responses.hits.hits.fields", "responses._shards", "responses.timed_out", "responses.took",
                         "responses.error", "responses.status"]
#: the same for one search
SEARCH_FILTER_PATH = [p.removeprefix("responses.") for p in RETRIEVAL_FILTER_PATH]
DIMS_RECHECK_S = 5.0          # how long the index dims are trusted before the alias is looked up again
#: how long "the index carries this scheme / a document passes this filter" is trusted (a miss, which warns
#: the examiner, is asked again every time): two fewer requests beside most filtered searches
FOUND_RECHECK_S = 5.0
RESCORE_OVERSAMPLE = 2.0       # int8 quantised HNSW: re-rank the oversampled candidates on raw vectors
#: what the grouped BM25 list reads per figure (doc values; no stored fields, no _source: _grouped_text):
#: the group; the classification symbols only for facets (the class consensus reads the vector list's)
GROUP_KEY_FIELDS = ("publication_number", "family_id")
GROUP_DOCVALUE_FIELDS = (*GROUP_KEY_FIELDS, "cpc_subclass", "ipc_subclass", "locarno_class")
#: what the other lists' bodies read per hit (the figure id too: kNN hits have no sort values)
LIST_DOCVALUE_FIELDS = ("figure_id", *GROUP_DOCVALUE_FIELDS)
#: read besides for facets only: applicant, country and publication year facets
FACET_DOCVALUE_FIELDS = ("applicant_keys", "country", {"field": "publication_date", "format": "yyyy"})


def list_fields(query) -> list:
    """The doc values a ranked list's hits carry (facet fields too when the query wants facets)."""
    return [*LIST_DOCVALUE_FIELDS, *FACET_DOCVALUE_FIELDS] if query.facets else list(LIST_DOCVALUE_FIELDS)


class EsIndex:
    """The alias of one deployment (``{settings.es_index_prefix}-figures``) and its client."""

    def __init__(self, settings: Settings, client: Elasticsearch | None = None):
        self.settings = settings
        self.es = client or index_admin.make_client(settings)
        self.prefix = settings.es_index_prefix
        self.alias = index_admin.alias_name(self.prefix)
        self._dims: int | None = None
        self._fields: set[str] | None = None
        self._dims_index: str | None = None
        self._dims_at = 0.0
        self._found: dict[tuple[str, str], float] = {}
        try:
            index_admin.check_version(self.es, self.prefix)
        except IndexVersionError:
            raise
        except (TransportError, ApiError) as exc:
            log.warning("could not check the Elasticsearch index at %s: %s", settings.es_url, exc)

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

    def index_figures(self, docs: list[dict], remove: Sequence[str] = ()) -> None:
        """Index ``docs``; ``remove``: figure ids deleted in the same bulk request (a sheet replaced by its
        figure regions)."""
        if not docs and not remove:
            return
        self.ensure_index()
        dims = self.dims()
        prepared = [documents.prepare(d, dims) for d in docs]
        known = self._mapped_fields()
        actions = [{"_op_type": "index", "_index": self.alias, "_id": d["figure_id"],
                    "_source": {k: v for k, v in d.items() if v is not None and (known is None or k in known)}}
                   for d in prepared]
        actions += [{"_op_type": "delete", "_index": self.alias, "_id": i} for i in remove]
        _ok, errors = helpers.bulk(self.es, actions, raise_on_error=False, raise_on_exception=False,
                                  chunk_size=500)
        errors = [e for e in errors if e.get("delete", {}).get("status") != 404]   # removed already
        if errors:
            first = errors[0].get("index", errors[0].get("delete", errors[0]))
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

    def check_families(self) -> None:
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

    def hydrate(self, figure_ids: list[str]) -> dict[str, dict]:
        resp = self.es.mget(index=self.alias, ids=figure_ids, source=list(documents.HIT_FIELDS))
        return {d["_id"]: d["_source"] for d in resp["docs"] if d.get("found")}
