"""``prism model build-default``: pretrain ``prism-tiny`` on procedurally generated patent drawings.

The recipe is fixed here (seeds included) so the packaged checkpoint
``backend/model/checkpoints/prism-tiny.pt`` is reproducible by one command. Weights are stored
in fp16 to keep the file small. A JSON build report (recipe, timing, synthetic held-out metrics)
is written beside it.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from backend.model import registry

RECIPE = {
    "model_name": "prism-tiny",
    "patents": 800,           # synthetic design patents (long-tailed over 14 object classes)
    "eval_patents": 150,      # a separately seeded synthetic set for the build report
    "epochs": 5,
    "batch_size": 48,
    "lr": 1e-3,
    "warmup_steps": 50,
    "loss": "dist",           # uncertainty-weighted class-balanced InfoNCE + class-level term
    "text_mode": "captions",  # language-informed template captions
    "class_key": "label",
    "class_aware_sampling": 0.5,
    "synthetic_size": 192,
    "seed": 0,
}


def build_default(out: Path | None = None, device: str = "cpu", progress: bool = True, **overrides) -> dict:
    from backend.training.datasets import synthetic_records
    from backend.training.evaluate import write_json
    from backend.training.train import TrainConfig, run

    recipe = {**RECIPE, **{k: v for k, v in overrides.items() if v is not None}}
    out = Path(out) if out else registry.CHECKPOINT_DIR / f"{recipe['model_name']}.pt"
    t0 = time.time()
    train = synthetic_records(recipe["patents"], seed=recipe["seed"], size=recipe["synthetic_size"], progress=progress)
    held = synthetic_records(recipe["eval_patents"], seed=recipe["seed"] + 1000, size=recipe["synthetic_size"],
                             progress=progress)
    workdir = Path(tempfile.mkdtemp(prefix="prism-build-default-"))
    try:
        cfg = TrainConfig(sources=[f"synthetic:{recipe['patents']}"], output_dir=workdir,
                          model_name=recipe["model_name"], epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                          lr=recipe["lr"], warmup_steps=recipe["warmup_steps"], loss=recipe["loss"],
                          text_mode=recipe["text_mode"], class_key=recipe["class_key"],
                          class_aware_sampling=recipe["class_aware_sampling"], seed=recipe["seed"], device=device,
                          eval_every=recipe["epochs"], synthetic_size=recipe["synthetic_size"], plots=False,
                          progress=progress, save_fp16=True)
        metrics = run(cfg, train_records=train, eval_records=held)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".pt.tmp")
        shutil.copyfile(workdir / "final.pt", tmp)
        tmp.replace(out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    final_eval = metrics["evals"][-1] if metrics["evals"] else {}
    report = {"checkpoint": out.name, "sha256_12": registry.file_digest(out), "bytes": out.stat().st_size,
              "recipe": recipe, "device": metrics["device"], "steps": metrics["steps"],
              "train_seconds": metrics["seconds"], "total_seconds": round(time.time() - t0, 1),
              "n_train_figures": metrics["n_train"], "n_eval_figures": metrics["n_eval"],
              "synthetic_heldout": {k: v for k, v in final_eval.items() if k != "report"},
              "final_loss": metrics["history"][-1]["loss"] if metrics["history"] else None}
    write_json(report, out.with_suffix(".json"))
    from backend.model.encoder import clear_cache

    clear_cache()
    return report
