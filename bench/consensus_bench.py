"""Class consensus rules on the dev split's same-class task, every setting on the same gallery in one run.

    .venv/bin/python bench/consensus_bench.py [--data ../shared/data] [--no-plot] [--grid]

The dev split, the gallery (each dev drawing as the search stores it: ``prism-draw``, encoder + 16 px sheet
thumbnail), the task and its metrics are ``bench/drawing_retrieval.py``'s same-class task (c): within each set,
other patents only, USPC design class (usdesign), IPC subclass (kr), Locarno class (impact); mAP over the whole
ranking, P@10, Hit@10 (any same-class drawing in the first 10). Rows: the 24 px thumbnail, consensus off, the
previous consensus (k 5, weights 2/2, no band), the fixed 0.05 band, the candidates and the search's settings.
A second table ranks the same rows at patent level over all dev drawings as ``POST /search`` does
(``bench/patent_level.py``).

The gallery vectors are computed once and cached in ``.cache/consensus_bench/`` (gitignored), keyed by the
checkpoint's digest and the dev drawings. Writes ``bench/results/consensus_bench.{json,md,png}``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import drawing_retrieval as dr
import numpy as np
import patent_level

from backend.model import registry  # noqa: E402 - drawing_retrieval put the repository on sys.path
from backend.search.ranking.class_consensus import consensus_rows, guarantee  # noqa: E402

ROOT = dr.ROOT
CACHE = ROOT / ".cache" / "consensus_bench"
RESULTS = dr.RESULTS / "consensus_bench"
SETS = ("usdesign", "kr", "impact")
NAMES = {"usdesign": "USPC design", "kr": "KR IPC subclass", "impact": "Locarno"}


@dataclass(frozen=True)
class Rule:
    """One consensus setting (the search's settings of the same names, class_consensus.py)."""
    k: int
    class_weight: float
    patent_weight: float
    band: float | None
    head: int = 0
    temperature: float = 0.0

    def label(self) -> str:
        band = "no band" if self.band is None else f"band {self.band:g}"
        head = f", first {self.head} kept" if self.head else ""
        temp = f", votes weighted T {self.temperature:g}" if self.temperature else ""
        return f"k {self.k}, weights {self.class_weight:g}/{self.patent_weight:g}, {band}{head}{temp}"


class RuleConsensus(dr.Consensus):
    """``drawing_retrieval.Consensus`` (the gallery's class codes and patents) ranked by a :class:`Rule`."""

    def __init__(self, records, rule: Rule):
        super().__init__(records, rule.k, rule.class_weight, rule.patent_weight, rule.band)
        self.rule = rule

    def __call__(self, sim: np.ndarray, gallery_idx=None) -> np.ndarray:
        idx = range(len(self.codes)) if gallery_idx is None else gallery_idx
        r = self.rule
        return consensus_rows(sim, [self.codes[i] for i in idx], r.k, r.class_weight,
                              [self.patents[i] for i in idx], r.patent_weight, r.band, head=r.head,
                              temperature=r.temperature)


def gallery_vectors(dev, data: Path) -> dict[str, np.ndarray]:
    """``thumbnail 24 px`` and ``prism-draw`` (the stored vector) of every dev drawing, from the cache when
    the checkpoint and the drawings are the same."""
    checkpoint = registry.default_checkpoint("prism-draw")
    if checkpoint is None:
        raise SystemExit("no packaged prism-draw checkpoint")
    key = hashlib.sha256("\n".join([registry.file_digest(checkpoint, 64), str(data.resolve())] +
                                   [f"{r.patent}|{r.label}|{getattr(r, 'image_path', '')}" for r in dev]).encode())
    path = CACHE / f"dev-{key.hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path) as z:
            return {"thumbnail": z["thumbnail"], "prism-draw": z["stored"]}
    t0 = time.time()
    images = [r.load_image() for r in dev]
    thumb = dr.thumbnail_vectors(images)
    stored = dr.load_encoder("prism-draw", checkpoint, True).encode_images(images)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, thumbnail=thumb, stored=stored)
    print(f"  gallery vectors: {time.time() - t0:.0f} s (cached in {path.relative_to(ROOT)})", flush=True)
    return {"thumbnail": thumb, "prism-draw": stored}


