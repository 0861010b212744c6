"""OpenAPI (marshmallow) descriptions of the search API. Validation itself is the pydantic model in
:mod:`backend.search.request`; these schemas only document the shapes (``validation=False``)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, Dict, Float, Integer, List, Nested, String
from apiflask.validators import OneOf, Range


class SchemeFilterDoc(Schema):
    include = List(String(), metadata={"description": "Symbols at any level (children included)."})
    exclude = List(String())


class DateRangeDoc(Schema):
    gte = Date()
    lte = Date()


class DatesDoc(Schema):
    filing = Nested(DateRangeDoc)
    publication = Nested(DateRangeDoc)
    priority = Nested(DateRangeDoc)


class FiltersDoc(Schema):
    cpc = Nested(SchemeFilterDoc)
    locarno = Nested(SchemeFilterDoc)
    ipc = Nested(SchemeFilterDoc)
    dates = Nested(DatesDoc)
    applicants = List(String())
    countries = List(String())
    kinds = List(String())
    publication_numbers = List(String())


class WeightsDoc(Schema):
    text = Float(validate=Range(0, 100))
    image = Float(validate=Range(0, 100))


class SearchRequestDoc(Schema):
    text = String(metadata={"description": "Plain words (ranked OR, BM25), or the query language: AND OR NOT -x "
                                           "( ) \"phrase\" \"a b\"~n NEAR/n ADJ/n wash* wom?n, fields ti: ab: cl: "
                                           "desc: fig: pa: cpc: ipc: loc: pn: pd: ad: prd: (docs/search.md)."})
    image_figure_id = String(metadata={"description": "More like this figure."})
    vector = List(Float(), metadata={"description": "A query vector in the encoder space."})
    weights = Nested(WeightsDoc)
    fusion = String(validate=OneOf(["rrf", "weighted"]))
    filters = Nested(FiltersDoc)
    group_by_patent = Boolean()
    one_per_family = Boolean(metadata={"description": "One hit per patent family (its best member)."})
    size = Integer(validate=Range(1, 100))
    cursor = String(allow_none=True)
    facets = Boolean()
    explain = Boolean()
    languages = List(String(), metadata={"description": "Search the text in these languages: en, de, fr "
                                                        "(default all)."})
    lang = String(allow_none=True, metadata={"description": "The user's language: hit titles in it when the "
                                                            "document has one (default: Accept-Language)."})
    exclude_patents = List(String(), metadata={"description": "Publication numbers to leave out (at most "
                                                              "1,000), e.g. the patent of a more-like-this figure."})
    exclude_families = List(String(), metadata={"description": "Family ids (a hit's family_id) whose members "
                                                               "are left out (at most 1,000)."})
    exclude_figures = List(String(), metadata={"description": "Figure ids to leave out (the patent's other figures "
                                                              "stay), e.g. the figure of a more-like-this query."})
    image_figure_ids = List(String(), metadata={"description": "Several views (up to 7 indexed figures), fused "
                                                               "per patent; several `image` files do the same."})
    vectors = List(List(Float()), metadata={"description": "Several query vectors (views), fused per patent."})
    crop = Dict(metadata={"description": "Part query: {x, y, width, height} in fractions of the uploaded image or "
                                         "of image_figure_id's figure."})


class SearchResponseDoc(Schema):
    total = Integer(metadata={"description": "number of results (all pages)"})
    total_relation = String(validate=OneOf(["eq", "gte"]),
                            metadata={"description": "eq: total is exact; gte: a lower bound"})
    next_cursor = String(allow_none=True)
    hits = List(Dict(), metadata={"description": "with `snippets` (field -> HTML, matched words in <mark>) for "
                                                 "text queries"})
    facets = Dict()
    parsed_query = String(metadata={"description": "the text query as understood (normalised query language)"})
    warnings = List(String(), metadata={"description": "e.g. a classification filter on a scheme that no "
                                                       "document of the index carries"})
    partial = Boolean(metadata={"description": "true when Elasticsearch answered from some shards only (a node "
                                               "down, a timeout): matches may be missing; never true on the "
                                               "embedded backend"})
    shards = Dict(metadata={"description": "when partial: total, successful, skipped, failed, timed_out, "
                                           "failure_reasons"})


class SuggestQuery(Schema):
    q = String(required=True, metadata={"description": "A symbol prefix (A47C, H01L 21/0) or title words."})
    scheme = String(load_default="cpc", validate=OneOf(["cpc", "ipc", "locarno"]))
    limit = Integer(load_default=20, validate=Range(1, 100))


class EmbedResponseDoc(Schema):
    vector = List(Float(), metadata={"description": "unit-length query vector of the drawing"})
    dims = Integer()
    model = String(allow_none=True, metadata={"description": "encoder that made it (config@checkpoint)"})


class ExportQuery(Schema):
    limit = Integer(load_default=1000, validate=Range(1, 10_000),
                    metadata={"description": "rows to export (default 1,000, at most 10,000)"})
