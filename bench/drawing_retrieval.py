"""Drawing retrieval on real patents: the model beside the naive baselines, in one run.

    .venv/bin/python bench/drawing_retrieval.py [--checkpoint PATH] [--data ../shared/data] [--quick]
    .venv/bin/python bench/drawing_retrieval.py --search-table      # the patent-level table (bench/patent_level.py)

Data: the *dev* split (by patent, ``backend/training/realdata.py``: sha1 of the patent number, about
30 %) of every real set in ``../shared/data`` - patents the packaged checkpoint never trained on.
Encoders, each on the same queries and gallery:

* ``thumbnail``   24 px ink-cropped grey thumbnail compared pixel by pixel (cosine of centred pixels),
* ``random``      the ``prism-draw`` architecture with random drawing weights (text tower: MiniLM + random
                  projection),
* ``prism-tiny``  the previous packaged checkpoint (synthetic drawings only),
* ``prism-draw encoder``  the packaged checkpoint (or ``--checkpoint``): its learnt embedding alone (text
                  vectors: its text tower with the checkpoint's text bridge, ``backend/model/text_bridge.py``),
* ``prism-draw``  the vectors search stores and queries: that embedding plus the 16 px sheet-thumbnail
                  channel (``backend/model/thumbnail.py``) and the line channel (a 128-d projection of the
                  line descriptors, ``backend/model/line_descriptors.py``),
* ``+consensus`` ``prism-draw`` with the search's class consensus (``backend/search/ranking/class_consensus.py``):
                  the vector list re-ordered by the classes of the query's nearest drawings (each dev drawing's
                  own set's class stands for the codes an index carries; the query's class is never used),
* ``+verify``     ``+consensus`` with the search's second-stage geometric verification (task a only; the
                  ``PRISM_SEARCH_VERIFY_TOP_K`` nearest + ``PRISM_SEARCH_VERIFY_TURNED_K`` nearest the query
                  turned 90/270 degrees, as ``POST /search`` runs it for an upload).

Tasks:

a. *re-published drawing* - each dev drawing re-published (``backend/training/republish.py``: frame, header,
   labels, rescale, rotation, sideways turn, speckle, threshold, JPEG, crop, strokes; seed fixed) is the
   query; its original is hidden among all dev drawings. mAP, Hit@10.
b. *other views* - each sheet of a multi-sheet dev patent (IMPACT designs, utility grants) against all
   other dev drawings; the patent's other sheets are relevant. mAP, MRR@10.
c. *same-class prior art* - within each set, other patents only: USPC design class (usdesign), IPC
   subclass (kr), Locarno class (impact). mAP, also by head/medium/tail of the class's frequency in
   the *train* split (head >= 20 train drawings, tail <= 5).
d. *text -> drawing* - the title (or title + figure description) of each dev drawing against all dev
   drawings; the drawings of that patent with that text are relevant. R@1/5/10, MRR@10; chance printed.

Writes ``bench/results/drawing_retrieval.{json,md,png}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.model import registry, thumbnail  # noqa: E402
from backend.training import realdata  # noqa: E402
from backend.training.metrics import per_query, rank_relevance  # noqa: E402
from backend.training.republish import republish  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CLASS_SETS = {"usdesign": "USPC class", "kr": "IPC subclass", "impact": "Locarno class"}
HEAD_MIN, TAIL_MAX = 20, 5


# ------------------------------------------------------------------------------------------------
# encoders

def thumbnail_vectors(images: list[Image.Image], side: int = 24) -> np.ndarray:
    """The naive baseline: ink bounding box, padded square, 24 px grey, centred, L2-normalised."""
    return thumbnail.thumbnail_vectors(images, side)


def load_encoder(name: str, checkpoint: Path | None, with_thumbnail: bool = True):
    """The encoder as search uses it; ``with_thumbnail=False``: its learnt embedding alone (no sheet-thumbnail
    or line channel, backend/model/thumbnail.py, backend/model/line_descriptors.py)."""
    from backend.model.encoder import Encoder

    enc = Encoder(registry.load_model(name, checkpoint, "cpu"), batch_size=64)
    if not with_thumbnail:
        enc.thumbnail, enc.line, enc.dim = None, None, enc.embed_dim
    return enc


# ------------------------------------------------------------------------------------------------
# tasks

def summarise(ranked: np.ndarray, ks=(1, 5, 10)) -> dict:
    out = {}
    for k in ks:
        s = per_query(ranked, k=k)
        out[f"R@{k}"] = float(np.nanmean(s[f"recall@{k}"]))
        out[f"Hit@{k}"] = float(np.nanmean(ranked[:, :k].any(axis=1)))
    s = per_query(ranked, k=10)
    out["mAP"] = float(np.nanmean(s["ap"]))
    out["MRR@10"] = float(np.nanmean(s["mrr@10"]))
    out["queries"] = int(ranked.shape[0])
    return out


class Consensus:
    """The search's class-consensus re-ordering of a vector list (backend/search/ranking/class_consensus.py) with
    the gallery's class codes: each dev drawing's own set's class (USPC, IPC subclass, Locarno), as the
    index would carry it."""

    def __init__(self, records, k: int, weight: float, patent_weight: float = 0.0, band: float | None = None,
                 head: int = 0, temperature: float = 0.0, per_patent: bool = False):
        self.codes = [{f"{realdata.source_of(r)}:{r.label}"} if r.label else set() for r in records]
        self.patents = [r.patent for r in records]
        self.k, self.weight, self.patent_weight, self.band = k, weight, patent_weight, band
        self.head, self.temperature = head, temperature
        #: the search's order: the vector list grouped by patent (each patent's best figure) before the
        #: consensus, so its protected head is that many patents
        self.per_patent = per_patent

    def __call__(self, sim: np.ndarray, gallery_idx=None) -> np.ndarray:
        from backend.search.ranking.class_consensus import consensus_rows

        idx = range(len(self.codes)) if gallery_idx is None else gallery_idx
        if self.per_patent:
            sim = best_figure_per_patent(sim, [self.patents[i] for i in idx])
        return consensus_rows(sim, [self.codes[i] for i in idx], self.k, self.weight,
                              [self.patents[i] for i in idx], self.patent_weight, self.band,
                              head=self.head, temperature=self.temperature)


def best_figure_per_patent(sim: np.ndarray, patents) -> np.ndarray:
    """``sim`` with every figure but each row's best of its patent at -inf (a patent scores its best figure)."""
    out = np.array(sim, dtype=float, copy=True)
    codes = np.unique(np.asarray(patents), return_inverse=True)[1]
    for code in range(codes.max() + 1 if len(codes) else 0):
        cols = np.flatnonzero(codes == code)
        if len(cols) > 1:
            keep = cols[np.argmax(out[:, cols], axis=1)]
            out[:, cols] = -np.inf
            out[np.arange(len(out)), keep] = sim[np.arange(len(out)), keep]
    return out


