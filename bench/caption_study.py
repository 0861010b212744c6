"""LLM vs template captions on real drawings, beside no captions, in one run.

    .venv/bin/prism services up llm        # llama.cpp's server with the packaged SmolLM2-135M-Instruct
    .venv/bin/python bench/caption_study.py [--llm-url http://127.0.0.1:8091/v1] [--seeds 0 1 2] [--epochs 3]

Data: the sets of ``../shared/data`` whose drawings have figure descriptions (IMPACT designs, the 2025
utility grants), split by patent as everywhere (``backend/training/realdata.py``). Every figure is captioned
three ways from the same facts (:func:`study_context`): ``none`` (no captions), ``template`` (the default
:class:`TemplateCaptioner`) and ``llm`` (:class:`LLMCaptioner` against ``--llm-url``; captions cached by
content under ``var/cache/caption_study``, so a second run makes no call).

Queries (dev split only), each with its relevant drawings:

* ``description``: title + figure description of each dev drawing -> that drawing (task d of
  bench/drawing_retrieval.py); MRR@10.
* ``llava``: the machine-written (LLaVA) description of each IMPACT dev patent's drawings, from
  ``impact/sample_data.csv`` - words nobody wrote for the index - -> that patent's drawings; AP.

a. *training the text side*: the recipe of bench/model_ablation.py (``dist`` loss, square-root
   class-aware sampling, fine-tuned from the packaged prism-tiny) on the train split, the figure's texts
   being its description plus that variant's captions; same seeds for every variant; text -> drawing on the
   dev split with the trained encoder (text vector of the query against the drawings' vectors).
b. *query time*: the dev patents ingested by the real pipeline (embedded backend, packaged encoder) once per
   variant, the captions stored and indexed as ingest does; ``POST /search``'s service with the text
   (``text``) and with the text plus another drawing of the patent (``hybrid``; the query drawing itself is
   left out of the ranking).

Differences are paired over the same queries (seeds pooled in a), with 95 % bootstrap intervals
(``backend/training/bootstrap.py``). Also measured: LLM captioning throughput (figures/s, fresh cache) at 1 and
2 requests in flight, the template's beside it. Writes ``bench/results/caption_study.{json,md}``.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.ingest.captioning.base import FigureContext
from backend.ingest.captioning.llm import LLMCaptioner
from backend.ingest.captioning.template import TemplateCaptioner
from backend.settings import SHARED_DATA
from backend.training import realdata
from backend.training.bootstrap import paired_bootstrap
from backend.training.metrics import per_query, rank_relevance

RESULTS = ROOT / "bench" / "results"
VARIANTS = ("none", "template", "llm")
SETS = ("impact", "grants")
PAIRS = (("template", "none"), ("llm", "none"), ("llm", "template"))
log = logging.getLogger("caption_study")


# -- captions ---------------------------------------------------------------------------------------
def study_context(r) -> FigureContext:
    """The facts every captioner reads of a drawing (those backend/training/captions.py gives the template)."""
    return FigureContext(publication_number=r.patent, number=r.figure or 0, title=r.title, label=f"FIG. {r.figure}",
                         description=r.description, viewpoint=r.viewpoint, object_name=r.object_name,
                         kind="S1" if r.patent[2:3] == "D" else None, cpc=[r.cpc] if r.cpc else [],
                         locarno=[r.locarno] if r.locarno else [])


def caption_all(records, llm: LLMCaptioner, template: TemplateCaptioner) -> tuple[dict, dict]:
    contexts = [study_context(r) for r in records]
    t0 = time.perf_counter()
    templ = [template.caption_one(c) for c in contexts]
    t_templ = time.perf_counter() - t0
    t0 = time.perf_counter()
    llm_caps, notes = llm.caption_noted(contexts)
    t_llm = time.perf_counter() - t0
    captions = {"none": [[] for _ in records], "template": templ, "llm": llm_caps}
    stats = {"figures": len(records), "template_s": round(t_templ, 3), "llm_s": round(t_llm, 1),
             "llm_calls": llm.calls, "llm_fallbacks": len(notes), "fallback_notes": notes[:5]}
    return captions, stats


def throughput(records, url: str, model: str, n: int, workers: int) -> dict:
    """Figures captioned per second from a fresh cache with ``workers`` requests in flight."""
    contexts = [study_context(r) for r in records[:n]]
    with tempfile.TemporaryDirectory(prefix="caption-tp-") as tmp:
        captioner = LLMCaptioner(url, model, timeout_s=300, retries=1, cache_dir=Path(tmp), max_workers=workers)
        t0 = time.perf_counter()
        _, notes = captioner.caption_noted(contexts)
        seconds = time.perf_counter() - t0
    return {"workers": workers, "figures": len(contexts), "seconds": round(seconds, 2),
            "figures_per_s": round(len(contexts) / seconds, 3), "fallbacks": len(notes)}


def first_per_patent(records, n: int) -> list:
    by_patent: dict[str, list] = {}
    for r in sorted(records, key=lambda r: (r.patent, r.figure or 0)):
        by_patent.setdefault(r.patent, []).append(r)
    return [r for rs in by_patent.values() for r in rs[:n]]


def texts_with(record, captions: list[str]) -> list[str]:
    """A training figure's texts: its description (or title) first, then the captions."""
    first = record.description or record.title or record.object_name or record.patent
    return list(dict.fromkeys([first, *captions]))


