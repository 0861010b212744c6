"""Ablation on IMPACT (50 US design patents, ../shared/data/impact) with held-out patents.

Variants (all fine-tuned from the packaged prism-tiny checkpoint with the same recipe):
  zero-shot        the packaged checkpoint, no fine-tuning
  clip             plain symmetric InfoNCE, text = raw figure description
  dist             distribution-aware: uncertainty-weighted class-balanced InfoNCE + class-level
                   contrastive term, square-root class-aware sampling, text = raw description
  dist+captions    dist + language-informed captions (several per figure, one sampled per step)

For every seed the patents are split (stratified by Locarno class; classes with one patent stay
in training) into train / held-out; every variant sees the same split. Held-out figures query each
other: instance relevance = same patent, class relevance = same Locarno class. Buckets: Locarno
classes ranked by their number of *training* figures, split into terciles (head / medium / tail).

Run:  .venv/bin/python bench/model_ablation.py            (about 4-6 minutes on a 2-core CPU)
Writes bench/results/model_ablation.{json,md,png}.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.model import registry  # noqa: E402
from backend.model.drawing import prepare_drawing  # noqa: E402
from backend.model.encoder import Encoder  # noqa: E402
from backend.settings import SHARED_DATA  # noqa: E402
from backend.training.datasets import load_uspto_dir  # noqa: E402
from backend.training.evaluate import evaluate_records, headline, write_json  # noqa: E402
from backend.training.metrics import class_buckets  # noqa: E402
from backend.training.plots import plot_ablation  # noqa: E402
from backend.training.train import TrainConfig, run, split_by_patent  # noqa: E402

VARIANTS = {
    "clip": dict(loss="clip", text_mode="description", class_aware_sampling=0.0),
    "dist": dict(loss="dist", text_mode="description", class_aware_sampling=0.5),
    "dist+captions": dict(loss="dist", text_mode="captions", class_aware_sampling=0.5),
}
CLASS_KEY = "locarno"
COLUMNS = ["instance_mAP", "instance_mAP_head", "instance_mAP_medium", "instance_mAP_tail", "instance_R@10",
           "instance_MRR@10", "class_mAP", "class_mAP_head", "class_mAP_medium", "class_mAP_tail", "t2i_R@10"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "impact")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--holdout", type=float, default=0.4)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "model_ablation")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    if not args.data.is_dir():
        print(f"IMPACT data not found at {args.data}", file=sys.stderr)
        return 2
    init = registry.default_checkpoint("prism-tiny")
    if init is None:
        print("no packaged checkpoint: run `prism model build-default` first", file=sys.stderr)
        return 2
    t0 = time.time()
    records = load_uspto_dir(args.data)
    for r in records:  # decode every G4 TIFF once and keep the prepared drawing in memory
        r.image = prepare_drawing(r.load_image(), 128).convert("L")
    print(f"{len(records)} figures of {len({r.patent for r in records})} patents loaded in {time.time() - t0:.1f}s")

    rows = []
    splits = []
    for seed in args.seeds:
        train, held = split_by_patent(records, args.holdout, seed, CLASS_KEY)
        buckets = class_buckets([r.class_label(CLASS_KEY) for r in train])
        splits.append({"seed": seed, "train_figures": len(train), "heldout_figures": len(held),
                       "heldout_patents": sorted({r.patent for r in held})})
        texts = [r.description or None for r in held]
        enc = Encoder(registry.load_model("prism-tiny", init, args.device), batch_size=64)
        rep = evaluate_records(enc, held, CLASS_KEY, buckets=buckets, texts=texts)
        rows.append({"variant": "zero-shot", "seed": seed, "seconds": 0.0, **headline(rep)})
        print(f"seed {seed}: zero-shot instance mAP {rows[-1]['instance_mAP']:.3f}")
        for name, overrides in VARIANTS.items():
            with tempfile.TemporaryDirectory(prefix="prism-ablation-") as tmp:
                cfg = TrainConfig(sources=["impact"], output_dir=Path(tmp), model_name="prism-tiny",
                                  init_checkpoint=init, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                  warmup_steps=5, class_key=CLASS_KEY, seed=seed, device=args.device,
                                  eval_every=0, plots=False, progress=False, **overrides)
                t1 = time.time()
                run(cfg, train_records=train, eval_records=[])
                enc = Encoder(registry.load_model("prism-tiny", Path(tmp) / "final.pt", args.device), batch_size=64)
                rep = evaluate_records(enc, held, CLASS_KEY, buckets=buckets, texts=texts)
            rows.append({"variant": name, "seed": seed, "seconds": round(time.time() - t1, 1), **headline(rep)})
            print(f"seed {seed}: {name:14s} instance mAP {rows[-1]['instance_mAP']:.3f}  "
                  f"class mAP {rows[-1]['class_mAP']:.3f}  ({rows[-1]['seconds']}s)")

    variants = list(dict.fromkeys(r["variant"] for r in rows))
    summary = {}
    for v in variants:
        vals = [r for r in rows if r["variant"] == v]
        summary[v] = {c: {"mean": float(np.nanmean([r[c] for r in vals])), "std": float(np.nanstd([r[c] for r in vals]))}
                      for c in COLUMNS}
    total = round(time.time() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = "python bench/model_ablation.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json({"command": command.strip(), "seconds": total, "seeds": args.seeds, "epochs": args.epochs,
                "batch_size": args.batch_size, "lr": args.lr, "holdout": args.holdout, "class_key": CLASS_KEY,
                "init_checkpoint": f"{init.name}@{registry.file_digest(init)}", "splits": splits,
                "rows": rows, "summary": summary}, args.out.with_suffix(".json"))
    plot_ablation(rows, args.out.with_suffix(".png"))
    md = [f"Held-out IMPACT patents, mean ± std over seeds {args.seeds} ({args.epochs} epochs from "
          f"prism-tiny@{registry.file_digest(init)}; {total:.0f} s total on {args.device}).", "",
          "| variant | inst mAP | inst head | inst medium | inst tail | inst R@10 | inst MRR@10 | class mAP | "
          "class head | class medium | class tail | text→image R@10 |",
          "|---|" + "---:|" * len(COLUMNS)]
    for v in variants:
        cells = []
        for c in COLUMNS:
            m, s = summary[v][c]["mean"], summary[v][c]["std"]
            cells.append("-" if math.isnan(m) else f"{m:.3f} ± {s:.3f}")
        md.append(f"| {v} | " + " | ".join(cells) + " |")
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
