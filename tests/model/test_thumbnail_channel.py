"""The sheet-thumbnail channel of drawing vectors (backend/model/thumbnail.py)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from backend.model import thumbnail
from backend.model.drawing import prepare_drawing

CH = thumbnail.ThumbnailChannel(side=16, weight=1.0)


def _sheet(box, size=(400, 600)) -> Image.Image:
    im = Image.new("L", size, 255)
    ImageDraw.Draw(im).rectangle(box, outline=0, width=6)
    return im


def test_thumbnails_ignore_where_the_ink_sits_on_the_sheet_and_blank_is_zero():
    a, b = thumbnail.thumbnail_vectors([_sheet((50, 50, 150, 300)), _sheet((200, 250, 300, 500))], 16)
    assert a.shape == (256,) and np.isclose(np.linalg.norm(a), 1) and np.allclose(a, b, atol=1e-5)
    assert not thumbnail.thumbnail_vectors([Image.new("L", (50, 50), 255)], 16).any()


def test_the_cosine_of_combined_vectors_is_the_weighted_mean_of_both_cosines():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(2, 8))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    t = rng.normal(size=(2, 256))
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    for w in (0.5, 1.0, 2.0):
        v = thumbnail.combine(e, t, thumbnail.ThumbnailChannel(16, w))
        assert v.shape == (2, 8 + 256) and np.allclose(np.linalg.norm(v, axis=1), 1)
        assert np.isclose(v[0] @ v[1], (e[0] @ e[1] + w * w * (t[0] @ t[1])) / (1 + w * w), atol=1e-6)
    text = thumbnail.text_vectors(e[:1], CH)
    assert np.isclose(text[0] @ thumbnail.combine(e, t, CH)[1], (e[0] @ e[1]) / np.sqrt(2), atol=1e-6)


def test_the_encoder_vectors_carry_the_channel_and_prepared_input_needs_the_originals():
    import pytest

    from backend.model import registry
    from backend.model.encoder import Encoder

    enc = Encoder(registry.load_model("prism-draw", None, "cpu"))
    sheets = [_sheet((50, 50, 150, 300)), _sheet((30, 30, 370, 200))]
    vecs = enc.encode_images(sheets)
    assert vecs.shape == (2, enc.embed_dim + 256) == (2, enc.dim)
    prepared = [prepare_drawing(s, enc.image_size) for s in sheets]
    assert np.allclose(enc.encode_prepared(prepared, sheets), vecs, atol=1e-5)
    with pytest.raises(ValueError, match="needs the original"):
        enc.encode_prepared(prepared)
    assert "+thumb16w1" in enc.model_id
