"""Per-language analysis and search over the EPO samples (not a test): analysis cost, then per backend the
latency of plain-word queries restricted to each language and over all of them.

    .venv/bin/python bench/language_bench.py [--backends embedded elasticsearch] [--repeat 30]

Needs ../shared/data/epo_samples (and, for Elasticsearch, `prism services up es`). Each backend gets a
fresh index (embedded: a temporary directory; ES: a throw-away index prefix, deleted afterwards).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.ingest.parsers.discover import discover  # noqa: E402
from backend.ingest.parsers.load import load_source  # noqa: E402
from backend.ingest.pipeline import PreparedJob, figure_documents  # noqa: E402
from backend.search.text import german_compounds, lang_analysis  # noqa: E402
from backend.settings import Settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "epo_samples"
QUERIES = [("Kopf", ["de"]), ("Schraubenköpfe", ["de"]), ("capotages", ["fr"]), ("transformer cooling", ["en"]),
           ("Spannung Transformator", None), ("machine d'impression", None)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", nargs="+", default=["embedded", "elasticsearch"])
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    records = [load_source(i.locator) for i in discover([DATA])]
    t0 = time.perf_counter()
    german_compounds.dictionary()
    print(f"German dictionary: {len(german_compounds.dictionary()):,} words, loaded in "
          f"{time.perf_counter() - t0:.2f} s")
    texts = [(lang, t) for r in records for lang, parts in r.texts.items() if lang in lang_analysis.ANALYSED
             for t in parts.values()]
    chars = sum(len(t) for _l, t in texts)
    t0 = time.perf_counter()
    tokens = sum(len(lang_analysis.analyse(t, lang)) for lang, t in texts)
    took = time.perf_counter() - t0
    print(f"analysis: {len(records)} documents, {chars:,} characters of German/French text, {tokens:,} tokens "
          f"in {took:.2f} s ({chars / took / 1e3:,.0f} k characters/s, cold splitter cache)")
    docs = [d for r in records for d in figure_documents(PreparedJob(r.publication_number, r, []), 1)]
    for name in args.backends:
        backend, cleanup = _backend(name)
        try:
            t0 = time.perf_counter()
            backend.index_figures(docs)
            backend.refresh()
            print(f"\n{name}: indexed {len(docs)} documents in {time.perf_counter() - t0:.2f} s")
            print("| query | languages | hits | p50 ms | p95 ms |")
            print("|---|---|---:|---:|---:|")
            for text, langs in QUERIES:
                request = {"text": text, **({"languages": langs} if langs else {})}
                found = backend.search(request)
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    backend.search(request)
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                print(f"| {text} | {','.join(langs) if langs else 'all'} | {found.total} | "
                      f"{statistics.median(times):.1f} | {times[int(len(times) * 0.95) - 1]:.1f} |")
        finally:
            cleanup()


def _backend(name: str):
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

    if name == "embedded":
        tmp = tempfile.TemporaryDirectory()
        settings = Settings(search_backend="embedded", search_dense_text=False, data_dir=Path(tmp.name))
        return EmbeddedBackend(settings, Path(tmp.name)), tmp.cleanup
    from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend
    from backend.search.index import index_admin

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = Settings(search_backend="elasticsearch", search_dense_text=False, es_index_prefix=prefix)
    es = index_admin.make_client(settings)
    index_admin.create_index(es, prefix, 8)
    return ElasticsearchBackend(settings, es), lambda: index_admin.delete_all(es, prefix)


if __name__ == "__main__":
    main()
