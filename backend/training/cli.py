"""``prism train``, ``prism eval-retrieval`` and ``prism model ...`` (build-default, fit-line-pca, list,
manifest)."""
from __future__ import annotations

import logging
from pathlib import Path

import click

from backend.model.registry import ModelError
from backend.training.datasets import CLASS_KEYS, DatasetError
from backend.training.losses import LOSS_NAMES

_ERRORS = (DatasetError, ModelError, ValueError, FileNotFoundError)


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc).splitlines()[0]) from None


@click.command("train")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "output_dir", type=click.Path(path_type=Path), required=True, help="Run folder.")
@click.option("--eval", "eval_sources", multiple=True, help="Held-out source(s); else --holdout of the patents.")
@click.option("--holdout", type=click.FloatRange(0, 0.9), default=0.0, show_default=True,
              help="Fraction of patents held out for per-epoch evaluation.")
@click.option("--model", "model_name", default="prism-tiny", show_default=True, help="open_clip config name.")
@click.option("--init-checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Start from these weights (Prism or open_clip checkpoint).")
@click.option("--epochs", type=click.IntRange(1), default=5, show_default=True)
@click.option("--max-steps", type=click.IntRange(1), default=None)
@click.option("--batch-size", type=click.IntRange(2), default=32, show_default=True)
@click.option("--lr", type=float, default=5e-4, show_default=True)
@click.option("--weight-decay", type=float, default=0.1, show_default=True)
@click.option("--warmup-steps", type=click.IntRange(0), default=20, show_default=True)
@click.option("--loss", type=click.Choice(LOSS_NAMES), default="dist", show_default=True)
@click.option("--beta", type=float, default=0.999, show_default=True, help="Class-balanced effective-number beta.")
@click.option("--tau", type=float, default=1.0, show_default=True, help="Logit-adjustment strength.")
@click.option("--class-key", type=click.Choice(CLASS_KEYS), default="locarno", show_default=True)
@click.option("--text-mode", type=click.Choice(["description", "captions", "manifest"]), default="captions",
              show_default=True)
