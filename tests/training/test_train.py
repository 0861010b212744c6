"""A whole tiny training on generated drawings (CPU), then eval-retrieval on its output; resume; seeds."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from backend.training import cli as model_cli
from backend.training import synthetic
from backend.training.datasets import synthetic_records
from backend.training.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    lines = []
    for p in synthetic.generate(16, seed=5, size=64):
        for f in p.figures:
            path = root / f"{f.patent}-{f.figure}.png"
            f.image.save(path)
            lines.append(json.dumps({"image": path.name, "patent": f.patent, "class": f.label,
                                     "text": f.description, "figure": f.figure, "viewpoint": f.viewpoint,
                                     "object": f.object_name, "title": f.title, "locarno": f.locarno}))
    path = root / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_then_eval_retrieval_then_resume(manifest, tmp_path):
    runner = CliRunner()
    run_dir = tmp_path / "run"
    args = ["train", str(manifest), "--out", str(run_dir), "--epochs", "2", "--max-steps", "4", "--batch-size", "8",
            "--holdout", "0.3", "--class-key", "label", "--loss", "dist", "--text-mode", "captions",
            "--class-aware-sampling", "0.5", "--seed", "0", "--device", "cpu"]
    cmd = {c.name: c for c in model_cli.commands}
    result = runner.invoke(cmd["train"], args[1:])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["steps"] == 4 and metrics["n_eval"] > 0
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in metrics["history"])
    assert {"contrastive_loss", "class_loss", "weight_class_loss"} <= set(metrics["history"][0])
    assert metrics["evals"] and 0 <= metrics["evals"][-1]["instance_mAP"] <= 1
    for name in ("final.pt", "loss.png", "bucket_map.png", "checkpoints/latest.pt"):
        assert (run_dir / name).is_file(), name
    final = torch.load(run_dir / "final.pt", weights_only=True)
    assert final["model_name"] == "prism-tiny"
    assert final["state_dict"]["visual.conv1.weight"].dtype == torch.float16

    report_path = tmp_path / "report.json"
    result = runner.invoke(cmd["eval-retrieval"], ["--manifest", str(manifest), "--checkpoint",
                                                   str(run_dir / "final.pt"), "--out", str(report_path),
                                                   "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    n = sum(1 for _ in manifest.open())
    assert report["n_images"] == n
    for level in ("instance", "class"):
        assert 0 <= report[level]["mAP"] <= 1
        assert set(report[level]["per_bucket"]) == {"head", "medium", "tail"}
    assert report["text_to_image"]["n_texts"] == n
    assert "instance" in result.output and "MRR@10" in result.output

    # resume continues from the saved step and epoch
    result = runner.invoke(cmd["train"], args[1:4] + ["--epochs", "3", "--max-steps", "6"] + args[8:]
                           + ["--resume", str(run_dir / "checkpoints" / "latest.pt")])
    assert result.exit_code == 0, result.output
    resumed = json.loads((run_dir / "metrics.json").read_text())
    assert resumed["steps"] == 6 and [h["step"] for h in resumed["history"]] == list(range(6))


def test_fixed_seed_gives_identical_weights(tmp_path):
    records = synthetic_records(15, seed=2, size=64)

    def weights(seed, out):
        cfg = TrainConfig(sources=["synthetic"], output_dir=out, epochs=1, max_steps=2, batch_size=8, seed=seed,
                          device="cpu", eval_every=0, plots=False, progress=False, loss="dist")
        trainer = Trainer(cfg, records, [])
        trainer.fit()
        return {k: v.clone() for k, v in trainer.model.state_dict().items()}

    a, b = weights(0, tmp_path / "a"), weights(0, tmp_path / "b")
    c = weights(1, tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_cli_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"patent": "P1"}\n')
    cmd = {c.name: c for c in model_cli.commands}
    result = CliRunner().invoke(cmd["eval-retrieval"], ["--manifest", str(bad), "--device", "cpu"])
    assert result.exit_code == 1
    assert "missing 'image'" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cmd["train"], [str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "dataset not found" in result.output
    assert not (tmp_path / "r" / "final.pt").exists()
