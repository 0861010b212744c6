"""The drawing search as an examiner runs it: ingested by ``prism ingest``, queried by uploads to ``POST /search``.

    .venv/bin/python bench/examiner_bench.py [--data ../shared/data] [--every 2] [--out bench/results/examiner]

``bench/drawing_retrieval.py --search-table`` computes the search's ranking from the vectors in numpy; this
runs the product itself on the same dev split (``backend/training/realdata.py``): every dev patent written to
a JSONL manifest (its drawings, title, IPC / CPC / Locarno codes as the office would send them) and ingested
through :func:`backend.ingest.bulk.ingest_paths` into a fresh embedded index; every query an uploaded PNG
through the Flask app with API keys on (a search-scoped key), ``group_by_patent``, 100 patents a page.

Tasks, patent level, every ``--every``-th dev drawing as the query:

* **copies** - the drawing re-published (``backend/training/republish.py``, the search table's seed) is the
  upload; its own patent is the one answer: mAP (= MRR over the first page), Hit@1, Hit@10;
* **same class** - the drawing itself is the upload, its own patent excluded (``exclude_patents``); the
  other dev patents of its class are relevant: Korean utility drawings by IPC subclass, IMPACT designs by
  Locarno class. The whole ranking, paged with ``next_cursor`` to its last patent: mAP, P@10, Hit@10. The US 2007 designs are in the index but carry only a USPC class, which Prism does not index, so
  they have no same-class row here (``--search-table`` measures them with the USPC class as the index's code).

Rows in one run, same queries: the 24 px thumbnail (numpy, best figure per patent), the search with the class
consensus off (a second app on the same index, ``search_class_consensus_k=0``) and the search as configured.
Also the wall time of each upload request (p50 / p95) and whether every paged ranking reached every patent
but the query's own exactly once. Writes ``<out>.json`` and ``<out>.md``.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from backend.training import realdata  # noqa: E402
from backend.training.republish import republish  # noqa: E402

PAGE = 100
SEED = 20261129            # bench/drawing_retrieval.py's re-publication seed
CLASS_SETS = {"kr": "Korean utility, IPC subclass", "impact": "IMPACT designs, Locarno class"}


def manifest_lines(dev) -> list[dict]:
    """One manifest object per dev patent: its drawings (absolute paths) and the codes an office sends."""
    kr_ipc = {f"KR{row['application_number']}": row.get("ipc") or []
              for row in realdata._jsonl(realdata.default_root() / "kr_utility" / "patents.jsonl")}
    by_patent: dict[str, list] = {}
    for r in dev:
        by_patent.setdefault(r.patent, []).append(r)
    out = []
    for patent, recs in by_patent.items():
        first = recs[0]
        line: dict = {"publication_number": patent, "title": first.title or patent}
        if first.locarno:
            line["locarno"] = [first.locarno]
        if first.cpc:
            line["cpc"] = [first.cpc]
        if patent in kr_ipc:
            line["ipc"] = list(kr_ipc[patent])
        line["figures"] = [{"number": i + 1, "image": str(Path(r.image_path).resolve()),
                            "description": r.description or ""} for i, r in enumerate(recs)]
        out.append(line)
    return out


def png(image) -> bytes:
    buf = io.BytesIO()
    image.convert("L").save(buf, format="PNG")
    return buf.getvalue()


def upload(client, key: str, image_png: bytes, body: dict) -> tuple[dict, float]:
    t0 = time.perf_counter()
    resp = client.post("/search", data={"request": json.dumps(body), "image": (io.BytesIO(image_png), "q.png")},
                       content_type="multipart/form-data", headers={"X-API-Key": key})
    seconds = time.perf_counter() - t0
    if resp.status_code != 200:
        raise SystemExit(f"POST /search answered {resp.status_code}: {resp.get_data(as_text=True)[:300]}")
    return resp.get_json(), seconds


def every_page(client, key: str, image_png: bytes, body: dict, times: list[float]) -> tuple[list[str], int, int]:
    """The whole ranking of an upload, page after page with ``next_cursor``: (patents, pages, total)."""
    ranked: list[str] = []
    pages, cursor = 0, None
    while True:
        page, seconds = upload(client, key, image_png, body | ({"cursor": cursor} if cursor else {}))
        times.append(seconds)
        pages += 1
        ranked += [h["publication_number"] for h in page["hits"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return ranked, pages, int(page.get("total") or 0)


def ap_at(ranked: list[str], relevant: set[str]) -> float:
    """AP of a ranking over every relevant patent (one not ranked counts 0)."""
    hits, total = 0, 0.0
    for i, p in enumerate(ranked, start=1):
        if p in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant) if relevant else float("nan")


def scores(ranked: list[str], relevant: set[str]) -> dict:
    top = ranked[:10]
    return {"AP": ap_at(ranked, relevant), "P@10": sum(p in relevant for p in top) / 10,
            "Hit@10": float(any(p in relevant for p in top)), "Hit@1": float(bool(ranked) and ranked[0] in relevant)}


def thumbnail_rankings(gallery_images, gallery_patents, query_images, exclude: list[str | None]) -> list[list[str]]:
    """The naive baseline: 24 px thumbnails, a patent scored by its best figure, every patent best first."""
    from backend.model.thumbnail import thumbnail_vectors

    g, q = thumbnail_vectors(gallery_images, 24), thumbnail_vectors(query_images, 24)
    sim = q @ g.T
    patents = np.asarray(gallery_patents)
    names = sorted(set(gallery_patents))
    cols = {p: np.flatnonzero(patents == p) for p in names}
    out = []
    for i, row in enumerate(sim):
        best = {p: float(row[c].max()) for p, c in cols.items() if p != exclude[i]}
        out.append(sorted(best, key=lambda p: (-best[p], p)))
    return out


def summarise(rows: list[dict]) -> dict:
    keys = rows[0].keys() if rows else []
    return {k: round(float(np.nanmean([r[k] for r in rows])), 3) for k in keys} | {"queries": len(rows)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=realdata.default_root())
    ap.add_argument("--every", type=int, default=2, help="every N-th dev drawing is a query (default 2)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "examiner")
    ap.add_argument("--keep", action="store_true", help="keep the index and database (their folder is printed)")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"shared data not found at {args.data}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="prism-examiner-bench-"))
    try:
        return run(args, work)
    finally:
        if args.keep:
            print(f"index and database kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path) -> int:
    from backend.app import create_app
    from backend.auth.keys import create_key
    from backend.cli_db import upgrade_database
    from backend.db.session import session_scope
    from backend.ingest.bulk import ingest_paths
    from backend.settings import Settings

    t0 = time.time()
    dev = realdata.split(realdata.load_sets(args.data), "dev")
    originals = [r.load_image() for r in dev]
    rng = np.random.default_rng(SEED)
    published = [republish(im, rng) for im in originals]
    settings = Settings(data_dir=work / "var", search_backend="embedded", auth_required=True)
    off = settings.model_copy(update={"search_class_consensus_k": 0})
    upgrade_database(settings.resolved_database_url)
    manifest = work / "dev.jsonl"
    lines = manifest_lines(dev)
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    t1 = time.time()
    summary = ingest_paths([manifest], settings, progress=None)
    if summary.failed:
        raise SystemExit(f"ingest failed: {summary.failures[:3]}")
    ingest_s = time.time() - t1
    print(f"ingested {len(lines)} patents, {summary.figures} figures in {ingest_s:.0f} s", flush=True)
    with session_scope(settings.resolved_database_url) as session:
        _row, key = create_key(session, "examiner bench", "search")
    clients = {"search": create_app(settings).test_client(), "consensus off": create_app(off).test_client()}

    queries = list(range(0, len(dev), max(args.every, 1)))
    patents = [r.patent for r in dev]
    labels = {r.patent: r.label for r in dev}
    sources = [realdata.source_of(r) for r in dev]
    results: dict[str, dict[str, list]] = {name: {"copies": [], **{s: [] for s in CLASS_SETS}}
                                           for name in ("thumbnail 24 px", *clients)}
    times: dict[str, list[float]] = {name: [] for name in clients}
    paging: dict[str, list[dict]] = {name: [] for name in clients}
    misses: dict[str, list[dict]] = {name: [] for name in clients}      # copies not first
    thumb_copy = thumbnail_rankings(originals, patents, [published[i] for i in queries], [None] * len(queries))
    thumb_class = thumbnail_rankings(originals, patents, [originals[i] for i in queries],
                                     [patents[i] for i in queries])
    for n, i in enumerate(queries):
        own = patents[i]
        results["thumbnail 24 px"]["copies"].append(scores(thumb_copy[n], {own}))
        relevant = {p for p in labels if p != own and labels[p] == labels[own]}
        if sources[i] in CLASS_SETS and relevant:
            results["thumbnail 24 px"][sources[i]].append(scores(thumb_class[n], relevant))
        for name, client in clients.items():
            body = {"group_by_patent": True, "size": PAGE, "explain": False, "facets": False}
            page, seconds = upload(client, key, png(published[i]), body)
            times[name].append(seconds)
            ranked = [h["publication_number"] for h in page["hits"]]
            results[name]["copies"].append(scores(ranked, {own}))
            if ranked[:1] != [own]:
                misses[name].append({"patent": own, "figure": i, "rank": ranked.index(own) + 1 if own in ranked else None})
            if sources[i] in CLASS_SETS and relevant:
                ranked, pages, total = every_page(client, key, png(originals[i]), body | {"exclude_patents": [own]},
                                                  times[name])
                results[name][sources[i]].append(scores(ranked, relevant))
                paging[name].append({"pages": pages, "patents": len(ranked), "distinct": len(set(ranked)),
                                     "total": total})
        if (n + 1) % 25 == 0 or n + 1 == len(queries):
            print(f"  {n + 1} / {len(queries)} queries, {time.time() - t0:.0f} s", flush=True)

    table = {name: {task: summarise(rows) for task, rows in tasks.items()} for name, tasks in results.items()}
    latency = {name: {"p50_ms": round(1000 * float(np.percentile(t, 50))), "p95_ms": round(1000 * float(np.percentile(t, 95))),
                      "requests": len(t)} for name, t in times.items()}
    report = {"dev_drawings": len(dev), "patents": len(lines), "figures": summary.figures, "queries": len(queries),
              "every": args.every, "ingest_seconds": round(ingest_s, 1), "drawing_window": settings.search_drawing_window,
              "table": table, "latency": latency,
              "paging": {name: {"queries": len(p), "pages": int(sum(x["pages"] for x in p)),
                                "all_reached": all(x["distinct"] == x["patents"] == x["total"] == len(lines) - 1
                                                   for x in p)} for name, p in paging.items()},
              "copies_not_first": misses, "seconds": round(time.time() - t0, 1)}
    text = render(report)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    args.out.with_suffix(".md").write_text(text)
    return 0


def render(report: dict) -> str:
    head = ["system", "copies mAP / Hit@1 / Hit@10"] + [f"{what}: mAP / P@10 / Hit@10" for what in CLASS_SETS.values()]
    lines = [f"{report['queries']} queries (every {report['every']}. of {report['dev_drawings']} dev drawings) against "
             f"{report['patents']} patents / {report['figures']} figures ingested by `prism ingest` "
             f"({report['ingest_seconds']} s); uploads through POST /search with an API key, patent level; drawing "
             f"window {report['drawing_window']}.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, tasks in report["table"].items():
        c = tasks["copies"]
        cells = [name, f"{c['AP']:.3f} / {c['Hit@1']:.3f} / {c['Hit@10']:.3f}"]
        for s in CLASS_SETS:
            t = tasks[s]
            cells.append(f"{t['AP']:.3f} / {t['P@10']:.3f} / {t['Hit@10']:.3f} ({t['queries']} q)" if t["queries"]
                         else "–")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Upload query wall time (the Flask app in-process, one at a time): " + "; ".join(
        f"{name} p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms ({v['requests']} requests)"
        for name, v in report["latency"].items()) + ".")
    lines.append("Same-class queries paged with next_cursor to their last patent: " + "; ".join(
        f"{name} {p['queries']} queries, {p['pages']} pages, every patent but the query's own reached exactly once: "
        f"{'yes' if p['all_reached'] else 'NO'}" for name, p in report["paging"].items()) +
        f". {report['seconds']} s in all.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