def measure(gallery: np.ndarray, dev, train_counts, cons) -> dict:
    """Same-class mAP / P@10 / Hit@10 per set: figure level within the set (drawing_retrieval's task c) and
    patent level over all dev drawings (patent_level), the query's own patent out of the votes as
    ``exclude_patents`` keeps it out of the search's vector list."""
    fig = dr.same_class_task(gallery, dev, train_counts, cons)
    patents = np.array([r.patent for r in dev])
    labels = np.array([r.label for r in dev])
    sources = np.array([dr.realdata.source_of(r) for r in dev])
    own = gallery @ gallery.T
    own[patents[:, None] == patents[None, :]] = -np.inf   # the query's own patent neither votes nor ranks
    if cons is not None:
        own = cons(own)
    out = {}
    for s in SETS:
        pat = patent_level.same_class(own, patents, labels, patents, labels, np.flatnonzero(sources == s))
        out[s] = {"mAP": fig[s]["mAP"], "P@10": fig[s]["P@10"], "Hit@10": fig[s]["Hit@10"],
                  "queries": fig[s]["queries"], "patent": pat}
    return out


def search_rule() -> Rule:
    """The consensus as the search runs it (settings)."""
    from backend.settings import Settings

    s = Settings()
    return Rule(s.search_class_consensus_k, s.search_class_consensus_weight, s.search_patent_consensus_weight,
                s.search_class_consensus_band, s.search_class_consensus_head, s.search_class_consensus_temperature)


#: (row name, rule): the baselines, then the candidates (position-protected head, weighted votes, tail bands)
ROWS: list[tuple[str, Rule | None]] = [
    ("previous consensus", Rule(5, 2, 2, None)),
    ("banded", Rule(10, 1, 2, 0.05)),
    ("banded, wide", Rule(10, 1, 2, 0.2)),
    ("first 10 kept, no band below", Rule(5, 2, 2, None, head=10)),
    ("first 10 kept, weighted votes, no band below", Rule(30, 16, 0, None, head=10, temperature=0.07)),
    ("first 10 kept, weighted votes, band 0.3 below", Rule(30, 16, 0, 0.3, head=10, temperature=0.07)),
    ("first 10 kept, weighted votes, band 0.5 below", Rule(30, 16, 0, 0.5, head=10, temperature=0.07)),
    ("first 10 kept, weighted votes, band 0.5, patent weight 2", Rule(30, 16, 2, 0.5, head=10, temperature=0.07)),
    ("first 10 kept, weighted votes (k 20, T 0.1), band 0.5", Rule(20, 16, 0, 0.5, head=10, temperature=0.1)),
    ("weighted votes, band 0.5, nothing kept", Rule(30, 16, 0, 0.5, temperature=0.07)),
]
#: a finer grid (--grid): head 10, weighted votes
GRID = [Rule(k, w, 0, band, head=10, temperature=t) for k in (10, 20, 30) for t in (0.07, 0.1, 0.15)
        for w in (8, 16) for band in (0.3, 0.5, None)]


