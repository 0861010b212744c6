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

A drawing vector can carry the descriptor projected to ``LineChannel.dims`` (a whitened PCA fitted on the
*train* split's drawings only, ``prism model fit-line-pca``, shipped beside the packaged checkpoint as
``checkpoints/<model>.line-pca.npz``) and L2-normalised (:func:`channel_vectors`): a model listed in
``CHANNELS`` stores it (none is today).
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from backend.model.drawing import prepare_drawing
from backend.model.registry import ModelError

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


# ------------------------------------------------------------------------------------------------
# the line channel of the stored drawing vector: the descriptor projected to a few dims

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"


class LineChannelError(ModelError):
    """The projection file of a line channel is missing or does not fit the channel."""


@dataclass(frozen=True)
class LineChannel:
    dims: int                # the projected descriptor's dimensions (the PCA's components)
    weight: float            # w: the channel's share of the cosine is w^2 / (1 + ... + w^2)
    projection: str          # an .npz (mean, components): a file name under backend/model/checkpoints/ or a path

    @property
    def path(self) -> Path:
        return CHECKPOINTS / self.projection      # an absolute path stays as it is

    @property
    def tag(self) -> str:
        """Part of the encoder's model id: another projection (a refit) makes other vectors."""
        return f"line{self.dims}w{self.weight:g}-{_projection(self.path)[2]}"


#: the models whose drawing vectors carry the line channel. None today: the measured candidate for prism-draw
#: (``LineChannel(128, 0.75, "prism-draw.line-pca.npz")`` with the 16 px thumbnail at weight 0.6) gains on copies,
#: USPC and Locarno but not on IPC (docs/benchmarks.md, "Drawing search at patent level")
CHANNELS: dict[str, LineChannel] = {}


def channel(model_name: str) -> LineChannel | None:
    return CHANNELS.get(model_name)


@functools.cache
def _projection(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """(mean ``(D,)``, components ``(dims, D)``, first 8 hex digits of the file's sha256)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LineChannelError(f"line-descriptor projection not found: {path} (`prism model fit-line-pca`)") \
            from exc
    import io
    import zipfile

    try:
        with np.load(io.BytesIO(raw)) as f:
            mean, components = f["mean"].astype(np.float32), f["components"].astype(np.float32)
    except (ValueError, OSError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        raise LineChannelError(f"{path}: not a line-descriptor projection (.npz with mean and components)") \
            from exc
    if mean.shape != (LineDescriptor().dims,) or components.ndim != 2 or components.shape[1] != mean.shape[0]:
        raise LineChannelError(f"{path}: a projection of {LineDescriptor().dims}-d descriptors expected, got mean "
                               f"{mean.shape}, components {components.shape}")
    return mean, components, hashlib.sha256(raw).hexdigest()[:8]


def project(descriptors: np.ndarray, ch: LineChannel) -> np.ndarray:
    """Descriptors ``(n, 2340)`` projected by the channel's PCA, L2-normalised (a blank drawing gives zeros)."""
    mean, components, _digest = _projection(ch.path)
    if components.shape[0] != ch.dims:
        raise LineChannelError(f"{ch.path}: {components.shape[0]} components, the channel has {ch.dims}")
    v = (descriptors.astype(np.float32, copy=False) - mean) @ components.T
    v[~descriptors.any(axis=1)] = 0
    return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32, copy=False)


def channel_vectors(images: Sequence[Image.Image], ch: LineChannel) -> np.ndarray:
    """The line channel of each drawing: ``project(describe(images))``, float32 ``(n, ch.dims)``."""
    return project(describe(images), ch)