def _adjusted(sim: np.ndarray, cons: Consensus | None, gallery_idx=None) -> np.ndarray:
    return sim if cons is None else cons(sim, gallery_idx)


def republished_task(gallery: np.ndarray, queries: np.ndarray, cons: Consensus | None = None) -> dict:
    sim = _adjusted(queries @ gallery.T, cons)
    return summarise(rank_relevance(sim, np.eye(len(queries), dtype=bool)))


def other_views_task(gallery: np.ndarray, records, cons: Consensus | None = None) -> dict | None:
    patents = np.array([r.patent for r in records])
    rel = patents[:, None] == patents[None, :]
    np.fill_diagonal(rel, False)
    q = np.flatnonzero(rel.any(axis=1))
    if len(q) == 0:
        return None
    sim = gallery @ gallery.T
    np.fill_diagonal(sim, -np.inf)
    sim = _adjusted(sim, cons)
    ranked = rank_relevance(sim[q], rel[q])
    return summarise(ranked)


def _class_ap(gallery: np.ndarray, records, source: str, cons: Consensus | None = None):
    """Per-query AP@10 of same-class retrieval within one set, other patents only: (ap, has a relevant
    figure, labels, patents, relevant-share chance, any relevant in the top 10, precision at 10) of the set's
    queries, or None for a set under 3 drawings."""
    sources = np.array([realdata.source_of(r) for r in records])
    idx = np.flatnonzero(sources == source)
    if len(idx) < 3:
        return None
    labels = np.array([records[i].label for i in idx])
    patents = np.array([records[i].patent for i in idx])
    sim = gallery[idx] @ gallery[idx].T
    same_patent = patents[:, None] == patents[None, :]
    sim[same_patent] = -np.inf           # other patents only (and never the query itself)
    sim = _adjusted(sim, cons, idx)
    rel = (labels[:, None] == labels[None, :]) & ~same_patent
    # ranks beyond the other-patent gallery are the -inf entries: AP ignores them (they are not relevant)
    ranked = rank_relevance(sim, rel)
    ap = per_query(ranked, k=10)["ap"]
    chance = rel.sum(1) / np.maximum((~same_patent).sum(1), 1)
    return ap, rel.any(axis=1), labels, patents, chance, ranked[:, :10].any(axis=1), ranked[:, :10].mean(axis=1)


