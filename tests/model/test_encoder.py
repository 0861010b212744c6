"""The Encoder contract: shapes, dtype, normalisation, caching, checkpoints, image modes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from backend.model import encoder as encoder_mod
from backend.model import registry
from backend.settings import load_settings


def _drawing(mode: str = "1", size=(600, 900), shape: str = "rect") -> Image.Image:
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    if shape == "rect":
        d.rectangle((100, 150, 500, 700), outline=0, width=2)
    else:
        d.ellipse((100, 150, 500, 700), outline=0, width=2)
    return im.convert(mode)


@pytest.fixture
def random_settings(tmp_path, monkeypatch):
    # no packaged default: force the random-weights path by pointing the checkpoint dir elsewhere
    monkeypatch.setattr(registry, "CHECKPOINT_DIR", tmp_path)
    encoder_mod.clear_cache()
    yield load_settings(model_name="prism-tiny", checkpoint=None, device="cpu", embed_batch_size=4)
    encoder_mod.clear_cache()


def test_encode_images_and_texts_follow_contract(random_settings, caplog):
    with caplog.at_level("WARNING"):
        enc = encoder_mod.get_encoder(random_settings)
    assert "random" in caplog.text
    assert enc.dim == 128
    assert enc.model_id == "prism-tiny@random-seed0"
    images = [_drawing("1"), _drawing("L"), _drawing("RGB", shape="ellipse"), _drawing("RGBA"),
              _drawing("P", size=(50, 40)), Image.new("I;16", (64, 64))]
    vecs = enc.encode_images(images)
    assert vecs.shape == (6, 128) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    # the same drawing in different modes gives the same vector
    np.testing.assert_allclose(vecs[0], vecs[1], atol=1e-5)
    assert np.abs(vecs[0] - vecs[2]).max() > 1e-4  # a different drawing gives a different vector
    texts = enc.encode_texts(["a chair", "FIG. 2 is a side view of a lamp", ""])
    assert texts.shape == (3, 128) and texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, rtol=1e-5)
    assert enc.encode_images([]).shape == (0, 128)
    assert enc.encode_texts([]).shape == (0, 128)


def test_cached_per_process_and_deterministic(random_settings):
    a = encoder_mod.get_encoder(random_settings)
    assert encoder_mod.get_encoder(random_settings) is a
    v1 = a.encode_images([_drawing()])
    encoder_mod.clear_cache()
    b = encoder_mod.get_encoder(random_settings)
    assert b is not a
    # random weights are seeded: another process/instance yields the same vectors
    np.testing.assert_allclose(b.encode_images([_drawing()]), v1, atol=1e-6)


def test_checkpoint_roundtrip_changes_model_id(random_settings, tmp_path):
    loaded = registry.load_model("prism-tiny", None, "cpu")
    with torch.no_grad():
        for p in loaded.model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "ckpt.pt"
    torch.save({"model_name": "prism-tiny",
                "state_dict": {k: v.half() for k, v in loaded.model.state_dict().items()}}, path)
    settings = random_settings.model_copy(update={"checkpoint": path})
    enc = encoder_mod.get_encoder(settings)
    assert enc.model_id.startswith("prism-tiny@") and "random" not in enc.model_id
    assert enc.model_id == f"prism-tiny@{registry.file_digest(path)}"
    random_enc = encoder_mod.get_encoder(random_settings)
    assert not np.allclose(enc.encode_images([_drawing()]), random_enc.encode_images([_drawing()]), atol=1e-4)


def test_packaged_default_checkpoint_is_used(random_settings, tmp_path):
    loaded = registry.load_model("prism-tiny", None, "cpu")
    torch.save({"model_name": "prism-tiny", "state_dict": loaded.model.state_dict()}, tmp_path / "prism-tiny.pt")
    enc = encoder_mod.get_encoder(random_settings)
    assert enc.model_id == f"prism-tiny@{registry.file_digest(tmp_path / 'prism-tiny.pt')}"


def test_bad_checkpoint_and_unknown_model_are_clear_errors(random_settings, tmp_path):
    with pytest.raises(registry.ModelError, match="file not found"):
        encoder_mod.get_encoder(random_settings.model_copy(update={"checkpoint": tmp_path / "nope.pt"}))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(registry.ModelError, match="cannot be read"):
        encoder_mod.get_encoder(random_settings.model_copy(update={"checkpoint": junk}))
    with pytest.raises(registry.ModelError, match="unknown model config"):
        encoder_mod.get_encoder(random_settings.model_copy(update={"model_name": "no-such-model"}))
    with pytest.raises(TypeError):
        encoder_mod.get_encoder(random_settings).encode_images(["not an image"])


def test_minilm_config_loads_offline(monkeypatch):
    """prism-minilm: small vision tower + the bundled all-MiniLM-L6-v2 text tower, no network."""
    path = registry.minilm_dir()
    assert (path / "model.safetensors").is_file()
    loaded = registry.load_model("prism-minilm", None, "cpu")
    enc = encoder_mod.Encoder(loaded)
    vecs = enc.encode_texts(["a folding chair", "a table lamp"])
    assert vecs.shape == (2, 256)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    assert enc.encode_images([_drawing()]).shape == (1, 256)
