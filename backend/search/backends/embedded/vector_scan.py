"""Exact nearest-vector search for the embedded backend, with a quantised first pass on large indexes.

The float32 pass reads every stored vector for every query (205 MB at 100,000 figures of 512 dims).
Past :data:`QUANTISED_MIN_ROWS` eligible figures an int8 copy (faiss ``IndexScalarQuantizer``, 8 bits
per dimension, SIMD) is scanned instead, a quarter of the bytes, and only its best ``m`` candidates are
scored on the float32 vectors. The answer stays exact: for every figure the quantisation error of its
cosine is at most ``‖x - x̂‖`` (the query is a unit vector), measured per figure when the copy is built.
Figures outside the candidates score at most the ``m``-th quantised score plus the largest error; when
that is below the ``k``-th exact score (or the similarity floor) none of them can enter the top ``k``.
Otherwise ``m`` grows (ultimately to every eligible figure, the float32 pass).
"""
from __future__ import annotations

import threading
from contextlib import AbstractContextManager

import numpy as np

#: eligible figures from which the quantised pass is used (below it the float32 pass is as fast)
QUANTISED_MIN_ROWS = 20_000
#: first candidate count, as a multiple of k (at least k + MIN_EXTRA)
OVERSAMPLE = 4
MIN_EXTRA = 200
#: float32 rounding of the two dot products (512 products of magnitude below 1), with a wide margin
ROUNDING = 1e-4
_BLAS: list = []      # the threadpoolctl controller of NumPy's BLAS (made on first use: one_thread)


def one_thread() -> AbstractContextManager:
    """BLAS on the calling thread only, for a matrix-vector product: at these sizes (a million products or
    so) a hand-off to BLAS's own threads costs more than it saves - ten times more on a busy machine, where
    they wait for a core. Each result row is the same dot product either way (the rows are split among the
    threads, not the sums), so the scores are bit for bit the same."""
    if not _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


class VectorScan:
    """Top-k search over the rows of ``vectors`` (unit length, float32; rows where ``has_vec`` is False are
    never returned)."""

    def __init__(self, vectors: np.ndarray, has_vec: np.ndarray, min_rows: int = QUANTISED_MIN_ROWS):
        self.vectors = vectors
        self.has_vec = has_vec
        self.all_vectors = bool(has_vec.all())
        self.min_rows = min_rows
        self._quantised = None
        self._lock = threading.Lock()

    def _index(self):
        """(faiss SQ8 index over every row, largest per-row quantisation error), built on first use."""
        if self._quantised is None:
            with self._lock:
                if self._quantised is None:
                    import faiss

                    # one thread per search: requests run in parallel threads already, and OpenMP's
                    # spinning threads cost more than they give on a busy machine (16 ms vs 6 ms measured)
                    faiss.omp_set_num_threads(1)
                    d = self.vectors.shape[1]
                    index = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
                    index.train(self.vectors)
                    index.add(self.vectors)
                    worst = 0.0
                    for start in range(0, len(self.vectors), 65536):   # decoded in slices: bounded memory
                        rows = self.vectors[start:start + 65536]
                        decoded = index.sa_decode(index.sa_encode(rows))
                        worst = max(worst, float(np.linalg.norm(rows - decoded, axis=1).max(initial=0.0)))
                    self._quantised = (index, worst)
        return self._quantised

    def search(self, query: np.ndarray, k: int, eligible: np.ndarray | None = None,
               floor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions, exact similarities) of a set of eligible rows that holds every row of the top ``k``
        (all rows tied with the ``k``-th included) with similarity at least ``floor``; unordered. The
        caller picks and orders the top ``k`` among them."""
        if eligible is None and not self.all_vectors:
            eligible = self.has_vec
        elif eligible is not None:
            eligible = eligible & self.has_vec
        count = len(self.vectors) if eligible is None else int(eligible.sum())
        if count < max(self.min_rows, 1) or k <= 0 or count <= k:
            return self._exhaustive(query, eligible, floor)
        index, worst = self._index()
        params = None
        if eligible is not None:
            import faiss

            bits = np.packbits(eligible, bitorder="little")
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(eligible), faiss.swig_ptr(bits)))
        m = max(k * OVERSAMPLE, k + MIN_EXTRA)
        q = np.ascontiguousarray(query, dtype=np.float32)[None, :]
        while m < count:
            approx, found = index.search(q, m, params=params)
            pos = found[0][found[0] >= 0]
            with one_thread():
                sims = self.vectors[pos] @ query
            if floor is not None:
                keep = sims >= floor
                pos, sims = pos[keep], sims[keep]
            bar = -np.inf if floor is None else floor
            if len(sims) >= k:
                bar = max(bar, float(np.partition(sims, len(sims) - k)[len(sims) - k]))
            # every row outside the candidates scores at most approx[0][-1] + worst (+ rounding)
            if float(approx[0][-1]) + worst + ROUNDING < bar:
                return pos, sims
            m *= 4
        return self._exhaustive(query, eligible, floor)

    def _exhaustive(self, query: np.ndarray, eligible: np.ndarray | None,
                    floor: float | None) -> tuple[np.ndarray, np.ndarray]:
        """The float32 pass over every eligible row."""
        with one_thread():
            if eligible is None:
                sims = self.vectors @ query
                pos = np.arange(len(self.vectors))
            else:
                pos = np.flatnonzero(eligible)
                sims = self.vectors[pos] @ query
        if floor is not None:
            keep = sims >= floor
            pos, sims = pos[keep], sims[keep]
        return pos, sims
