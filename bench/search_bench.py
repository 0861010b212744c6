"""Search benchmark (not a test): latency of hybrid queries and recall of approximate kNN.

For each backend (embedded, elasticsearch) and each corpus size N, index N synthetic figures
(clustered unit vectors of the encoder's dimension, Zipf-distributed text, CPC/Locarno/dates), then
run hybrid (text + vector) queries through the real search pipeline with and without
classification filters, and measure p50/p95 wall-clock latency of the index-side pipeline (the MiniLM
query pass of the dense text list is timed on its own: query-side, the same at any N). For
Elasticsearch also measure recall@10 of its HNSW (int8) vector list (class consensus off) against exact
kNN computed with NumPy.

    .venv/bin/python bench/search_bench.py --sizes 10000 100000
    # results: bench/results/search.json and bench/results/search.md

Elasticsearch is the real server (``prism services up es``); the index uses a unique prefix and is
deleted afterwards.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.settings import Settings  # noqa: E402

SUBCLASSES = ["A47C", "A47B", "A47D", "A47G", "B60N", "B62B", "F21S", "F21V", "G06F", "H01L", "H04M", "D06F",
              "A63B", "B65D", "A45C", "G09F", "A61B", "E04F", "B25G", "H02J"]
MAIN_GROUPS = [1, 3, 4, 5, 7, 9, 11, 13, 15, 17]
VOCAB_SIZE = 3000


def words(rng: np.random.Generator, n: int) -> str:
    idx = np.minimum(rng.zipf(1.3, size=n), VOCAB_SIZE) - 1
    return " ".join(f"w{i}" for i in idx)


def make_corpus(n: int, dims: int, seed: int = 0) -> tuple[list[dict], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(256, dims)).astype(np.float32)
    assign = rng.integers(0, len(centers), size=n)
    vecs = centers[assign] + 0.6 * rng.normal(size=(n, dims)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    docs = []
    base = dt.date(2000, 1, 1).toordinal()
    for i in range(n):
        pub = f"US{i // 2:08d}B2"
        sub = SUBCLASSES[int(rng.integers(len(SUBCLASSES)))]
        filing = dt.date.fromordinal(base + int(rng.integers(0, 8000)))
        docs.append({
            "figure_id": f"{pub}-F{i % 2 + 1}", "publication_number": pub, "figure_number": i % 2 + 1,
            "kind": "B2", "country": "US", "title": words(rng, 6), "abstract": words(rng, 40), "claims": "",
            "description": words(rng, 12), "captions": [words(rng, 8)], "applicants": [f"Company {i % 500}"],
            "cpc": [f"{sub}{MAIN_GROUPS[int(rng.integers(len(MAIN_GROUPS)))]}/{int(rng.integers(0, 60)):02d}"],
            "locarno": [f"{int(rng.integers(1, 33)):02d}-{int(rng.integers(1, 10)):02d}"],
            "filing_date": filing.isoformat(), "publication_date": (filing + dt.timedelta(days=500)).isoformat(),
            "image_vector": vecs[i].tolist(), "ingest_seq": i,
        })
    return docs, vecs, centers


def queries(n: int, centers: np.ndarray, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        v = centers[int(rng.integers(len(centers)))] + 0.6 * rng.normal(size=centers.shape[1])
        v = v / np.linalg.norm(v)
        # content words: ranks 10..1000 of the Zipf vocabulary (the commonest behave like stop words)
        text = " ".join(f"w{int(i)}" for i in rng.integers(10, 1000, size=3))
        out.append({"text": text, "vector": v.astype(np.float32).tolist()})
    return out


#: the index-side pipeline: the MiniLM query pass (dense text list) is query-side, the same at any N; it is
#: timed on its own (``minilm_query``) and added in the report, not hidden
INDEX_SIDE = {"search_dense_text": False}
FILTERS = {"cpc": {"include": ["A47C", "F21S"]}, "dates": {"filing": {"gte": "2005-01-01", "lte": "2020-12-31"}}}


def _pcts(samples: list[float]) -> dict:
    s = sorted(samples)
    return {"p50_ms": round(statistics.median(s) * 1000, 2),
            "p95_ms": round(s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))] * 1000, 2),
            "mean_ms": round(statistics.fmean(s) * 1000, 2)}


def run_queries(backend, qs: list[dict], filters: dict | None) -> dict:
    for q in qs[:5]:  # warm-up
        backend.search({**q, "filters": filters or {}})
    times = []
    for q in qs:
        t0 = time.perf_counter()
        backend.search({**q, "filters": filters or {}, "size": 20})
        times.append(time.perf_counter() - t0)
    return _pcts(times)


def exact_top(vecs: np.ndarray, mask: np.ndarray | None, q: np.ndarray, k: int) -> list[int]:
    sims = vecs @ q
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    top = np.argpartition(-sims, k)[:k]
    return top[np.argsort(-sims[top])].tolist()


def recall_at_10(backend, docs, vecs, qs, filters: dict | None) -> float:
    mask = None
    if filters:
        subs = {s for s in filters["cpc"]["include"]}
        lo, hi = filters["dates"]["filing"]["gte"], filters["dates"]["filing"]["lte"]
        mask = np.array([d["cpc"][0][:4] in subs and lo <= d["filing_date"] <= hi for d in docs])
    hits = 0
    for q in qs:
        want = {docs[i]["figure_id"] for i in exact_top(vecs, mask, np.asarray(q["vector"]), 10)}
        got = backend.search({"vector": q["vector"], "filters": filters or {}, "group_by_patent": False, "size": 10})
        hits += len(want & {h.figure_id for h in got.hits})
    return round(hits / (10 * len(qs)), 4)


def make_backend(kind: str, dims: int, workdir: Path):
    from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend
    from backend.search.index import index_admin

    if kind == "embedded":
        settings = Settings(data_dir=workdir / "var", search_backend="embedded", **INDEX_SIDE)
        return EmbeddedBackend(settings), lambda: None
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = Settings(search_backend="elasticsearch", es_index_prefix=prefix,
                        es_url=os.environ.get("PRISM_ES_URL", "http://127.0.0.1:9200"), **INDEX_SIDE)
    es = index_admin.make_client(settings)
    index_admin.create_index(es, prefix, dims, bulk_mode=True)
    backend = ElasticsearchBackend(settings)
    return backend, lambda: index_admin.delete_all(es, prefix)


def bench_one(kind: str, n: int, dims: int, n_queries: int) -> dict:
    docs, vecs, centers = make_corpus(n, dims)
    qs = queries(n_queries, centers)
    with tempfile.TemporaryDirectory() as tmp:
        backend, cleanup = make_backend(kind, dims, Path(tmp))
        try:
            t0 = time.perf_counter()
            for start in tqdm(range(0, n, 2000), desc=f"{kind} index {n}", unit="batch"):
                backend.index_figures(docs[start:start + 2000])
            if kind == "elasticsearch":
                backend.es.indices.put_settings(index=backend.alias, settings={"index": {"refresh_interval": "1s"}})
                backend.es.options(request_timeout=1800).indices.forcemerge(index=backend.alias, max_num_segments=1)
            backend.refresh()
            backend.search({"text": "w1"})  # loads the embedded snapshot
            index_s = time.perf_counter() - t0
            out = {"backend": kind, "n": n, "dims": dims, "queries": n_queries, "index_s": round(index_s, 1),
                   "hybrid": run_queries(backend, qs, None), "hybrid_filtered": run_queries(backend, qs, FILTERS)}
            if kind == "elasticsearch":   # the retrieval's recall: the vector list without the class consensus
                from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend

                plain = ElasticsearchBackend(backend.settings.model_copy(update={"search_class_consensus_k": 0}))
                out["recall_at_10"] = recall_at_10(plain, docs, vecs, qs, None)
                out["recall_at_10_filtered"] = recall_at_10(plain, docs, vecs, qs, FILTERS)
            else:
                out["recall_at_10"] = out["recall_at_10_filtered"] = 1.0  # exact search by construction
            return out
        finally:
            cleanup()


def minilm_query_ms(qs: list[dict]) -> dict:
    """The MiniLM pass of each query text (``dense_text.encode``, uncached), after one warm-up."""
    from backend.search.text import dense_text

    dense_text.encode(["warm up"])
    times = []
    for q in qs:
        t0 = time.perf_counter()
        dense_text.encode([q["text"]])
        times.append(time.perf_counter() - t0)
    return _pcts(times)


def markdown(results: list[dict], machine: str) -> str:
    lines = [f"Machine: {machine}", "",
             "| backend | N | dims | index s | hybrid p50 ms | hybrid p95 ms | filtered p50 ms | filtered p95 ms "
             "| recall@10 | recall@10 filtered |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['backend']} | {r['n']:,} | {r['dims']} | {r['index_s']} | {r['hybrid']['p50_ms']} | "
                     f"{r['hybrid']['p95_ms']} | {r['hybrid_filtered']['p50_ms']} | {r['hybrid_filtered']['p95_ms']} "
                     f"| {r['recall_at_10']} | {r['recall_at_10_filtered']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dims", type=int, default=None, help="default: the encoder's embedding dimension")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", nargs="+", default=["embedded", "elasticsearch"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "search.json")
    parser.add_argument("--note", default="CPU shared with other jobs while measuring")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.dims is None:
        from backend.search.index.index_admin import default_dims

        args.dims = default_dims(settings)
    machine = (f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}, "
               f"{args.note}")
    results = []
    minilm = minilm_query_ms(queries(args.queries, np.zeros((1, 8), dtype=np.float32)))
    print(f"MiniLM query pass (dense text list, on by default): {minilm}", flush=True)
    for n in args.sizes:
        for kind in args.backends:
            res = bench_one(kind, n, args.dims, args.queries)
            print(json.dumps(res), flush=True)
            results.append(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine, "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "settings": {"search_rank_window": settings.search_rank_window,
                            "es_num_candidates": settings.es_num_candidates, "rrf_k": settings.rrf_k},
               "filters": FILTERS, "minilm_query": minilm, "results": results}
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    table = markdown(results, machine) + (
        f"\nMiniLM query pass (the dense text list, `PRISM_SEARCH_DENSE_TEXT`, on by default; query-side, "
        f"not in the rows above): p50 {minilm['p50_ms']} ms, p95 {minilm['p95_ms']} ms per new query text "
        f"(a repeated text is cached)\n")
    args.out.with_suffix(".md").write_text(table)
    from plots import plot_search

    print(plot_search(payload, args.out.with_suffix(".png")))
    print(table)


if __name__ == "__main__":
    main()
