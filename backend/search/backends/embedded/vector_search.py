"""The embedded drawing lists: the exact nearest vectors (:mod:`.vector_scan`), the whole drawing ranking
past the window and its count, and the dense (MiniLM) text vectors."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from backend.search.backends.embedded.snapshot import Snapshot, dedupe_positions
from backend.search.backends.embedded.vector_scan import one_thread
from backend.search.index import documents
from backend.search.pipeline.candidates import Candidate, Query

if TYPE_CHECKING:
    from backend.search.backends.embedded.store import EmbeddedStore


def knn(snap: Snapshot, query: Query, mask: np.ndarray | None) -> list[Candidate]:
    if query.vector is None or not snap.dims:
        return []
    # exact: every figure that can be in the top window, with its float32 similarity (vector_scan.py)
    pos, sims = snap.scan.search(query.vector, query.window, mask, query.similarity_floor)
    k = min(query.window, len(pos))
    if k == 0:
        return []
    if k < len(pos):
        top = np.argpartition(-sims, k - 1)[:k]
        # keep every entry tied with the k-th so the figure-id tie-break is exact
        kth = sims[top].min()
        top = np.flatnonzero(sims >= kth)
        pos, sims = pos[top], sims[top]
    order = snap.ordered(pos, sims)[:k]
    chosen = [snap.candidate(int(pos[i]), float(sims[i])) for i in order]
    if query.group:
        seen: set[str] = set()
        chosen = [c for c in chosen if not (c.key(query.group_field) in seen or seen.add(c.key(query.group_field)))]
    return chosen


def drawing_ranking(snap: Snapshot, query: Query) -> tuple[np.ndarray, np.ndarray]:
    """(positions, float32 cosines) of the whole drawing ranking: every figure with a vector passing the
    filters and the similarity floor, by (cosine desc, figure id asc); grouped: each group's closest
    figure. One exact float32 pass; kept on ``query`` (the tail and the count both ask)."""
    cached = query.memo.get("drawing_ranking")
    if cached is not None and cached[0] is snap:
        return cached[1]
    eligible = snap.mask(query.spec)
    if not snap.all_vectors:
        eligible = snap.has_vec if eligible is None else eligible & snap.has_vec
    pos = np.arange(len(snap)) if eligible is None else np.flatnonzero(eligible)
    with one_thread():
        sims = (snap.vectors @ query.vector.astype(np.float32))[pos]
    if query.similarity_floor is not None:
        keep = sims >= query.similarity_floor
        pos, sims = pos[keep], sims[keep]
    order = snap.ordered(pos, sims)
    pos, sims = pos[order], sims[order]
    if query.group:
        codes, _names = snap.group_codes(query.group_field)
        _unique, first = np.unique(codes[pos], return_index=True)
        first.sort()
        pos, sims = pos[first], sims[first]
    query.memo["drawing_ranking"] = (snap, (pos, sims))
    return pos, sims


def vector_after(store: EmbeddedStore, query: Query, after: tuple[float, str] | None, limit: int) -> list[Candidate]:
    snap = store.snapshot()
    if query.vector is None or not snap.dims or not len(snap) or limit <= 0:
        return []
    pos, sims = drawing_ranking(snap, query)
    start = 0
    if after is not None:     # strictly after (cosine desc, figure id asc): bisect on the sorted ranking
        score, fid = after
        start = int(np.searchsorted(-sims, -np.float32(score), side="left"))
        while start < len(pos) and float(sims[start]) == score and snap.figure_ids[int(pos[start])] <= fid:
            start += 1
    return [snap.candidate(int(p), float(v)) for p, v in zip(pos[start:start + limit], sims[start:start + limit])]


def vector_count(store: EmbeddedStore, query: Query, keys: list[str]) -> tuple[int, str, set[str]]:
    snap = store.snapshot()
    if query.vector is None or not snap.dims or not len(snap):
        return 0, "eq", set()
    if query.similarity_floor is None:   # who is ranked needs no cosine: the same for every drawing
        key = (repr(query.spec), query.group_field if query.group else None)
        counted = snap.counted(key, lambda: _ranked(snap, query, _with_vector(snap, query)))
    else:
        counted = _ranked(snap, query, drawing_ranking(snap, query)[0])
    n, ranked = counted
    if query.group:
        _codes, names = snap.group_codes(query.group_field)
        return n, "eq", {k for k in keys if k in names and ranked[names[k]]}
    return n, "eq", {k for k in keys if k in snap.pos_of and ranked[snap.pos_of[k]]}


def _with_vector(snap: Snapshot, query: Query) -> np.ndarray:
    """Positions of the figures with a vector that pass the filters."""
    eligible = snap.mask(query.spec)
    if not snap.all_vectors:
        eligible = snap.has_vec if eligible is None else eligible & snap.has_vec
    return np.arange(len(snap)) if eligible is None else np.flatnonzero(eligible)


def _ranked(snap: Snapshot, query: Query, pos: np.ndarray) -> tuple[int, np.ndarray]:
    """(how many figures - groups when grouping - ``pos`` holds, a flag per figure - group - held)."""
    if query.group:
        codes, names = snap.group_codes(query.group_field)
        seen = np.zeros(len(names), dtype=bool)
        seen[codes[pos]] = True
        return int(seen.sum()), seen
    hit = np.zeros(len(snap), dtype=bool)
    hit[pos] = True
    return len(pos), hit


def dense_matrix(store: EmbeddedStore, snap: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """(snapshot positions, normalised vectors) of the figures that have a dense text vector."""
    gen = store.snapshot_gen
    cached = store.dense_cache
    if cached is not None and cached[0] == gen:
        return cached[1], cached[2]
    rows = store.conn().execute("SELECT id, dense_vector FROM figures WHERE dense_vector IS NOT NULL "
                                "ORDER BY id").fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    pos = np.searchsorted(snap.ids, ids)
    ok = (pos < len(snap)) & (snap.ids[np.minimum(pos, max(len(snap) - 1, 0))] == ids)
    mat = np.zeros((int(ok.sum()), documents.DENSE_DIMS), dtype=np.float32)
    for i, j in enumerate(np.flatnonzero(ok).tolist()):
        mat[i] = np.frombuffer(rows[j][1], dtype=np.float32)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    mat /= np.where(norms > 0, norms, 1.0)
    store.dense_cache = (gen, pos[ok], mat)
    return pos[ok], mat


def dense(store: EmbeddedStore, query: Query, vector: np.ndarray) -> list[Candidate]:
    snap = store.snapshot()
    if not len(snap):
        return []
    pos, mat = dense_matrix(store, snap)
    mask = snap.mask(query.spec)
    if mask is not None:
        keep = mask[pos]
        pos, mat = pos[keep], mat[keep]
    if not len(pos):
        return []
    with one_thread():
        sims = mat @ vector
    floor = store.settings.search_dense_min_similarity
    keep = sims >= floor
    pos, sims = pos[keep], sims[keep]
    order = snap.ordered(pos, sims)
    chosen = [int(pos[i]) for i in order]
    if query.group:   # every figure of a patent has its vector: the patent's first figure stands for it
        chosen = dedupe_positions(chosen, snap.pubs, query.window)
    by_pos = dict(zip(pos.tolist(), sims.tolist()))
    return [snap.candidate(p, by_pos[p]) for p in chosen[:query.window]]
