"""Ingest throughput: figures per second end to end (parse + render + caption + embed + store + index)
against the raw encoder forward pass on the same batch size (the limit).

    .venv/bin/python bench/ingest_bench.py [--limit-patents 50] [--backends embedded elasticsearch]
        [--formats weekly-tar scanned-pdf] [--formats-only]

Uses the IMPACT sample (../shared/data/impact), the default model (settings.model_name / checkpoint) on
this machine's CPU (or GPU when present), eager mode, SQLite. Writes bench/results/ingest.json.

Format rows (embedded backend, each in a fresh process so its peak RSS is its own): ``weekly-tar`` is a
USPTO weekly archive built from the nine ZIPs of ../shared/data/uspto_grants_2025 (sheet labels read with
OCR where the description does not map them, and once without); ``scanned-pdf`` an image-only PDF of a
drawn front page plus the 12 drawing sheets of US12448749 (front page and sheet labels read with OCR).
Each row gives figures/s, MB/s of input and the process's peak RSS. ``--formats-only`` runs just those rows
and merges them into the existing results file.
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
    parser.add_argument("--formats", nargs="*", default=["weekly-tar", "scanned-pdf"],
                        choices=["weekly-tar", "scanned-pdf"])
    parser.add_argument("--formats-only", action="store_true",
                        help="only the format rows, merged into the existing results file")
    args = parser.parse_args()
    if args.formats_only:
        result = json.loads(RESULTS.read_text())
        limit = next(r["figures_per_s"] for r in result["rows"] if "the limit" in r["what"])
        result["rows"] = [r for r in result["rows"] if not r["what"].startswith("format:")] + \
            format_rows(args.formats, limit)
        _write(result)
        return

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
                from backend.search.index import index_admin

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

    rows += format_rows(args.formats, limit)
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "torch_threads": torch.get_num_threads(),
                          "limit_torch_threads": limit_threads, "device": str(getattr(encoder, "device", "?")),
                          "model": getattr(encoder, "model_id", "?")},
              "batch_size": batch, "patents": len(folders), "captions_per_figure": round(len(texts) / n, 2),
              "rows": rows}
    _write(result)


def _write(result: dict) -> None:
    rows = result["rows"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    from plots import plot_ingest

    print(plot_ingest(result, RESULTS.with_suffix(".png")))
    print(f"{'':64s} {'figures':>8s} {'seconds':>8s} {'fig/s':>8s} {'of limit':>8s} {'MB/s':>6s} {'RSS MB':>7s}")
    for row in rows:
        share = f"{row['share_of_limit'] * 100:.0f} %" if "share_of_limit" in row else ""
        extra = f"{row['mb_per_s']:6.2f} {row['peak_rss_mb']:7.0f}" if "mb_per_s" in row else ""
        print(f"{row['what']:64s} {row['figures']:8d} {row['seconds']:8.2f} {row['figures_per_s']:8.1f} {share:>8s} "
              f"{extra}")
    print(f"wrote {RESULTS}")


def format_rows(formats: list[str], limit: float) -> list[dict]:
    """One row per input format, each ingested in a fresh process (its own peak RSS)."""
    import multiprocessing

    from backend.settings import SHARED_DATA

    zips = sorted((SHARED_DATA / "uspto_grants_2025").glob("US*-20251021.ZIP"))
    jobs = []
    with tempfile.TemporaryDirectory(prefix="prism-bench-input-") as tmp:
        if "weekly-tar" in formats and zips:
            tar = _weekly_tar(Path(tmp) / "I20251021.tar", zips)
            jobs += [(f"format: USPTO weekly archive .tar ({len(zips)} ZIPs), sheet OCR on", tar, True),
                     (f"format: USPTO weekly archive .tar ({len(zips)} ZIPs), sheet OCR off", tar, False)]
        if "scanned-pdf" in formats and zips:
            jobs.append(("format: scanned PDF (front page + 12 drawing sheets), OCR", _scanned_pdf(Path(tmp), zips),
                         True))
        rows = []
        ctx = multiprocessing.get_context("spawn")
        for what, path, ocr_on in jobs:
            load_before = os.getloadavg()[0]
            with ctx.Pool(1) as pool:
                figures, seconds, rss_kb = pool.apply(_ingest_one, (str(path), ocr_on))
            size_mb = path.stat().st_size / 1e6
            rows.append({"what": what, "figures": figures, "seconds": round(seconds, 3),
                         "figures_per_s": round(figures / seconds, 2), "share_of_limit": round(figures / seconds / limit, 3),
                         "input_mb": round(size_mb, 2), "mb_per_s": round(size_mb / seconds, 3),
                         "peak_rss_mb": round(rss_kb / 1024, 1),
                         "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)]})
    return rows


def _ingest_one(path: str, ocr_on: bool) -> tuple[int, float, int]:
    import resource

    from backend.cli_db import upgrade_database
    from backend.ingest.service import get_pipeline, ingest_paths
    from backend.settings import Settings, reset_settings_cache

    with tempfile.TemporaryDirectory(prefix="prism-bench-") as tmp:
        os.environ.update({"PRISM_DATA_DIR": tmp, "PRISM_INGEST_SHEET_OCR": "true" if ocr_on else "false"})
        reset_settings_cache()
        settings = Settings(data_dir=Path(tmp), task_mode="eager", search_backend="embedded",
                            ingest_sheet_ocr=ocr_on)
        upgrade_database(settings.resolved_database_url)
        _ = get_pipeline(settings).encoder   # the model loads once per process, not part of the format's cost
        t0 = time.perf_counter()
        summary = ingest_paths([path], settings, progress=False)
        seconds = time.perf_counter() - t0
        if summary.failed:
            raise SystemExit(f"ingest of {path} failed: {summary.failures[:3]}")
    return summary.figures, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _weekly_tar(path: Path, zips: list[Path]) -> Path:
    import tarfile

    with tarfile.open(path, "w") as tf:
        for z in zips:
            tf.add(z, arcname=f"20251021/UTIL0448/{z.name}")
    return path


def _scanned_pdf(folder: Path, zips: list[Path]) -> Path:
    """An image-only PDF: a front page drawn with Pillow, then the drawing sheets of US12448749."""
    import io
    import zipfile

    from PIL import Image, ImageDraw, ImageFont

    front = Image.new("L", (1700, 2200), 255)
    draw, font = ImageDraw.Draw(front), ImageFont.load_default(size=34)
    for i, line in enumerate(["(12) United States Patent", "(10) Patent No.: US 7,123,456 B2",
                              "(54) ANCHOR ASSEMBLY WITH WINGS", "(51) Int. Cl.", "     E02D 5/80 (2006.01)",
                              "(57) ABSTRACT", "An anchor assembly has wings deployed by a hammer."]):
        draw.text((120, 120 + i * 51), line, fill=0, font=font)
    source = next(z for z in zips if "US12448749" in z.name)
    with zipfile.ZipFile(source) as zf:
        sheets = [Image.open(io.BytesIO(zf.read(n))).convert("L") for n in sorted(zf.namelist())
                  if "-D000" in n and not n.endswith("D00000.TIF")]
    path = folder / "scan.pdf"
    front.save(path, save_all=True, append_images=sheets, resolution=200)
    return path


def _drop_indices(settings) -> None:
    try:
        from elasticsearch import Elasticsearch

        es = Elasticsearch(settings.es_url)
        es.indices.delete(index=f"{settings.es_index_prefix}*", ignore_unavailable=True, allow_no_indices=True)
    except Exception as exc:  # pragma: no cover - cleanup only
        print(f"note: could not delete bench indices: {exc}")


if __name__ == "__main__":
    main()
