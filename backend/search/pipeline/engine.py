"""What every backend shares: the search pipeline around two ranked lists.

A backend only *retrieves* (BM25 list and nearest-vector list, filters applied before ranking, at
most ``window`` entries each, grouped by patent when asked) and *hydrates* display fields. Cursor,
query vector resolution, grouping, fusion (:mod:`.fusion`), facets, paging and explain are here, so
the embedded and Elasticsearch backends give the same answers.

Semantics (both backends):

* BM25 list: figures matching any query term (English analysis, stop words dropped, folded
  accents), best first; ties by figure id. Grouped: the best figure of each patent.
* Vector list: the ``window`` figures nearest the query vector (cosine, at least
  ``settings.knn_similarity_floor`` when set); grouped: the best figure of each patent among them.
* The result set is the fusion of both lists (the *fused head*), then (:mod:`.paging`) for a query with a
  drawing the *drawing tail* - every other patent passing the filters that has a drawing, by the cosine of
  its closest figure - and for a text query the rest of the BM25 ranking; ``total`` counts all of it and
  pages walk it with an opaque cursor (offset, then a keyset, + query fingerprint): no duplicates, no gaps.
"""
from __future__ import annotations

import abc
import hashlib
import html
import json
import math
import re
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from backend.search import query_language
from backend.search.errors import InvalidQuery, NotFound
from backend.search.index.documents import TEXT_FIELDS
from backend.search.pipeline import filters as filters_mod
from backend.search.pipeline import paging
from backend.search.pipeline.shards import ShardReport
from backend.search.query_language.plain_query import is_plain_words
from backend.search.ranking import class_consensus
from backend.search.ranking.fusion import DENSE, TEXT, VECTOR, Fused, Ranked, fuse
from backend.search.request import (
    BM25Explain,
    Explain,
    FacetBucket,
    Hit,
    SearchRequest,
    SearchResponse,
    VectorExplain,
    ViewMatch,
    unit_vector,
)
from backend.search.text import lang_analysis
from backend.search.text.languages import ANALYSED, LANGUAGES, pick_title
from backend.search.text.stop_words import STOP_WORDS
from backend.settings import Settings

FACET_FIELDS = ("cpc_subclass", "locarno_class", "applicant_keys", "country", "year")
_BESIDE: ThreadPoolExecutor | None = None      # threads for SearchBackend._beside (shared, made on first use)
_BESIDE_LOCK = threading.Lock()
#: the classification schemes as users name them; each one's field that every symbol of it sets
SCHEME_LABELS = {"cpc": "CPC", "ipc": "IPC", "locarno": "Locarno"}
SCHEME_FIELDS = {"cpc": "cpc_section", "ipc": "ipc_section", "locarno": "locarno_class"}
#: what GET /patents/<n> lists per family member
FAMILY_MEMBER_FIELDS = ("publication_number", "kind", "country", "title", "publication_date", "filing_date")
MAX_FAMILY = 200
_MARKED = re.compile(r"<mark>(.*?)</mark>")
FACET_LIMIT = 50


def validation_problem(exc: ValidationError, prefix: str = "") -> InvalidQuery:
    """A pydantic error as a 400 problem whose detail names the field (and the symbol, if any)."""
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append({"field": f"{prefix}{loc}" if loc else prefix.rstrip(".") or "request", "message": msg})
    first = errors[0] if errors else {"field": "request", "message": "invalid"}
    return InvalidQuery(f"{first['field']}: {first['message']}", errors=errors)


def coerce_request(request) -> SearchRequest:
    if isinstance(request, SearchRequest):
        return request
    try:
        return SearchRequest.model_validate(request)
    except ValidationError as exc:
        raise validation_problem(exc) from None


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
    import re

    if not text:
        return []
    words = re.findall(r"\w+", text.casefold())
    return list(dict.fromkeys(w for w in words if w not in STOP_WORDS))


