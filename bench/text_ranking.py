"""Text ranking on a judged collection: Prism against a plain Okapi BM25, in one run.

    .venv/bin/python bench/text_ranking.py [--es] [--tune] [--tune-dense] [--modes title title+abstract]
    # results: bench/results/text_ranking.json, .md and .png

Builds the collection of :mod:`text_collection` (held-out queries, classification-defined relevance,
a dev half and a test half), ingests the corpus through Prism's real ingest path (a JSONL manifest ->
``prism ingest``'s :func:`ingest_paths`: parse, caption, embed, store, index) into the embedded backend
(and Elasticsearch with ``--es``), then ranks every query with:

* ``bm25-reference`` - plain Okapi BM25 (rank_bm25, k1 1.2, b 0.75) over title + abstract, Porter
  stemming (PyStemmer), the same English stop words as Prism;
* ``prism-previous`` - Prism's BM25 list with the field weights used before this benchmark;
* ``prism-bm25`` - Prism's BM25 list as configured now (the plain-words path, grouped by patent);
* ``prism-dense`` - the MiniLM text-vector kNN list alone;
* ``prism-bm25+dense`` - both, fused by RRF (what ``PRISM_SEARCH_DENSE_TEXT=true`` does).

Metrics: AP@100, P@10, nDCG@10 (ir-measures; a query with no result scores 0). ``--tune`` also grid
searches the field weights on the dev half and prints the best ones, ``--tune-dense`` tries the dense
list's similarity floor there (the test half is never used to choose).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import text_collection  # noqa: E402
from tqdm import tqdm  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "text_ranking"
DEPTH = 100
MEASURES = ("AP@100", "P@10", "nDCG@10")
#: the field weights Prism used before they were chosen on this collection (the "prism-previous" row)
PREVIOUS_WEIGHTS: dict[str, float] = {"title": 3.0, "abstract": 1.0, "claims": 1.0, "description": 2.0,
                                      "captions": 1.5}


# -- reference --------------------------------------------------------------------------------------
class ReferenceBM25:
    """Plain Okapi BM25 over title + abstract with Porter stemming (the issue's baseline)."""

    def __init__(self, docs: list[text_collection.Doc]):
        import Stemmer
        from rank_bm25 import BM25Okapi

        from backend.search.text.stop_words import STOP_WORDS

        self.stop = STOP_WORDS
        self.stemmer = Stemmer.Stemmer("porter")
        self.pubs = [d.pub for d in docs]
        self.bm25 = BM25Okapi([self.tokens(f"{d.title}\n{d.abstract}") for d in docs], k1=1.2, b=0.75)

    def tokens(self, text: str) -> list[str]:
        words = [w for w in re.findall(r"\w+", text.casefold()) if w not in self.stop]
        return self.stemmer.stemWords(words)

    def rank(self, text: str) -> list[str]:
        terms = self.tokens(text)
        if not terms:
            return []
        scores = self.bm25.get_scores(terms)
        order = sorted((i for i in range(len(scores)) if scores[i] > 0), key=lambda i: (-scores[i], self.pubs[i]))
        return [self.pubs[i] for i in order[:DEPTH]]


# -- Prism ------------------------------------------------------------------------------------------
def ingest(corpus: list[text_collection.Doc], settings, workdir: Path) -> dict:
    from backend.cli_db import upgrade_database
    from backend.ingest.bulk import ingest_paths

    manifest = workdir / "corpus.jsonl"
    manifest.write_text("".join(json.dumps(d.manifest(), ensure_ascii=False) + "\n" for d in corpus),
                        encoding="utf-8")
    upgrade_database(settings.resolved_database_url)
    t0 = time.perf_counter()
    summary = ingest_paths([manifest], settings, progress=True)
    seconds = time.perf_counter() - t0
    if summary.failed:
        raise SystemExit(f"ingest failed: {summary.failures[:3]}")
    return {"patents": len(corpus), "figures": summary.figures, "seconds": round(seconds, 1)}


def prism_rank(backend, text: str, *, text_weight: float = 1.0, dense: bool | None = None) -> list[str]:
    request = {"text": text, "group_by_patent": True, "size": DEPTH, "facets": False, "explain": False,
               "weights": {"text": text_weight, "image": 0.0}}
    from backend.search.pipeline.hybrid_search import HybridSearch

    settings = backend.settings if dense is None else backend.settings.model_copy(update={"search_dense_text": dense})
    response = HybridSearch(backend, settings).search(request, window=DEPTH)
    return [h.publication_number for h in response.hits]


def dense_rank(backend, text: str) -> list[str]:
    """The dense text list alone (what the fusion adds to BM25), grouped by patent."""
    from backend.search.pipeline import filters
    from backend.search.pipeline.candidates import Query, query_terms
    from backend.search.request import SearchRequest
    from backend.search.text import dense_text

    vector = dense_text.encode_query(text, backend.settings)
    if vector is None:
        return []
    query = Query(text, query_terms(text), None, filters.build(SearchRequest(text=text).filters), DEPTH, True, None)
    return list(dict.fromkeys(c.publication_number for c in backend.dense(query, vector)))[:DEPTH]


@contextlib.contextmanager
def weights(values: dict[str, float]):
    from backend.search.text import text_fields

    old = dict(text_fields.FIELD_WEIGHTS)
    text_fields.FIELD_WEIGHTS.update(values)
    try:
        yield
    finally:
        text_fields.FIELD_WEIGHTS.update(old)


# -- evaluation -------------------------------------------------------------------------------------
def evaluate(runs: dict[str, list[str]], qrels: dict[str, set[str]]) -> dict[str, float]:
    """Mean of each measure over every query of ``runs`` (a query with an empty list scores 0)."""
    import ir_measures
    from ir_measures import Qrel, ScoredDoc

    measures = [ir_measures.parse_measure(m) for m in MEASURES]
    qrel_rows = [Qrel(q, d, 1) for q in runs for d in qrels[q]]
    run_rows = [ScoredDoc(q, d, float(DEPTH - i)) for q, docs in runs.items() for i, d in enumerate(docs)]
    sums = {str(m): 0.0 for m in measures}
    for metric in ir_measures.iter_calc(measures, qrel_rows, run_rows):
        sums[str(metric.measure)] += metric.value
    n = max(len(runs), 1)
    return {m: round(v / n, 4) for m, v in sums.items()}


def run_system(rank, queries: list[text_collection.Doc], mode: str, label: str) -> dict[str, list[str]]:
    out = {}
    for q in tqdm(queries, desc=label, unit="q", leave=False, dynamic_ncols=True):
        text = text_collection.query_text(q, mode)
        if text:
            out[q.pub] = rank(text)
    return out


def tune_dense(backend, collection, mode: str) -> list[dict]:
    """The dense list's similarity floor on the dev half (BM25 + dense, AP@100)."""
    rows = []
    for floor in (0.0, 0.2, 0.3, 0.4, 0.5):
        floored = type(backend)(backend.settings.model_copy(update={"search_dense_min_similarity": floor}))
        runs = run_system(lambda t, b=floored: prism_rank(b, t, dense=True), collection.queries["dev"], mode, "dev")
        rows.append({"search_dense_min_similarity": floor, **evaluate(runs, collection.qrels)})
        print("dev dense", rows[-1])
    return rows


def tune(backend, collection, mode: str) -> tuple[dict[str, float], list[dict]]:
    """Grid search of the field weights on the dev half (AP@100)."""
    grid = {"title": [1.0, 2.0, 3.0], "abstract": [1.0], "claims": [0.5, 1.0], "description": [0.5, 1.0, 2.0],
            "captions": [0.0, 0.25, 0.5, 1.5]}
    rows = []
    combos = list(itertools.product(*grid.values()))
    for combo in tqdm(combos, desc="tune (dev)", unit="setting", dynamic_ncols=True):
        values = dict(zip(grid, combo))
        with weights(values):
            runs = run_system(lambda t: prism_rank(backend, t, dense=False), collection.queries["dev"], mode, "dev")
        rows.append({"weights": values, **evaluate(runs, collection.qrels)})
    rows.sort(key=lambda r: (-r["AP@100"], -r["nDCG@10"]))
    return rows[0]["weights"], rows


def systems(backend, reference: ReferenceBM25, dense_available: bool):
    from backend.search.text import text_fields

    out = [("bm25-reference", reference.rank)]
    prev = PREVIOUS_WEIGHTS

    def previous(text):
        with weights(prev):
            return prism_rank(backend, text, dense=False)

    if prev != text_fields.FIELD_WEIGHTS:
        out.append(("prism-previous", previous))
    out.append(("prism-bm25", lambda t: prism_rank(backend, t, dense=False)))
    if dense_available:
        out.append(("prism-dense", lambda t: dense_rank(backend, t)))
        out.append(("prism-bm25+dense", lambda t: prism_rank(backend, t, dense=True)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--es", action="store_true", help="also ingest into and rank with Elasticsearch")
    parser.add_argument("--tune", action="store_true", help="grid search the field weights on the dev half")
    parser.add_argument("--tune-dense", action="store_true",
                        help="try the dense list's similarity floor on the dev half")
    parser.add_argument("--modes", nargs="+", default=["title", "title+abstract"],
                        choices=["title", "title+abstract", "first_claim"])
    parser.add_argument("--backends", nargs="+", choices=["embedded", "elasticsearch"],
                        help="which Prism backends to run (default: embedded, plus elasticsearch with --es)")
    parser.add_argument("--no-dense", action="store_true", help="skip the MiniLM text vectors")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results path without suffix")
    args = parser.parse_args()

    from backend.settings import SHARED_DATA, Settings

    if not SHARED_DATA.exists():
        raise SystemExit(f"the shared data is not at {SHARED_DATA}; this benchmark needs it")
    collection = text_collection.build(SHARED_DATA)
    print("collection:", json.dumps(collection.summary()))
    reference = ReferenceBM25(collection.corpus)
    results: dict = {"collection": collection.summary(), "runs": [], "ingest": {}}
    backends = args.backends or (["embedded"] + (["elasticsearch"] if args.es else []))
    with tempfile.TemporaryDirectory(prefix="prism-textrank-") as tmp:
        for name in backends:
            workdir = Path(tmp) / name
            workdir.mkdir()
            overrides = {"data_dir": workdir, "task_mode": "eager", "search_backend": name,
                         "search_dense_text": False, "dense_text_at_ingest": not args.no_dense}
            if name == "elasticsearch":
                from backend import devservices

                overrides.update(es_url=devservices.SERVICES["es"][0](),
                                 es_index_prefix=f"textrank{uuid.uuid4().hex[:8]}")
            settings = Settings(**overrides)
            os.environ["PRISM_DATA_DIR"] = str(workdir)
            from backend.search import get_backend

            results["ingest"][name] = ingest(collection.corpus, settings, workdir)
            backend = get_backend(settings)
            try:
                if args.tune and name == "embedded":
                    best, rows = tune(backend, collection, "title")
                    results["tuning"] = {"mode": "title", "best": best, "top": rows[:10], "settings": len(rows)}
                    for r in rows[:8]:
                        print("dev", r)
                    print("best weights on dev:", best)
                if args.tune_dense and not args.no_dense and name == "embedded":
                    results["dense_floor_dev"] = tune_dense(backend, collection, "title")
                for mode in args.modes:
                    for label, rank in systems(backend, reference, not args.no_dense):
                        if name != backends[0] and label == "bm25-reference":
                            continue
                        for half in ("dev", "test"):
                            runs = run_system(rank, collection.queries[half], mode, f"{name} {label} {mode} {half}")
                            if not runs:
                                continue
                            row = {"backend": "-" if label == "bm25-reference" else name, "system": label,
                                   "mode": mode, "half": half, "queries": len(runs),
                                   **evaluate(runs, collection.qrels)}
                            results["runs"].append(row)
                            print(_line(row))
            finally:
                if name == "elasticsearch":
                    from backend.search.index import index_admin

                    index_admin.delete_all(index_admin.make_client(settings), settings.es_index_prefix)
            save(results, args)     # after each backend, so a long Elasticsearch run keeps the embedded rows
    print(markdown(results))
    print(f"wrote {args.out}.json, .md, .png")


def save(results: dict, args) -> None:
    from backend.search.text import text_fields

    results.update({
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "field_weights": dict(text_fields.FIELD_WEIGHTS), "previous_weights": dict(PREVIOUS_WEIGHTS),
        "command": "bench/text_ranking.py " + " ".join(sys.argv[1:]),
    })
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    plot(results, args.out.with_suffix(".png"))


def _line(row: dict) -> str:
    return (f"{row['backend']:13s} {row['system']:17s} {row['mode']:15s} {row['half']:4s} n={row['queries']:3d}  "
            + "  ".join(f"{m} {row[m]:.3f}" for m in MEASURES))


def markdown(results: dict) -> str:
    lines = ["| backend | system | query | half | queries | " + " | ".join(MEASURES) + " |",
             "|---|---|---|---|---:|" + "---:|" * len(MEASURES)]
    for r in results["runs"]:
        lines.append(f"| {r['backend']} | {r['system']} | {r['mode']} | {r['half']} | {r['queries']} | "
                     + " | ".join(f"{r[m]:.3f}" for m in MEASURES) + " |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results["runs"] if r["half"] == "test" and r["mode"] == "title"]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(MEASURES)
    for j, m in enumerate(MEASURES):
        ax.bar([i + j * width for i in range(len(rows))], [r[m] for r in rows], width, label=m)
    ax.set_xticks([i + width for i in range(len(rows))],
                  [f"{r['system']}\n{r['backend']}" for r in rows], fontsize=7)
    ax.set_title(f"text ranking, test half, title queries (n={rows[0]['queries']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
