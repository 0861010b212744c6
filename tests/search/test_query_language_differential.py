"""Both backends answer the same generated query-language queries with the same hits (seeded, so the
same queries every run): words, prefixes, ?, phrases, fields, AND/OR/NOT, groups, NEAR/ADJ."""
from __future__ import annotations

import random
import uuid

import pytest

from backend.search.errors import SearchError
from backend.search.query_language import QueryError, parse
from tests.search.conftest import DIMS, figure
from tests.search.test_query_language import MANY, PATENTS

pytestmark = pytest.mark.services

WORDS = ["bubble", "washer", "laundry", "lamp", "shade", "glass", "drum", "chair", "armrest", "blade",
         "strip", "robot", "front", "view", "unit", "bolt", "wash*", "b?lt", "la*", "sh?de", "zq1?0"]
PLAIN = WORDS[:16]
OPS = ["AND", "OR", "NOT", "", "NEAR/2", "ADJ/3", "NEAR/0", "ADJ/0"]
FIELDS = ["", "", "", "ti:", "ab:", "cl:", "desc:", "fig:"]


def generated(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)

    def term() -> str:
        if rng.random() < 0.15:
            return f'{rng.choice(FIELDS)}"{rng.choice(PLAIN)} {rng.choice(PLAIN)}"'
        return rng.choice(FIELDS) + rng.choice(WORDS)

    def query(depth: int = 0) -> str:
        if depth > 1 or rng.random() < 0.4:
            return term()
        op = rng.choice(OPS)
        if op.startswith(("NEAR", "ADJ")):
            return f"{term()} {op} {term()}"
        text = f"{query(depth + 1)} {op} {query(depth + 1)}"
        return f"({text})" if rng.random() < 0.5 else text

    out: list[str] = []
    while len(out) < n:
        text = query()
        try:
            parse(text)
        except QueryError:      # e.g. ? inside NEAR, or NEAR operands in different fields
            continue
        out.append(text)
    return out


@pytest.fixture
def both(make_settings, es_url, monkeypatch):
    from backend.search.index import index_admin

    # plain-word queries would also encode the text with MiniLM (PRISM_SEARCH_DENSE_TEXT): slow, and the
    # corpus has no dense vectors, so it changes nothing here
    monkeypatch.setenv("PRISM_SEARCH_DENSE_TEXT", "false")
    from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

    docs = [figure(pub, 1, None, **fields) for pub, fields in [*PATENTS, MANY]]
    embedded = EmbeddedBackend(make_settings(search_backend="embedded"))
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index_prefix=prefix)
    es = index_admin.make_client(settings)
    index_admin.create_index(es, prefix, DIMS)
    try:
        elastic = ElasticsearchBackend(settings)
        for backend in (embedded, elastic):
            backend.index_figures(docs)
            backend.refresh()
        yield embedded, elastic
    finally:
        index_admin.delete_all(es, prefix)


def answer(backend, text: str):
    try:
        return {h.publication_number for h in backend.search({"text": text, "size": 100}).hits}
    except SearchError as exc:
        return exc.detail


def test_both_backends_give_the_same_hits(both):
    embedded, elastic = both
    answers = [(q, answer(embedded, q), answer(elastic, q)) for q in generated(120)]
    differ = [a for a in answers if a[1] != a[2]]
    assert not differ, differ[:5]
    matched = [q for q, hits, _ in answers if isinstance(hits, set) and hits]
    assert len(matched) > 40, "the generated queries should mostly match something"
