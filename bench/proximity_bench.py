"""Proximity queries at the cost limit (docs/operations.md, "Resource limits") on the embedded backend, beside
the naive path they replace, in one run.

Not a test. N synthetic figures (bench/search_bench.py's corpus) whose claims are 300 words of a 20-word
vocabulary (every word many times in every document: the hostile case for FTS5's NEAR). For each query:
wall-clock of ``backend.search()`` (median of 5 after a warm-up), and for the repeated-word queries the raw
FTS5 ``NEAR(...)`` the backend ran before (one occurrence standing for several, quadratic in the words).
    .venv/bin/python bench/proximity_bench.py --n 5000
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import make_backend, make_corpus  # noqa: E402

VOCAB = [f"v{i}" for i in range(20)]


def queries() -> list[tuple[str, str, str | None]]:
    """(what, query text, the old FTS5 expression or None)."""
    def near(words: list[str], slop: int) -> str:
        return "NEAR(" + " ".join(f'"{w}"' for w in words) + f", {slop + len(words) - 2})"

    return [
        ("repeated word x20 ~100 (cost 2,000)", '"' + " ".join(["v1"] * 20) + '"~100', near(["v1"] * 20, 100)),
        ("repeated word x100 ~20 (cost 2,000)", '"' + " ".join(["v1"] * 100) + '"~20', near(["v1"] * 100, 20)),
        ("20 distinct words ~100 (cost 2,000)", '"' + " ".join(VOCAB) + '"~100', None),
        ("v1 NEAR/1000 v2 (cost 2,000)", "v1 NEAR/1000 v2", None),
        ("v1 NEAR/0 v1 (repeated)", "v1 NEAR/0 v1", near(["v1", "v1"], 0)),
        ("300 x v1 ~10 (refused: 3,000)", '"' + " ".join(["v1"] * 300) + '"~10', None),
    ]


def timed(fn, runs: int = 5) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args(argv)
    docs, _vecs, _c = make_corpus(args.n, 8)
    rng = np.random.default_rng(5)
    for doc in docs:
        doc["claims"] = " ".join(rng.choice(VOCAB, size=300).tolist())
    print("| query | Prism ms | answer | naive FTS5 NEAR ms |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        backend, cleanup = make_backend("embedded", 8, Path(tmp))
        try:
            for start in range(0, len(docs), 2000):
                backend.index_figures(docs[start:start + 2000])
            backend.refresh()
            conn = backend.conn()
            for what, text, old in queries():
                answer = {}

                def run(text=text, answer=answer):
                    try:
                        answer["total"] = backend.search({"text": text, "size": 20}).total
                    except Exception as exc:  # noqa: BLE001 - a refused query is what is measured
                        answer["total"] = f"{type(exc).__name__}"

                ours = timed(run)
                naive = "-"
                if old is not None:
                    naive = f"{timed(lambda old=old: conn.execute('SELECT count(*) FROM figures_fts WHERE figures_fts MATCH ?', (old,)).fetchone(), runs=1):.0f}"
                print(f"| `{what}` | {ours:.1f} | {answer['total']} | {naive} |", flush=True)
        finally:
            cleanup()


if __name__ == "__main__":
    main()
