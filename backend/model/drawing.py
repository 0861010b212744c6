"""Line-drawing image preparation shared by the encoder and the training data pipeline.

Patent drawing sheets are large bilevel images (often 2500 x 3300 px) with one-pixel lines and
wide white margins. Plain bicubic down-scaling to the model's input size (128-224 px) would fade
those lines to near-white, and open_clip's resize-then-centre-crop would cut off the ends of a
tall sheet. So before open_clip's own transform we

1. convert any mode (1, L, P, RGBA, I;16 ...) to 8-bit grey on white,
2. crop to the inked area (plus a small margin),
3. min-pool ("keep the ink") by an integer factor down to about twice the target size,
4. pad to a square with white, and return RGB.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

INK_THRESHOLD = 245  # grey values below this count as ink when finding the drawing's extent
MARGIN_FRACTION = 0.03


def to_grey(image: Image.Image) -> Image.Image:
    """Any PIL image -> mode "L" with transparent areas rendered white."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(image, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 1.0
        return Image.fromarray(((arr - lo) * scale).clip(0, 255).astype(np.uint8), "L")
    return image.convert("L")


def crop_to_ink(grey: Image.Image) -> Image.Image:
    arr = np.asarray(grey)
    ink = arr < INK_THRESHOLD
    if not ink.any():
        return grey
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    margin = int(round(MARGIN_FRACTION * max(bottom - top, right - left))) + 1
    h, w = arr.shape
    return grey.crop((max(0, left - margin), max(0, top - margin), min(w, right + margin), min(h, bottom + margin)))


def min_pool(grey: Image.Image, target: int) -> Image.Image:
    """Shrink by the largest integer factor that keeps the long side >= 2 * target, keeping ink."""
    factor = max(grey.size) // (2 * target)
    if factor < 2:
        return grey
    arr = np.asarray(grey)
    h, w = arr.shape
    ph, pw = (-h) % factor, (-w) % factor
    if ph or pw:
        arr = np.pad(arr, ((0, ph), (0, pw)), constant_values=255)
    hh, ww = arr.shape
    pooled = arr.reshape(hh // factor, factor, ww // factor, factor).min(axis=(1, 3))
    return Image.fromarray(np.ascontiguousarray(pooled), "L")


def pad_square(grey: Image.Image) -> Image.Image:
    w, h = grey.size
    side = max(w, h)
    if w == h:
        return grey
    return ImageOps.pad(grey, (side, side), color=255, centering=(0.5, 0.5))


def prepare_drawing(image: Image.Image, target: int, crop: bool = True) -> Image.Image:
    """Prepare one drawing for a model whose input is ``target`` px square; returns RGB."""
    grey = to_grey(image)
    if crop:
        grey = crop_to_ink(grey)
    grey = min_pool(grey, target)
    return pad_square(grey).convert("RGB")


def input_size(preprocess) -> int:
    """The square input size of an open_clip transform (torchvision Compose)."""
    for t in getattr(preprocess, "transforms", []):
        size = getattr(t, "size", None)
        if size is not None:
            return int(size if isinstance(size, int) else max(size))
    raise ValueError("cannot find the input size of the image transform")
