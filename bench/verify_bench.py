"""Geometric verification benchmark (not a test): score calibration, cost, and the latency of a
drawing query with every stage on at 10,000 indexed drawings on the embedded backend.

    .venv/bin/python bench/verify_bench.py [--figures 10000] [--queries 60] [--data ../shared/data]
    # results: bench/results/verify.json and bench/results/verify.md

1. Features (``backend/search/ranking/verification.py``) and encoder vectors of ``--max-real`` real drawings
   sampled from ``../shared/data`` (IMPACT sheets, usdesign2007, kr_utility: 1,986 in all), cached under
   ``--cache``.
2. The index: every real drawing once (its vector, its features as a blob, as ingest stores them), plus
   distractors up to ``--figures``: the vector of one real drawing plus noise, the features of another
   (so the distractors crowd the vector list but never are the query's drawing).
3. Queries: ``--queries`` real drawings re-published (``backend/training/republish.py``, fixed seed) and
   uploaded through the search service exactly as ``POST /search`` does (decode, encode, features,
   kNN, verification of the top ``PRISM_SEARCH_VERIFY_TOP_K``, hydration), grouped by patent, 20 hits.
   Wall-clock and process CPU time per query (the CPU time is what the query costs whatever else runs on
   the machine; on a quiet 2-core machine its wall-clock is at most that): p50/p95 against the 1 s limit; the original's rank and match score; the same
   queries with verification off (K = 0) for comparison.
4. Calibration: cells (``Verification.cells``) of each query against its original (positives) and
   against every other verified candidate (negatives); a logistic fit of P(same drawing | cells)
   printed beside the constants in the code.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.settings import Settings  # noqa: E402

LIMIT_S = 1.0


def real_records(data: Path):
    from backend.training import realdata

    records = realdata.load_sets(data, sets=("impact", "usdesign", "kr"))
    return [r for r in records if r.image_path is not None]


def encode_all(records, settings, cache: Path):
    """(vectors, feature bytes) of each record, cached by the record list and the encoder."""
    from PIL import Image

    from backend.model.encoder import get_encoder
    from backend.search.ranking import verification as V

    encoder = get_encoder(settings)
    tag = hashlib.sha1(("|".join(str(r.image_path) for r in records) + str(encoder.model_id)
                        + str(V.WORK_SIDE) + str(V.MAX_KEYPOINTS) + str(V.OVERSAMPLE)).encode()).hexdigest()[:12]
    path = cache / f"verify-bench-{tag}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        feats = [bytes(data["feats"][data["offsets"][i]:data["offsets"][i + 1]]) for i in range(len(records))]
        return data["vectors"], feats
    vectors, feats, t0 = [], [], time.perf_counter()
    for start in range(0, len(records), 32):
        images = []
        for r in records[start:start + 32]:
            with Image.open(r.image_path) as im:
                im.load()
                images.append(im.copy())
        vectors.append(encoder.encode_images(images))
        feats.extend(V.extract(im).to_bytes() for im in images)
        print(f"  encoded {start + len(images)}/{len(records)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    vectors = np.concatenate(vectors).astype(np.float32)
    offsets = np.cumsum([0] + [len(f) for f in feats])
    np.savez(path, vectors=vectors, feats=np.frombuffer(b"".join(feats), dtype=np.uint8), offsets=offsets)
    return vectors, feats


def build_index(settings, records, vectors, feats, n_figures: int, seed: int = 0) -> list[str]:
    """Index every real drawing plus distractors; returns the figure id of each real drawing."""
    from backend.ingest import blobstore
    from backend.search import get_backend

    rng = np.random.default_rng(seed)
    store = blobstore.get_blob_store(settings)
    docs, real_ids = [], []

    def doc(i: int, vector: np.ndarray, feat: bytes, title: str) -> dict:
        digest = hashlib.sha256(f"bench-{i}".encode()).hexdigest()
        store.put(blobstore.features_key(digest), feat)
        pub = f"XX{i:08d}"
        return {"figure_id": f"{pub}-F1", "publication_number": pub, "figure_number": 1, "kind": "S", "country": "XX",
                "title": title, "abstract": "", "claims": "", "description": "", "captions": [], "applicants": [],
                "cpc": [], "ipc": [], "locarno": [], "image_vector": vector.astype(float).tolist(),
                "image_key": blobstore.figure_key(digest), "thumb_key": None, "ingest_seq": 1}

    for i, r in enumerate(records):
        docs.append(doc(i, vectors[i], feats[i], r.title or r.patent))
        real_ids.append(docs[-1]["figure_id"])
    for i in range(len(records), n_figures):
        a, b = rng.integers(0, len(records), size=2)
        v = vectors[a] + 0.35 * rng.normal(size=vectors.shape[1]).astype(np.float32) / math.sqrt(vectors.shape[1])
        docs.append(doc(i, v / np.linalg.norm(v), feats[b], "distractor"))
    backend = get_backend(settings)
    for start in range(0, len(docs), 1000):
        backend.index_figures(docs[start:start + 1000])
    backend.refresh()
    return real_ids


def run_queries(settings, payloads, originals) -> list[dict]:
    from backend.search import service
    from backend.search.ranking import rerank

    out = []
    for data, original in zip(payloads, originals):
        rerank.CACHE.clear()          # cold: every candidate's features read from the blob store
        t, c = time.perf_counter(), time.process_time()
        result = service.search({"size": 20, "explain": True}, settings, image=data)
        elapsed, cpu = time.perf_counter() - t, time.process_time() - c
        hits = result["hits"]
        rank = next((i + 1 for i, h in enumerate(hits) if h["figure_id"] == original), None)
        mine = next((h.get("match_score") for h in hits if h["figure_id"] == original), None)
        others = [h.get("match_score") for h in hits if h["figure_id"] != original and h.get("match_score") is not None]
        out.append({"s": elapsed, "cpu_s": cpu, "rank": rank, "match": mine, "others_max": max(others) if others else None,
                    "checked": sum(h.get("match_score") is not None for h in hits)})
    return out


def summary(rows: list[dict]) -> dict:
    def pct(values, q):
        values = sorted(values)
        return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]

    times, cpus = [r["s"] for r in rows], [r["cpu_s"] for r in rows]
    ranks = [r["rank"] for r in rows]
    return {"queries": len(rows), "p50_ms": round(1000 * pct(times, 0.5), 1), "p95_ms": round(1000 * pct(times, 0.95), 1),
            "cpu_p50_ms": round(1000 * pct(cpus, 0.5), 1), "cpu_p95_ms": round(1000 * pct(cpus, 0.95), 1),
            "limit_ms": 1000 * LIMIT_S, "top1": round(sum(r == 1 for r in ranks) / len(rows), 3),
            "mrr@20": round(sum(1 / r for r in ranks if r) / len(rows), 3)}


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, midpoint) of P(y=1 | x) = 1 / (1 + exp(-slope (x - midpoint))), Newton's method, with a small
    ridge so perfectly separated data still gives finite numbers."""
    w = np.zeros(2)
    X = np.stack([x, np.ones_like(x)], axis=1).astype(float)
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ w))
        grad = X.T @ (p - y) + 0.01 * w
        hess = X.T @ (X * (p * (1 - p))[:, None]) + 0.01 * np.eye(2)
        w -= np.linalg.solve(hess, grad)
    return float(w[0]), float(-w[1] / w[0])