def same_class_task(gallery: np.ndarray, records, train_counts: dict[str, int],
                    cons: Consensus | None = None) -> dict:
    out = {}
    for source, what in CLASS_SETS.items():
        got = _class_ap(gallery, records, source, cons)
        if got is None:
            continue
        ap, keep, labels, _patents, chance, hit10, p10 = got
        res = {"what": what, "mAP": float(np.nanmean(ap[keep])), "Hit@10": float(np.mean(hit10[keep])),
               "P@10": float(np.mean(p10[keep])), "queries": int(keep.sum()),
               "chance_mAP": float(np.mean(chance[keep]))}
        buckets = {}
        counts = np.array([train_counts.get(lab, 0) for lab in labels])
        for name in ("head", "medium", "tail"):
            sel = {"head": counts >= HEAD_MIN, "tail": counts <= TAIL_MAX,
                   "medium": (counts > TAIL_MAX) & (counts < HEAD_MIN)}[name] & keep
            buckets[name] = {"mAP": float(np.nanmean(ap[sel])) if sel.any() else None, "queries": int(sel.sum())}
        res["buckets"] = buckets
        out[source] = res
    return out


def class_gap(model: np.ndarray, baseline: np.ndarray, records, n_boot: int = 2000, seed: int = 0,
              cons: Consensus | None = None) -> dict:
    """Same-class mAP of ``model`` minus ``baseline`` per set, with a 95 % paired bootstrap interval that
    resamples *patents* (the queries of one patent are not independent)."""
    rng = np.random.default_rng(seed)
    out = {}
    for source in CLASS_SETS:
        a, b = _class_ap(model, records, source, cons), _class_ap(baseline, records, source)
        if a is None:
            continue
        keep = a[1]
        ap_a, ap_b, patents = a[0][keep], b[0][keep], a[3][keep]
        groups = [np.flatnonzero(patents == p) for p in np.unique(patents)]
        diffs = []
        for _ in range(n_boot):
            sel = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
            diffs.append(np.nanmean(ap_a[sel]) - np.nanmean(ap_b[sel]))
        lo, hi = np.percentile(diffs, [2.5, 97.5])
        out[source] = {"diff": float(np.nanmean(ap_a) - np.nanmean(ap_b)), "ci95": [float(lo), float(hi)],
                       "patents": len(groups)}
    return out


def text_task(gallery: np.ndarray, text_vectors: np.ndarray, records, texts: list[str],
              cons: Consensus | None = None) -> dict:
    patents = np.array([r.patent for r in records])
    t = np.array(texts)
    rel = (patents[:, None] == patents[None, :]) & (t[:, None] == t[None, :])
    sim = _adjusted(text_vectors @ gallery.T, cons)
    res = summarise(rank_relevance(sim, rel))
    n = len(records)
    n_rel = rel.sum(1)
    for k in (1, 5, 10):
        res[f"chance_R@{k}"] = float(np.mean(np.minimum(1.0, k / n) * np.ones_like(n_rel)))
    res["chance_MRR@10"] = float(np.mean([sum(1 / r for r in range(1, 11)) / n]))
    return res


