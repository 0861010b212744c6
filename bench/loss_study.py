"""The research claim: plain CLIP loss vs distribution-aware losses on long-tailed real classes.

    .venv/bin/python bench/loss_study.py [--seeds 0 1 2 3 4] [--epochs 1] [--variants clip dist]
                                         [--init prism-tiny|none] [--resume] [--merge JSON ...]

Measured (README "Research claim", docs/model.md): ``bench/loss_study.py`` (1 epoch) and
``bench/loss_study.py --epochs 3 --variants clip dist cb-only --out bench/results/loss_study_3epochs``.

Data: the usdesign (827 US designs, USPC class) and kr (771 Korean drawings, IPC subclass) sets of
``../shared/data``, fixed by-patent split (``backend/training/realdata.py``). Every variant trains the
``prism-draw`` recipe (``backend/training/drawing_recipe.py``: frozen MiniLM text tower, trainable
drawing tower and projection, class-aware sampling ``n^-0.5`` for every variant) on the *train* split
of the two sets, from the same init, for the same epochs, and is evaluated on the *dev* split.

Variants (``VARIANTS``; the recipe's terms, class-balanced weights, uncertainty weighting):

* ``clip``      ("text",), no class-balanced weights, plain sum: CLIP image-text InfoNCE,
* ``dist``      ("text", "class"), class-balanced (effective number) anchor weights on both terms,
                Kendall uncertainty weighting: the distribution-aware loss,
* ``cb-only``   ("text",) with class-balanced weights (optional),
* ``full``      the packaged recipe's four terms (optional).

Training is short on purpose: one epoch (22 steps of 64 drawings) by default, because the 2-core machine
is shared; ``--epochs 3`` or more on a quiet machine. The recipe encodes both jittered views every
step though only the ``instance`` term reads the second: for variants without that term the bench
encodes the first half only (``skip_unused_second_view``; half the CPU, same losses, BatchNorm batch
statistics over 64 instead of 128 images) - a hook in ``drawing_recipe.train`` would make this unneeded.

Views: the training drawings' prepared view 0 from the lead's cache
(``var/cache/realdata/views-impact-usdesign-kr-grants-v2-s0-128-n*.npy``, rows of the two sets), twice:
the recipe jitters each copy (no re-publication views). Dev drawings are rendered once
(``render_views(dev, variants=0, seed=0)``) and cached beside it.

Metrics per trained model, on the dev split: same-class retrieval within each set (other patents
only; USPC class for usdesign, IPC subclass for kr; also both sets' queries pooled), mAP overall and by
head / medium / tail (class frequency in the train split: head >= 20, tail <= 5 train drawings, the
rule of ``bench/drawing_retrieval.py``), and text -> drawing R@10 (title against all dev drawings of
the two sets). Per metric: mean +- std over seeds and, for every variant against ``clip``, a paired
bootstrap 95 % interval of the difference over queries (1000 resamples, seeds pooled:
``backend/training/bootstrap.py``).

Writes ``bench/results/loss_study.{json,md,png}`` (the JSON after every trained model, so ``--resume``
continues an interrupted run).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from drawing_retrieval import HEAD_MIN, TAIL_MAX  # noqa: E402

from backend.training import drawing_recipe as dr  # noqa: E402
from backend.training import realdata
from backend.training.bootstrap import paired_bootstrap  # noqa: E402
from backend.training.metrics import per_query, rank_relevance  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / "var" / "cache" / "realdata"
SETS = ("usdesign", "kr")
CLASS_OF = {"usdesign": "USPC class", "kr": "IPC subclass"}
BUCKETS = ("head", "medium", "tail")
VARIANTS = {
    "clip": {"terms": ("text",), "class_balanced": False, "uncertainty": False},
    "dist": {"terms": ("text", "class"), "class_balanced": True, "text_balanced": True, "uncertainty": True},
    "cb-only": {"terms": ("text",), "class_balanced": True, "text_balanced": True, "uncertainty": False},
    "full": {"terms": ("instance", "patent", "class", "text"), "class_balanced": True, "text_balanced": True,
             "uncertainty": True},
}


# ------------------------------------------------------------------------------------------------
# data

def train_views(all_records, data: Path) -> tuple[list, np.ndarray]:
    """The two sets' train records and ``(n, 2, 128, 128)`` uint8 views (prepared view 0, twice)."""
    train_all = realdata.split(all_records, "train")
    rows = [i for i, r in enumerate(train_all) if realdata.source_of(r) in SETS]
    records = [train_all[i] for i in rows]
    lead = CACHE / f"views-{'-'.join(realdata.SETS)}-v2-s0-{dr.SIZE}-n{len(train_all)}.npy"
    own = CACHE / f"views-train-{'-'.join(SETS)}-v0-s0-{dr.SIZE}-n{len(records)}.npy"
    if lead.is_file():
        cached = np.load(lead, mmap_mode="r")
        if cached.shape[0] != len(train_all):
            raise SystemExit(f"{lead}: {cached.shape[0]} rows, expected {len(train_all)} train drawings")
        view0 = np.ascontiguousarray(cached[rows, 0])
        print(f"train views: {len(records)} rows of {lead.name}", flush=True)
    else:
        view0 = cached_render(records, own, "train")[:, 0]
    return records, np.stack([view0, view0], axis=1)