def _languages(request: SearchRequest, node) -> tuple[bool, tuple[str, ...]]:
    """(search the English fields?, the German/French languages searched) for the request's ``languages``
    (default all). The query language (``node``) searches the English fields only (the request validator
    refuses it without "en")."""
    wanted = request.languages or LANGUAGES
    others = () if node is not None or not request.text else tuple(lang for lang in ANALYSED if lang in wanted)
    return "en" in wanted, others


def _facet_title(name: str, key: str, settings: Settings | None) -> str | None:
    """A facet bucket's title: the Locarno class heading, the CPC subclass title (when the title lists
    are there)."""
    from backend.classification.catalog import cpc_catalog, locarno_classes

    if name == "locarno_class":
        return locarno_classes().get(key)
    if name == "cpc_subclass" and settings is not None:
        return cpc_catalog(str(settings.cpc_titles_dir)).title(key)
    return None


def _fingerprint(request: SearchRequest, window: int) -> str:
    payload = json.dumps([request.fingerprint_payload(), window], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _dedupe(cands: list[Candidate], group_field: str = "publication_number") -> list[Candidate]:
    seen: set[str] = set()
    out = []
    for c in cands:
        if c.key(group_field) not in seen:
            seen.add(c.key(group_field))
            out.append(c)
    return out


class SearchBackend(abc.ABC):
    """Base class of the embedded and Elasticsearch backends (the contract in docs/contracts.md)."""

    name = "base"
    #: the count and the classification checks are round trips to a server: sent beside the rest (_beside)
    concurrent_calls = False

    def __init__(self, settings: Settings):
        self.settings = settings

    # -- storage, per backend -----------------------------------------------------------------
    @abc.abstractmethod
    def index_figures(self, docs: list[dict]) -> None: ...

    @abc.abstractmethod
    def delete_patent(self, publication_number: str) -> int: ...

    @abc.abstractmethod
    def refresh(self) -> None: ...

    @abc.abstractmethod
    def get_figure(self, figure_id: str) -> dict | None: ...

    @abc.abstractmethod
    def get_patent_figures(self, publication_number: str) -> list[dict]: ...

    @abc.abstractmethod
    def dims(self, fresh: bool = False) -> int | None:
        """The vector dimension of the index (None while unknown); ``fresh`` skips any cached value."""

    @abc.abstractmethod
    def count(self) -> int: ...

    @abc.abstractmethod
    def _retrieve(self, query: Query) -> tuple[list[Candidate], list[Candidate]]:
        """(BM25 list, vector list), best first, each at most ``query.window`` long, filtered."""

    @abc.abstractmethod
    def _text_after(self, query: Query, after: tuple[float, str], limit: int) -> list[Candidate]:
        """At most ``limit`` entries of the full BM25 ranking (score desc, figure id asc; grouped: each
        patent's best figure) strictly after ``after`` = (score, figure id), filtered."""

    @abc.abstractmethod
    def _text_count(self, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
        """(number of BM25 matches - patents when grouping -, "eq" or "gte", the ``keys`` that match)."""

    @abc.abstractmethod
    def _hydrate(self, figure_ids: list[str]) -> dict[str, dict]:
        """Display fields (:data:`documents.HIT_FIELDS`) of these figures."""

    # -- the shared pipeline ------------------------------------------------------------------
    def query_vector(self, request: SearchRequest) -> np.ndarray | None:
        vector = None
        if request.vector is not None:
            try:
                return self._check_dims(unit_vector(request.vector), "vector")
            except ValueError as exc:
                raise InvalidQuery(f"vector: {exc}") from None
        elif request.image_figure_id:
            figure = self.get_figure(request.image_figure_id)
            if figure is None:
                raise NotFound(f"image_figure_id: no figure {request.image_figure_id!r}")
            if not figure.get("image_vector"):
                raise InvalidQuery(f"image_figure_id: figure {request.image_figure_id!r} has no image vector")
            vector = np.asarray(figure["image_vector"], dtype=np.float32)
            what = "image_figure_id"
        if vector is None:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            norm = float(np.linalg.norm(vector))
        if not math.isfinite(norm) or norm == 0:
            raise InvalidQuery(f"{what}: the query vector must be finite and non-zero")
        return self._check_dims(vector / norm, what)

    def _check_dims(self, vector: np.ndarray, what: str) -> np.ndarray:
        dims = self.dims()
        if dims is not None and vector.shape[0] != dims:
            raise InvalidQuery(f"{what}: the query vector has {vector.shape[0]} dimensions, the index "
                               f"expects {dims}")
        return vector

    def search(self, request, window: int | None = None) -> SearchResponse:
        request = coerce_request(request)
        window = max(window or self.settings.search_rank_window, 1)
        fingerprint = _fingerprint(request, window)
        cursor = paging.decode(request.cursor, fingerprint)
        from backend.search.ranking import multi_view

        views = multi_view.view_vectors(self, request)
        vector = multi_view.mean_vector(views) if views else self.query_vector(request)
        use_text = bool(request.text) and request.weights.text > 0
        use_vector = vector is not None and request.weights.image > 0 and self.dims() is not None
        parsed = query_language.parse(request.text) if use_text else None
        node = parsed.node if parsed is not None and not parsed.plain else None
        terms = (query_language.query_words(node) if node is not None else query_terms(request.text)) \
            if use_text else []
        group = request.group_by_patent or request.one_per_family
        group_field = "family_id" if request.one_per_family else "publication_number"
        if request.one_per_family:
            self._check_families()
        warning_checks = self._beside(self._scheme_warnings, request)
        query = Query(request.text if terms else None, terms, vector if use_vector else None,
                      filters_mod.build(request.filters, request.exclude_patents, request.exclude_families,
                                        request.exclude_figures),
                      window, group,
                      self.settings.knn_similarity_floor, node, group_field,
                      *_languages(request, node), facets=request.facets)
        bm25, knn = self._retrieve(query) if (query.text or query.vector is not None) else ([], [])
        bm25, knn = bm25[:window], knn[:window]
        dense = self._dense_list(request, query)
        if group:
            bm25, knn, dense = _dedupe(bm25, group_field), _dedupe(knn, group_field), _dedupe(dense, group_field)
        keyof = (lambda c: c.key(group_field)) if group else (lambda c: c.figure_id)
        view_matches: dict = {}
        if views and query.vector is not None:   # several drawings: their lists fused per patent (multi_view.py)
            knn, view_matches = multi_view.fuse_views(self, query, views, keyof)
        nearest = knn                   # by cosine: the verification's candidates
        knn, knn_scores, votes = self._class_consensus(knn, keyof)
        by_list = {TEXT: {keyof(c): c for c in bm25}, VECTOR: {keyof(c): c for c in knn}}
        lists = {TEXT: [Ranked(keyof(c), c.score) for c in bm25],
                 VECTOR: [Ranked(keyof(c), knn_scores[keyof(c)]) for c in knn]}
        weights = {TEXT: request.weights.text, VECTOR: request.weights.image}
        if dense:
            by_list[DENSE] = {keyof(c): c for c in dense}
            lists[DENSE] = [Ranked(keyof(c), c.score) for c in dense]
            weights[DENSE] = request.weights.text
        fused = fuse(request.fusion, lists, weights, self.settings.rrf_k)
        checks, verified = {}, {}
        if knn and self.settings.search_verify_top_k > 0:   # second stage: geometric verification (rerank.py)
            from backend.search.ranking import rerank

            checks, checked = rerank.verify_nearest(self, request, query, nearest)
            fused, verified = rerank.verified_first(fused, checks, checked, keyof)

        # past the window (paging.py): with a drawing, the drawing ranking of every patent the head does not
        # hold (from its top: an approximate kNN head may have missed some); else the rest of the text ranking
        total, relation, tail_start, skip, counting = len(fused), "eq", None, set(), None
        drawing_tail = query.vector is not None
        if drawing_tail:
            skip = {item.key for item in fused}
            counting = self._beside(self._vector_count, query, sorted(skip))   # total: joined below
        elif query.terms and len(bm25) >= window:
            skip = {k for name in (VECTOR, DENSE) for k in by_list.get(name, {}) if k not in by_list[TEXT]}
            counting = self._beside(self._text_count, query, sorted(skip))   # total: joined below
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
            tail, after, rank, exhausted = self._read_tail(query, after, rank, wanted, skip, keyof,
                                                           self._vector_after if drawing_tail else None)
            for cand, list_rank in tail:
                score = paging.tail_score(request.fusion, weight, list_rank, cand.score, self.settings.rrf_k, bounds)
                item = Fused(keyof(cand), score, {name: list_rank}, {name: cand.score}, {name: score})
                entries.append((item, cand))
        missing = [c.figure_id for _item, c in entries if c.source is None]
        snippets, sources = self._page_details(query, [c.figure_id for _item, c in entries], missing)
        hits = []
        for item, cand in entries:
            src = cand.source if cand.source is not None else sources.get(cand.figure_id, {})
            hits.append(self._hit(item, cand, src, request.explain, request.lang))
            if hits[-1].explain is not None and item.key in view_matches:
                hits[-1].explain.views = [ViewMatch(view=i + 1, figure_id=fid, similarity=sim)
                                          for i, (fid, sim) in enumerate(view_matches[item.key])]
        if checks:
            from backend.search.ranking import rerank

            rerank.annotate(hits, checks)
        if request.explain and votes:
            self._explain_votes(hits, entries, by_list[VECTOR], votes, keyof)
        if query.terms and hits:
            self._add_snippets(hits, snippets, request.explain)
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
                                        fingerprint)
        facets = self._facets([representative(item) for item in fused], self.settings) if request.facets else None
        return SearchResponse(total=total, total_relation=relation, next_cursor=next_cursor, hits=hits,
                              facets=facets, parsed_query=parsed.render() if parsed is not None else None,
                              warnings=warning_checks.result() + self._language_warnings(request) or None,
                              partial=query.shards.partial,
                              shards=query.shards.to_json() if query.shards.partial else None)

    def _class_consensus(self, knn: list[Candidate], keyof) -> tuple[list[Candidate], dict[str, float], dict]:
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
            [c.publication_number for c in knn], k, wc, wp)
        order = class_consensus.banded_order(sims, scores, s.search_class_consensus_band)
        scores = class_consensus.descending(scores, order)
        why = class_consensus.reasons(sims, order, class_votes, patent_votes, k, wc, wp, s.search_class_consensus_band)
        return ([knn[i] for i in order], {keyof(knn[i]): float(scores[i]) for i in order},
                {keyof(knn[i]): (class_votes[i], patent_votes[i], why[i]) for i in order})

    @staticmethod
    def _explain_votes(hits: list[Hit], entries, vector_list: dict[str, Candidate], votes: dict, keyof) -> None:
        """``explain.vector``: the cosine itself (the list's score also holds the consensus), the votes and,
        when the consensus moved the hit, why (``reason``)."""
        for hit, (item, _cand) in zip(hits, entries):
            cand = vector_list.get(item.key)
            if hit.explain is None or hit.explain.vector is None or cand is None:
                continue
            class_vote, patent_vote, why = votes.get(keyof(cand), (None, None, None))
            hit.explain.vector.similarity = cand.score
            hit.explain.vector.reason = why
            if class_vote is not None and class_vote.code is not None:
                hit.explain.vector.class_consensus = class_vote.share
                hit.explain.vector.consensus_class = class_vote.code
            if patent_vote is not None and patent_vote.code is not None:
                hit.explain.vector.patent_consensus = patent_vote.share

    def _beside(self, fn, *args) -> Future:
        """``fn(*args)`` in a thread beside the rest of the search when the backend's calls are round trips
        (:attr:`concurrent_calls`), else at once; its result (or exception) from the future."""
        global _BESIDE
        if self.concurrent_calls:
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

    def _scheme_warnings(self, request: SearchRequest) -> list[str]:
        """A warning per included classification that no document of the index carries (whatever the
        other filters): the scheme as a whole (CPC on a design-only corpus) or the symbol. Such a filter
        alone explains an empty result."""
        out = []
        for scheme, label in SCHEME_LABELS.items():
            include = getattr(request.filters, scheme).include
            if not include:
                continue
            if not self.carries_scheme(scheme):
                out.append(f"filters.{scheme}: no document in this index carries a {label} classification, "
                           f"so the {label} filter matches nothing")
                continue
            absent = [s for s in include
                      if not self.any_match(filters_mod.FilterSpec(must_any=[[filters_mod.symbol_clause(scheme, s)]]))]
            if absent:
                out.append(f"filters.{scheme}: no document in this index carries {label} {', '.join(absent)}")
        return out

    def _language_warnings(self, request: SearchRequest) -> list[str]:
        """A warning when the request names German or French and the index has no fields for them (an
        Elasticsearch index created before the per-language fields): that alone explains no such hit."""
        wanted = [lang for lang in (request.languages or ()) if lang in ANALYSED]
        if wanted and request.text and not self.has_language_fields():
            return [f"languages: this index was created before the German/French fields, so {', '.join(wanted)} "
                    f"finds nothing; run `prism index reindex` and ingest the EPO documents again"]
        return []

    def has_language_fields(self) -> bool:
        """Whether the index can hold German/French text (:mod:`.languages`); backends override it."""
        return True

    def carries_scheme(self, scheme: str) -> bool:
        """Whether any document of the index has a symbol of ``scheme`` (cpc, ipc, locarno); backends
        override it, the default assumes so."""
        return True

    def any_match(self, spec: filters_mod.FilterSpec) -> bool:
        """Whether any document of the index passes ``spec``; backends override it, the default assumes so."""
        return True

    @staticmethod
    def _add_snippets(hits: list[Hit], found: dict[str, dict[str, str]], explain: bool) -> None:
        """Matched words marked (``<mark>``, the rest HTML-escaped) per text field of each hit (``found``:
        :meth:`_snippets` of the page); with ``explain``, the fields the text matched in."""
        for hit in hits:
            snippets = found.get(hit.figure_id) or {}
            hit.snippets = {f: snippets[f] for f in TEXT_FIELDS if f in snippets} or None
            if hit.explain is not None:
                hit.explain.matched_fields = [f for f in TEXT_FIELDS if f in snippets]
                hit.explain.matched_words = sorted({html.unescape(w).casefold() for text in snippets.values()
                                                    for w in _MARKED.findall(text)})

    def _page_details(self, query: Query, figure_ids: list[str], missing: list[str]
                      ) -> tuple[dict[str, dict[str, str]], dict[str, dict]]:
        """The page's snippets (:meth:`_snippets`, when the query has words) and the display fields of the
        ``missing`` figures (:meth:`_hydrate`): two round trips at once. A backend that can answer both in
        one request overrides this."""
        snippets = self._beside(self._snippets, query, figure_ids) if query.terms and figure_ids else None
        sources = self._hydrate(missing) if missing else {}
        return (snippets.result() if snippets is not None else {}), sources

    def _snippets(self, query: Query, figure_ids: list[str]) -> dict[str, dict[str, str]]:
        """figure id -> {text field: snippet with the matched words marked}, for the fields that matched.
        Backends override this; the default marks nothing."""
        return {}

    def _dense_list(self, request: SearchRequest, query: Query) -> list[Candidate]:
        """The dense text list: only for plain-word queries, and only with PRISM_SEARCH_DENSE_TEXT on."""
        if not (self.settings.search_dense_text and query.terms and query.english
                and is_plain_words(request.text)):
            return []
        from backend.search.text import dense_text

        vector = dense_text.encode_query(request.text, self.settings)
        if vector is None:
            return []
        found = self._dense(query, vector)[:query.window]
        return _dedupe(found) if query.group else found

    def _dense(self, query: Query, vector: np.ndarray) -> list[Candidate]:
        """Figures nearest ``vector`` by their patent's MiniLM text vector (filtered; grouped by patent when
        asked), best first, at most ``query.window``. Backends without dense vectors return none."""
        return []

    def family_members(self, family_id: str) -> list[dict]:
        """One entry per publication of the family: :data:`FAMILY_MEMBER_FIELDS` of its first figure."""
        return []

    def _check_families(self) -> None:  # noqa: B027 - a no-op unless the backend overrides it
        """Raise a 400 problem when this index cannot group by family (a backend whose index predates
        ``family_id`` overrides this)."""

    def _vector_after(self, query: Query, after: tuple[float, str] | None, limit: int) -> list[Candidate]:
        """At most ``limit`` entries of the full drawing ranking (cosine to ``query.vector`` desc, figure id
        asc; grouped: each patent's closest figure) strictly after ``after`` (None: from the top), over the
        figures with an image vector that pass the filters (and the similarity floor). Backends override
        this; the default has no drawing tail."""
        return []

    def _vector_count(self, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
        """(number of figures - patents when grouping - that :meth:`_vector_after` ranks, "eq" or "gte", the
        ``keys`` among them). Backends override this; the default counts none."""
        return 0, "eq", set()

    def _read_tail(self, query: Query, after: tuple[float, str] | None, rank: int, wanted: int, skip: set[str],
                   keyof, read=None) -> tuple[list[tuple[Candidate, int]], tuple[float, str] | None, int, bool]:
        """Up to ``wanted`` entries of a ranking (``read``: :meth:`_text_after` unless given, e.g.
        :meth:`_vector_after`) after ``after`` that the head does not hold, with their rank in that ranking;
        returns them, the new keyset and rank, and whether the ranking ran out."""
        read = read or self._text_after
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

    @staticmethod
    def _hit(item: Fused, cand: Candidate, src: dict, explain: bool, lang: str | None = None) -> Hit:
        fid = cand.figure_id
        titles = dict(src.get("titles") or {})
        hit = Hit(
            figure_id=fid, publication_number=cand.publication_number, figure_number=src.get("figure_number"),
            title=pick_title(src.get("title") or "", titles, lang), titles=titles or None,
            description=src.get("description") or "", kind=src.get("kind"),
            country=src.get("country"), publication_date=src.get("publication_date"),
            filing_date=src.get("filing_date"), priority_date=src.get("priority_date"),
            cpc=list(src.get("cpc") or []), locarno=list(src.get("locarno") or []),
            applicants=list(src.get("applicants") or []), score=round(item.score, 8),
            image_url=f"/figures/{fid}/image", thumbnail_url=f"/figures/{fid}/thumbnail",
            has_image=bool(src.get("image_key")), family_id=src.get("family_id"),
        )
        if explain:
            hit.explain = Explain(
                bm25=BM25Explain(rank=item.ranks[TEXT], score=item.scores[TEXT]) if TEXT in item.ranks else None,
                vector=(VectorExplain(rank=item.ranks[VECTOR], similarity=item.scores[VECTOR])
                        if VECTOR in item.ranks else None),
                dense=(VectorExplain(rank=item.ranks[DENSE], similarity=item.scores[DENSE])
                       if DENSE in item.ranks else None),
                fused=item.score, text_share=round(item.share(TEXT) + item.share(DENSE), 6),
                image_share=round(item.share(VECTOR), 6))
        return hit

    @staticmethod
    def _facets(cands: list[Candidate], settings: Settings | None = None) -> dict[str, list[FacetBucket]]:
        out = {}
        for name in FACET_FIELDS:
            counts: Counter[str] = Counter()
            for c in cands:
                counts.update(set(getattr(c, name) or []))
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_LIMIT]
            out[name] = [FacetBucket(key=k, count=n, title=_facet_title(name, k, settings)) for k, n in ordered]
        return out
