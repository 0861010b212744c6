"""The packaged default checkpoint and the command that builds it."""
from __future__ import annotations

import numpy as np
import pytest

from backend.model import encoder as encoder_mod
from backend.model import registry
from backend.settings import load_settings
from backend.training.build_default import build_default
from backend.training.datasets import synthetic_records
from backend.training.evaluate import evaluate_records


def test_packaged_checkpoint_is_loaded_by_default_and_separates_classes():
    path = registry.default_checkpoint("prism-tiny")
    if path is None:
        pytest.fail("backend/model/checkpoints/prism-tiny.pt missing: run `prism model build-default`")
    assert path.stat().st_size < 20 * 1024 * 1024
    encoder_mod.clear_cache()
    enc = encoder_mod.get_encoder(load_settings(model_name="prism-tiny", checkpoint=None, device="cpu"))
    assert enc.model_id == f"prism-tiny@{registry.file_digest(path)}"
    # unseen synthetic patents (a seed the build never used): object classes must be well separated
    records = synthetic_records(25, seed=777, size=128)
    report = evaluate_records(enc, records, class_key="label")
    random_enc = encoder_mod.Encoder(registry.load_model("prism-tiny", None, "cpu"))
    baseline = evaluate_records(random_enc, records, class_key="label")
    assert report["class"]["mAP"] > baseline["class"]["mAP"] + 0.15
    assert report["instance"]["mAP"] > baseline["instance"]["mAP"]
    # texts and images share the space: a caption is closer to its own class's drawings
    texts = enc.encode_texts(["front perspective view of a chair", "front perspective view of a bottle"])
    imgs = enc.encode_images([r.load_image() for r in records if r.figure == 1 and r.label in ("chair", "bottle")])
    labels = [r.label for r in records if r.figure == 1 and r.label in ("chair", "bottle")]
    sims = imgs @ texts.T
    pred = np.where(sims[:, 0] > sims[:, 1], "chair", "bottle")
    assert (pred == np.array(labels)).mean() > 0.5
    encoder_mod.clear_cache()


@pytest.mark.slow
def test_build_default_is_reproducible(tmp_path):
    kwargs = dict(device="cpu", progress=False, patents=20, epochs=1, synthetic_size=64, eval_patents=15,
                  batch_size=16)
    a = build_default(tmp_path / "a.pt", **kwargs)
    b = build_default(tmp_path / "b.pt", **kwargs)
    assert a["sha256_12"] == b["sha256_12"]
    assert (tmp_path / "a.json").is_file() and a["steps"] >= 1
