"""The training loop behind ``prism train`` and ``prism model build-default``.

Data: any :func:`backend.training.datasets.load_source` spec; held-out patents for evaluation are
split off by patent (never by figure). Texts: one caption sampled per image per step from the
figure's caption list (:mod:`.captions`). Optional class-aware sampling draws items with weight
``n_class ** -q``. CPU and CUDA (AMP on CUDA, bf16 where supported), fixed seeds, checkpoints
every epoch (``latest.pt`` + ``epoch_NNN.pt``) and ``--resume``, metrics JSON and PNG plots.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from backend.model import registry
from backend.model.drawing import input_size, prepare_drawing
from backend.training.augment import train_transform
from backend.training.captions import texts_for
from backend.training.datasets import FigureRecord
from backend.training.losses import build_loss

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    sources: list[str]
    output_dir: Path
    model_name: str = "prism-tiny"
    init_checkpoint: Path | None = None
    eval_sources: list[str] = field(default_factory=list)
    holdout_fraction: float = 0.0        # fraction of *patents* held out when no eval source is given
    epochs: int = 5
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup_steps: int = 20
    loss: str = "dist"
    beta: float = 0.999
    tau: float = 1.0
    class_key: str = "label"
    text_mode: str = "captions"
    class_aware_sampling: float = 0.0    # q in n_class ** -q; 0 = off, 0.5 = square-root, 1 = balanced
    augment: float = 1.0
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    workers: int = 0
    cache_images: bool = True
    eval_every: int = 1
    save_fp16: bool = True
    freeze_text: bool = False
    synthetic_size: int = 192
    image_root: Path | None = None
    plots: bool = True
    progress: bool = True

    def to_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()}


def set_seeds(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def split_by_patent(records: Sequence[FigureRecord], fraction: float, seed: int,
                    class_key: str = "label") -> tuple[list[FigureRecord], list[FigureRecord]]:
    """Hold out ``fraction`` of the patents (stratified by class where a class has >= 2 patents)."""
    if fraction <= 0:
        return list(records), []
    patents_by_class: dict[str, list[str]] = {}
    patent_class = {}
    for r in records:
        if r.patent not in patent_class:
            patent_class[r.patent] = r.class_label(class_key)
            patents_by_class.setdefault(patent_class[r.patent], []).append(r.patent)
    rng = random.Random(seed)
    held: set[str] = set()
    for cls in sorted(patents_by_class):
        pats = sorted(patents_by_class[cls])
        rng.shuffle(pats)
        n = int(round(len(pats) * fraction))
        if len(pats) >= 2:
            held.update(pats[:max(1, min(n, len(pats) - 1))])
    train = [r for r in records if r.patent not in held]
    test = [r for r in records if r.patent in held]
    return train, test


class FigureDataset(Dataset):
    def __init__(self, records: Sequence[FigureRecord], class_ids: Sequence[int], texts: Sequence[list[str]],
                 transform, image_size: int, cache: bool):
        self.records, self.class_ids, self.texts = list(records), list(class_ids), list(texts)
        self.transform, self.image_size = transform, image_size
        self.cache: dict[int, object] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.records)

    def prepared(self, i: int):
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        img = prepare_drawing(self.records[i].load_image(), self.image_size)
        if self.cache is not None:
            self.cache[i] = img
        return img

    def __getitem__(self, i: int):
        caps = self.texts[i]
        return self.transform(self.prepared(i)), caps[random.randrange(len(caps))], self.class_ids[i]


def _param_groups(model: torch.nn.Module, weight_decay: float):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "bn" in name or "ln" in name or "logit_scale" in name or "bias" in name
         else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def _lr_at(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def save_weights(model: torch.nn.Module, path: Path, model_name: str, fp16: bool, meta: dict) -> Path:
    """A Prism checkpoint: ``{"model_name", "state_dict", "meta"}`` (loadable by open_clip too)."""
    state = {k: (v.half() if fp16 and v.is_floating_point() and "logit_scale" not in k else v).cpu()
             for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"model_name": model_name, "state_dict": state, "meta": meta}, tmp)
    tmp.replace(path)
    return path


class Trainer:
    def __init__(self, cfg: TrainConfig, train_records: Sequence[FigureRecord] | None = None,
                 eval_records: Sequence[FigureRecord] | None = None):
        self.cfg = cfg
        set_seeds(cfg.seed)
        self.device = registry.resolve_device(cfg.device)
        self.out = Path(cfg.output_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if train_records is None:
            train_records, eval_records = self._load_records()
        if not train_records:
            raise ValueError("no training records")
        self.train_records, self.eval_records = list(train_records), list(eval_records or [])
        self.loaded = registry.load_model(cfg.model_name, cfg.init_checkpoint, self.device)
        self.model = self.loaded.model
        self.tokenizer = self.loaded.tokenizer
        self.image_size = input_size(self.loaded.preprocess_val)
        labels = [r.class_label(cfg.class_key) for r in self.train_records]
        self.classes = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.classes)}
        class_ids = [index[c] for c in labels]
        counts = Counter(class_ids)
        self.class_counts = [counts[i] for i in range(len(self.classes))]
        texts = [texts_for(r, cfg.text_mode) for r in self.train_records]
        self.dataset = FigureDataset(self.train_records, class_ids, texts,
                                     train_transform(self.image_size, self.loaded.preprocess_val, cfg.augment),
                                     self.image_size, cfg.cache_images and cfg.workers == 0)
        generator = torch.Generator().manual_seed(cfg.seed)
        sampler = None
        if cfg.class_aware_sampling > 0:
            weights = [counts[c] ** -cfg.class_aware_sampling for c in class_ids]
            sampler = WeightedRandomSampler(weights, num_samples=len(weights), replacement=True, generator=generator)
        self.loader = DataLoader(self.dataset, batch_size=min(cfg.batch_size, len(self.dataset)),
                                 shuffle=sampler is None, sampler=sampler, drop_last=True, num_workers=cfg.workers,
                                 generator=generator, collate_fn=self._collate,
                                 persistent_workers=cfg.workers > 0, pin_memory=self.device.type == "cuda")
        self.loss_fn = build_loss(cfg.loss, self.class_counts, beta=cfg.beta, tau=cfg.tau).to(self.device)
        if cfg.freeze_text:
            for name, p in self.model.named_parameters():
                if not name.startswith("visual.") and "logit_scale" not in name:
                    p.requires_grad_(False)
        groups = _param_groups(self.model, cfg.weight_decay)
        extra = [p for p in self.loss_fn.parameters() if p.requires_grad]
        if extra:
            groups.append({"params": extra, "weight_decay": 0.0})
        self.optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
        steps_per_epoch = len(self.loader)
        self.total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch
        self.total_steps = min(self.total_steps, cfg.epochs * steps_per_epoch) if cfg.max_steps else self.total_steps
        self.amp_dtype = None
        if cfg.amp and self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.step = 0
        self.epoch = 0
        self.history: list[dict] = []
        self.evals: list[dict] = []

    # -- data ---------------------------------------------------------------------------------
    def _load_records(self):
        from backend.training.datasets import load_source

        cfg = self.cfg
        records: list[FigureRecord] = []
        for spec in cfg.sources:
            records.extend(load_source(spec, cfg.image_root, seed=cfg.seed, synthetic_size=cfg.synthetic_size))
        if cfg.eval_sources:
            held: list[FigureRecord] = []
            for spec in cfg.eval_sources:
                held.extend(load_source(spec, cfg.image_root, seed=cfg.seed + 1, synthetic_size=cfg.synthetic_size))
            return records, held
        return split_by_patent(records, cfg.holdout_fraction, cfg.seed, cfg.class_key)

    def _collate(self, batch):
        images = torch.stack([b[0] for b in batch])
        tokens = self.tokenizer([b[1] for b in batch])
        labels = torch.tensor([b[2] for b in batch], dtype=torch.long)
        return images, tokens, labels

    # -- checkpoints --------------------------------------------------------------------------
    def _state(self) -> dict:
        return {"model_name": self.cfg.model_name, "state_dict": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "loss_state": self.loss_fn.state_dict(),
                "epoch": self.epoch, "step": self.step, "history": self.history, "evals": self.evals,
                "config": self.cfg.to_json(), "torch_rng": torch.get_rng_state(),
                "python_rng": random.getstate(), "numpy_rng": np.random.get_state()}

    def save_checkpoint(self) -> Path:
        ckdir = self.out / "checkpoints"
        ckdir.mkdir(parents=True, exist_ok=True)
        tmp = ckdir / "latest.pt.tmp"
        torch.save(self._state(), tmp)
        tmp.replace(ckdir / "latest.pt")
        epoch_path = ckdir / f"epoch_{self.epoch:03d}.pt"
        save_weights(self.model, epoch_path, self.cfg.model_name, False, {"epoch": self.epoch, "step": self.step})
        return ckdir / "latest.pt"

    def resume(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("model_name") != self.cfg.model_name:
            raise ValueError(f"{path}: checkpoint is for model {state.get('model_name')!r}, "
                             f"not {self.cfg.model_name!r}")
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.loss_fn.load_state_dict(state["loss_state"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.history, self.evals = state["history"], state["evals"]
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])
        log.info("resumed from %s at epoch %d step %d", path, self.epoch, self.step)

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self) -> dict | None:
        if not self.eval_records:
            return None
        from backend.model.encoder import Encoder
        from backend.training.evaluate import evaluate_records

        enc = Encoder(self.loaded, batch_size=64)
        texts = [r.description or None for r in self.eval_records]
        report = evaluate_records(enc, self.eval_records, class_key=self.cfg.class_key, texts=texts)
        self.model.train()
        return report

    # -- loop ---------------------------------------------------------------------------------
    def train_step(self, images, tokens, labels) -> dict[str, float]:
        images, tokens, labels = (t.to(self.device, non_blocking=True) for t in (images, tokens, labels))
        for g in self.optimizer.param_groups:
            g["lr"] = _lr_at(self.step, self.total_steps, self.cfg.lr, self.cfg.warmup_steps)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                            enabled=self.amp_dtype is not None):
            img = self.model.encode_image(images, normalize=True)
            txt = self.model.encode_text(tokens, normalize=True)
            scale = self.model.logit_scale.exp()
            terms = self.loss_fn(img.float(), txt.float(), scale.float(), labels)
            total = sum(terms.values())
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        with torch.no_grad():
            self.model.logit_scale.clamp_(0, math.log(100))
        row = {"step": self.step, "epoch": self.epoch, "lr": self.optimizer.param_groups[0]["lr"],
               "loss": float(total.detach()), "logit_scale": float(scale.detach())}
        row.update({k: float(v.detach()) for k, v in terms.items()})
        if hasattr(self.loss_fn, "weights"):
            row.update({f"weight_{k}": v for k, v in self.loss_fn.weights().items()})
        return row

    def fit(self) -> dict:
        from tqdm import tqdm

        cfg = self.cfg
        t0 = time.time()
        self.model.train()
        bar = tqdm(total=self.total_steps, initial=self.step, desc=f"train {cfg.model_name} [{cfg.loss}]",
                   unit="step", disable=not cfg.progress)
        while self.step < self.total_steps and self.epoch < cfg.epochs:
            for images, tokens, labels in self.loader:
                if self.step >= self.total_steps:
                    break
                row = self.train_step(images, tokens, labels)
                self.history.append(row)
                self.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{row['loss']:.3f}", epoch=self.epoch)
            self.epoch += 1
            if cfg.eval_every and (self.epoch % cfg.eval_every == 0 or self.step >= self.total_steps):
                report = self.evaluate()
                if report is not None:
                    from backend.training.evaluate import headline

                    self.evals.append({"epoch": self.epoch, "step": self.step, **headline(report), "report": report})
            self.save_checkpoint()
        bar.close()
        final = save_weights(self.model, self.out / "final.pt", cfg.model_name, cfg.save_fp16,
                             {"steps": self.step, "epochs": self.epoch, "seed": cfg.seed, "loss": cfg.loss,
                              "text_mode": cfg.text_mode, "sources": cfg.sources})
        metrics = {"config": cfg.to_json(), "classes": self.classes, "class_counts": self.class_counts,
                   "n_train": len(self.train_records), "n_eval": len(self.eval_records),
                   "steps": self.step, "epochs": self.epoch, "seconds": round(time.time() - t0, 1),
                   "device": str(self.device), "final_checkpoint": str(final),
                   "history": self.history, "evals": self.evals}
        from backend.training.evaluate import write_json

        write_json(metrics, self.out / "metrics.json")
        if cfg.plots:
            from backend.training.plots import plot_bucket_map, plot_losses

            plot_losses(self.history, self.out / "loss.png")
            if self.evals:
                plot_bucket_map(self.evals, self.out / "bucket_map.png")
        return metrics


def run(cfg: TrainConfig, resume: Path | None = None, train_records=None, eval_records=None) -> dict:
    trainer = Trainer(cfg, train_records, eval_records)
    if resume:
        trainer.resume(resume)
    return trainer.fit()


def config_from_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
