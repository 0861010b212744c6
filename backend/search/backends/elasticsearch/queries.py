"""Elasticsearch query builders: pure functions from the search core's plan to query DSL, no client.

Every filter goes both into the BM25 query's ``bool.filter`` and into ``knn.filter`` (never
``post_filter``: kNN would pick its k first), so :func:`es_filters` builds the one list both use.
Tested without a server (tests/search/test_es_queries.py).
"""
from __future__ import annotations

from typing import Any

from backend.search.pipeline.filters import Clause, FilterSpec
from backend.search.text import languages, text_fields


def term_clause(c: Clause) -> dict:
    """``field`` equals ``value``, or starts with it (a classification's children)."""
    return {"prefix": {c.field: c.value}} if c.prefix else {"term": {c.field: c.value}}


def es_filters(spec: FilterSpec) -> list[dict]:
    """The filter clauses of ``spec`` (used both in the query's bool.filter and in knn.filter)."""
    out: list[dict] = []
    for group in spec.must_any:
        terms: dict[str, list[str]] = {}
        others = []
        for c in group:
            if c.prefix:
                others.append(term_clause(c))
            else:
                terms.setdefault(c.field, []).append(c.value)
        should = [{"terms": {f: v}} for f, v in terms.items()] + others
        out.append(should[0] if len(should) == 1 else {"bool": {"should": should, "minimum_should_match": 1}})
    if spec.must_not:
        out.append({"bool": {"must_not": [term_clause(c) for c in spec.must_not]}})
    for field, (gte, lte) in spec.ranges.items():
        rng = {k: v for k, v in (("gte", gte), ("lte", lte)) if v}
        out.append({"range": {field: rng}})
    return out


def text_query(query: Any, filters: list[dict], extra: list[dict] | None = None) -> dict:
    """The BM25 query of a search: its text clause, restricted by ``filters`` (and ``extra``)."""
    return {"bool": {"must": [text_clause(query)], "filter": filters + (extra or [])}}


def text_clause(query: Any) -> dict:
    """Plain words: a ranked-OR ``multi_match``; the query language: its translation (query_language)."""
    if query.node is not None:
        from backend.search.query_language.to_es import to_es

        return to_es(query.node)
    english = english_clause(query)
    if query.english and not query.lang_terms:
        return english
    # per-language fields hold analysed tokens (languages.py): the query's tokens, split on whitespace
    should = [english] if query.english else []
    should += [{"multi_match": {"query": " ".join(tokens), "fields": languages.es_fields(lang),
                                "type": "most_fields", "operator": "or"}}
               for lang, tokens in query.lang_terms.items()]
    if not should:
        return {"match_none": {}}
    return should[0] if len(should) == 1 else {"bool": {"should": should, "minimum_should_match": 1}}


def english_clause(query: Any) -> dict:
    """The plain words on the English fields, weighted (text_fields.py)."""
    return {"multi_match": {"query": query.text, "fields": text_fields.es_fields(), "type": "most_fields",
                            "operator": "or"}}
