"""The Elasticsearch query builders (backend/search/backends/elasticsearch/queries.py), without a server."""
from __future__ import annotations

from types import SimpleNamespace

from backend.search.backends.elasticsearch import queries
from backend.search.pipeline.filters import Clause, FilterSpec
from backend.search.query_language import parse
from backend.search.text import languages, text_fields


def _plan(text="", node=None, english=True, lang_terms=None):
    """The part of the search plan the builders read."""
    return SimpleNamespace(text=text, node=node, english=english, lang_terms=lang_terms or {})


def test_filters_or_inside_a_group_and_between_groups_prefix_for_children():
    spec = FilterSpec(must_any=[[Clause("cpc_subclass", "A47C"), Clause("cpc_subclass", "A47D")],
                                [Clause("cpc", "A47C7/", prefix=True), Clause("locarno_class", "06-01")]],
                      must_not=[Clause("publication_number", "US1"), Clause("cpc", "H01L", prefix=True)],
                      ranges={"filing_date": ("2020-01-01", None), "publication_date": (None, "2021-12-31")})
    assert queries.es_filters(spec) == [
        {"terms": {"cpc_subclass": ["A47C", "A47D"]}},
        {"bool": {"should": [{"terms": {"locarno_class": ["06-01"]}}, {"prefix": {"cpc": "A47C7/"}}],
                  "minimum_should_match": 1}},
        {"bool": {"must_not": [{"term": {"publication_number": "US1"}}, {"prefix": {"cpc": "H01L"}}]}},
        {"range": {"filing_date": {"gte": "2020-01-01"}}},
        {"range": {"publication_date": {"lte": "2021-12-31"}}},
    ]


def test_no_filters_no_clauses():
    assert queries.es_filters(FilterSpec()) == []


def test_plain_words_are_a_ranked_or_over_the_weighted_english_fields():
    clause = queries.text_clause(_plan("folding chair"))
    assert clause == {"multi_match": {"query": "folding chair", "fields": text_fields.es_fields(),
                                      "type": "most_fields", "operator": "or"}}


def test_language_terms_beside_english_are_one_should():
    clause = queries.text_clause(_plan("kopf", lang_terms={"de": ["kopf"]}))
    should = clause["bool"]["should"]
    assert clause["bool"]["minimum_should_match"] == 1 and len(should) == 2
    assert should[1]["multi_match"]["fields"] == languages.es_fields("de")


def test_no_language_searched_matches_nothing():
    assert queries.text_clause(_plan("kopf", english=False)) == {"match_none": {}}


def test_the_query_language_is_translated_and_the_filters_ride_along():
    plan = _plan("ti:chair AND NOT table", node=parse("ti:chair AND NOT table").node)
    body = queries.text_query(plan, [{"term": {"country": "US"}}], [{"terms": {"family_id": ["f1"]}}])
    assert body["bool"]["filter"] == [{"term": {"country": "US"}}, {"terms": {"family_id": ["f1"]}}]
    must = body["bool"]["must"][0]
    assert "bool" in must and must != queries.english_clause(plan)