@click.option("--class-aware-sampling", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="q in n_class^-q sampling weights (0 off, 0.5 sqrt, 1 balanced).")
@click.option("--augment", type=click.FloatRange(0, 2), default=1.0, show_default=True, help="Augmentation strength.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--no-amp", is_flag=True, help="Disable mixed precision on CUDA.")
@click.option("--workers", type=click.IntRange(0), default=0, show_default=True)
@click.option("--freeze-text", is_flag=True, help="Train the vision tower only (e.g. with a MiniLM text tower).")
@click.option("--image-root", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Image folder for DeepPatent2 JSON.")
@click.option("--synthetic-size", type=click.IntRange(64, 1024), default=192, show_default=True)
@click.option("--resume", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Continue from a run's checkpoints/latest.pt.")
def train(sources, output_dir, eval_sources, holdout, model_name, init_checkpoint, epochs, max_steps, batch_size, lr,
          weight_decay, warmup_steps, loss, beta, tau, class_key, text_mode, class_aware_sampling, augment, seed,
          device, no_amp, workers, freeze_text, image_root, synthetic_size, resume):
    """Train an image/text encoder on SOURCES (manifest.jsonl, DeepPatent2 .json, USPTO folder, synthetic:N)."""
    from backend.training.train import TrainConfig, run

    logging.basicConfig(level=logging.WARNING)
    cfg = TrainConfig(sources=list(sources), output_dir=output_dir, model_name=model_name,
                      init_checkpoint=init_checkpoint, eval_sources=list(eval_sources), holdout_fraction=holdout,
                      epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                      warmup_steps=warmup_steps, loss=loss, beta=beta, tau=tau, class_key=class_key,
                      text_mode=text_mode, class_aware_sampling=class_aware_sampling, augment=augment, seed=seed,
                      device=device, amp=not no_amp, workers=workers, freeze_text=freeze_text,
                      image_root=image_root, synthetic_size=synthetic_size)
    try:
        metrics = run(cfg, resume=resume)
    except _ERRORS as exc:
        _fail(exc)
    click.echo(f"trained {metrics['steps']} steps in {metrics['seconds']} s on {metrics['device']}; "
               f"weights: {metrics['final_checkpoint']}; metrics: {output_dir / 'metrics.json'}")
    if metrics["evals"]:
        from backend.training.evaluate import print_report

        print_report(metrics["evals"][-1]["report"], title="held-out retrieval")


@click.command("eval-retrieval")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help='JSONL: {"image", "patent", "class"[, "text"]} per line.')
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Weights to evaluate (default: the packaged checkpoint of --model).")
@click.option("--model", "model_name", default=None, help="open_clip config (default: the checkpoint's own).")
@click.option("--class-key", type=click.Choice(CLASS_KEYS), default="label", show_default=True,
              help="Which field is the class (label = the manifest's \"class\").")
@click.option("--k", type=click.IntRange(1), default=10, show_default=True)
@click.option("--head-min", type=click.IntRange(1), default=None, help="Bucket by thresholds instead of terciles.")
@click.option("--tail-max", type=click.IntRange(0), default=None)
@click.option("--bucket-counts-from", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Define buckets by class frequency in this (training) manifest.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Report JSON (default: <manifest>.retrieval.json).")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
def eval_retrieval(manifest, checkpoint, model_name, class_key, k, head_min, tail_max, bucket_counts_from, out,
                   device, batch_size):
    """Image->image retrieval (instance = same patent, class = same class) with head/medium/tail buckets."""
    from backend.model import registry
    from backend.model.encoder import Encoder, resolve_checkpoint
    from backend.training.datasets import load_manifest
    from backend.training.evaluate import buckets_from, evaluate_records, print_report, write_json

    logging.basicConfig(level=logging.WARNING)
    try:
        records = load_manifest(manifest)
        name, ckpt = resolve_checkpoint(model_name or "prism-tiny", checkpoint)
        if model_name and checkpoint and name != model_name:
            raise ModelError(f"--model {model_name} does not match the checkpoint's config {name}")
        enc = Encoder(registry.load_model(name, ckpt, device), batch_size=batch_size)
        bucket_src = load_manifest(bucket_counts_from) if bucket_counts_from else records
        buckets = buckets_from(bucket_src, class_key, head_min, tail_max)
        texts = [r.texts[0] if r.texts else None for r in records]
        report = evaluate_records(enc, records, class_key=class_key, k=k, buckets=buckets, texts=texts,
                                  progress=True)
    except _ERRORS as exc:
        _fail(exc)
    report["bucket_rule"] = (f"thresholds head>={head_min}, tail<={tail_max}" if head_min is not None
                             else "class-frequency terciles") + (f" over {bucket_counts_from}" if bucket_counts_from
                                                                 else " over the evaluated manifest")
    report["manifest"] = str(manifest)
    report["checkpoint"] = str(ckpt) if ckpt else None
    out = out or manifest.with_suffix(".retrieval.json")
    write_json(report, out)
    print_report(report, title=f"{enc.model_id}")
    click.echo(f"report: {out}")


@click.group("model")
def model_group():
    """Model configs, default checkpoint and dataset manifests."""


@model_group.command("build-default")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Default: backend/model/checkpoints/prism-draw.pt (+ prism-draw.json build report)")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The real drawing sets (default ../shared/data); only their train split is read.")
@click.option("--sets", default=None, help="Comma-separated subset of impact,usdesign,kr,grants (testing).")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Override the recipe (testing).")
@click.option("--variants", type=click.IntRange(0), default=None, help="Override the recipe (testing).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (bench/gpu_build_default.sh).")
@click.option("--render-workers", type=click.IntRange(1), default=2, show_default=True,
              help="Processes rendering the re-published views (once; cached in var/cache/realdata).")
def build_default_cmd(out, data, sets, epochs, variants, device, render_workers):
    """Train prism-draw, the packaged default encoder, on the train split of the real drawings."""
    from backend.training import drawing_recipe

    logging.basicConfig(level=logging.WARNING)
    overrides = {"epochs": epochs, "variants": variants,
                 "sets": tuple(s.strip() for s in sets.split(",")) if sets else None}
    out = out or registry_checkpoint_dir() / "prism-draw.pt"
    try:
        report = drawing_recipe.build(out, root=data, progress=click.echo, device=device,
                                      render_workers=render_workers,
                                      **{k: v for k, v in overrides.items() if v is not None})
    except _ERRORS as exc:
        _fail(exc)
    click.echo(f"wrote {out} ({report['size_bytes'] / 1e6:.1f} MB) in {report['build_seconds']} s; "
               f"{report['train_items']} training drawings of {report['train_patents']} patents")


@model_group.command("build-synthetic")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Default: backend/model/checkpoints/prism-tiny.pt")
@click.option("--device", default="cpu", show_default=True,
              help="cpu reproduces the committed checkpoint; cuda is faster but not bit-identical.")
@click.option("--patents", type=click.IntRange(20), default=None, help="Override the recipe (testing).")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Override the recipe (testing).")
@click.option("--synthetic-size", type=click.IntRange(64, 512), default=None, help="Override the recipe (testing).")
def build_synthetic_cmd(out, device, patents, epochs, synthetic_size):
    """Pretrain prism-tiny on generated patent line drawings (the starting point of prism-draw)."""
    from backend.training.build_default import build_default

    logging.basicConfig(level=logging.WARNING)
    try:
        report = build_default(out, device=device, patents=patents, epochs=epochs, synthetic_size=synthetic_size)
    except _ERRORS as exc:
        _fail(exc)
    click.echo(f"wrote {report['checkpoint']} ({report['bytes'] / 1e6:.1f} MB, sha256 {report['sha256_12']}) "
               f"in {report['total_seconds']} s; synthetic held-out instance mAP "
               f"{report['synthetic_heldout'].get('instance_mAP', float('nan')):.3f}")


@model_group.command("fit-line-pca")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Default: the projection file of prism-draw's line channel (backend/model/checkpoints/).")
@click.option("--dims", type=click.IntRange(1, 2340), default=None,
              help="Components (default: the line channel's dims).")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The real drawing sets (default ../shared/data); only their train split is read.")
def fit_line_pca_cmd(out, dims, data):
    """Fit the PCA of the line descriptors that prism-draw's stored vectors carry, on the train split."""
    from backend.model import line_descriptors
    from backend.training import line_pca

    ch = line_descriptors.channel("prism-draw")
    if (out is None or dims is None) and ch is None:
        _fail(ValueError("prism-draw has no line channel: give --out and --dims"))
    try:
        report = line_pca.build(out or ch.path, dims or ch.dims, root=data, progress=click.echo)
    except _ERRORS as exc:
        _fail(exc)
    click.echo(f"wrote {report['out']}: {report['dims']} components of {report['drawings']} train drawings "
               f"in {report['seconds']} s")


@model_group.command("fit-text-bridge")
@click.option("--checkpoint", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Default: the packaged prism-draw checkpoint; the bridge is written beside it.")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The real drawing sets (default ../shared/data); only their train split is read.")
def fit_text_bridge_cmd(checkpoint, data):
    """Fit the text -> drawing bridge of a prism-draw checkpoint on the train split."""
    from backend.model import registry
    from backend.training import text_bridge_fit

    checkpoint = checkpoint or registry.default_checkpoint("prism-draw")
    if checkpoint is None:
        _fail(ValueError("no prism-draw checkpoint: give --checkpoint or run `prism model build-default`"))
    try:
        report = text_bridge_fit.build(checkpoint, root=data, progress=click.echo)
    except _ERRORS as exc:
        _fail(exc)
    click.echo(f"wrote {report['out']}: {report['pairs']} train (text, drawing) pairs in {report['seconds']} s")


def registry_checkpoint_dir() -> Path:
    from backend.model import registry

    return registry.CHECKPOINT_DIR


@model_group.command("list")
def list_cmd():
    """Prism's model configs (then open_clip's)."""
    from backend.model import registry

    for name in registry.list_models():
        ours = name in registry.register_configs()
        click.echo(f"{name}{'  (prism)' if ours else ''}")


@model_group.command("manifest")
@click.argument("source")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--class-key", type=click.Choice(CLASS_KEYS), default="locarno", show_default=True)
@click.option("--texts", type=click.Choice(["none", "description", "captions"]), default="description",
              show_default=True, help="What to store as the manifest's texts.")
@click.option("--image-root", type=click.Path(exists=True, file_okay=False, path_type=Path))
def manifest_cmd(source, out, class_key, texts, image_root):
    """Write a JSONL manifest from a USPTO folder, DeepPatent2 JSON or another manifest."""
    from backend.training.captions import texts_for
    from backend.training.datasets import load_source, write_manifest

    try:
        if source.startswith("synthetic:"):
            raise DatasetError("synthetic records have no image files; cannot write a manifest")
        records = load_source(source, image_root)
        if texts != "none":
            for r in records:
                r.texts = texts_for(r, texts)
        write_manifest(records, out, class_key=class_key, texts=texts != "none")
    except _ERRORS as exc:
        _fail(exc)
    click.echo(f"wrote {len(records)} figures of {len({r.patent for r in records})} patents to {out}")


commands = [train, eval_retrieval, model_group]
