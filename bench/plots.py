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


if __name__ == "__main__":
    for name, plot in (("search", plot_search),):
        source = RESULTS / f"{name}.json"
        if source.exists():
            print(plot(json.loads(source.read_text()), RESULTS / f"{name}.png"))
