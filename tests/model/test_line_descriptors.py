"""Classical line-drawing descriptors (backend/model/line_descriptors.py)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from backend.model.line_descriptors import LineDescriptor, describe, fuse


def _drawing(shapes, offset=(0, 0), size=(600, 800)) -> Image.Image:
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    dx, dy = offset
    for kind, box in shapes:
        box = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
        (d.rectangle if kind == "rect" else d.ellipse)(box, outline=0, width=2)
    return im.convert("1")


CHAIR = [("rect", (100, 100, 400, 300)), ("rect", (120, 300, 140, 700)), ("rect", (360, 300, 380, 700))]
LAMP = [("ellipse", (150, 100, 450, 300)), ("rect", (290, 300, 310, 700)), ("ellipse", (200, 650, 400, 750))]


def test_unit_length_blank_is_zero_and_dims_match():
    d = describe([_drawing(CHAIR), Image.new("L", (300, 300), 255)])
    assert d.shape == (2, LineDescriptor().dims)
    assert np.isclose(np.linalg.norm(d[0]), 1.0, atol=1e-5) and not d[1].any()


def test_a_redrawn_copy_is_nearer_than_another_drawing():
    chair, moved, thicker, lamp = describe([_drawing(CHAIR), _drawing(CHAIR, offset=(60, 40)),
                                            _drawing(CHAIR).resize((450, 600)), _drawing(LAMP)])
    assert chair @ moved > chair @ lamp + 0.2
    assert chair @ thicker > chair @ lamp + 0.2


def test_fuse_is_a_fixed_weight_mean_of_the_cosines():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(2, 8)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    d = rng.normal(size=(2, 5)).astype(np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    v = fuse(e, d, 0.75)
    assert np.isclose(v[0] @ v[1], (e[0] @ e[1] + 0.75 ** 2 * d[0] @ d[1]) / (1 + 0.75 ** 2), atol=1e-5)
