"""PNG plots of training runs and ablations (matplotlib, Agg backend)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from backend.training.metrics import BUCKETS  # noqa: E402

_SKIP = {"step", "epoch", "lr", "logit_scale"}


def plot_losses(history: Sequence[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [h["step"] for h in history]
    keys = [k for k in (history[0] if history else {}) if k not in _SKIP and not k.startswith("weight_")]
    for key in keys:
        ax.plot(steps, [h[key] for h in history], label=key, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("training loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_bucket_map(evals: Sequence[dict], path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    epochs = [e["epoch"] for e in evals]
    for ax, level in zip(axes, ("instance", "class")):
        ax.plot(epochs, [e[f"{level}_mAP"] for e in evals], label="all", linewidth=2, color="black")
        for b in BUCKETS:
            ax.plot(epochs, [e[f"{level}_mAP_{b}"] for e in evals], label=b, marker="o", linewidth=1)
        ax.set_title(f"{level}-level mAP by class-frequency bucket")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mAP")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_ablation(rows: Sequence[dict], path: Path, metric_prefix: str = "instance_mAP") -> Path:
    """Grouped bars: variant x bucket (mean over seeds, error bar = std)."""
    import numpy as np

    variants = list(dict.fromkeys(r["variant"] for r in rows))
    cols = ["all"] + list(BUCKETS)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=False)
    for ax, level in zip(axes, ("instance", "class")):
        width = 0.8 / len(variants)
        for vi, v in enumerate(variants):
            vals = [r for r in rows if r["variant"] == v]
            means, stds = [], []
            for c in cols:
                key = f"{level}_mAP" if c == "all" else f"{level}_mAP_{c}"
                xs = np.array([x[key] for x in vals], dtype=float)
                means.append(np.nanmean(xs))
                stds.append(np.nanstd(xs))
            ax.bar(np.arange(len(cols)) + vi * width, means, width, yerr=stds, label=v, capsize=2)
        ax.set_xticks(np.arange(len(cols)) + 0.4 - width / 2)
        ax.set_xticklabels(cols)
        ax.set_title(f"{level}-level mAP")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
