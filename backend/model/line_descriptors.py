"""Classical descriptors made for binary line drawings, fused with the learnt drawing vector.

A small encoder trained on a few thousand drawings does not see a sheet's exact strokes at 128 px; two
hand-made descriptors of the prepared drawing (``backend/model/drawing.py``: drawing region, ink kept,
square) do, and cost a few milliseconds a drawing on the CPU:

* ``chamfer``: the ink's distance transform turned into a soft stroke map (``exp(-d / SIGMA)``), area-averaged
  to ``GRID`` x ``GRID``, centred - a thumbnail that tolerates strokes a few pixels off (a re-drawn or
  re-scanned line), which a plain ink thumbnail does not;
* ``hog``: histograms of oriented gradients of that stroke map (``HOG_CELL`` px cells, ``HOG_BINS``
  unsigned orientations, 2 x 2 cell blocks), square-rooted (Hellinger) - where the strokes run, the
  descriptor of sketch-based retrieval (Eitz et al. 2012).

:func:`describe` returns both, each L2-normalised and weighted, side by side (unit length); a drawing
vector fuses it with the encoder's embedding the way the sheet-thumbnail channel does
(``backend/model/thumbnail.py``): ``[e, w * d] / |...|``, whose cosine is a fixed-weight mean of the two.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from backend.model.drawing import prepare_drawing

SIDE = 128               # the prepared drawing's side (px) the descriptors are computed on
SIGMA = 3.0              # soft stroke map: exp(-distance / SIGMA), px at SIDE
GRID = 24                # chamfer thumbnail side
HOG_CELL = 16
HOG_BINS = 9


@dataclass(frozen=True)
class LineDescriptor:
    chamfer: float = 1.0     # weights of the two parts inside the descriptor
    hog: float = 1.0

    @property
    def dims(self) -> int:
        cells = SIDE // HOG_CELL
        return GRID * GRID + (cells - 1) ** 2 * 4 * HOG_BINS

    @property
    def tag(self) -> str:
        return f"line{GRID}c{self.chamfer:g}h{self.hog:g}"


_HOG = cv2.HOGDescriptor((SIDE, SIDE), (2 * HOG_CELL, 2 * HOG_CELL), (HOG_CELL, HOG_CELL), (HOG_CELL, HOG_CELL),
                         HOG_BINS)


def stroke_map(image: Image.Image) -> np.ndarray:
    """The prepared drawing as a soft stroke map in [0, 1] (1 on the ink), ``SIDE`` x ``SIDE`` float32."""
    grey = prepare_drawing(image, SIDE // 2).convert("L").resize((SIDE, SIDE), Image.Resampling.BOX)
    paper = (np.asarray(grey) >= 160).astype(np.uint8)        # 0 on the ink
    if paper.all():
        return np.zeros((SIDE, SIDE), np.float32)
    dist = cv2.distanceTransform(paper, cv2.DIST_L2, 3)
    return np.exp(-dist / SIGMA).astype(np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else v * 0


def describe_one(image: Image.Image, spec: LineDescriptor = LineDescriptor()) -> np.ndarray:
    soft = stroke_map(image)
    chamfer = cv2.resize(soft, (GRID, GRID), interpolation=cv2.INTER_AREA).ravel()
    chamfer = _unit(chamfer - chamfer.mean())
    hog = _HOG.compute((soft * 255).astype(np.uint8)).ravel()
    hog = _unit(np.sqrt(np.maximum(hog, 0)))
    return _unit(np.concatenate([spec.chamfer * chamfer, spec.hog * hog])).astype(np.float32)


def describe(images: Sequence[Image.Image], spec: LineDescriptor = LineDescriptor()) -> np.ndarray:
    """One unit-length descriptor per drawing (a blank drawing gives zeros), float32 ``(n, spec.dims)``."""
    out = np.zeros((len(images), spec.dims), dtype=np.float32)
    for i, im in enumerate(images):
        out[i] = describe_one(im, spec)
    return out


def fuse(embeddings: np.ndarray, descriptors: np.ndarray, weight: float) -> np.ndarray:
    """``[e, weight * d]`` of each row, L2-normalised: cosine = (e.e' + weight^2 d.d') / (1 + weight^2)."""
    v = np.hstack([embeddings.astype(np.float32, copy=False), weight * descriptors.astype(np.float32, copy=False)])
    return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32, copy=False)