def calibration(payloads, real_feats, originals_idx, top_feats_idx, patents) -> dict:
    """Positives: a query against its original; negatives: against the nearest drawings of *other*
    patents (another sheet of the same patent is often the same view again, e.g. embodiments differing in
    shading: those pairs are counted apart, as ``same_patent``)."""
    from PIL import Image

    from backend.search.ranking import verification as V

    pos, neg, same, pair_s = [], [], [], []
    for data, i, cands in zip(payloads, originals_idx, top_feats_idx):
        q = V.extract(Image.open(io.BytesIO(data)))
        for j in cands:
            t = time.perf_counter()
            v = V.verify(q, V.DrawingFeatures.from_bytes(real_feats[j]))
            pair_s.append(time.perf_counter() - t)
            (pos if j == i else same if patents[j] == patents[i] else neg).append(v.cells)
    same_verified = sum(V.score(c) >= V.VERIFIED_SCORE for c in same)
    x = np.array(pos + neg, dtype=float)
    y = np.array([1] * len(pos) + [0] * len(neg), dtype=float)
    slope, mid = fit_logistic(x, y)
    return {"positives": len(pos), "negatives": len(neg), "pos_cells_pct_5_10_50": np.percentile(pos, [5, 10, 50]).tolist(),
            "neg_cells_max": int(max(neg)), "neg_cells_pct_99_99.9": np.percentile(neg, [99, 99.9]).tolist(),
            "pos_verified": round(float(np.mean([V.score(c) >= V.VERIFIED_SCORE for c in pos])), 3),
            "neg_verified": round(float(np.mean([V.score(c) >= V.VERIFIED_SCORE for c in neg])), 4),
            "same_patent_pairs": len(same), "same_patent_verified": int(same_verified),
            "fit_slope": round(slope, 2), "fit_midpoint": round(mid, 2),
            "code_slope": V.SCORE_SLOPE, "code_midpoint": V.SCORE_MIDPOINT,
            "verify_pair_ms_p50": round(1000 * statistics.median(pair_s), 2),
            "verify_pair_ms_p95": round(1000 * sorted(pair_s)[int(0.95 * len(pair_s))], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--figures", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--max-real", type=int, default=800, help="real drawings indexed (a fixed sample; CPU)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=ROOT / "var" / "bench-cache")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "verify")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"verify_bench: no real data at {args.data}")
    from PIL import Image

    from backend.training.republish import republish

    args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="prism-verify-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), auth_required=False, search_backend="embedded")
        records = real_records(args.data)
        if len(records) > args.max_real:
            keep = np.random.default_rng(3).choice(len(records), size=args.max_real, replace=False)
            records = [records[i] for i in sorted(keep)]
        print(f"{len(records)} real drawings; encoding + features (cached in {args.cache}) ...", flush=True)
        t = time.perf_counter()
        vectors, feats = encode_all(records, settings, args.cache)
        t = time.perf_counter()
        real_ids = build_index(settings, records, vectors, feats, max(args.figures, len(records)))
        index_s = time.perf_counter() - t
        print(f"indexed {max(args.figures, len(records))} figures in {index_s:.1f} s", flush=True)
        rng = np.random.default_rng(11)
        chosen = rng.choice(len(records), size=min(args.queries, len(records)), replace=False)
        payloads = []
        for i in chosen:
            with Image.open(records[i].image_path) as im:
                copy = republish(im, rng)
            buf = io.BytesIO()
            copy.save(buf, "PNG")
            payloads.append(buf.getvalue())
        originals = [real_ids[i] for i in chosen]
        from backend.search import service

        service.search({"size": 5}, settings, image=payloads[0])       # warm-up: encoder load
        on = run_queries(settings, payloads, originals)
        off_settings = settings.model_copy(update={"search_verify_top_k": 0})
        off = run_queries(off_settings, payloads, originals)
        # calibration pairs: each query against the real drawings nearest its vector (top 50)
        from backend.model.encoder import get_encoder

        encoder = get_encoder(settings)
        qv = encoder.encode_images([Image.open(io.BytesIO(p)) for p in payloads])
        top = np.argsort(-(qv @ vectors.T), axis=1)[:, :50]
        top_idx = [sorted(set(row.tolist()) | {int(i)}) for row, i in zip(top, chosen)]
        calib = calibration(payloads, feats, [int(i) for i in chosen], top_idx, [r.patent for r in records])
    report = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs, Python {platform.python_version()}",
        "note": args.note, "figures": max(args.figures, len(records)), "real_drawings": len(records),
        "verify_top_k": settings.search_verify_top_k,
        "verify_turned_k": settings.search_verify_turned_k, "index_s": round(index_s, 1),
        "verification_on": summary(on), "verification_off": summary(off),
        "match_score_original_median": statistics.median([r["match"] or 0.0 for r in on]),
        "match_score_others_max_median": statistics.median([r["others_max"] or 0.0 for r in on]),
        "calibration": calib,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["| verification | figures | queries | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms | limit ms | top-1 | MRR@20 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("verification_on", "verification_off"):
        s = report[name]
        on_label = f"on, K={settings.search_verify_top_k} + {settings.search_verify_turned_k} turned x2"
        lines.append(f"| {on_label if name.endswith('on') else 'off'} | "
                     f"{report['figures']:,} | {s['queries']} | {s['p50_ms']} | {s['p95_ms']} | {s['cpu_p50_ms']} | {s['cpu_p95_ms']} | "
                     f"{s['limit_ms']:.0f} | "
                     f"{s['top1']} | {s['mrr@20']} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps(calib, indent=2))
    print(f"match score of the original (median) {report['match_score_original_median']}, best other hit (median) "
          f"{report['match_score_others_max_median']}")


if __name__ == "__main__":
    main()
