"""Text ranking: one field-weight table for both backends, the same stemming everywhere, the analyzers
of the ES mapping, and the MiniLM dense text list fused with BM25 for plain words only."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from tests.search.conftest import figure


def test_one_weight_table_drives_both_backends(monkeypatch):
    from backend.search.index.documents import TEXT_FIELDS
    from backend.search.text import text_fields

    monkeypatch.setitem(text_fields.FIELD_WEIGHTS, "captions", 0.0)
    monkeypatch.setitem(text_fields.FIELD_WEIGHTS, "title", 2.5)
    assert text_fields.fts_weights() == [text_fields.FIELD_WEIGHTS[f] for f in TEXT_FIELDS]
    fields = text_fields.es_fields()
    assert "title^2.5" in fields
    assert not any(f.startswith("captions") for f in fields)      # weight 0: out of the ranking


def test_embedded_stemming_is_porter_like_the_reference():
    """FTS5's ``porter`` tokenizer (the embedded index) stems exactly as the Porter stemmer the reference
    BM25 uses (and Lucene's PorterStemFilter, ES's ``english`` stemmer); accents are folded."""
    import Stemmer

    words = ["chairs", "folding", "connected", "connection", "relational", "generalization", "lighting",
             "wheels", "batteries", "dispenser", "electrodes", "running", "hopeful", "cafe"]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'porter unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, row)")
    conn.executemany("INSERT INTO t (x) VALUES (?)", [(w,) for w in words] + [("Café",)])
    indexed = {r[0] for r in conn.execute("SELECT term FROM v")}
    assert indexed == set(Stemmer.Stemmer("porter").stemWords(words))


def test_mapping_analyzers_are_the_full_english_chain():
    """JSON-level check of what the Docker image's Elasticsearch (full distribution, analysis-common)
    gets: every ranked text field uses ``prism_english`` = possessive, lowercase, ASCII folding, Lucene's
    English stop words, Porter (``english``) stemming - the same as the embedded FTS5 index."""
    from backend.search.index import index_admin
    from backend.search.index.documents import DENSE_DIMS, DENSE_FIELD, TEXT_FIELDS
    from backend.search.text.stop_words import STOP_WORDS

    body = json.loads(index_admin.mapping_path().read_text())
    assert body["mappings"]["_meta"]["mapping_version"] == index_admin.MAPPING_VERSION
    analysis = body["settings"]["analysis"]
    chain = analysis["analyzer"]["prism_english"]
    assert chain["tokenizer"] == "standard"
    filters = {name: analysis["filter"].get(name, {"type": name}) for name in chain["filter"]}
    kinds = [(f["type"], f.get("language") or f.get("stopwords")) for f in filters.values()]
    assert kinds == [("stemmer", "possessive_english"), ("lowercase", None), ("asciifolding", None),
                     ("stop", "_english_"), ("stemmer", "english")]
    props = body["mappings"]["properties"]
    for field in TEXT_FIELDS:
        assert props[field]["analyzer"] == "prism_english", field
    assert props[DENSE_FIELD]["dims"] == DENSE_DIMS and props[DENSE_FIELD]["similarity"] == "cosine"
    # the query side drops the same stop words as the analyzer's "_english_" list
    assert frozenset(["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with"]) == STOP_WORDS


def test_es_analyzer_on_this_cluster(make_settings, es_url):
    """What this cluster's index really does with a text: the full chain where analysis-common is there
    (Docker image), else the recorded core fallback (the integ-test distribution: no stemming/folding)."""
    import uuid

    from backend.search.index import index_admin

    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index_prefix=prefix)
    es = index_admin.make_client(settings)
    try:
        name = index_admin.create_index(es, prefix, 8)
        tokens = [t["token"] for t in es.indices.analyze(index=name, analyzer="prism_english",
                                                         text="The Chairs' Cafés")["tokens"]]
        meta = es.indices.get_mapping(index=name)[name]["mappings"]["_meta"]
        if index_admin.has_analysis_common(es):
            assert tokens == ["chair", "cafe"] and "analysis" not in meta
        else:
            assert tokens == ["chairs", "cafés"] and meta["analysis"] == "core-fallback"
    finally:
        index_admin.delete_all(es, prefix)


# -- dense text ---------------------------------------------------------------------------------------
def test_plain_words_only():
    from backend.search.query_language.plain_query import is_plain_words

    assert is_plain_words("folding chair with armrest")
    assert not is_plain_words('"folding chair"')
    assert not is_plain_words("title:chair")
    assert not is_plain_words("")


def test_first_claim_and_patent_text():
    from backend.search.text.dense_text import first_claim, patent_text

    claims = "1. A chair comprising a seat. 2. The chair of claim 1, wherein the seat folds."
    assert first_claim(claims) == "1. A chair comprising a seat."
    assert patent_text("Chair", "", claims) == "Chair\n1. A chair comprising a seat."


DENSE_PATENTS = [
    ("US5000101B2", "Windshield wiper blade for a motor car"),
    ("US5000102B2", "Lithium battery electrode coating"),
    ("US5000103B2", "Garden hose reel"),
]


def _dense_docs() -> list[dict]:
    from backend.search.text import dense_text

    vecs = dense_text.encode([t for _, t in DENSE_PATENTS])
    return [figure(pub, n, None, title=title, kind="B2", dense_text_vector=vecs[i].tolist())
            for i, (pub, title) in enumerate(DENSE_PATENTS) for n in (1, 2)]


def test_dense_text_list_fused_for_plain_words(backend):
    backend.index_figures(_dense_docs())
    backend.refresh()
    query = {"text": "automobile windscreen cleaner", "explain": True, "group_by_patent": True}
    without = type(backend)(backend.settings.model_copy(update={"search_dense_text": False}))   # same index
    assert without.search(query).hits == []                       # no shared word: BM25 finds nothing
    backend = type(backend)(backend.settings.model_copy(update={"search_dense_text": True}))
    hits = backend.search(query).hits
    assert [h.publication_number for h in hits][:1] == ["US5000101B2"]
    assert len({h.publication_number for h in hits}) == len(hits)         # one per patent
    assert hits[0].explain.dense.rank == 1 and hits[0].explain.bm25 is None
    assert hits[0].explain.dense.similarity >= backend.settings.search_dense_min_similarity
    # unrelated words stay below the similarity floor: nothing, as with BM25
    assert backend.search({**query, "text": "xyzzy plugh"}).hits == []
    # a query-language query (here a phrase) is not plain words: no dense list
    assert backend.search({**query, "text": '"automobile windscreen cleaner"'}).hits == []
    both = backend.search({"text": "wiper", "explain": True}).hits[0]
    assert both.publication_number == "US5000101B2" and both.explain.bm25 and both.explain.dense
    # filters restrict the dense list as they do BM25 and kNN
    others = {"publication_numbers": ["US5000102B2", "US5000103B2"]}
    assert backend.search({**query, "filters": others}).hits == []      # the wiper is filtered out first
    hose = backend.search({"text": "irrigation equipment for watering plants", "explain": True,
                           "filters": others}).hits
    assert [h.publication_number for h in hose][:1] == ["US5000103B2"] and hose[0].explain.dense


def test_dense_vector_is_checked():
    from backend.search.index.documents import InvalidDocument, prepare

    doc = figure("US5000101B2", 1, None, dense_text_vector=[0.1] * 10)
    with pytest.raises(InvalidDocument, match="dense_text_vector has 10 dimensions"):
        prepare(doc)


def test_ingest_stores_one_dense_vector_per_patent(make_settings, tmp_path):
    from backend.cli_db import upgrade_database
    from backend.ingest.bulk import ingest_paths
    from backend.search import get_backend
    from backend.search.text import dense_text

    settings = make_settings(search_backend="embedded", search_dense_text=True)
    upgrade_database(settings.resolved_database_url)
    manifest = tmp_path / "corpus.jsonl"
    rows = [{"publication_number": pub, "kind": "B2", "title": title, "claims": f"1. A {title.lower()}.",
             "figures": [{"number": 1, "description": "FIG. 1 is a side view"},
                         {"number": 2, "description": "FIG. 2 is a top view"}]} for pub, title in DENSE_PATENTS]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = ingest_paths([manifest], settings, progress=False)
    assert summary.failed == 0 and summary.figures == 6
    backend = get_backend(settings)
    rows = backend.conn().execute("SELECT publication_number, dense_vector FROM figures").fetchall()
    assert len(rows) == 6 and all(blob is not None for _, blob in rows)
    stored = {pub: np.frombuffer(blob, dtype=np.float32) for pub, blob in rows}
    expected = dense_text.encode([dense_text.patent_text(t, "", f"1. A {t.lower()}.") for _, t in DENSE_PATENTS])
    for (pub, _), vec in zip(DENSE_PATENTS, expected):
        assert np.allclose(stored[pub], vec, atol=1e-5)
    hits = backend.search({"text": "automobile windscreen cleaner", "explain": True}).hits
    assert hits[0].publication_number == "US5000101B2" and hits[0].explain.dense.rank == 1


def test_query_vectors_are_kept_for_the_next_page(monkeypatch):
    """The MiniLM pass of a query text runs once: the next page, the export and a watch reuse it."""
    import numpy as np

    from backend.search.text import dense_text

    calls = []

    def fake_encode(texts, settings=None, batch_size=64):
        calls.append(list(texts))
        out = np.zeros((len(texts), dense_text.DIMS), dtype=np.float32)
        out[:, 0] = [0.0 if t == "blank" else 1.0 for t in texts]
        return out

    monkeypatch.setattr(dense_text, "encode", fake_encode)
    monkeypatch.setattr(dense_text, "_QUERIES", type(dense_text._QUERIES)())
    monkeypatch.setattr(dense_text, "QUERY_CACHE_SIZE", 2)
    first = dense_text.encode_query("folding chair", None)
    assert dense_text.encode_query("folding chair", None) is first and len(calls) == 1
    assert not first.flags.writeable
    dense_text.encode_query("lamp", None)
    dense_text.encode_query("hinge", None)            # the cache holds 2: "folding chair" is dropped
    dense_text.encode_query("folding chair", None)
    assert [c[0] for c in calls] == ["folding chair", "lamp", "hinge", "folding chair"]
    assert dense_text.encode_query("blank", None) is None
