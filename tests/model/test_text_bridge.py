"""The text -> drawing bridge: its arithmetic, its file, which checkpoint it belongs to, and what it buys on
real held-out drawings."""
from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from backend.model import registry, text_bridge
from backend.model.encoder import Encoder, sentence_dims
from backend.training import realdata


def _unit(rows) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _bridge(k=2, temperature=0.05, weight=2.0) -> text_bridge.TextBridge:
    sentences = _unit([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1]])
    drawings = _unit([[1, 0], [1, 0.2], [0, 1], [-1, 0]])
    return text_bridge.TextBridge(sentences, drawings, k, temperature, weight, "abc")


def test_the_bridge_is_the_weighted_mean_of_the_drawings_of_the_nearest_training_texts():
    b = _bridge(k=2, temperature=0.05)
    q = _unit([[1, 0.05, 0]])
    sims = (q @ b.sentences.T)[0]
    near = np.argsort(-sims)[:2]
    w = np.exp((sims[near] - sims[near].max()) / 0.05)
    expected = (w[:, None] * b.drawings[near]).sum(0)
    np.testing.assert_allclose(b.bridge(q)[0], expected / np.linalg.norm(expected), rtol=1e-5)
    # a far training text (the third, the fourth) has no say with k = 2
    assert set(near) == {0, 1}


def test_mixing_keeps_unit_length_and_moves_the_text_towards_the_bridged_drawings():
    b = _bridge(k=1, weight=2.0)
    e_text = _unit([[0, 1]])                  # the text tower alone points at drawing 2's direction
    mixed = b.mix(e_text, _unit([[1, 0, 0]]))  # but the text reads like training text 0, drawn as [1, 0]
    assert np.isclose(np.linalg.norm(mixed[0]), 1.0, atol=1e-6)
    assert mixed[0] @ b.drawings[0] > e_text[0] @ b.drawings[0]
    np.testing.assert_allclose(mixed[0], _unit([[2, 1]])[0], rtol=1e-5)


def test_an_empty_sentence_vector_bridges_to_nothing():
    b = _bridge()
    out = b.bridge(np.zeros((1, 3), dtype=np.float32))
    assert not out.any()
    assert b.bridge(np.zeros((0, 3), dtype=np.float32)).shape == (0, 2)


def test_the_file_round_trips_and_belongs_to_one_checkpoint(tmp_path, caplog):
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"weights one")
    b = _bridge()
    path = text_bridge.path_for(ckpt)
    assert path.name == "m.text-bridge.npz"
    text_bridge.save(path, b.sentences, b.drawings, registry.file_digest(ckpt), k=3, temperature=0.1, weight=1.5)
    loaded = text_bridge.load(ckpt, embed_dim=2, sentence_dim=3)
    assert loaded is not None and (loaded.k, loaded.temperature, loaded.weight) == (3, 0.1, 1.5)
    np.testing.assert_allclose(loaded.drawings, b.drawings, atol=2e-3)      # stored as float16
    with pytest.raises(text_bridge.TextBridgeError, match="dims"):
        text_bridge.load(ckpt, embed_dim=5, sentence_dim=3)
    other = tmp_path / "other.pt"
    other.write_bytes(b"weights two")
    shutil.copyfile(path, text_bridge.path_for(other))
    with caplog.at_level(logging.WARNING):
        assert text_bridge.load(other, embed_dim=2, sentence_dim=3) is None
    assert "not used" in caplog.text
    assert text_bridge.load(tmp_path / "none.pt", 2, 3) is None and text_bridge.load(None, 2, 3) is None


def test_a_damaged_file_is_an_error_that_names_it(tmp_path):
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"weights")
    text_bridge.path_for(ckpt).write_bytes(b"not an npz")
    with pytest.raises(text_bridge.TextBridgeError, match="m.text-bridge.npz"):
        text_bridge.load(ckpt, 2, 3)
    with pytest.raises(ValueError, match="as many sentences"):
        text_bridge.save(tmp_path / "x.npz", np.ones((2, 3)), np.ones((1, 2)), "d")


@pytest.fixture(scope="module")
def packaged():
    checkpoint = registry.default_checkpoint("prism-draw")
    if checkpoint is None or not text_bridge.path_for(checkpoint).is_file():
        pytest.skip("no packaged prism-draw checkpoint with a text bridge")
    return Encoder(registry.load_model("prism-draw", checkpoint, "cpu"), batch_size=64)


def test_the_packaged_encoder_reads_its_bridge_for_texts_only(packaged):
    assert packaged.text_bridge is not None
    assert sentence_dims(packaged.model) == packaged.text_bridge.sentences.shape[1]
    t = packaged.encode_texts(["Chair", "Semiconductor device"])
    assert t.shape == (2, packaged.dim) and np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    assert not t[:, packaged.embed_dim:].any()          # a text vector is still [e, 0]: drawings are untouched
    plain = Encoder(registry.load_model("prism-draw", registry.default_checkpoint("prism-draw"), "cpu"))
    plain.text_bridge = None
    assert not np.allclose(plain.encode_texts(["Chair"])[0], t[0])


def test_on_held_out_drawings_the_bridge_finds_a_title_s_drawing_far_above_chance(packaged):
    root = realdata.default_root()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root}")
    dev = realdata.split(realdata.load_sets(root, ("usdesign", "kr")), "dev")[::2]
    gallery = packaged.encode_images([r.load_image() for r in dev])
    texts = [realdata.text_of(r) for r in dev]
    relevant = np.array([[a.patent == b.patent for b in dev] for a in dev])

    def recall_at_10(text_vectors):
        top = np.argsort(-(text_vectors @ gallery.T), axis=1)[:, :10]
        return float(np.mean([relevant[i, top[i]].any() for i in range(len(dev))]))

    bridged = recall_at_10(packaged.encode_texts(texts))
    bridge, packaged.text_bridge = packaged.text_bridge, None
    try:
        alone = recall_at_10(packaged.encode_texts(texts))
    finally:
        packaged.text_bridge = bridge
    chance = 10 / len(dev)      # on this half of two sets: 0.26 vs 0.17 alone, chance 0.04
    assert bridged >= 5 * chance, (bridged, alone, chance)
    assert bridged >= 1.3 * alone, (bridged, alone)