# -- queries ------------------------------------------------------------------------------------------
def llava_captions(root: Path) -> dict[str, str]:
    path = root / "impact" / "sample_data.csv"
    if not path.exists():
        return {}
    csv.field_size_limit(10 ** 9)
    with path.open(encoding="utf-8") as fh:
        return {f"US{row['id'].strip()}": row["caption"].strip() for row in csv.DictReader(fh) if row.get("caption")}


def query_sets(dev, llava: dict[str, str]) -> dict[str, list[dict]]:
    """Each query: text, relevant dev indices, ``image_of`` (another drawing of the patent, for hybrid)."""
    by_patent: dict[str, list[int]] = {}
    for i, r in enumerate(dev):
        by_patent.setdefault(r.patent, []).append(i)
    out = {"description": [], "llava": []}
    for i, r in enumerate(dev):
        text = realdata.text_of(r)
        if not r.description or not text:
            continue
        others = [j for j in by_patent[r.patent] if j != i]
        out["description"].append({"text": text, "relevant": [i], "image_of": others[0] if others else None})
    for patent, idx in by_patent.items():
        if patent in llava:
            out["llava"].append({"text": llava[patent], "relevant": idx, "image_of": idx[0]})
    return out


def scores(ranked_relevant: np.ndarray) -> dict[str, np.ndarray]:
    s = per_query(ranked_relevant, k=10)
    return {"MRR@10": s["mrr@10"], "AP": s["ap"], "R@10": s["recall@10"]}


PRIMARY = {"description": "MRR@10", "llava": "AP"}


# -- a. training ------------------------------------------------------------------------------------
def train_part(train, dev, captions_by_key, queries, seeds, epochs, device="cpu") -> dict:
    from backend.model import registry
    from backend.model.drawing import prepare_drawing
    from backend.model.encoder import Encoder
    from backend.training.train import TrainConfig, run

    init = registry.default_checkpoint("prism-tiny")
    if init is None:
        raise SystemExit("no packaged prism-tiny checkpoint: run `prism model build-default` first")
    for r in train:
        r.image = prepare_drawing(r.load_image(), 128).convert("L")
    dev_images = [r.load_image() for r in dev]
    out: dict = {}
    for variant in VARIANTS:
        per_seed = {name: [] for name in queries}
        seconds = []
        for seed in seeds:
            for r in train:
                r.texts = texts_with(r, captions_by_key[variant][(r.patent, r.figure)])
            with tempfile.TemporaryDirectory(prefix="caption-study-") as tmp:
                cfg = TrainConfig(sources=["impact"], output_dir=Path(tmp), model_name="prism-tiny",
                                  init_checkpoint=init, epochs=epochs, batch_size=32, lr=3e-4, warmup_steps=5,
                                  loss="dist", class_aware_sampling=0.5, text_mode="manifest", class_key="label",
                                  seed=seed, device=device, eval_every=0, plots=False, progress=False)
                t1 = time.time()
                run(cfg, train_records=train, eval_records=[])
                seconds.append(round(time.time() - t1, 1))
                enc = Encoder(registry.load_model("prism-tiny", Path(tmp) / "final.pt", device), batch_size=64)
                gallery = enc.encode_images(dev_images)
                for name, qs in queries.items():
                    sim = enc.encode_texts([q["text"] for q in qs]) @ gallery.T
                    rel = np.zeros(sim.shape, dtype=bool)
                    for qi, q in enumerate(qs):
                        rel[qi, q["relevant"]] = True
                    per_seed[name].append(scores(rank_relevance(sim, rel)))
            print(f"  a. {variant:8s} seed {seed}: trained in {seconds[-1]} s; " + ", ".join(
                f"{n} {PRIMARY[n]} {np.nanmean(per_seed[n][-1][PRIMARY[n]]):.3f}" for n in queries), flush=True)
        out[variant] = {"seconds": seconds, "queries": {
            name: {m: np.stack([s[m] for s in per_seed[name]]) for m in ("MRR@10", "AP", "R@10")}
            for name in queries}}
    return out


