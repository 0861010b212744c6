"""PNG plots of the benchmark results (matplotlib, Agg), drawn from the JSON each bench writes.

    .venv/bin/python bench/plots.py      # redraw bench/results/search.png and ingest.png from the JSON
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def plot_search(payload: dict, path: Path) -> Path:
    """p50 / p95 latency per backend and corpus size, unfiltered and filtered, with the targets."""
    rows = payload["results"]
    labels = [f"{r['backend']}\n{r['n']:,}" for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, title in ((axes[0], "hybrid", "hybrid"), (axes[1], "hybrid_filtered", "hybrid + CPC/date filter")):
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r[key]["p50_ms"] for r in rows], 0.4, label="p50")
        ax.bar([x + 0.2 for x in xs], [r[key]["p95_ms"] for r in rows], 0.4, label="p95")
        ax.axhline(30, color="tab:green", ls="--", lw=1, label="embedded p95 target (30 ms)")
        ax.axhline(50, color="tab:red", ls="--", lw=1, label="ES p95 target at 100k (50 ms)")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_title(title)
    axes[0].set_ylabel("latency, ms")
    axes[1].legend(fontsize=7)
    fig.suptitle(payload.get("machine", ""), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_ingest(payload: dict, path: Path) -> Path:
    """Figures per second of each stage against the encoder-only limit."""
    rows = payload["rows"]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ys = range(len(rows))
    ax.barh(list(ys), [r["figures_per_s"] for r in rows],
            color=["tab:gray" if "encoder" in r["what"] else "tab:blue" for r in rows])
    ax.set_yticks(list(ys), [r["what"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    limit = next(r["figures_per_s"] for r in rows if "the limit" in r["what"])
    ax.axvline(0.8 * limit, color="tab:red", ls="--", lw=1, label="80 % of the limit (target)")
    for y, r in zip(ys, rows):
        ax.text(r["figures_per_s"], y, f" {r['figures_per_s']:.0f}", va="center", fontsize=8)
    ax.set_xlabel("figures per second")
    m = payload.get("machine", {})
    ax.set_title(f"ingest, {payload.get('patents')} IMPACT patents, {m.get('cores')} cores, {m.get('model')}",
                 fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    for name, plot in (("search", plot_search), ("ingest", plot_ingest)):
        source = RESULTS / f"{name}.json"
        if source.exists():
            print(plot(json.loads(source.read_text()), RESULTS / f"{name}.png"))
