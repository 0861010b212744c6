"""Augmentations for line drawings (input: a prepared square RGB drawing, see :mod:`.drawing`).

Random resized crop (mild, the object stays in view), horizontal flip, random stroke thickening,
GridMask-style grid erasing and random erasing. Erased areas are painted white (the paper colour),
not black or noise, so they read as missing strokes.
"""
from __future__ import annotations

import random

import torch
from PIL import Image, ImageFilter
from torchvision import transforms as T


class ThickenStrokes:
    """With probability ``p`` apply a 3x3 minimum filter (black lines grow by one pixel)."""

    def __init__(self, p: float = 0.3):
        self.p = p

    def __call__(self, img: Image.Image) -> Image.Image:
        return img.filter(ImageFilter.MinFilter(3)) if random.random() < self.p else img


class GridMask:
    """GridMask (Chen et al. 2020): erase a regular grid of squares (paint them white).

    A random period ``d`` in [d_min, d_max] (fraction of the side), squares of ``ratio * d``,
    random offset; applied with probability ``p`` to a (C, H, W) tensor in [0, 1].
    """

    def __init__(self, p: float = 0.3, d_min: float = 0.15, d_max: float = 0.35, ratio: float = 0.35):
        self.p, self.d_min, self.d_max, self.ratio = p, d_min, d_max, ratio

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if random.random() >= self.p:
            return x
        _, h, w = x.shape
        d = max(2, int(random.uniform(self.d_min, self.d_max) * min(h, w)))
        side = max(1, int(d * self.ratio))
        ox, oy = random.randrange(d), random.randrange(d)
        mask = torch.zeros(h, w, dtype=torch.bool)
        for y in range(oy - d, h, d):
            for x0 in range(ox - d, w, d):
                mask[max(0, y):max(0, y + side), max(0, x0):max(0, x0 + side)] = True
        x = x.clone()
        x[:, mask] = 1.0
        return x


def _normalize_of(preprocess) -> T.Normalize:
    for t in getattr(preprocess, "transforms", []):
        if isinstance(t, T.Normalize):
            return t
    raise ValueError("the model's preprocessing has no Normalize step")


def train_transform(size: int, preprocess_val, strength: float = 1.0) -> T.Compose:
    """Training transform for prepared drawings; ``strength`` 0 gives resize + normalise only."""
    normalize = _normalize_of(preprocess_val)
    if strength <= 0:
        return T.Compose([T.Resize((size, size), interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                          T.ToTensor(), normalize])
    return T.Compose([
        ThickenStrokes(0.3 * strength),
        T.RandomResizedCrop(size, scale=(1 - 0.35 * strength, 1.0), ratio=(0.85, 1.18),
                            interpolation=T.InterpolationMode.BICUBIC, antialias=True),
        T.RandomHorizontalFlip(0.5 * strength),
        T.ToTensor(),
        GridMask(0.25 * strength),
        T.RandomErasing(p=0.25 * strength, scale=(0.02, 0.12), value=1.0),
        normalize,
    ])
