"""The sheet-thumbnail channel of a drawing vector: the learnt embedding and a tiny ink thumbnail, side by side.

A drawing's vector is ``[e, w * t] / |[e, w * t]|``: ``e`` the encoder's L2-normalised embedding, ``t`` the
L2-normalised, centred grey thumbnail of the drawing's ink (its bounding box padded square, ``side`` px, area
averaged: :func:`thumbnail_vectors`), ``w`` the channel's weight. The cosine of two drawing vectors is then
``(e.e' + w^2 t.t') / (1 + w^2)``: a fixed-weight fusion of the two similarities, inside one vector, so both
backends' kNN (and every filter, page and watch) use it unchanged. A text vector is ``[e_text, 0]``: its
cosine with a drawing is the encoder's, scaled by ``1 / sqrt(1 + w^2)`` - the ranking of a text query is the
encoder's own.

Why (``bench/drawing_retrieval.py``, dev split, the prism-draw encoder of the time): the 40-epoch encoder
alone was level with the 24 px thumbnail on other views of the same patent (mAP 0.373 vs 0.370); the two
together reached 0.466, and 0.574 on re-published drawings (0.491 alone). The learnt part is what carries
text -> drawing and class similarity; the thumbnail carries the sheet's exact layout, which a small encoder
trained on 1,443 drawings does not see at 128 px. Weight and side were chosen on the dev split
(side 16 and 24 alike; weight 1.0 best of 0.3-1.4 for re-published and other views; docs/model.md).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from backend.model.drawing import to_grey

INK_LEVEL = 245          # a pixel darker than this is ink (the thumbnail's bounding box)
MAX_PAD_SIDE = 4096      # a longer ink box is box-reduced first: padding it square would cost max(w, h)**2


@dataclass(frozen=True)
class ThumbnailChannel:
    side: int            # thumbnail side in px: side**2 dimensions
    weight: float        # w: the thumbnail's share of the cosine is w^2 / (1 + w^2)

    @property
    def dims(self) -> int:
        return self.side * self.side

    @property
    def tag(self) -> str:
        """Part of the encoder's model id: vectors with another channel are another encoder's."""
        return f"thumb{self.side}w{self.weight:g}"


#: the models whose drawing vectors carry the channel
CHANNELS: dict[str, ThumbnailChannel] = {"prism-draw": ThumbnailChannel(side=16, weight=1.0)}


def channel(model_name: str) -> ThumbnailChannel | None:
    return CHANNELS.get(model_name)


def vector_dims(model_name: str, embed_dim: int) -> int:
    """The dimension of the vectors stored for ``model_name`` (its ``embed_dim`` plus the channel's)."""
    ch = channel(model_name)
    return embed_dim + (ch.dims if ch else 0)


def thumbnail_vectors(images: Sequence[Image.Image], side: int) -> np.ndarray:
    """Ink bounding box, padded square, ``side`` px grey by area averaging, ink positive, centred,
    L2-normalised (a blank image gives zeros). Also the naive baseline of the drawing benchmark (24 px)."""
    out = np.zeros((len(images), side * side), dtype=np.float32)
    for i, im in enumerate(images):
        g = to_grey(im)
        box = g.point(lambda v: 255 if v < INK_LEVEL else 0).getbbox()
        if box:
            g = g.crop(box)
        if max(g.size) > MAX_PAD_SIDE:   # a drawing sheet (3300 px) is not reduced; a 10 x 60,000 strip is
            g = g.reduce(-(-max(g.size) // MAX_PAD_SIDE))
        g = ImageOps.pad(g, (max(g.size),) * 2, color=255)
        v = 255.0 - np.asarray(g.resize((side, side), Image.Resampling.BOX), dtype=np.float32).ravel()
        v -= v.mean()
        norm = float(np.linalg.norm(v))
        if norm > 1e-6:
            out[i] = v / norm
    return out


def combine(embeddings: np.ndarray, thumbnails: np.ndarray, ch: ThumbnailChannel) -> np.ndarray:
    """Drawing vectors: ``[e, w * t]`` of each row, L2-normalised."""
    v = np.hstack([embeddings.astype(np.float32, copy=False), ch.weight * thumbnails])
    return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32, copy=False)


def text_vectors(embeddings: np.ndarray, ch: ThumbnailChannel) -> np.ndarray:
    """Text vectors in the drawing vectors' space: ``[e_text, 0]``."""
    return np.hstack([embeddings.astype(np.float32, copy=False),
                      np.zeros((len(embeddings), ch.dims), dtype=np.float32)])
