"""Ingest throughput with the default model, per stage, beside the limit (the stages' sum on the same cores).

    .venv/bin/python bench/ingest_bench.py [--limit-patents 50] [--celery 1 2] [--formats weekly-tar]
        [--caption-vectors] [--skip-cli] [--formats-only]

Everything on the IMPACT sample (../shared/data/impact), the default model (settings.model_name), this
machine's CPU, embedded backend, SQLite, sheet OCR as configured. Writes bench/results/ingest.json.

* **Stages** - one run of the pipeline *without* overlap (``Pipeline.run_jobs`` group after group, each stage
  with all cores: the image threads side by side, torch's own threads): seconds per stage from the
  pipeline's own timing (``Pipeline.times``). A stage run in the image threads is counted as its
  thread-seconds / ``IMAGE_THREADS``. **The limit** is the figures over the sum of the stages.
* **prism ingest** - a fresh process, as a user runs it (``ingest_paths``, the CLI's entry point, in eager
  mode: group k+1 prepared while group k is embedded and stored): process start (imports), model load
  (drawing encoder + MiniLM) and the ingest itself reported apart; end to end = figures / ingest seconds;
  also the CPU seconds it used and the real ``prism ingest`` command's total wall time.
* **Celery worker** (``--celery 1 2``) - a real worker with 1 and 2 worker processes on a Redis broker,
  PostgreSQL and Elasticsearch (``prism services up``), figures / seconds from enqueue to the last job done
  (the worker's processes load their models when they start, before the clock starts).
* **Formats** - the weekly archive (the nine ZIPs of ../shared/data/uspto_grants_2025 in a tar), each in a
  fresh process: figures/s and peak RSS.

The load average is printed beside the numbers: on a shared machine compare runs of the same load only.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "ingest.json"
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-patents", type=int, default=50)
    parser.add_argument("--celery", type=int, nargs="*", default=[1, 2], help="worker process counts (none: skip)")
    parser.add_argument("--formats", nargs="*", default=["weekly-tar"], choices=["weekly-tar", "scanned-pdf"])
    parser.add_argument("--weekly-ocr", nargs="+", default=["on", "off"], choices=["on", "off"],
                        help="weekly archive rows with sheet OCR on and/or off")
    parser.add_argument("--caption-vectors", action="store_true", help="PRISM_INGEST_CAPTION_VECTORS on (before)")
    parser.add_argument("--skip-cli", action="store_true", help="no `prism ingest` subprocess rows")
    parser.add_argument("--formats-only", action="store_true", help="only the format rows, merged into the results")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(json.loads(args.child))
    os.environ.setdefault("PRISM_INGEST_SHEET_OCR", "false")   # IMPACT rows: sheet labels from the order
    if args.caption_vectors:
        os.environ["PRISM_INGEST_CAPTION_VECTORS"] = "true"
    from backend.settings import SHARED_DATA

    if not (SHARED_DATA / "impact").is_dir():
        raise SystemExit(f"{SHARED_DATA / 'impact'} not found: the bench ingests the IMPACT sample (../shared/data)")
    folders = sorted(p for p in (SHARED_DATA / "impact").iterdir() if p.is_dir())[: args.limit_patents]
    if args.formats_only:
        result = json.loads(RESULTS.read_text())
        result["formats"] = format_rows(args.formats, args.weekly_ocr)
        return _write(result)
    load_before = os.getloadavg()
    result = {"machine": _machine(), "patents": len(folders), "load_average_before": [round(x, 1) for x in load_before],
              "caption_vectors": args.caption_vectors}
    result["stages"] = stage_table(folders)
    result["cli"] = None if args.skip_cli else cli_rows(folders)
    result["celery"] = [celery_row(folders, n) for n in args.celery]
    result["formats"] = format_rows(args.formats, args.weekly_ocr)
    result["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    _write(result)


# -- the stages, one after another ------------------------------------------------------------------------
def stage_table(folders: list[Path]) -> dict:
    from backend.ingest import pipeline as pipeline_module
    from backend.ingest.parsers.discover import discover
    from backend.ingest.runners import _torch_threads_beside_image_threads, batches
    from backend.ingest.stage_times import IMAGE_THREAD_STAGES

    with tempfile.TemporaryDirectory(prefix="prism-bench-") as tmp:
        settings = _fresh_settings(Path(tmp))
        pipe = pipeline_module.Pipeline(settings)
        _warm(pipe, settings)
        job_ids = _jobs(settings, [i for i in discover(folders)])
        pipe.times.reset()
        cpu0, t0 = _cpu(), time.perf_counter()
        with _torch_threads_beside_image_threads():   # torch's threads as the pipeline sets them
            for group in batches([(j, 8) for j in job_ids], max(settings.embed_batch_size, 8)):
                results = pipe.run_jobs(group)
                if any(r.status != "done" for r in results):
                    raise SystemExit(f"ingest failed: {[r.error for r in results if r.status != 'done'][:3]}")
        elapsed, cpu = time.perf_counter() - t0, _cpu() - cpu0
        figures = _figures(settings)
    rows = []
    for name, t in pipe.times.snapshot().items():
        threads = pipeline_module.IMAGE_THREADS if name in IMAGE_THREAD_STAGES else 1
        rows.append({"stage": name, "thread_seconds": t["seconds"], "threads": threads,
                     "seconds": round(t["seconds"] / threads, 3), "cpu_seconds": t["cpu_seconds"],
                     "items": t["items"]})
    total = sum(r["seconds"] for r in rows)
    total_cpu = sum(r["cpu_seconds"] for r in rows)
    cores = os.cpu_count() or 1
    return {"rows": rows, "figures": figures, "sum_seconds": round(total, 3), "elapsed_seconds": round(elapsed, 3),
            "sum_cpu_seconds": round(total_cpu, 3), "process_cpu_seconds": round(cpu, 3), "cores": cores,
            "limit_figures_per_s": round(figures / total, 1),
            "limit_figures_per_s_cpu": round(figures / (total_cpu / cores), 1)}


def _fresh_settings(data_dir: Path, **overrides):
    from backend.cli_db import upgrade_database
    from backend.settings import Settings, reset_settings_cache

    os.environ["PRISM_DATA_DIR"] = str(data_dir)
    reset_settings_cache()
    settings = Settings(data_dir=data_dir, task_mode="eager", search_backend="embedded", **overrides)
    upgrade_database(settings.resolved_database_url)
    return settings


def _warm(pipe, settings) -> None:
    """Load what the first document would (MiniLM, OpenCV, the captioner's tables) outside the clock."""
    from backend.warmup import warm_up

    warm_up(settings, pipe)


def _jobs(settings, items) -> list[str]:
    from backend.db.session import session_scope
    from backend.ingest.pipeline import new_job

    with session_scope(settings.resolved_database_url) as session:
        jobs = [new_job(session, item.locator, item.origin) for item in items if item.locator]
        return [j.id for j in jobs]


def _figures(settings) -> int:
    from sqlalchemy import func, select

    from backend.db.models import Figure
    from backend.db.session import session_scope

    with session_scope(settings.resolved_database_url) as session:
        return int(session.scalar(select(func.count()).select_from(Figure)) or 0)


# -- prism ingest as a user runs it ---------------------------------------------------------------------
def cli_rows(folders: list[Path]) -> dict:
    with tempfile.TemporaryDirectory(prefix="prism-bench-cli-") as tmp:
        launched = time.time()
        out = subprocess.run([sys.executable, __file__, "--child", json.dumps(
            {"folders": [str(f) for f in folders], "data_dir": tmp, "launched": launched})],
            capture_output=True, text=True, cwd=REPO, env={**os.environ, "PRISM_DATA_DIR": tmp})
        if out.returncode:
            raise SystemExit(f"bench child failed:\n{out.stderr[-3000:]}")
        row = json.loads(out.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory(prefix="prism-bench-cli-") as tmp:
        t0 = time.perf_counter()
        cmd = subprocess.run([str(Path(sys.executable).parent / "prism"), "ingest", "--quiet", *map(str, folders)],
                             capture_output=True, text=True, cwd=REPO, env={**os.environ, "PRISM_DATA_DIR": tmp})
        row["prism_ingest_total_s"] = round(time.perf_counter() - t0, 2)
        row["prism_ingest_stderr_lines"] = len([ln for ln in cmd.stderr.splitlines() if ln.strip()])
        if cmd.returncode:
            raise SystemExit(f"prism ingest failed:\n{cmd.stderr[-3000:]}")
    return row


def _child(spec: dict) -> None:
    """In a fresh process: imports, model load and ingest timed apart (printed as one JSON line)."""
    import resource

    imported_at = time.time()
    import backend.cli as prism_cli

    prism_cli._register()
    from backend.ingest.bulk import ingest_paths
    from backend.ingest.runners import get_pipeline

    started = time.time()
    settings = _fresh_settings(Path(spec["data_dir"]))
    t0 = time.perf_counter()
    pipe = get_pipeline(settings)
    _warm(pipe, settings)
    load_s = time.perf_counter() - t0
    cpu0 = _cpu()
    t0 = time.perf_counter()
    summary = ingest_paths([Path(f) for f in spec["folders"]], settings, progress=False)
    ingest_s = time.perf_counter() - t0
    cpu_s = _cpu() - cpu0
    if summary.failed:
        raise SystemExit(f"ingest failed: {summary.failures[:3]}")
    print(json.dumps({"figures": summary.figures, "patents": summary.ingested,
                      "interpreter_start_s": round(imported_at - spec["launched"], 2),
                      "process_start_s": round(started - spec["launched"], 2), "model_load_s": round(load_s, 2),
                      "ingest_s": round(ingest_s, 2), "figures_per_s": round(summary.figures / ingest_s, 1),
                      "cpu_s": round(cpu_s, 2),
                      "figures_per_s_cpu": round(summary.figures / (cpu_s / (os.cpu_count() or 1)), 1),
                      "stages": pipe.times.snapshot(),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- a Celery worker --------------------------------------------------------------------------------------
def celery_row(folders: list[Path], processes: int) -> dict:
    """A real worker (``-c processes``) on Redis, PostgreSQL and Elasticsearch; figures / seconds from the
    enqueue of the first job to the last job done."""
    import redis

    from backend import devservices
    from backend.cli_db import upgrade_database
    from backend.ingest.bulk import ingest_paths
    from backend.search.index import index_admin
    from backend.settings import Settings, reset_settings_cache

    name = f"bench_{uuid.uuid4().hex[:10]}"
    db_url = devservices.ensure_pg_database(name)
    redis_url = devservices.SERVICES["redis"][0]().rsplit("/", 1)[0] + "/61"
    redis.Redis.from_url(redis_url).flushdb()
    tmp = tempfile.mkdtemp(prefix="prism-bench-celery-")
    env = {"PRISM_TASK_MODE": "celery", "PRISM_DATABASE_URL": db_url, "PRISM_REDIS_URL": redis_url,
           "PRISM_SEARCH_BACKEND": "elasticsearch", "PRISM_ES_URL": devservices.SERVICES["es"][0](),
           "PRISM_ES_INDEX_PREFIX": name.replace("_", "-"), "PRISM_DATA_DIR": tmp}
    os.environ.update(env)
    reset_settings_cache()
    settings = Settings()
    upgrade_database(db_url)
    index_admin.ensure_index(index_admin.make_client(settings), settings)
    log = Path(tmp) / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", "ingest",
                               "-c", str(processes), "--pool=prefork", "--loglevel=INFO", "-n", f"{name}@%h"],
                              cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=open(log, "ab"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while log.read_text(errors="replace").count("models ready") < processes:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"celery worker did not get ready:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        summary = ingest_paths(folders, settings, progress=False, timeout_s=1800)
        seconds = time.perf_counter() - t0
        if summary.failed:
            raise SystemExit(f"celery ingest failed: {summary.failures[:3]}")
    finally:
        import signal

        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        _drop_indices(settings)
        from backend.db.session import get_engine

        get_engine(db_url).dispose()
        devservices.drop_pg_database(name)
        for key in env:
            os.environ.pop(key, None)
        reset_settings_cache()
    return {"worker_processes": processes, "figures": summary.figures, "seconds": round(seconds, 2),
            "figures_per_s": round(summary.figures / seconds, 1), "load_average": round(load, 1)}


# -- input formats ----------------------------------------------------------------------------------------
def format_rows(formats: list[str], weekly_ocr: tuple[str, ...] = ("on", "off")) -> list[dict]:
    """One row per input format, each ingested in a fresh process (its own peak RSS)."""
    import multiprocessing

    from backend.settings import SHARED_DATA

    zips = sorted((SHARED_DATA / "uspto_grants_2025").glob("US*-20251021.ZIP"))
    jobs = []
    with tempfile.TemporaryDirectory(prefix="prism-bench-input-") as tmp:
        if "weekly-tar" in formats and zips:
            tar = _weekly_tar(Path(tmp) / "I20251021.tar", zips)
            jobs += [(f"USPTO weekly archive .tar ({len(zips)} ZIPs), sheet OCR {ocr}", tar, ocr == "on")
                     for ocr in weekly_ocr]
        if "scanned-pdf" in formats and zips:
            jobs.append(("scanned PDF (front page + 12 drawing sheets), OCR", _scanned_pdf(Path(tmp), zips), True))
        rows = []
        ctx = multiprocessing.get_context("spawn")
        for what, path, ocr_on in jobs:
            load_before = os.getloadavg()[0]
            with ctx.Pool(1) as pool:
                figures, seconds, rss_kb = pool.apply(_ingest_one, (str(path), ocr_on))
            size_mb = path.stat().st_size / 1e6
            rows.append({"what": what, "figures": figures, "seconds": round(seconds, 3),
                         "figures_per_s": round(figures / seconds, 2), "input_mb": round(size_mb, 2),
                         "mb_per_s": round(size_mb / seconds, 3), "peak_rss_mb": round(rss_kb / 1024, 1),
                         "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)]})
    return rows


def _ingest_one(path: str, ocr_on: bool) -> tuple[int, float, int]:
    import resource

    from backend.ingest.bulk import ingest_paths
    from backend.ingest.runners import get_pipeline

    with tempfile.TemporaryDirectory(prefix="prism-bench-") as tmp:
        os.environ["PRISM_INGEST_SHEET_OCR"] = "true" if ocr_on else "false"
        settings = _fresh_settings(Path(tmp), ingest_sheet_ocr=ocr_on)
        _warm(get_pipeline(settings), settings)   # models load once per process, not the format's cost
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


# -- output -----------------------------------------------------------------------------------------------
def _machine() -> dict:
    import torch

    from backend.model.encoder import resolve_checkpoint
    from backend.model.registry import file_digest, vector_tag
    from backend.settings import Settings

    settings = Settings()
    name, ckpt = resolve_checkpoint(settings.model_name, settings.checkpoint)
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "batch_size": settings.embed_batch_size,
            "model": f"{name}@{file_digest(ckpt) if ckpt else 'random'}{vector_tag(name)}",
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                     cwd=REPO).stdout.strip()}


def _write(result: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    print(f"wrote {RESULTS}")


def report(result: dict) -> str:
    m = result["machine"]
    lines = [f"{m['model']}, {m['cores']} cores, batch {m['batch_size']}, commit {m['commit']}, "
             f"load average {result.get('load_average_before')} -> {result.get('load_average_after')}"]
    st = result.get("stages")
    if st:
        n = st["figures"]
        lines.append(f"\nstages, one after another ({n} figures; wall: image-thread stages as thread-s / threads; "
                     f"CPU: the thread's own)")
        lines.append(f"{'stage':24s} {'wall s':>8s} {'CPU s':>8s} {'CPU ms/figure':>14s}")
        for r in st["rows"]:
            lines.append(f"{r['stage']:24s} {r['seconds']:8.2f} {r['cpu_seconds']:8.2f} {1000 * r['cpu_seconds'] / n:14.2f}")
        lines.append(f"{'sum':24s} {st['sum_seconds']:8.2f} {st['sum_cpu_seconds']:8.2f} "
                     f"{1000 * st['sum_cpu_seconds'] / n:14.2f}")
        lines.append(f"the limit: {st['limit_figures_per_s']} figures/s by wall (elapsed {st['elapsed_seconds']} s), "
                     f"{st['limit_figures_per_s_cpu']} figures/s by CPU on {st['cores']} cores "
                     f"(the process used {st['process_cpu_seconds']} CPU s)")
    cli = result.get("cli")
    if cli:
        share = cli["figures_per_s"] / st["limit_figures_per_s"] if st else 0
        share_cpu = cli["figures_per_s_cpu"] / st["limit_figures_per_s_cpu"] if st else 0
        lines.append(f"\nprism ingest, fresh process: start {cli['process_start_s']} s, model load {cli['model_load_s']} s,"
                     f" ingest {cli['ingest_s']} s for {cli['figures']} figures = {cli['figures_per_s']} figures/s "
                     f"end to end ({share:.0%} of the wall limit); {cli['cpu_s']} CPU s = {cli['figures_per_s_cpu']} "
                     f"figures/s by CPU ({share_cpu:.0%} of the CPU limit); peak RSS {cli['peak_rss_mb']} MB; "
                     f"`prism ingest` command total {cli['prism_ingest_total_s']} s")
        lines.append("  overlapped, thread wall / CPU s per stage: " + ", ".join(
            f"{k} {v['seconds']:.1f}/{v['cpu_seconds']:.1f}" for k, v in cli["stages"].items()))
    for row in result.get("celery") or []:
        lines.append(f"celery worker -c {row['worker_processes']}: {row['figures']} figures in {row['seconds']} s = "
                     f"{row['figures_per_s']} figures/s (load {row['load_average']})")
    for row in result.get("formats") or []:
        lines.append(f"{row['what']}: {row['figures']} figures in {row['seconds']:.1f} s = {row['figures_per_s']} "
                     f"figures/s, {row['mb_per_s']} MB/s, peak RSS {row['peak_rss_mb']:.0f} MB "
                     f"(load {row['load_average']})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