# ------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=realdata.default_root())
    ap.add_argument("--checkpoint", type=Path, default=None, help="prism-draw checkpoint (default: packaged)")
    ap.add_argument("--quick", action="store_true", help="every 4th dev drawing (a smoke run)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--out", type=Path, default=None,
                    help="results/drawing_retrieval (or results/drawing_search_table with --search-table)")
    ap.add_argument("--search-table", action="store_true",
                    help="only the search pipeline at patent level beside its baselines (bench/patent_level.py)")
    ap.add_argument("--no-verify", action="store_true", help="--search-table without the second stage")
    args = ap.parse_args(argv)
    args.out = args.out or RESULTS / ("drawing_search_table" if args.search_table else "drawing_retrieval")
    if not args.data.is_dir():
        print(f"shared data not found at {args.data}", file=sys.stderr)
        return 2
    t0 = time.time()
    records = realdata.load_sets(args.data)
    train_counts: dict[str, int] = {}
    for r in realdata.split(records, "train"):
        train_counts[r.label] = train_counts.get(r.label, 0) + 1
    dev = realdata.split(records, "dev")
    if args.quick:
        dev = dev[::4]
    print(f"dev split: {len(dev)} drawings of {len({r.patent for r in dev})} held-out patents "
          f"({len(records) - len(dev)} others are for training)", flush=True)
    originals = [r.load_image() for r in dev]
    rng = np.random.default_rng(20261129)
    published = [republish(im, rng) for im in originals]
    texts = [realdata.text_of(r) for r in dev]
    print(f"loaded and re-published in {time.time() - t0:.0f} s", flush=True)
    if args.search_table:
        return _search_table(args, dev, originals, published, texts, t0)

    checkpoint = args.checkpoint or registry.default_checkpoint("prism-draw")
    # (label, config, checkpoint, with the channels of the stored vector)
    encoders = [("thumbnail", None, None, False), ("random", "prism-draw", None, False)]
    if registry.default_checkpoint("prism-tiny"):
        encoders.append(("prism-tiny", "prism-tiny", registry.default_checkpoint("prism-tiny"), False))
    if checkpoint:
        encoders.append(("prism-draw encoder", "prism-draw", checkpoint, False))
        if registry.vector_tag("prism-draw"):
            encoders.append(("prism-draw", "prism-draw", checkpoint, True))
    report = {"dev_drawings": len(dev), "dev_patents": len({r.patent for r in dev}),
              "checkpoint": str(checkpoint) if checkpoint else None, "encoders": {}}
    galleries = {}
    for label, model_name, ckpt, with_thumb in encoders:
        t1 = time.time()
        if model_name is None:
            gal, qry, txt = thumbnail_vectors(originals), thumbnail_vectors(published), None
        else:
            enc = load_encoder(model_name, ckpt, with_thumb)
            gal, qry = enc.encode_images(originals), enc.encode_images(published)
            txt = enc.encode_texts(texts)
        res = {"republished": republished_task(gal, qry), "other_views": other_views_task(gal, dev),
               "same_class": same_class_task(gal, dev, train_counts)}
        if txt is not None:
            res["text_to_drawing"] = text_task(gal, txt, dev, texts)
        res["seconds"] = round(time.time() - t1, 1)
        report["encoders"][label] = res
        galleries[label] = gal
        print(f"  {label:11s} done in {res['seconds']} s", flush=True)
        if label == "prism-draw":
            cons = search_consensus(dev)
            if cons is not None:     # the search's vector list: class consensus on the stored vectors
                report["encoders"]["prism-draw+consensus"] = {
                    "republished": republished_task(gal, qry, cons), "other_views": other_views_task(gal, dev, cons),
                    "same_class": same_class_task(gal, dev, train_counts, cons),
                    "text_to_drawing": text_task(gal, txt, dev, texts, cons), "k": cons.k, "weight": cons.weight,
                    "patent_weight": cons.patent_weight, "band": cons.band, "head": cons.head,
                    "temperature": cons.temperature}
                galleries["prism-draw+consensus"] = gal
            verified = verify_task(originals, published, gal, qry, enc, cons)
            if verified:
                report["encoders"]["prism-draw+consensus+verify" if cons else "prism-draw+verify"] = {
                    "republished": verified}
    best = next(n for n in ("prism-draw+consensus", "prism-draw", list(galleries)[-1]) if n in galleries)
    report["class_gap"] = {"model": best, "baseline": "thumbnail",
                           "sets": class_gap(galleries[best], galleries["thumbnail"], dev,
                                             cons=search_consensus(dev) if best.endswith("consensus") else None)}
    report["seconds"] = round(time.time() - t0, 1)
    text = render_markdown(report)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    args.out.with_suffix(".md").write_text(text)
    if not args.no_plot:
        plot(report, args.out.with_suffix(".png"))
    return 0


