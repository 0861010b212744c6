"""Patent-level scoring of a figure similarity matrix, as ``POST /search`` ranks a drawing query.

The search groups figures by patent (a patent scores its best figure) and an upload is never its own
patent; the query's own patent is left out of same-class rankings (``exclude_patents``). Metrics:

* copies: one relevant patent per query (the original's) - AP (= reciprocal rank), Hit@1, Hit@10;
* same class: every other patent of the query's class is relevant - AP over the whole ranking, P@10,
  Hit@10 (any same-class patent in the first 10).
"""
from __future__ import annotations

import numpy as np


def patent_scores(sim: np.ndarray, patents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique patents, ``(n_queries, n_patents)`` best figure score of each patent)."""
    names, index = np.unique(patents, return_inverse=True)
    out = np.full((sim.shape[0], len(names)), -np.inf, dtype=np.float64)
    for j in range(len(names)):
        cols = np.flatnonzero(index == j)
        out[:, j] = sim[:, cols].max(axis=1)
    return names, out


def _ranked_relevance(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, axis=1, kind="stable")
    ranked = np.take_along_axis(relevant, order, axis=1)
    # patents left out (-inf) never count as retrieved
    ranked &= np.isfinite(np.take_along_axis(scores, order, axis=1))
    return ranked


def _ap(ranked: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    hits = np.cumsum(ranked, axis=1)
    precision = hits / np.arange(1, ranked.shape[1] + 1)
    return (precision * ranked).sum(axis=1) / np.maximum(n_relevant, 1)


def copies(sim: np.ndarray, gallery_patents: np.ndarray, query_patents: np.ndarray) -> dict:
    """Each query's original is in ``gallery_patents[query_patents[i]]`` (the copy's patent)."""
    names, scores = patent_scores(sim, gallery_patents)
    relevant = names[None, :] == query_patents[:, None]
    ranked = _ranked_relevance(scores, relevant)
    ap = _ap(ranked, relevant.sum(1))
    return {"mAP": float(ap.mean()), "Hit@1": float(ranked[:, 0].mean()),
            "Hit@10": float(ranked[:, :10].any(1).mean()), "queries": int(len(ap))}


def same_class(sim: np.ndarray, gallery_patents: np.ndarray, gallery_labels: np.ndarray,
               query_patents: np.ndarray, query_labels: np.ndarray, queries: np.ndarray | None = None) -> dict:
    """Same-class retrieval at patent level, the query's own patent left out; ``queries``: the rows to
    score (default all). Queries without any other same-class patent in the gallery are not scored."""
    rows = np.arange(sim.shape[0]) if queries is None else np.asarray(queries)
    names, scores = patent_scores(sim[rows], gallery_patents)
    label_of = {}
    for p, lab in zip(gallery_patents, gallery_labels):
        label_of.setdefault(p, lab)
    patent_labels = np.array([label_of[n] for n in names])
    own = names[None, :] == query_patents[rows][:, None]
    scores[own] = -np.inf
    relevant = (patent_labels[None, :] == query_labels[rows][:, None]) & ~own
    keep = relevant.any(1)
    ranked = _ranked_relevance(scores[keep], relevant[keep])
    ap = _ap(ranked, relevant[keep].sum(1))
    n_rel = relevant[keep].sum(1)
    n_all = (~own[keep]).sum(1)
    return {"mAP": float(ap.mean()) if len(ap) else None,
            "P@10": float(ranked[:, :10].sum(1).mean() / 10) if len(ap) else None,
            "Hit@10": float(ranked[:, :10].any(1).mean()) if len(ap) else None,
            "chance_mAP": float(np.mean(n_rel / np.maximum(n_all, 1))) if len(ap) else None,
            "queries": int(keep.sum())}


def text_recall(sim: np.ndarray, relevant: np.ndarray, k: int = 10) -> float:
    """Figure-level recall@k of text queries (the share of each query's relevant drawings in its top k)."""
    order = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    got = np.take_along_axis(relevant, order, axis=1).sum(1)
    return float(np.mean(got / np.maximum(relevant.sum(1), 1)))


# ------------------------------------------------------------------------------------------------
# the table: the search pipeline at patent level beside its baselines, in one run

SETS = (("usdesign", "US designs, USPC class"), ("impact", "US designs, Locarno class"),
        ("kr", "Korean utility, IPC subclass"))
LINE_WEIGHT = 0.75       # the line-descriptor channel's weight (dev split: 0.5-1.5 tried)


def verified(sim: np.ndarray, originals, published, gallery_vectors, query_vectors, encode, settings) -> np.ndarray:
    """``sim`` with the search's second stage as ``POST /search`` runs it for an upload: the
    ``search_verify_top_k`` figures nearest the query vector and the ``search_verify_turned_k`` nearest the
    query turned 90/270 degrees are verified geometrically; verified ones go first (by score)."""
    from backend.search.ranking import rerank, verification

    top_k, turned_k = settings.search_verify_top_k, settings.search_verify_turned_k
    feats = [verification.extract(im) for im in originals]
    base = query_vectors @ gallery_vectors.T
    turned = []
    if turned_k > 0:
        turns = [rerank.turned(im) for im in published]
        turned = [encode([t[k] for t in turns]) @ gallery_vectors.T for k in range(2)]
    out = np.array(sim, copy=True)
    for i, im in enumerate(published):
        q = verification.extract(im)
        candidates = list(np.argsort(-base[i])[:top_k])
        for s in turned:
            candidates += [j for j in np.argsort(-s[i])[:turned_k] if j not in candidates]
        for j in candidates:
            result = verification.verify(q, feats[j])
            if result.verified:
                out[i, j] = 1e3 + result.score
    return out


def text_relevance(records, texts) -> np.ndarray:
    patents = np.array([r.patent for r in records])
    t = np.array(texts)
    return (patents[:, None] == patents[None, :]) & (t[:, None] == t[None, :])


def system_row(name: str, gallery: np.ndarray, queries: np.ndarray, records, cons=None, copy_sim=None,
               text_vectors: np.ndarray | None = None, texts=None) -> dict:
    """One row of the table for the vectors ``gallery`` (dev drawings) and ``queries`` (their re-published
    copies); ``cons``: the search's class consensus on the vector list; ``copy_sim``: the copy task's
    similarity when a second stage changed it."""
    from backend.training import realdata

    patents = np.array([r.patent for r in records])
    labels = np.array([r.label for r in records])
    sources = np.array([realdata.source_of(r) for r in records])
    sim = queries @ gallery.T
    if cons is not None:
        sim = cons(sim)
    row = {"name": name, "copies": copies(sim if copy_sim is None else copy_sim, patents, patents)}
    own = gallery @ gallery.T
    own[patents[:, None] == patents[None, :]] = -np.inf   # the query's own patent neither votes nor ranks
    if cons is not None:                                  # (exclude_patents keeps it out of the vector list)
        own = cons(own)
    for source, _what in SETS:
        row[source] = same_class(own, patents, labels, patents, labels, np.flatnonzero(sources == source))
    if text_vectors is not None:
        tsim = text_vectors @ gallery.T
        if cons is not None:
            tsim = cons(tsim)
        row["text_R@10"] = text_recall(tsim, text_relevance(records, texts))
    return row


def render(rows: list[dict], n_drawings: int, n_patents: int, chance_r10: float) -> str:
    head = ["system", "copies mAP / Hit@1 / Hit@10"] + [f"{what}: mAP / P@10 / Hit@10" for _s, what in SETS] + \
        ["text → drawing R@10"]
    lines = [f"Dev split: {n_drawings} drawings of {n_patents} held-out patents; ranked at patent level (a patent "
             f"scores its best figure), the query's own patent left out of same-class rankings.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def f(x):
        return "–" if x is None else f"{x:.3f}"

    for row in rows:
        c = row["copies"]
        cells = [row["name"], f"{f(c['mAP'])} / {f(c['Hit@1'])} / {f(c['Hit@10'])}"]
        for source, _what in SETS:
            r = row[source]
            cells.append(f"{f(r['mAP'])} / {f(r['P@10'])} / {f(r['Hit@10'])}")
        cells.append(f(row.get("text_R@10")))
        lines.append("| " + " | ".join(cells) + " |")
    ratios = []
    base = next((r for r in rows if r["name"].startswith("thumbnail")), None)
    if base:
        for row in rows:
            if row is base:
                continue
            parts = [f"{source} {row[source]['mAP'] / base[source]['mAP']:.2f}x" for source, _ in SETS
                     if base[source]["mAP"]]
            ratios.append(f"{row['name']}: " + ", ".join(parts))
    lines += ["", f"Text → drawing chance R@10: {chance_r10:.4f} (10 / drawings). Same-class chance mAP: " +
              ", ".join(f"{s} {f(rows[0][s]['chance_mAP'])}" for s, _ in SETS) + ".",
              "", "Same-class mAP over the 24 px thumbnail's: " + "; ".join(ratios) + "."]
    return "\n".join(lines) + "\n"


#: the measured candidate for the stored vector: [e, 0.6 * 16 px thumbnail, 0.75 * line channel (128-d whitened
#: PCA of the line descriptors, fitted on the train split)] - weights chosen on the dev split
CANDIDATE_THUMBNAIL_WEIGHT, CANDIDATE_LINE_DIMS, CANDIDATE_LINE_WEIGHT = 0.6, 128, 0.75


def candidate_channel(progress=print):
    """The candidate's line channel: the packaged projection when prism-draw has one, else one fitted on the
    train split (``prism model fit-line-pca``'s recipe) and cached under var/cache/line-pca/."""
    from backend.model import line_descriptors
    from backend.model.registry import CHECKPOINT_DIR
    from backend.settings import REPO_ROOT
    from backend.training import line_pca

    ch = line_descriptors.channel("prism-draw")
    if ch is not None:
        return ch
    path = REPO_ROOT / "var" / "cache" / "line-pca" / f"prism-draw-{CANDIDATE_LINE_DIMS}.npz"
    packaged = CHECKPOINT_DIR / "prism-draw.line-pca.npz"
    if packaged.is_file():
        path = packaged
    elif not path.is_file():
        report = line_pca.build(path, CANDIDATE_LINE_DIMS, progress=lambda _m: None)
        progress(f"  line projection fitted on {report['drawings']} train drawings: {report['seconds']} s")
    return line_descriptors.LineChannel(CANDIDATE_LINE_DIMS, CANDIDATE_LINE_WEIGHT, str(path))


def search_table(dev, originals, published, texts, checkpoint, consensus, verify: bool = True,
                 progress=print) -> tuple[list[dict], str]:
    """Every row of the table, in one run (see :func:`render`)."""
    import time

    from backend.model import line_descriptors, registry, thumbnail
    from backend.model.encoder import Encoder
    from backend.model.line_descriptors import describe, fuse
    from backend.settings import Settings

    t0 = time.time()
    enc = Encoder(registry.load_model("prism-draw", checkpoint, "cpu"), batch_size=64)
    e_g, e_q = enc.embed_images(originals), enc.embed_images(published)      # the learnt embedding alone
    stored_t = enc.encode_texts(texts)                                         # [text, 0]
    e_t = stored_t[:, :enc.embed_dim]
    progress(f"  encoder: {time.time() - t0:.0f} s")
    th_g, th_q = thumbnail.thumbnail_vectors(originals, 24), thumbnail.thumbnail_vectors(published, 24)
    l_g, l_q = describe(originals), describe(published)
    stored_g, stored_q = enc.with_channels(e_g, originals), enc.with_channels(e_q, published)
    progress(f"  line descriptors and the stored vectors: {time.time() - t0:.0f} s")
    line = candidate_channel(progress)
    t16_g, t16_q = thumbnail.thumbnail_vectors(originals, 16), thumbnail.thumbnail_vectors(published, 16)

    def candidate(e, t16, lines):
        v = np.hstack([e, CANDIDATE_THUMBNAIL_WEIGHT * t16, line.weight * line_descriptors.project(lines, line)])
        return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    cand_g, cand_q = candidate(e_g, t16_g, l_g), candidate(e_q, t16_q, l_q)
    cand_t = np.hstack([e_t, np.zeros((len(e_t), cand_g.shape[1] - enc.embed_dim), np.float32)])
    fused_g, fused_q = fuse(e_g, l_g, LINE_WEIGHT), fuse(e_q, l_q, LINE_WEIGHT)
    fused_t = np.hstack([e_t, np.zeros((len(e_t), l_g.shape[1]), np.float32)])
    tag = enc.model_id.split("+", 1)[-1] if "+" in enc.model_id else "no channels"
    stored = f"stored vector ({tag}, {enc.dim} d)"
    cand = (f"candidate: encoder + 16 px w {CANDIDATE_THUMBNAIL_WEIGHT:g} + line {line.dims} d w {line.weight:g}"
            f" ({cand_g.shape[1]} d)")
    rows = [system_row("thumbnail 24 px", th_g, th_q, dev),
            system_row("line descriptors alone (2,340 d)", l_g, l_q, dev),
            system_row("encoder alone (learnt vector)", e_g, e_q, dev, text_vectors=e_t, texts=texts),
            system_row(f"encoder + line descriptors, 2,340 d (w {LINE_WEIGHT:g})", fused_g, fused_q, dev,
                       text_vectors=fused_t, texts=texts),
            system_row(stored + ", consensus off", stored_g, stored_q, dev, text_vectors=stored_t, texts=texts),
            system_row(cand + ", consensus off", cand_g, cand_q, dev, text_vectors=cand_t, texts=texts)]
    if consensus is not None:
        rows.append(system_row("search without verification: " + stored + " + consensus", stored_g, stored_q, dev,
                               consensus, None, stored_t, texts))
        rows.append(system_row(cand + " + consensus", cand_g, cand_q, dev, consensus, None, cand_t, texts))
        if verify:
            copy_sim = verified(consensus(stored_q @ stored_g.T), originals, published, stored_g, stored_q,
                                enc.encode_images, Settings())
            progress(f"  verification: {time.time() - t0:.0f} s")
            rows.append(system_row("search: " + stored + " + consensus + verification", stored_g, stored_q, dev,
                                   consensus, copy_sim, stored_t, texts))
    return rows, render(rows, len(dev), len({r.patent for r in dev}), 10 / len(dev))