# -- b. query time ----------------------------------------------------------------------------------
class ReplayCaptioner:
    """The study's captions of a variant, by (patent, figure number); a figure the study did not caption
    (numbered otherwise by the ingest parser) gets the ``fallback`` captioner's."""

    def __init__(self, name, by_key: dict, fallback):
        self.name, self.by_key, self.fallback = name, by_key, fallback
        self.missing = 0

    def caption(self, figures):
        out = []
        for f in figures:
            found = self.by_key.get((f.publication_number, f.number))
            if found is None:
                self.missing += 1
                found = self.fallback.caption([f])[0]
            out.append(found)
        return out


def dev_sources(root: Path, dev) -> list[Path]:
    patents = {r.patent for r in dev}
    paths = [p for p in sorted((root / "impact").iterdir()) if p.is_dir() and p.name.split("-")[0] in patents]
    paths += [p for p in sorted((root / "uspto_grants_2025").glob("*.ZIP")) if p.name.split("-")[0] in patents]
    return paths


def plain(text: str) -> str:
    """Query text as plain lower-case words (no query-language operators or wildcards from prose)."""
    return " ".join(re.sub(r"[^\w\s]", " ", text).lower().split())


def search_part(root: Path, dev, captions_by_key, queries, work: Path, fallbacks: dict) -> dict:
    import os

    from backend.cli_db import upgrade_database
    from backend.ingest import runners
    from backend.ingest.bulk import ingest_paths
    from backend.ingest.pipeline import Pipeline, figure_id
    from backend.search import service as search_service
    from backend.settings import get_settings, reset_settings_cache

    sources = dev_sources(root, dev)
    dev_ids = [figure_id(r.patent, r.figure) for r in dev]
    out: dict = {}
    original = runners.get_pipeline
    for variant in VARIANTS:
        data = work / variant
        os.environ.update(PRISM_DATA_DIR=str(data), PRISM_SEARCH_BACKEND="embedded", PRISM_TASK_MODE="eager",
                          PRISM_INGEST_SHEET_OCR="false", PRISM_INGEST_SPLIT_FIGURES="false")  # a sheet = a figure
        reset_settings_cache()
        settings = get_settings()
        upgrade_database(settings.resolved_database_url)
        captioner = ReplayCaptioner(variant, captions_by_key[variant], fallbacks[variant])
        pipe = Pipeline(settings, captioner=captioner)
        runners.get_pipeline = lambda s, pipe=pipe: pipe
        t0 = time.time()
        try:
            summary = ingest_paths(sources, settings, progress=False)
        finally:
            runners.get_pipeline = original
        print(f"  b. {variant:8s} ingested {summary.ingested} patents in {time.time() - t0:.0f} s "
              f"({captioner.missing} figures numbered otherwise)", flush=True)
        images = {}
        from sqlalchemy import select

        from backend.db import Figure, session_scope
        from backend.ingest.blobstore import get_blob_store

        blobs = get_blob_store(settings)
        with session_scope(settings.resolved_database_url) as session:
            keys = {f.figure_id: f.image_key for f in session.scalars(select(Figure))}
        res = {}
        for name, qs in queries.items():
            for mode in ("text", "hybrid"):
                flags = []
                for q in qs:
                    image = None
                    excluded = set()
                    if mode == "hybrid":
                        if q["image_of"] is None or not keys.get(dev_ids[q["image_of"]]):
                            flags.append(None)
                            continue
                        image = images.get(q["image_of"])
                        if image is None:
                            image = images[q["image_of"]] = blobs.get(keys[dev_ids[q["image_of"]]])
                        excluded = {dev_ids[q["image_of"]]}
                    body = {"text": plain(q["text"]), "size": 100, "group_by_patent": False}
                    hits = [h["figure_id"] for h in search_service.search(body, settings, image=image)["hits"]]
                    hits = [h for h in hits if h not in excluded]
                    relevant = {dev_ids[i] for i in q["relevant"]} - excluded
                    row = [h in relevant for h in hits] + [False] * (len(dev_ids) - len(hits))
                    missing = len(relevant - set(hits))      # relevant drawings the search did not return
                    if missing:
                        row[-missing:] = [True] * missing   # ranked last: counted, never rewarded
                    flags.append(row if relevant else None)
                valid = [f for f in flags if f is not None]
                width = max(len(f) for f in valid)
                matrix = np.array([f + [False] * (width - len(f)) for f in valid], dtype=bool)
                s = scores(matrix)
                res[f"{name}/{mode}"] = {"kept": [f is not None for f in flags], **s}
        out[variant] = res
    reset_settings_cache()
    return out


