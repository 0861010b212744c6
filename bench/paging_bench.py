"""Paging past the rank window (not a test): walk every page of a query matching about half of N
synthetic figures, and stream the 10,000-row CSV export, on the embedded backend and Elasticsearch.

    .venv/bin/python bench/paging_bench.py --n 20000 [--backends embedded elasticsearch] [--dense]
    .venv/bin/python bench/paging_bench.py --drawing --n 100000 --dims 512   # a drawing query to its last patent

Prints one JSON line per backend: matches, total (and relation), pages walked, distinct hits (must equal
total), p50/p95 ms of head pages (inside the fused window) and of tail pages, and the export time.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

WORDS = [f"w{i}" for i in range(2000)]


def corpus(n: int, dims: int, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    zipf = rng.zipf(1.3, size=(n, 12)) % len(WORDS)
    docs = []
    for i in range(n):
        pub = f"US{9000000 + i // 2}B2"
        words = " ".join(WORDS[j] for j in zipf[i])
        title = ("water " if i % 2 else "") + words
        vec = rng.normal(size=dims)
        docs.append({"figure_id": f"{pub}-F{i % 2 + 1}", "publication_number": pub, "figure_number": i % 2 + 1,
                     "title": title, "description": words, "image_vector": (vec / np.linalg.norm(vec)).tolist(),
                     "ingest_seq": 1})
    return docs


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def run(backend_name: str, n: int, dims: int, window: int, dense: bool = False, drawing: bool = False,
        drawing_window: int | None = None) -> dict:
    from backend.search import get_backend, service
    from backend.search.index import index_admin
    from backend.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="paging-bench-"))
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp, search_backend=backend_name, es_index_prefix=prefix,
                        search_rank_window=window, dense_text_at_ingest=False, search_dense_text=dense,
                        **({"search_drawing_window": drawing_window} if drawing_window else {}))
    head_size = max(window, settings.search_drawing_window)    # the fused head of a query with a vector
    if backend_name == "elasticsearch":
        index_admin.create_index(index_admin.make_client(settings), prefix, dims)
    backend = get_backend(settings)
    docs = corpus(n, dims)
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        backend.index_figures(docs[start:start + 1000])
    backend.refresh()
    index_s = time.perf_counter() - t0
    matches = len({d["publication_number"] for d in docs if d["title"].startswith("water")})
    body = {"text": "water", "vector": docs[0]["image_vector"], "size": 100}
    if drawing:     # a drawing alone: every patent, in drawing order after the head
        matches = len({d["publication_number"] for d in docs})
        body = {"vector": docs[0]["image_vector"], "size": 100}
    head_ms, tail_ms, seen, cursor, first = [], [], set(), None, None
    try:
        while True:
            t = time.perf_counter()
            resp = backend.search({**body, "cursor": cursor})
            ms = 1000 * (time.perf_counter() - t)
            first = first or resp
            (head_ms if len(seen) < head_size else tail_ms).append(ms)
            seen.update(h.publication_number for h in resp.hits)
            cursor = resp.next_cursor
            if not cursor:
                break
        first_ms = []     # warm first pages of other drawing queries (the latency an examiner waits for)
        for i in range(1, 41 if drawing else 1):
            t = time.perf_counter()
            backend.search({**body, "vector": docs[i * 997 % n]["image_vector"], "cursor": None})
            first_ms.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        export_body = {"vector": body["vector"]} if drawing else {"text": "water"}
        rows = sum(chunk.count("\r\n") for chunk in service.export_csv(export_body, settings, limit=10_000)) - 1
        export_s = time.perf_counter() - t
    finally:
        if backend_name == "elasticsearch":
            index_admin.delete_all(index_admin.make_client(settings), prefix)
    return {"backend": backend_name, "n_figures": n, "window": window, "drawing_window": settings.search_drawing_window,
            "index_s": round(index_s, 1),
            "text_matches_patents": matches, "total": first.total, "total_relation": first.total_relation,
            "pages": len(head_ms) + len(tail_ms), "distinct_hits": len(seen), "dense_text": dense, "drawing": drawing,
            "head_page_ms_p50": pct(head_ms, 50), "head_page_ms_p95": pct(head_ms, 95), "tail_page_ms_p50": pct(tail_ms, 50),
            "first_page_ms_p50": pct(first_ms, 50), "first_page_ms_p95": pct(first_ms, 95),
            "tail_page_ms_p95": pct(tail_ms, 95), "export_rows": rows, "export_s": round(export_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--backends", nargs="+", default=["embedded", "elasticsearch"])
    parser.add_argument("--dense", action="store_true", help="also fuse the MiniLM dense text list")
    parser.add_argument("--drawing", action="store_true", help="a drawing-only query (every patent is a result)")
    parser.add_argument("--drawing-windows", type=int, nargs="+", default=[None],
                        help="search_drawing_window values, each run in turn (default: the setting's default)")
    args = parser.parse_args()
    if args.drawing:
        print(json.dumps({"limit": "drawing query p95 <= 1000 ms at 100,000 figures (embedded)"}), flush=True)
    for name in args.backends:
        for drawing_window in args.drawing_windows:
            print(json.dumps(run(name, args.n, args.dims, args.window, args.dense, args.drawing, drawing_window)),
                  flush=True)


if __name__ == "__main__":
    main()
