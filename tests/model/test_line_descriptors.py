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


def _projection_file(tmp_path, dims=6, seed=0):
    from backend.training import line_pca

    rng = np.random.default_rng(seed)
    mean, components = line_pca.fit(rng.normal(size=(40, LineDescriptor().dims)), dims)
    path = tmp_path / "test.line-pca.npz"
    line_pca.save(path, mean, components)
    return path


def test_the_line_channel_projects_to_unit_vectors_and_a_blank_drawing_to_zeros(tmp_path, monkeypatch):
    from backend.model import line_descriptors as ld

    monkeypatch.setattr(ld, "CHECKPOINTS", tmp_path)
    _projection_file(tmp_path)
    ch = ld.LineChannel(dims=6, weight=0.5, projection="test.line-pca.npz")
    v = ld.channel_vectors([_drawing(CHAIR), _drawing(LAMP), Image.new("L", (300, 300), 255)], ch)
    assert v.shape == (3, 6) and np.allclose(np.linalg.norm(v[:2], axis=1), 1, atol=1e-5) and not v[2].any()
    assert ch.tag.startswith("line6w0.5-") and len(ch.tag) == len("line6w0.5-") + 8


def test_a_missing_or_mismatched_projection_is_a_model_error(tmp_path, monkeypatch):
    import pytest

    from backend.model import line_descriptors as ld
    from backend.model.registry import ModelError

    monkeypatch.setattr(ld, "CHECKPOINTS", tmp_path)
    with pytest.raises(ModelError, match="not found"):
        ld.channel_vectors([_drawing(CHAIR)], ld.LineChannel(6, 1.0, "absent.npz"))
    _projection_file(tmp_path, dims=6)
    with pytest.raises(ModelError, match="6 components, the channel has 8"):
        ld.channel_vectors([_drawing(CHAIR)], ld.LineChannel(8, 1.0, "test.line-pca.npz"))
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(ModelError, match="not a line-descriptor projection"):
        ld.channel_vectors([_drawing(CHAIR)], ld.LineChannel(6, 1.0, "bad.npz"))


def test_an_encoder_whose_model_has_a_line_channel_stores_it_beside_the_thumbnail(tmp_path, monkeypatch):
    """[e, w_t * thumbnail, w_l * line] / |...|: dims, each part in its place with its weight, texts zero on
    both channels, the model id naming the projection, prepared input the same as the originals."""
    from backend.model import line_descriptors as ld
    from backend.model import registry, thumbnail
    from backend.model.drawing import prepare_drawing
    from backend.model.encoder import Encoder

    monkeypatch.setattr(ld, "CHECKPOINTS", tmp_path)
    _projection_file(tmp_path, dims=6)
    monkeypatch.setitem(ld.CHANNELS, "prism-draw", ld.LineChannel(6, 0.75, "test.line-pca.npz"))
    monkeypatch.setitem(thumbnail.CHANNELS, "prism-draw", thumbnail.ThumbnailChannel(16, 0.6))
    enc = Encoder(registry.load_model("prism-draw", None, "cpu"))
    sheets = [_drawing(CHAIR), _drawing(LAMP)]
    vecs = enc.encode_images(sheets)
    assert vecs.shape == (2, enc.embed_dim + 256 + 6) == (2, enc.dim) == (2, registry.vector_dims("prism-draw"))
    norm = np.sqrt(1 + 0.6 ** 2 + 0.75 ** 2)
    e = enc.embed_images(sheets)
    assert np.allclose(vecs[:, :enc.embed_dim] * norm, e, atol=1e-5)
    assert np.allclose(vecs[:, enc.embed_dim:enc.embed_dim + 256] * norm, 0.6 * thumbnail.thumbnail_vectors(sheets, 16),
                       atol=1e-5)
    assert np.allclose(vecs[:, enc.embed_dim + 256:] * norm, 0.75 * ld.channel_vectors(sheets, enc.line), atol=1e-5)
    assert "+thumb16w0.6+line6w0.75-" in enc.model_id and registry.vector_tag("prism-draw") in enc.model_id
    text = enc.encode_texts(["a chair"])
    assert text.shape == (1, enc.dim) and not text[0, enc.embed_dim:].any()
    assert np.isclose(text[0] @ vecs[0], text[0, :enc.embed_dim] @ e[0] / norm, atol=1e-5)
    prepared = [prepare_drawing(s, enc.image_size) for s in sheets]
    assert np.allclose(enc.encode_prepared(prepared, sheets), vecs, atol=1e-5)