def _search_table(args, dev, originals, published, texts, t0) -> int:
    import patent_level

    checkpoint = args.checkpoint or registry.default_checkpoint("prism-draw")
    rows, text = patent_level.search_table(dev, originals, published, texts, checkpoint,
                                           search_consensus(dev, per_patent=True),
                                           verify=not args.no_verify, progress=lambda m: print(m, flush=True))
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"checkpoint": str(checkpoint), "rows": rows,
                                                         "seconds": round(time.time() - t0, 1)}, indent=2))
    args.out.with_suffix(".md").write_text(text)
    return 0


def search_consensus(records, per_patent: bool = False) -> Consensus | None:
    """The class consensus as the search runs it (settings), or None when it is off; ``per_patent``: on the
    list grouped by patent, as ``POST /search`` groups it (the patent-level table; the figure-level tasks
    rank figures, so a patent's other figures stay in their list)."""
    from backend.settings import Settings

    settings = Settings()
    k, weight = settings.search_class_consensus_k, settings.search_class_consensus_weight
    patent_weight = settings.search_patent_consensus_weight
    return (Consensus(records, k, weight, patent_weight, settings.search_class_consensus_band,
                      settings.search_class_consensus_head, settings.search_class_consensus_temperature,
                      per_patent=per_patent)
            if k > 0 and (weight > 0 or patent_weight > 0) else None)