class _Empty:
    name = "none"

    def caption(self, figures):
        return [[] for _ in figures]


# -- tables -----------------------------------------------------------------------------------------
def _fmt_diff(d: dict) -> str:
    star = " *" if d["excludes_zero"] else ""
    return f"{d['mean_diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]{star}"


def compare(per_variant: dict[str, np.ndarray]) -> dict:
    means = {v: float(np.nanmean(per_variant[v])) for v in VARIANTS}
    diffs = {f"{a} - {b}": paired_bootstrap(per_variant[a], per_variant[b], n_resamples=2000) for a, b in PAIRS}
    return {"means": means, "diffs": diffs}


def render(report: dict) -> str:
    lines = ["| part | queries | metric | none | template | llm | template − none | llm − none | llm − template |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in report["rows"]:
        c = row["compare"]
        lines.append(f"| {row['part']} | {row['queries']} ({row['n']}) | {row['metric']} | "
                     + " | ".join(f"{c['means'][v]:.3f}" for v in VARIANTS) + " | "
                     + " | ".join(_fmt_diff(c["diffs"][f"{a} - {b}"]) for a, b in PAIRS) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA)
    ap.add_argument("--llm-url", default="http://127.0.0.1:8091/v1")
    ap.add_argument("--llm-model", default="smollm2-135m")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--throughput-figures", type=int, default=6)
    ap.add_argument("--train-per-patent", type=int, default=3,
                    help="training drawings per train patent (the first by figure number): the LLM captions "
                         "every one, at a few seconds each on 2 cores")
    ap.add_argument("--captions-only", action="store_true", help="caption (fill the cache) and stop")
    ap.add_argument("--cache", type=Path, default=ROOT / "var" / "cache" / "caption_study",
                    help="LLM answers by content (a second run makes no call)")
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "caption_study")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if not args.data.is_dir():
        print(f"shared data not found at {args.data}", file=sys.stderr)
        return 2
    t0 = time.time()
    records = [r for r in realdata.load_sets(args.data, SETS) if r.title or r.description]
    train, dev = realdata.split(records, "train"), realdata.split(records, "dev")
    train = first_per_patent(train, args.train_per_patent)
    records = dev + train
    print(f"{len(records)} drawings: train {len(train)}, dev {len(dev)} of {len({r.patent for r in dev})} patents",
          flush=True)
    template = TemplateCaptioner(SHARED_DATA / "cpc_titles")
    llm = LLMCaptioner(args.llm_url, args.llm_model, timeout_s=300, retries=2, cache_dir=args.cache,
                       max_workers=args.concurrency, cpc_titles_dir=SHARED_DATA / "cpc_titles")
    captions, caption_stats = caption_all(records, llm, template)
    print(f"captioned: {caption_stats}", flush=True)
    if args.captions_only:
        return 0
    by_key = {v: {(r.patent, r.figure): c for r, c in zip(records, captions[v])} for v in VARIANTS}
    speed = [throughput(records, args.llm_url, args.llm_model, args.throughput_figures, w) for w in (1, 2)]
    print(f"throughput: {speed}", flush=True)

    queries = query_sets(dev, llava_captions(args.data))
    rows = []
    report = {"command": "python bench/caption_study.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, check=False,
                                       text=True).stdout.strip(),
              "date": time.strftime("%Y-%m-%d"), "train": len(train), "dev": len(dev),
              "queries": {k: len(v) for k, v in queries.items()}, "captioning": caption_stats, "throughput": speed,
              "examples": [{"figure": f"{records[i].patent} FIG. {records[i].figure}",
                            "template": captions["template"][i], "llm": captions["llm"][i]}
                           for i in range(0, min(len(records), 40), 8)]}
    if not args.skip_training:
        trained = train_part(train, dev, by_key, queries, args.seeds, args.epochs)
        report["training_seconds"] = {v: trained[v]["seconds"] for v in VARIANTS}
        for name in queries:
            metric = PRIMARY[name]
            per_variant = {v: trained[v]["queries"][name][metric] for v in VARIANTS}
            rows.append({"part": f"a. trained text side ({len(args.seeds)} seeds, {args.epochs} epochs)",
                         "queries": name, "metric": metric, "n": per_variant["none"].shape[1],
                         "compare": compare(per_variant)})
    searched = {"none": {}}
    if not args.skip_search:
        with tempfile.TemporaryDirectory(prefix="caption-study-index-") as work:
            searched = search_part(args.data, dev, by_key, queries, Path(work),
                                   {"none": _Empty(), "template": template, "llm": llm})
    for key in searched["none"]:
        name, mode = key.split("/")
        metric = PRIMARY[name]
        per_variant = {v: searched[v][key][metric] for v in VARIANTS}
        rows.append({"part": f"b. search, {mode}", "queries": name, "metric": metric,
                     "n": len(per_variant["none"]), "compare": compare(per_variant)})
    report["rows"] = rows
    report["seconds"] = round(time.time() - t0, 1)
    text = render_section(report)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=lambda o: o.tolist()))
    args.out.with_suffix(".md").write_text(text + "\n")
    return 0


