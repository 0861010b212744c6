"""Ingest throughput: figures per second end to end (parse + render + caption + embed + store + index)
against the raw encoder forward pass on the same batch size (the limit).

    .venv/bin/python bench/ingest_bench.py [--limit-patents 50] [--backends embedded elasticsearch]

Uses the IMPACT sample (../shared/data/impact), the default model (settings.model_name / checkpoint) on
this machine's CPU (or GPU when present), eager mode, SQLite. Writes bench/results/ingest.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-patents", type=int, default=50)
    parser.add_argument("--backends", nargs="+", default=["embedded", "elasticsearch"])
    parser.add_argument("--repeats", type=int, default=2, help="encoder-limit repeats (best is kept)")
    args = parser.parse_args()

    import torch

    from backend.ingest import images
    from backend.ingest.captioning import FigureContext, get_captioner
    from backend.ingest.parsers.discover import discover
    from backend.ingest.parsers.load import load_source
    from backend.ingest.service import ingest_paths
    from backend.model.encoder import get_encoder
    from backend.settings import SHARED_DATA, Settings

    impact = SHARED_DATA / "impact"
    folders = sorted(p for p in impact.iterdir() if p.is_dir())[: args.limit_patents]
    base = Settings()
    encoder = get_encoder(base)
    batch = base.embed_batch_size

    # the limit: the encoder alone on model-ready inputs, same batch size, same captions per figure
    records = [load_source(i.locator) for i in discover(folders)]
    figures = [(r, f) for r in records for f in r.figures]
    # model-ready inputs exactly as the pipeline hands them over (already prepared in its image threads)
    model_inputs = [images.render(Path(f.image.path).read_bytes(), f.image.name, base.max_image_pixels,
                                  encoder.image_size).prepared for _, f in figures]
    captioner = get_captioner(base)
    captions = captioner.caption([FigureContext(r.publication_number, f.number, r.title, f.label, f.description,
                                                f.viewpoint, f.object_name, r.kind, r.cpc, r.locarno)
                                  for r, f in figures])
    texts = [c for cs in captions for c in cs]
    encoder.encode_prepared(model_inputs[:batch])   # warm-up
    encoder.encode_texts(texts[:batch])
    best_img = best_both = float("inf")
    default_threads = torch.get_num_threads()
    limit_threads = default_threads
    # the limit is the encoder's best: with torch's default threads and with one (on a small shared
    # machine one thread can be faster - intra-op threads spin when another process holds a core)
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            encoder.encode_prepared(model_inputs)
            t1 = time.perf_counter()
            encoder.encode_texts(texts)
            t2 = time.perf_counter()
            if t2 - t0 < best_both:
                limit_threads = threads
            best_img, best_both = min(best_img, t1 - t0), min(best_both, t2 - t0)
    torch.set_num_threads(default_threads)
    n = len(figures)
    rows = [{"what": "encoder forward: images only", "figures": n, "seconds": round(best_img, 3),
             "figures_per_s": round(n / best_img, 1)},
            {"what": "encoder forward: images + captions (the limit)", "figures": n, "seconds": round(best_both, 3),
             "figures_per_s": round(n / best_both, 1)}]
    limit = n / best_both

    # what the encoder cannot do for us: decode the G4 TIFF sheets and normalise them (2 threads, as the
    # pipeline does) - the CPU floor of ingest on this machine, independent of the model
    from concurrent.futures import ThreadPoolExecutor

    raw = [Path(f.image.path).read_bytes() for _, f in figures]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda d: images.render(d, "x", base.max_image_pixels, encoder.image_size), raw))
    render_s = time.perf_counter() - t0
    rows.append({"what": "image decode + normalise only (no model)", "figures": n, "seconds": round(render_s, 3),
                 "figures_per_s": round(n / render_s, 1)})

    for backend in args.backends:
        with tempfile.TemporaryDirectory(prefix="prism-bench-") as tmp:
            overrides = {"data_dir": Path(tmp), "task_mode": "eager", "search_backend": backend}
            if backend == "elasticsearch":
                from backend import devservices

                overrides.update(es_url=devservices.SERVICES["es"][0](),
                                 es_index_prefix=f"bench{uuid.uuid4().hex[:8]}")
            settings = Settings(**overrides)
            if backend == "elasticsearch":   # set-up, as `prism index create` does before an office ingests
                from backend.search import index_admin

                index_admin.ensure_index(index_admin.make_client(settings), settings)
            from backend.cli_db import upgrade_database

            upgrade_database(settings.resolved_database_url)
            os.environ.update({"PRISM_DATA_DIR": tmp})
            t0 = time.perf_counter()
            summary = ingest_paths(folders, settings, progress=False)
            seconds = time.perf_counter() - t0
            if summary.failed:
                raise SystemExit(f"ingest failed: {summary.failures[:3]}")
            rows.append({"what": f"end to end, {backend} backend", "figures": summary.figures,
                         "seconds": round(seconds, 3), "figures_per_s": round(summary.figures / seconds, 1),
                         "share_of_limit": round(summary.figures / seconds / limit, 3)})
            if backend == "elasticsearch":
                _drop_indices(settings)

    result = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "torch_threads": torch.get_num_threads(),
                          "limit_torch_threads": limit_threads, "device": str(getattr(encoder, "device", "?")),
                          "model": getattr(encoder, "model_id", "?")},
              "batch_size": batch, "patents": len(folders), "captions_per_figure": round(len(texts) / n, 2),
              "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    from plots import plot_ingest

    print(plot_ingest(result, RESULTS.with_suffix(".png")))
    print(f"{'':48s} {'figures':>8s} {'seconds':>8s} {'fig/s':>8s} {'of limit':>8s}")
    for row in rows:
        share = f"{row['share_of_limit'] * 100:.0f} %" if "share_of_limit" in row else ""
        print(f"{row['what']:48s} {row['figures']:8d} {row['seconds']:8.2f} {row['figures_per_s']:8.1f} {share:>8s}")
    print(f"wrote {RESULTS}")


def _drop_indices(settings) -> None:
    try:
        from elasticsearch import Elasticsearch

        es = Elasticsearch(settings.es_url)
        es.indices.delete(index=f"{settings.es_index_prefix}*", ignore_unavailable=True, allow_no_indices=True)
    except Exception as exc:  # pragma: no cover - cleanup only
        print(f"note: could not delete bench indices: {exc}")


if __name__ == "__main__":
    main()
