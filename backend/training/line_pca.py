"""``prism model fit-line-pca``: the projection of the line descriptors that the stored drawing vector carries.

A PCA of the 2,340-d line descriptors (``backend/model/line_descriptors.py``) of the **train** split's real
drawings only (``backend/training/realdata.py``; the dev split measures it), whitened (each component over
its standard deviation), written as an ``.npz`` (``mean`` ``(2340,)``, ``components`` ``(dims, 2340)``,
float32) beside the packaged checkpoint. Deterministic: the same drawings give the same file (full SVD,
signs fixed so each component's largest entry is positive).
"""
from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def fit(descriptors: np.ndarray, dims: int, whiten: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(mean, projection ``(dims, D)``) of ``descriptors`` ``(n, D)``: the ``dims`` leading principal axes as
    rows, each divided by its standard deviation when ``whiten`` (every kept component then weighs the same
    in a cosine: the dev split's copies 0.69 -> 0.74 mAP, docs/model.md); blank rows (all zero: a drawing
    without ink) are left out."""
    x = np.asarray(descriptors, dtype=np.float64)
    x = x[x.any(axis=1)]
    if dims < 1 or dims > min(x.shape):
        raise ValueError(f"cannot fit {dims} components on {x.shape[0]} non-blank descriptors of {x.shape[1]} dims")
    mean = x.mean(axis=0)
    _u, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    components = vt[:dims]
    components = components * np.sign(components[np.arange(dims), np.abs(components).argmax(axis=1)])[:, None]
    if whiten:
        std = s[:dims] / np.sqrt(max(len(x) - 1, 1))
        components = components / np.maximum(std, 1e-12)[:, None]
    return mean.astype(np.float32), components.astype(np.float32)


def save(path: Path, mean: np.ndarray, components: np.ndarray) -> None:
    """Written whole or not at all (a temporary file renamed over the old one)."""
    buf = io.BytesIO()
    np.savez(buf, mean=mean.astype(np.float32), components=components.astype(np.float32))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def build(out: Path, dims: int, root: Path | None = None, progress: Callable[[str], None] = print,
          batch: int = 100, whiten: bool = True) -> dict:
    """Describe every train-split drawing of the real sets under ``root`` and fit the projection."""
    from backend.model.line_descriptors import describe
    from backend.training import realdata

    t0 = time.time()
    train = realdata.split(realdata.load_sets(root or realdata.default_root()), "train")
    if not train:
        raise ValueError("no train-split drawings to fit the projection on")
    parts = []
    for start in range(0, len(train), batch):
        parts.append(describe([r.load_image() for r in train[start:start + batch]]))
        progress(f"  described {min(start + batch, len(train))} / {len(train)} drawings")
    mean, components = fit(np.concatenate(parts), dims, whiten)
    save(out, mean, components)
    return {"out": str(out), "drawings": len(train), "dims": dims, "whiten": whiten,
            "seconds": round(time.time() - t0, 1)}
