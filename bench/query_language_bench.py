"""Latency of the query language (docs/search.md, "Query language") against plain words, both backends.

Not a test. N synthetic figures (bench/search_bench.py's corpus: Zipf words w0..w2999), text-only
queries (no vector), 30 of each kind after 5 warm-up queries; wall-clock of ``backend.search()``.
    .venv/bin/python bench/query_language_bench.py --n 10000
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import make_backend, make_corpus  # noqa: E402

KINDS = {
    "plain words": "{a} {b} {c}",
    "AND / OR": "{a} AND ({b} OR {c})",
    "NOT": "{a} {b} -{c}",
    "phrase": '"{a} {b}"',
    "NEAR/5": "{a} NEAR/5 {b}",
    "ADJ/5": "{a} ADJ/5 {b}",
    "truncation": "{t}*",
    "? wildcard": "{t}?",
    "field": "ti:{a} OR ab:{b}",
    "text + cpc + date": "({a} OR {b}) AND cpc:A47C AND pd:>=2010",
}


def query_texts(kind: str, n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a, b, c = (f"w{int(x)}" for x in rng.integers(1, 200, size=3))
        out.append(KINDS[kind].format(a=a, b=b, c=c, t=f"w{int(rng.integers(10, 99))}"))
    return out


def bench(kind_backend: str, n: int, n_queries: int) -> list[dict]:
    docs, _vecs, _c = make_corpus(n, 8)
    with tempfile.TemporaryDirectory() as tmp:
        backend, cleanup = make_backend(kind_backend, 8, Path(tmp))
        try:
            for start in range(0, len(docs), 2000):
                backend.index_figures(docs[start:start + 2000])
            backend.refresh()
            rows = []
            for i, kind in enumerate(KINDS):
                texts = query_texts(kind, n_queries + 5, seed=i)
                for text in texts[:5]:
                    backend.search({"text": text, "size": 20})
                times, totals = [], []
                for text in texts[5:]:
                    t0 = time.perf_counter()
                    resp = backend.search({"text": text, "size": 20})
                    times.append((time.perf_counter() - t0) * 1000)
                    totals.append(resp.total)
                times.sort()
                rows.append({"backend": kind_backend, "n": n, "kind": kind, "example": texts[5],
                             "p50_ms": round(statistics.median(times), 2),
                             "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
                             "median_total": int(statistics.median(totals))})
                print(json.dumps(rows[-1]), flush=True)
            return rows
        finally:
            cleanup()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--backends", nargs="+", default=["embedded", "elasticsearch"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "query_language.json")
    args = parser.parse_args(argv)
    rows = [r for b in args.backends for r in bench(b, args.n, args.queries)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    measured = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    args.out.write_text(json.dumps({"measured": measured,
                                    "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs",
                                    "rows": rows}, indent=2) + "\n")
    print("| backend | query | example | p50 ms | p95 ms | median total |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['kind']} | `{r['example']}` | {r['p50_ms']} | {r['p95_ms']} | "
              f"{r['median_total']} |")


if __name__ == "__main__":
    main()
