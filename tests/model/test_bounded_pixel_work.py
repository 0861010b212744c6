"""Pixel work follows the decoded size on every path an image takes (search upload, embed, ingest): a long
thin strip is never padded square (max(w, h)**2) nor pooled into whole blocks of a huge factor."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PIL import Image, ImageOps


def _strip(width: int, height: int) -> Image.Image:
    im = Image.new("L", (width, height), 255)
    im.paste(0, (width // 4, height // 4, max(width // 2, width // 4 + 1), max(height // 2, height // 4 + 1)))
    return im


def test_the_thumbnail_of_a_strip_is_not_padded_to_its_long_side_squared(monkeypatch):
    from backend.model import thumbnail

    sides = []
    real_pad = ImageOps.pad

    def spy(image, size, *args, **kwargs):
        sides.append(max(size))
        return real_pad(image, size, *args, **kwargs)

    monkeypatch.setattr(thumbnail.ImageOps, "pad", spy)
    vec = thumbnail.thumbnail_vectors([_strip(60_000, 10)], 16)
    assert sides and max(sides) <= thumbnail.MAX_PAD_SIDE      # before: 60,000 (3.6 G pixels)
    assert np.isfinite(vec).all() and abs(float(np.linalg.norm(vec)) - 1) < 1e-4


def test_a_sheet_sized_thumbnail_is_unchanged():
    """Below MAX_PAD_SIDE nothing is reduced first: the vectors stored for ingested drawings stay valid."""
    from backend.model import thumbnail

    rng = np.random.default_rng(3)
    sheet = Image.fromarray(np.where(rng.random((330, 250)) < 0.05, 0, 255).astype(np.uint8), "L")
    g = sheet.crop(sheet.point(lambda v: 255 if v < thumbnail.INK_LEVEL else 0).getbbox())
    g = ImageOps.pad(g, (max(g.size),) * 2, color=255)
    v = 255.0 - np.asarray(g.resize((16, 16), Image.Resampling.BOX), dtype=np.float32).ravel()
    v -= v.mean()
    assert np.allclose(thumbnail.thumbnail_vectors([sheet], 16)[0], v / np.linalg.norm(v), atol=1e-6)


@pytest.mark.parametrize("size", [(59_000_000, 1), (1, 3_000_000), (60_000, 10)])
def test_preparing_a_strip_allocates_about_its_own_size(size):
    """drawing._ink_mask and min_pool padded to whole blocks: for 1 x 59 M, factor x 59 M (8 TiB asked,
    MemoryError -> 500). Now numpy's peak stays within a few times the decoded image."""
    from backend.model.drawing import prepare_drawing

    image = _strip(*size)
    tracemalloc.start()
    try:
        out = prepare_drawing(image, 224)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.mode == "RGB" and max(out.size) <= 4 * 224
    assert peak < 6 * size[0] * size[1] + (64 << 20), peak


def test_block_reduce_equals_padding_to_whole_blocks():
    from backend.model.drawing import block_reduce

    rng = np.random.default_rng(0)
    for shape, factor in [((10, 13), 3), ((7, 7), 7), ((100, 37), 8), ((1, 50), 4)]:
        arr = rng.integers(0, 256, shape).astype(np.uint8)
        h, w = arr.shape
        padded = np.pad(arr, ((0, (-h) % factor), (0, (-w) % factor)), constant_values=255)
        blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
        assert (block_reduce(arr, factor, np.minimum) == blocks.min(axis=(1, 3))).all()
        ink = arr < 100
        padded = np.pad(ink, ((0, (-h) % factor), (0, (-w) % factor)))
        blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
        assert (block_reduce(ink, factor, np.logical_or) == blocks.any(axis=(1, 3))).all()


def test_features_of_a_one_pixel_wide_drawing_are_none_not_an_opencv_assertion():
    from backend.search.ranking.verification import extract

    assert len(extract(_strip(1, 700))) == 0