def render_section(report: dict) -> str:
    """The docs/benchmarks.md section: how it was run, the table, throughput, a few captions."""
    cap = report["captioning"]
    lines = [f"{report['date']}, commit {report['commit']}, `{report['command']}` ({report['seconds']:.0f} s). "
             f"Train {report['train']} drawings, dev {report['dev']}; queries {report['queries']}. "
             "Mean per query; differences paired over the same queries (seeds pooled), 95 % bootstrap interval, "
             "* = the interval excludes 0.", "", render(report), "",
             f"LLM captions of the {cap['figures']} drawings: {cap['llm_calls']} requests in this run (the rest from "
             f"the cache), {cap['llm_s']:.0f} s; {cap['llm_fallbacks']} answers not usable (template captions used); "
             f"the template: {cap['template_s']:.2f} s "
             f"({cap['figures'] / max(cap['template_s'], 1e-9):.0f} figures/s)."]
    for t in report["throughput"]:
        lines.append(f"Throughput, fresh cache, {t['workers']} request(s) in flight: {t['figures']} figures in "
                     f"{t['seconds']} s = {t['figures_per_s']} figures/s ({t['fallbacks']} not usable).")
    lines += ["", "| figure | template | LLM |", "|---|---|---|"]
    for ex in report["examples"]:
        lines.append(f"| {ex['figure']} | {'<br>'.join(ex['template'])} | {'<br>'.join(ex['llm'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
