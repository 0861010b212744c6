"""Retrieval evaluation of an encoder on a set of figure records (used by ``prism eval-retrieval``
and by the training loop's per-epoch evaluation)."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from backend.training.datasets import FigureRecord
from backend.training.metrics import BUCKETS, class_buckets, retrieval_report


def encode_records(encoder, records: Sequence[FigureRecord], progress: bool = False) -> np.ndarray:
    batch = max(1, encoder.batch_size)
    chunks = range(0, len(records), batch)
    if progress:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc="encoding images", unit="batch")
    out = [np.zeros((0, encoder.dim), dtype=np.float32)]
    for start in chunks:
        out.append(encoder.encode_images([r.load_image() for r in records[start:start + batch]]))
    return np.concatenate(out)


def evaluate_records(encoder, records: Sequence[FigureRecord], class_key: str = "label", k: int = 10,
                     buckets: dict[str, str] | None = None, texts: Sequence[str | None] | None = None,
                     progress: bool = False) -> dict:
    """Every image queries all others; instance relevance = same patent, class = same class."""
    vecs = encode_records(encoder, records, progress=progress)
    classes = [r.class_label(class_key) for r in records]
    text_vecs = text_index = None
    if texts is not None:
        pairs = [(i, t) for i, t in enumerate(texts) if t]
        if pairs:
            text_index = [i for i, _ in pairs]
            text_vecs = encoder.encode_texts([t for _, t in pairs])
    report = retrieval_report(vecs, [r.patent for r in records], classes, buckets=buckets, k=k,
                              text_vecs=text_vecs, text_index=text_index)
    report["class_key"] = class_key
    report["model_id"] = getattr(encoder, "model_id", None)
    return report


def buckets_from(records: Sequence[FigureRecord], class_key: str, head_min: int | None = None,
                 tail_max: int | None = None) -> dict[str, str]:
    return class_buckets([r.class_label(class_key) for r in records], head_min=head_min, tail_max=tail_max)


def headline(report: dict, k: int | None = None) -> dict[str, float]:
    """Flat numbers for tables and plots: overall and per-bucket mAP / R@k / MRR@k at both levels."""
    k = k or report["k"]
    out = {}
    for level in ("instance", "class"):
        out[f"{level}_mAP"] = report[level]["mAP"]
        out[f"{level}_R@{k}"] = report[level][f"recall@{k}"]
        out[f"{level}_MRR@{k}"] = report[level][f"mrr@{k}"]
        for b in BUCKETS:
            out[f"{level}_mAP_{b}"] = report[level]["per_bucket"][b]["mAP"]
    if "text_to_image" in report:
        out["t2i_R@10"] = report["text_to_image"]["recall@10"]
    return out


def _fmt(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def print_report(report: dict, title: str = "Retrieval") -> None:
    from rich.console import Console
    from rich.table import Table

    k = report["k"]
    table = Table(title=f"{title} ({report['n_images']} images, class = {report.get('class_key')})")
    table.add_column("level")
    table.add_column("subset")
    table.add_column("queries", justify="right")
    for col in ("mAP", f"R@{k}", f"MRR@{k}"):
        table.add_column(col, justify="right")
    for level in ("instance", "class"):
        rows = [("all", report[level])] + [(b, report[level]["per_bucket"][b]) for b in BUCKETS]
        for name, row in rows:
            table.add_row(level, name, str(row["n_queries"]), _fmt(row["mAP"]), _fmt(row[f"recall@{k}"]),
                          _fmt(row[f"mrr@{k}"]))
    console = Console()
    console.print(table)
    if "text_to_image" in report:
        t = report["text_to_image"]
        console.print(f"text->image ({t['n_texts']} texts): R@1 {_fmt(t['recall@1'])}  R@5 {_fmt(t['recall@5'])}  "
                      f"R@10 {_fmt(t['recall@10'])}  MRR@10 {_fmt(t['mrr@10'])}")
    console.print("buckets: " + "; ".join(f"{b}: {', '.join(report['buckets'][b]) or '-'}" for b in BUCKETS))


def write_json(obj: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_finite(obj), indent=2, default=_json_default), encoding="utf-8")
    tmp.replace(path)
    return path


def _finite(o):
    """NaN/inf -> null so the file is strict JSON."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)