def render(rows: list[dict], n_dev: int, n_patents: int) -> str:
    lines = [f"Dev split: {n_dev} drawings of {n_patents} held-out patents; same class, other patents only.", "",
             "| vector list | rule | " + " | ".join(f"{NAMES[s]} mAP / P@10 / Hit@10" for s in SETS) + " |",
             "|---|---|" + "---|" * len(SETS)]
    for row in rows:
        cells = [f"{row['sets'][s]['mAP']:.3f} / {row['sets'][s]['P@10']:.3f} / {row['sets'][s]['Hit@10']:.3f}"
                 for s in SETS]
        lines.append(f"| {row['name']} | {row['rule']} | " + " | ".join(cells) + " |")
    lines += ["", "At patent level (a patent scores its best figure, all dev drawings in the gallery, "
              "bench/patent_level.py):", "",
              "| vector list | " + " | ".join(f"{NAMES[s]} mAP / P@10 / Hit@10" for s in SETS) + " |",
              "|---|" + "---|" * len(SETS)]
    for row in rows:
        cells = [f"{row['sets'][s]['patent']['mAP']:.3f} / {row['sets'][s]['patent']['P@10']:.3f} / "
                 f"{row['sets'][s]['patent']['Hit@10']:.3f}" for s in SETS]
        lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SETS), figsize=(15, 4.8))
    for ax, s in zip(axes, SETS):
        off = next(r for r in rows if r["name"] == "consensus off")["sets"][s]
        prev = next(r for r in rows if r["name"] == "previous consensus")["sets"][s]
        ax.axvline(off["Hit@10"], color="grey", ls="--", lw=1, label="Hit@10 of consensus off")
        ax.axhline(prev["mAP"], color="tab:red", ls="--", lw=1, label="mAP of the previous consensus")
        for i, r in enumerate(rows):
            v = r["sets"][s]
            marker = "*" if r["name"].startswith("search") else "o"
            ax.scatter(v["Hit@10"], v["mAP"], marker=marker, s=120 if marker == "*" else 40, label=r["name"],
                       color=plt.cm.tab20(i % 20))
        ax.set_title(f"{NAMES[s]} ({off['queries']} queries)")
        ax.set_xlabel("Hit@10")
        ax.set_ylabel("mAP")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7)
    fig.suptitle("Class consensus on the dev split, same class: mAP vs Hit@10 (up and right is better)")
    fig.tight_layout(rect=(0, 0.22, 1, 0.95))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=dr.realdata.default_root())
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--grid", action="store_true", help="also the finer grid of head-10 rules")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"shared data not found at {args.data}", file=sys.stderr)
        return 2
    t0 = time.time()
    records = dr.realdata.load_sets(args.data)
    train_counts: dict[str, int] = {}
    for r in dr.realdata.split(records, "train"):
        train_counts[r.label] = train_counts.get(r.label, 0) + 1
    dev = dr.realdata.split(records, "dev")
    vectors = gallery_vectors(dev, args.data)
    chosen = search_rule()
    settings: list[tuple[str, str, np.ndarray, dr.Consensus | None]] = [
        ("24 px thumbnail", "-", vectors["thumbnail"], None), ("consensus off", "-", vectors["prism-draw"], None)]
    for name, rule in ROWS + [(f"grid {i}", g) for i, g in enumerate(GRID if args.grid else [])]:
        settings.append((name, rule.label(), vectors["prism-draw"], RuleConsensus(dev, rule)))
    settings.append(("search (settings)", chosen.label(), vectors["prism-draw"], RuleConsensus(dev, chosen)))
    rows = []
    for name, label, gallery, cons in settings:
        res = measure(gallery, dev, train_counts, cons)
        rows.append({"name": name, "rule": label, "sets": res,
                     "settings": asdict(cons.rule) if isinstance(cons, RuleConsensus) else None})
        print(f"  {name:58s} " + " | ".join(f"{res[s]['mAP']:.3f}/{res[s]['P@10']:.3f}/{res[s]['Hit@10']:.3f}"
                                              for s in SETS), flush=True)
    text = render(rows, len(dev), len({r.patent for r in dev}))
    off = rows[1]["sets"]
    prev = next(r for r in rows if r["name"] == "previous consensus")["sets"]
    search = rows[-1]["sets"]
    met = {s: {"Hit@10 >= off": search[s]["Hit@10"] >= off[s]["Hit@10"],
               "mAP >= previous": search[s]["mAP"] >= prev[s]["mAP"]} for s in SETS}
    text += "\nThe search's rule: " + guarantee(chosen.head, chosen.band) + " Targets: " + "; ".join(
        f"{NAMES[s]} Hit@10 {'met' if m['Hit@10 >= off'] else 'missed'}, mAP {'met' if m['mAP >= previous'] else 'missed'}"
        for s, m in met.items()) + f". {time.time() - t0:.0f} s.\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "targets": met,
                                                         "seconds": round(time.time() - t0, 1)}, indent=2))
    args.out.with_suffix(".md").write_text(text)
    if not args.no_plot:
        plot([r for r in rows if not r["name"].startswith("grid")], args.out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