def verify_task(originals, published, gal, qry, enc, cons: Consensus | None = None) -> dict | None:
    """Task a with the search's second stage as ``POST /search`` runs it for an uploaded drawing: the
    ``search_verify_top_k`` figures nearest the query vector and the ``search_verify_turned_k`` nearest
    the query turned by 90 and by 270 degrees are verified geometrically; verified ones go first, the rest
    in the vector list's order (class consensus, when ``cons``)."""
    try:
        from backend.search.ranking import rerank, verification
    except ImportError:
        return None
    from backend.settings import Settings

    settings = Settings()
    top_k, turned_k = settings.search_verify_top_k, settings.search_verify_turned_k
    feats = [verification.extract(im) for im in originals]
    sim = qry @ gal.T
    turned_sims = []
    if turned_k > 0:
        turns = [rerank.turned(im) for im in published]
        turned_sims = [enc.encode_images([t[k] for t in turns]) @ gal.T for k in range(2)]
    out = np.array(_adjusted(sim, cons), copy=True)
    checked, verifiable = 0, 0
    for i, im in enumerate(published):
        q = verification.extract(im)
        verifiable += verification.verify(q, feats[i]).verified   # the ceiling: does the pair verify at all?
        candidates = list(np.argsort(-sim[i])[:top_k])
        for s in turned_sims:
            candidates += [j for j in np.argsort(-s[i])[:turned_k] if j not in candidates]
        checked += len(candidates)
        for j in candidates:
            result = verification.verify(q, feats[j])
            if result.verified:
                out[i, j] = 1e3 + result.score     # verified first, whatever the consensus added
    res = summarise(rank_relevance(out, np.eye(len(qry), dtype=bool)))
    res.update(top_k=top_k, turned_k=turned_k, checked_per_query=round(checked / max(1, len(published)), 1),
               verifiable=round(verifiable / max(1, len(published)), 3))
    return res


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def render_markdown(report: dict) -> str:
    enc = report["encoders"]
    names = list(enc)
    lines = [f"Dev split: {report['dev_drawings']} drawings of {report['dev_patents']} held-out patents.", ""]
    lines += ["| task | metric | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]

    def row(task, metric, get):
        vals = []
        for n in names:
            try:
                vals.append(_f(get(enc[n])))
            except (KeyError, TypeError):
                vals.append("–")
        lines.append(f"| {task} | {metric} | " + " | ".join(vals) + " |")

    row("a. re-published", "mAP", lambda e: e["republished"]["mAP"])
    row("a. re-published", "Hit@10", lambda e: e["republished"]["Hit@10"])
    row("b. other views", "mAP", lambda e: e["other_views"]["mAP"])
    row("b. other views", "MRR@10", lambda e: e["other_views"]["MRR@10"])
    for source, what in CLASS_SETS.items():
        row(f"c. same class ({what})", "mAP", lambda e, s=source: e["same_class"][s]["mAP"])
        row(f"c. same class ({what})", "P@10", lambda e, s=source: e["same_class"][s]["P@10"])
        row(f"c. same class ({what})", "Hit@10", lambda e, s=source: e["same_class"][s]["Hit@10"])
        for b in ("head", "medium", "tail"):
            row(f"c. same class ({what})", f"mAP {b}", lambda e, s=source, b=b: e["same_class"][s]["buckets"][b]["mAP"])
    for m in ("R@1", "R@5", "R@10", "MRR@10"):
        row("d. text → drawing", m, lambda e, m=m: e["text_to_drawing"][m])
    t = enc.get("prism-draw", enc.get("random", {})).get("text_to_drawing")
    if t:
        lines.append("")
        lines.append(f"Text → drawing chance: R@1 {t['chance_R@1']:.4f}, R@5 {t['chance_R@5']:.4f}, "
                     f"R@10 {t['chance_R@10']:.4f}, MRR@10 {t['chance_MRR@10']:.4f}. Same-class chance mAP: " +
                     ", ".join(f"{s} {_f(v.get('chance_mAP'))}" for s, v in enc['thumbnail']['same_class'].items()))
    gap = report.get("class_gap")
    if gap:
        lines.append("")
        lines.append(f"Same class, {gap['model']} minus {gap['baseline']} (mAP, 95 % paired bootstrap over patents): " +
                     "; ".join(f"{CLASS_SETS[s]} {g['diff']:+.3f} [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}] "
                               f"({g['patents']} patents)" for s, g in gap["sets"].items()))
    c = enc.get("prism-draw+consensus")
    if c:
        lines.append("")
        lines.append(f"Class consensus (the search's vector list, backend/search/ranking/class_consensus.py): the {c['k']} "
                     f"nearest drawings vote with their class; each drawing gains {c['weight']:g} x the share of "
                     f"them in its class (the dev drawings' own USPC / IPC / Locarno classes, the query's never) "
                     f"and {c.get('patent_weight', 0):g} x the share of them from its own patent" +
                     (f"; votes weighted by similarity (temperature {c['temperature']:g})" if c.get("temperature") else "") +
                     (f"; the {c['head']} closest keep their places" if c.get("head") else "") +
                     (f"; below them never past a drawing more than {c['band']:g} closer." if c.get("band") is not None
                      else "."))
    v = (enc.get("prism-draw+consensus+verify") or enc.get("prism-draw+verify") or {}).get("republished")
    if v and "verifiable" in v:
        lines.append("")
        lines.append(f"Second stage: the {v['top_k']} figures nearest the query and the {v['turned_k']} nearest it turned "
                     f"90/270 degrees verified ({v['checked_per_query']} per query); {v['verifiable']:.3f} of the "
                     f"re-published copies verify against their original at all (the ceiling of this stage).")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    enc = report["encoders"]
    tasks = [("re-published\nmAP", lambda e: e["republished"]["mAP"]),
             ("other views\nmAP", lambda e: e["other_views"]["mAP"])]
    tasks += [(f"same class\n{s} mAP", lambda e, s=s: e["same_class"][s]["mAP"]) for s in CLASS_SETS]
    tasks += [("text→drawing\nR@10", lambda e: e["text_to_drawing"]["R@10"])]
    names = list(enc)
    fig, ax = plt.subplots(figsize=(11, 4.2))
    width = 0.8 / len(names)
    for i, n in enumerate(names):
        vals = []
        for _, get in tasks:
            try:
                vals.append(get(enc[n]) or 0)
            except (KeyError, TypeError):
                vals.append(0)
        ax.bar(np.arange(len(tasks)) + i * width, vals, width, label=n)
    ax.set_xticks(np.arange(len(tasks)) + width * (len(names) - 1) / 2)
    ax.set_xticklabels([t for t, _ in tasks], fontsize=8)
    ax.set_ylabel("score (higher is better)")
    ax.set_title(f"Drawing retrieval on held-out real patents ({report['dev_drawings']} dev drawings)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