def cached_render(records, path: Path, what: str) -> np.ndarray:
    if path.is_file():
        print(f"{what} views: {path.name}", flush=True)
        return np.load(path)
    t0 = time.time()

    def progress(i, n):
        if i % 200 == 0 or i == n:
            print(f"  rendered {i}/{n} {what} drawings", flush=True)

    views = dr.render_views(records, variants=0, seed=0, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, views)
    print(f"{what} views rendered in {time.time() - t0:.0f} s -> {path.name}", flush=True)
    return views


def memoise_text_features():
    """The frozen MiniLM features of the same train titles are the same for every run: compute once
    (``train`` looks ``pooled_text_features`` up in its module, so the bench swaps in a memoised one)."""
    original = dr.pooled_text_features
    memo: dict[tuple[str, ...], torch.Tensor] = {}

    def pooled(model, texts, batch: int = 64):
        key = tuple(texts)
        if key not in memo:
            memo[key] = original(model, texts, batch)
        return memo[key].clone()

    dr.pooled_text_features = pooled
    return pooled


def skip_unused_second_view():
    """``train`` encodes both jittered views every step, but only the ``instance`` term reads the second:
    for recipes without it the bench's models encode the first half of the batch and hand back a
    detached copy for the second (half the CPU; BatchNorm then sees the b first views, not 2b views).
    ``restore(model)`` puts the ordinary ``encode_image`` back before evaluation."""
    original = dr.build_model

    def build(recipe, device):
        model = original(recipe, device)
        if "instance" not in recipe.terms:
            encode = model.encode_image

            def first_half(x, *a, **kw):
                z = encode(x[: len(x) // 2], *a, **kw)
                return torch.cat([z, z.detach()])

            model.encode_image = first_half
        return model

    dr.build_model = build


def restore(model) -> None:
    model.__dict__.pop("encode_image", None)


# ------------------------------------------------------------------------------------------------
# evaluation (per query, so that two models can be paired)

@torch.no_grad()
def embed(model, views: np.ndarray, pooled_text: torch.Tensor, batch: int = 128):
    """L2-normalised drawing vectors of ``views`` and text vectors of the pooled MiniLM features."""
    model.eval()
    out = []
    for start in range(0, len(views), batch):
        x = dr.to_model_input(torch.from_numpy(np.ascontiguousarray(views[start:start + batch])))
        out.append(F.normalize(model.encode_image(x), dim=-1))
    img = torch.cat(out).numpy()
    txt = F.normalize(model.text.proj(pooled_text), dim=-1).numpy()
    return img, txt


def query_groups(dev, train_counts: dict[str, int]) -> dict:
    """Which dev drawings query which task, and each query's bucket (independent of the model)."""
    sources = np.array([realdata.source_of(r) for r in dev])
    groups = {}
    for s in SETS:
        idx = np.flatnonzero(sources == s)
        counts = np.array([train_counts.get(dev[i].label, 0) for i in idx])
        bucket = np.where(counts >= HEAD_MIN, "head", np.where(counts <= TAIL_MAX, "tail", "medium"))
        groups[s] = {"idx": idx, "bucket": bucket}
    return groups


def per_query_scores(img: np.ndarray, txt: np.ndarray, dev, texts: list[str], groups: dict) -> dict:
    """``{set: AP per query (NaN when no other patent shares the class)}`` and ``text: R@10 per query``."""
    out = {}
    for s, g in groups.items():
        idx = g["idx"]
        labels = np.array([dev[i].label for i in idx])
        patents = np.array([dev[i].patent for i in idx])
        sim = img[idx] @ img[idx].T
        same_patent = patents[:, None] == patents[None, :]
        sim[same_patent] = -np.inf                  # other patents only, never the query itself
        rel = (labels[:, None] == labels[None, :]) & ~same_patent
        out[s] = per_query(rank_relevance(sim, rel), k=10)["ap"]
    patents = np.array([r.patent for r in dev])
    t = np.array(texts)
    rel = (patents[:, None] == patents[None, :]) & (t[:, None] == t[None, :])
    out["text"] = per_query(rank_relevance(txt @ img.T, rel), k=10)["recall@10"]
    return out


def chance_scores(dev, texts: list[str], groups: dict) -> dict:
    """What a random ranking scores per query (expected AP ~ share of relevant items; R@10 = 10 / gallery)."""
    out = {}
    for s, g in groups.items():
        idx = g["idx"]
        labels = np.array([dev[i].label for i in idx])
        patents = np.array([dev[i].patent for i in idx])
        same_patent = patents[:, None] == patents[None, :]
        rel = (labels[:, None] == labels[None, :]) & ~same_patent
        share = rel.sum(1) / np.maximum((~same_patent).sum(1), 1)
        out[s] = np.where(rel.any(1), share, np.nan)
    out["text"] = np.full(len(dev), min(1.0, 10 / max(1, len(dev))))
    return out


def metric_selectors(groups: dict) -> dict[str, tuple[str, np.ndarray | None]]:
    """Metric name -> (which per-query array, which of its queries). ``both`` pools the two sets."""
    sel: dict[str, tuple[str, np.ndarray | None]] = {}
    for s in SETS:
        sel[f"{s} mAP"] = (s, None)
        for b in BUCKETS:
            sel[f"{s} mAP {b}"] = (s, groups[s]["bucket"] == b)
    for b in (None, *BUCKETS):
        sel["both mAP" + (f" {b}" if b else "")] = ("both", None if b is None else
                                                    np.concatenate([groups[s]["bucket"] == b for s in SETS]))
    sel["text→drawing R@10"] = ("text", None)
    return sel


def pick(scores: dict, which: str, mask) -> np.ndarray:
    arr = np.concatenate([np.array(scores[s], dtype=float) for s in SETS]) if which == "both" \
        else np.array(scores[which], dtype=float)
    return arr if mask is None else arr[mask]


# ------------------------------------------------------------------------------------------------
# summary

def summarise(report: dict, groups: dict) -> dict:
    runs = report["runs"]
    variants = [v for v in report["variants"] if any(r["variant"] == v for r in runs)]
    seeds = sorted({r["seed"] for r in runs})
    sel = metric_selectors(groups)
    table = {}
    for metric, (which, mask) in sel.items():
        row: dict = {"queries": None, "chance": None, "variants": {}, "vs_clip": {}}
        row["init"] = float(np.nanmean(pick(report["init_per_query"], which, mask))) \
            if report.get("init_per_query") else None
        if report.get("chance_per_query"):
            row["chance"] = float(np.nanmean(pick(report["chance_per_query"], which, mask)))
        per_variant = {}
        for v in variants:
            vr = sorted((r for r in runs if r["variant"] == v), key=lambda r: r["seed"])
            arrs = np.stack([pick(r["per_query"], which, mask) for r in vr]) if vr else None
            per_variant[v] = (arrs, [r["seed"] for r in vr])
            if arrs is None or arrs.shape[1] == 0:
                continue
            means = np.nanmean(arrs, axis=1)
            row["queries"] = int((~np.isnan(arrs[0])).sum())
            std = float(means.std(ddof=1)) if len(means) > 1 else 0.0
            row["variants"][v] = {"mean": float(means.mean()), "std": std,
                                  "per_seed": [round(float(m), 4) for m in means]}
        base, base_seeds = per_variant.get("clip", (None, []))
        for v in variants:
            if v == "clip" or base is None:
                continue
            arrs, v_seeds = per_variant[v]
            common = [s for s in v_seeds if s in base_seeds]
            if not common or arrs.shape[1] < 2:
                continue
            a = arrs[[v_seeds.index(s) for s in common]]
            b = base[[base_seeds.index(s) for s in common]]
            try:
                row["vs_clip"][v] = paired_bootstrap(a, b, n_resamples=1000, seed=0)
            except ValueError as exc:
                row["vs_clip"][v] = {"error": str(exc)}
        table[metric] = row
    return {"seeds": seeds, "variants": variants, "metrics": table}


def _pm(d: dict | None) -> str:
    return "–" if not d else f"{d['mean']:.3f} ± {d['std']:.3f}"


def render_markdown(report: dict) -> str:
    s = report["summary"]
    variants = s["variants"]
    others = [v for v in variants if v != "clip"]
    lines = [f"usdesign + kr: train {report['train_drawings']} drawings, dev {report['dev_drawings']} "
             f"drawings ({report['dev_patents']} held-out patents). Each model: {report['epochs']} epoch(s), "
             f"batch {report['batch_size']}, init {report['init']}, seeds {s['seeds']}; "
             f"{report['seconds']:.0f} s in all "
             f"on {report['device']} (mean {report['train_seconds_mean']:.0f} s per training).", "",
             "Mean ± std over seeds; Δ = variant − clip, paired bootstrap 95 % interval over queries "
             "(1000 resamples, seeds pooled); * = interval excludes 0.", ""]
    head = ["metric", "queries", "chance", "init, untrained", *variants,
            *(f"Δ {v} [95 % CI]" for v in others)]
    lines += ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * (len(head) - 2)]
    for metric, row in s["metrics"].items():
        chance = "–" if row.get("chance") is None else f"{row['chance']:.3f}"
        ref = "–" if row.get("init") is None else f"{row['init']:.3f}"
        cells = [metric, str(row["queries"] or 0), chance, ref,
                 *(_pm(row["variants"].get(v)) for v in variants)]
        for v in others:
            d = row["vs_clip"].get(v)
            if not d or "error" in d:
                cells.append("–")
            else:
                cells.append(f"{d['mean_diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
                             + (" *" if d["excludes_zero"] else ""))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Buckets by train-split class frequency: head ≥ {HEAD_MIN}, tail ≤ {TAIL_MAX} train "
              "drawings. Classes per bucket (train drawings): " + "; ".join(
                  f"{st} " + ", ".join(f"{b} {n}" for b, n in report["classes_per_bucket"][st].items())
                  for st in SETS) + "."]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["summary"]
    metrics = list(s["metrics"])
    variants = s["variants"]
    others = [v for v in variants if v != "clip"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(1, len(variants))
    y = np.arange(len(metrics))
    for i, v in enumerate(variants):
        m = [s["metrics"][k]["variants"].get(v, {}).get("mean", np.nan) for k in metrics]
        e = [s["metrics"][k]["variants"].get(v, {}).get("std", 0) for k in metrics]
        ax1.barh(y + i * width, m, width, xerr=e, label=v, capsize=2)
    ax1.set_yticks(y + width * (len(variants) - 1) / 2)
    ax1.set_yticklabels(metrics, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel(f"mean ± std over {len(s['seeds'])} seeds")
    ax1.legend(fontsize=8)
    for j, v in enumerate(others):
        off = (j - (len(others) - 1) / 2) * 0.2
        for k, metric in enumerate(metrics):
            d = s["metrics"][metric]["vs_clip"].get(v)
            if not d or "error" in d:
                continue
            err = [[d["mean_diff"] - d["low"]], [d["high"] - d["mean_diff"]]]
            ax2.errorbar(d["mean_diff"], k + off, xerr=err,
                         fmt="o", color=f"C{variants.index(v)}", capsize=3, label=v if k == 0 else None)
    ax2.axvline(0, color="grey", lw=1)
    ax2.set_yticks(y)
    ax2.set_yticklabels([])
    ax2.set_ylim(len(metrics) - 0.5, -0.5)
    ax2.set_xlabel("variant − clip, paired bootstrap 95 % CI")
    if others:
        ax2.legend(fontsize=8)
    fig.suptitle(f"Loss study on usdesign + kr dev ({report['dev_drawings']} drawings, "
                 f"{report['epochs']} epochs, init {report['init']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=realdata.default_root())
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--variants", nargs="+", default=["clip", "dist"], choices=list(VARIANTS))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=10,
                    help="warm-up steps (the recipe's 30 would be most of a short run)")
    ap.add_argument("--init", default="prism-tiny", help="init checkpoint of the drawing tower, or 'none'")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true", help="keep the runs already in --out's JSON")
    ap.add_argument("--merge", nargs="*", default=[], type=Path,
                    help="also keep the runs of these JSON files (a run split over processes)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "loss_study")
    args = ap.parse_args(argv)
    if "clip" not in args.variants:
        ap.error("--variants must include clip (every other variant is compared with it)")
    if args.epochs < 1 or args.batch_size < 2:
        ap.error("--epochs must be >= 1 and --batch-size >= 2")
    if not args.data.is_dir():
        print(f"shared data not found at {args.data}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    init = None if args.init.lower() == "none" else args.init
    t0 = time.time()
    all_records = realdata.load_sets(args.data)
    train, views = train_views(all_records, args.data)
    dev = realdata.split([r for r in all_records if realdata.source_of(r) in SETS], "dev")
    dev_cache = CACHE / f"views-dev-{'-'.join(SETS)}-v0-s0-{dr.SIZE}-n{len(dev)}.npy"
    dev_views = cached_render(dev, dev_cache, "dev")[:, 0]
    texts = [realdata.text_of(r) for r in dev]
    train_counts: dict[str, int] = {}
    for r in train:
        train_counts[r.label] = train_counts.get(r.label, 0) + 1
    groups = query_groups(dev, train_counts)
    memoise_text_features()
    skip_unused_second_view()
    print(f"train {len(train)} drawings, dev {len(dev)} drawings ({len({r.patent for r in dev})} patents); "
          f"data ready in {time.time() - t0:.0f} s", flush=True)

    out_json = args.out.with_suffix(".json")
    runs, previous = [], {}
    if args.resume and out_json.is_file():
        previous = json.loads(out_json.read_text())
        runs = [r for r in previous.get("runs", []) if r["epochs"] == args.epochs]
        print(f"resuming: {len(runs)} runs kept", flush=True)
    done_before = previous.get("seconds", 0.0) if runs else 0.0
    for path in args.merge:
        extra = [r for r in json.loads(Path(path).read_text()).get("runs", []) if r["epochs"] == args.epochs
                 and not any(r["seed"] == k["seed"] and r["variant"] == k["variant"] for k in runs)]
        runs.extend(extra)
        print(f"merged {len(extra)} runs from {path}", flush=True)
    def bucket_of(label: str) -> str:
        n = train_counts[label]
        return "head" if n >= HEAD_MIN else "tail" if n <= TAIL_MAX else "medium"

    classes_per_bucket = {}
    for s in SETS:
        labels = [bucket_of(lab) for lab in {r.label for r in train if realdata.source_of(r) == s}]
        classes_per_bucket[s] = {b: labels.count(b) for b in BUCKETS}
    report = {"sets": list(SETS), "train_drawings": len(train), "dev_drawings": len(dev),
              "dev_patents": len({r.patent for r in dev}), "epochs": args.epochs,
              "batch_size": args.batch_size, "init": init or "none", "warmup_steps": args.warmup,
              "variants": args.variants, "seeds": args.seeds,
              "device": f"cpu ({torch.get_num_threads()} threads)",
              "views": "prepared view 0, two jittered copies (the second encoded only with the instance term)",
              "classes_per_bucket": classes_per_bucket,
              "queries": {s: {b: int((g["bucket"] == b).sum()) for b in BUCKETS} for s, g in groups.items()},
              "chance_per_query": as_lists(chance_scores(dev, texts, groups)),
              "runs": runs}
    if runs and previous.get("init_per_query"):
        report["init_per_query"] = previous["init_per_query"]
    pooled_dev = None
    todo = [(seed, v) for seed in args.seeds for v in args.variants
            if not any(r["seed"] == seed and r["variant"] == v and r["epochs"] == args.epochs for r in runs)]
    for n, (seed, variant) in enumerate(todo, 1):
        recipe = dr.Recipe(sets=SETS, epochs=args.epochs, batch_size=args.batch_size, init_checkpoint=init,
                           warmup_steps=args.warmup, seed=seed, **VARIANTS[variant])
        print(f"[{n}/{len(todo)}] {variant} seed {seed}: training", flush=True)
        t1 = time.time()
        model, meta = dr.train(train, views, recipe,
                               progress=lambda msg, v=variant, s=seed: print(f"  {v} s{s} {msg}", flush=True))
        restore(model)
        if pooled_dev is None:
            pooled_dev = dr.pooled_text_features(model, texts)
        img, txt = embed(model, dev_views, pooled_dev)
        scores = per_query_scores(img, txt, dev, texts, groups)
        run = {"variant": variant, "seed": seed, "epochs": args.epochs, "train_seconds": meta["seconds"],
               "seconds": round(time.time() - t1, 1), "history": meta["history"],
               "per_query": as_lists(scores)}
        runs.append(run)
        quick = {k: float(np.nanmean(v)) for k, v in scores.items()}
        print(f"[{n}/{len(todo)}] {variant} seed {seed}: {run['seconds']} s; " +
              ", ".join(f"{k} {v:.3f}" for k, v in quick.items()), flush=True)
        report["seconds"] = round(done_before + time.time() - t0, 1)
        write(report, groups, args, plot_it=False)
    if "init_per_query" not in report:
        # the reference: the init checkpoint as it is (drawing trunk from the init, untrained projections)
        model = dr.build_model(dr.Recipe(init_checkpoint=init, seed=0, terms=("text",)), torch.device("cpu"))
        restore(model)
        if pooled_dev is None:
            pooled_dev = dr.pooled_text_features(model, texts)
        img, txt = embed(model, dev_views, pooled_dev)
        report["init_per_query"] = as_lists(per_query_scores(img, txt, dev, texts, groups))
    report["seconds"] = round(done_before + time.time() - t0, 1)
    text = write(report, groups, args, plot_it=not args.no_plot)
    print(text)
    return 0


def as_lists(scores: dict) -> dict:
    """Per-query arrays as JSON lists (NaN -> null, 5 decimals)."""
    return {k: [None if np.isnan(x) else round(float(x), 5) for x in v] for k, v in scores.items()}


def write(report: dict, groups: dict, args, plot_it: bool) -> str:
    for r in report["runs"]:
        r["per_query"] = {k: np.array([np.nan if x is None else x for x in v], dtype=float) for k, v in
                          r["per_query"].items()}
    report["summary"] = summarise(report, groups)
    train_s = [r["train_seconds"] for r in report["runs"]]
    report["train_seconds_mean"] = float(np.mean(train_s)) if train_s else 0.0
    report.setdefault("seconds", 0.0)
    for r in report["runs"]:
        r["per_query"] = as_lists(r["per_query"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    text = render_markdown(report)
    args.out.with_suffix(".md").write_text(text)
    if plot_it:
        plot(report, args.out.with_suffix(".png"))
    return text


if __name__ == "__main__":
    sys.exit(main())
