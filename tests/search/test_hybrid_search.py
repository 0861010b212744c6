"""The pipeline is composed with a backend, not built on one: ``HybridSearch`` runs over anything that
implements the ``Retrieval`` protocol (here an in-memory one, no index), with the settings it is given;
both real backends implement every method of the protocols with the same parameters."""
from __future__ import annotations

import inspect

import pytest

from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend
from backend.search.backends.embedded.embedded_backend import EmbeddedBackend
from backend.search.errors import InvalidQuery
from backend.search.pipeline import protocols
from backend.search.pipeline.candidates import Candidate, Query
from backend.search.pipeline.hybrid_search import HybridSearch


class ListRetrieval:
    """A fixed BM25 list and vector list (figure ids A-F1 ... E-F1), nothing past them."""

    name = "lists"
    concurrent_calls = False

    def __init__(self, settings, bm25: list[str], knn: list[str]):
        self.settings = settings
        self.bm25, self.knn = bm25, knn
        self.queries: list[Query] = []

    def dims(self, fresh: bool = False) -> int | None:
        return 2

    def get_figure(self, figure_id):
        return None

    def retrieve(self, query):
        self.queries.append(query)
        text = [Candidate(f, f.split("-")[0], 10.0 - i) for i, f in enumerate(self.bm25)] if query.terms else []
        vector = [Candidate(f, f.split("-")[0], 0.9 - i / 10) for i, f in enumerate(self.knn)] \
            if query.vector is not None else []
        return text, vector

    def dense(self, query, vector):
        return []

    def text_after(self, query, after, limit):
        return []

    def text_count(self, query, keys):
        return len(self.bm25), "eq", set(keys) & set(self.bm25)

    def vector_after(self, query, after, limit):
        return []

    def vector_count(self, query, keys):
        return 0, "eq", set()

    def page_details(self, query, figure_ids, missing):
        return {}, {f: {"title": f"title of {f}"} for f in missing}

    def hydrate(self, figure_ids):
        return {f: {"title": f"title of {f}"} for f in figure_ids}

    def carries_scheme(self, scheme):
        return True

    def any_match(self, spec):
        return True

    def has_language_fields(self):
        return True

    def check_families(self):
        return None


@pytest.fixture
def settings(make_settings):
    return make_settings(search_dense_text=False, search_class_consensus_k=0, search_verify_top_k=0, rrf_k=60)


def test_rrf_of_two_lists_over_any_retrieval(settings):
    lists = ListRetrieval(settings, bm25=["A-F1", "B-F1", "C-F1"], knn=["B-F1", "D-F1", "A-F1"])
    hits = HybridSearch(lists, settings).search({"text": "pump", "vector": [1.0, 0.0], "size": 10,
                                                 "explain": True}).hits
    # A: 1/61 + 1/63, B: 1/62 + 1/61, C: 1/63, D: 1/62
    assert [h.figure_id for h in hits] == ["B-F1", "A-F1", "D-F1", "C-F1"]
    assert hits[0].explain.bm25.rank == 2 and hits[0].explain.vector.rank == 1
    assert hits[2].title == "title of D-F1"            # hydrated through the protocol
    (query,) = lists.queries
    assert query.terms == ["pump"] and query.group and query.window == settings.search_drawing_window


def test_a_drawing_query_ranks_its_drawing_window_and_a_text_query_its_rank_window(make_settings):
    settings = make_settings(search_dense_text=False, search_verify_top_k=0, search_rank_window=100,
                             search_drawing_window=700)
    lists = ListRetrieval(settings, bm25=["A-F1"], knn=["A-F1"])
    HybridSearch(lists, settings).search({"text": "pump"})
    HybridSearch(lists, settings).search({"vector": [1.0, 0.0]})
    HybridSearch(lists, settings).search({"vector": [1.0, 0.0], "weights": {"text": 1.0, "image": 0.0},
                                          "text": "pump"})
    assert [q.window for q in lists.queries] == [100, 700, 100]


def test_the_settings_given_are_the_ones_used_and_never_changed(settings):
    lists = ListRetrieval(settings, bm25=["A-F1", "B-F1"], knn=[])
    before = settings.model_dump()
    narrow = settings.model_copy(update={"search_rank_window": 1})
    assert len(HybridSearch(lists, narrow).search({"text": "pump"}).hits) == 1      # the window of `narrow`
    assert len(HybridSearch(lists, settings).search({"text": "pump"}).hits) == 2
    assert settings.model_dump() == before and lists.settings is settings


def test_a_vector_of_other_dims_is_refused_before_retrieval(settings):
    lists = ListRetrieval(settings, bm25=[], knn=["A-F1"])
    with pytest.raises(InvalidQuery, match="3 dimensions, the index expects 2"):
        HybridSearch(lists, settings).search({"vector": [1.0, 0.0, 0.0]})
    assert lists.queries == []


def test_the_query_drawing_is_an_argument():
    """The pipeline takes the uploaded drawing as ``drawing``; the request model carries no drawing."""
    from backend.search.request import SearchRequest

    assert "drawing" in inspect.signature(HybridSearch.search).parameters
    assert not SearchRequest.__private_attributes__


def test_the_service_hands_the_uploaded_drawing_to_the_search(tmp_path):
    """An uploaded drawing's features and turned vectors travel beside the request (ParsedSearch), text alone
    has none."""
    import io

    from PIL import Image, ImageDraw

    from backend.search import service
    from backend.settings import Settings

    settings = Settings(data_dir=tmp_path)
    assert service.parse_search({"text": "pump"}, settings).drawing is None
    image = Image.new("L", (96, 96), 255)
    ImageDraw.Draw(image).rectangle((20, 20, 70, 70), outline=0, width=3)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    parsed = service.parse_search({}, settings, buf.getvalue())
    assert parsed.request.vector and parsed.drawing is not None and len(parsed.drawing.turned_vectors) == 2


def _members(protocol) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(value) for name, value in vars(protocol).items()
            if callable(value) and not name.startswith("_")}


@pytest.mark.parametrize("backend_class", [EmbeddedBackend, ElasticsearchBackend])
@pytest.mark.parametrize("protocol", [protocols.Retrieval, protocols.IndexWriter, protocols.SearchBackend])
def test_both_backends_implement_the_protocols(backend_class, protocol):
    for name, wanted in _members(protocol).items():
        method = getattr(backend_class, name, None)
        assert callable(method), f"{backend_class.__name__} has no {name}"
        got = list(inspect.signature(method).parameters)
        assert got[:len(wanted.parameters)] == list(wanted.parameters), (backend_class.__name__, name, got)
    for attribute in ("name", "concurrent_calls"):
        assert hasattr(backend_class, attribute)


def test_a_query_copied_for_another_vector_starts_with_nothing_computed():
    """A backend's per-search results (Query.memo) belong to that query: the copies the verification and the
    multi-view fusion make with another vector must not read the first vector's ranking."""
    import dataclasses

    import numpy as np

    from backend.search.pipeline.filters import FilterSpec

    query = Query(text=None, terms=[], vector=np.ones(2), spec=FilterSpec(), window=10, group=True,
                  similarity_floor=None)
    query.memo["drawing_ranking"] = "of the first vector"
    assert dataclasses.replace(query, vector=np.zeros(2)).memo == {}
