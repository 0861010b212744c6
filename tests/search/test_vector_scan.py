"""The embedded backend's nearest-vector search with the int8 first pass (vector_scan.py) gives
the same ranking as the float32 pass over every figure: with and without filters, a similarity floor,
figures without vectors, duplicate vectors (ties) and vectors too close together for the bound (the
pass then widens to every figure)."""
from __future__ import annotations

import numpy as np
import pytest

from backend.search.backends.embedded import vector_scan
from backend.search.backends.embedded.vector_scan import VectorScan


def clustered(n: int, d: int, seed: int, spread: float = 0.6) -> np.ndarray:
    """Unit vectors around 20 centres (neighbours are close, as drawings of one class are), every 50th a
    copy of the one before (the same drawing in two patents: exact ties)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, d))
    x = centres[rng.integers(20, size=n)] + spread * rng.normal(size=(n, d))
    x[1::50] = x[0:-1:50][: len(x[1::50])]
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference(x: np.ndarray, has_vec: np.ndarray, q: np.ndarray, k: int, eligible, floor) -> list[int]:
    """The float32 pass as the backend did it before: top k by similarity desc, ties by position."""
    ok = has_vec if eligible is None else has_vec & eligible
    pos = np.flatnonzero(ok)
    sims = x[pos] @ q
    if floor is not None:
        pos, sims = pos[sims >= floor], sims[sims >= floor]
    order = np.lexsort((pos, -sims))[:k]
    return pos[order].tolist()


def ranked(scan: VectorScan, q: np.ndarray, k: int, eligible=None, floor=None) -> list[int]:
    pos, sims = scan.search(q, k, eligible, floor)
    return pos[np.lexsort((pos, -sims))][:k].tolist()


@pytest.mark.parametrize("seed", [0, 1])
def test_quantised_pass_ranks_like_the_float32_pass(seed):
    x = clustered(6000, 64, seed)
    has_vec = np.ones(len(x), dtype=bool)
    has_vec[::97] = False                      # figures without a vector are never returned
    scan = VectorScan(x, has_vec, min_rows=0)
    rng = np.random.default_rng(seed + 10)
    selective = rng.random(len(x)) < 0.3
    for i in range(25):
        q = x[rng.integers(len(x))] + 0.3 * rng.normal(size=x.shape[1]).astype(np.float32)
        q /= np.linalg.norm(q)
        for k in (10, 100):
            for eligible, floor in ((None, None), (selective, None), (None, 0.5), (selective, 0.2)):
                want = reference(x, has_vec, q, k, eligible, floor)
                assert ranked(scan, q, k, eligible, floor) == want, (i, k, floor)


def test_the_quantised_pass_is_what_answers(monkeypatch):
    """On clustered vectors the bound proves most answers from the first candidates: the float32 pass
    over every figure is not what answers (else this would test nothing)."""
    x = clustered(6000, 64, 3)
    scan = VectorScan(x, np.ones(len(x), dtype=bool), min_rows=0)
    calls = []
    original = scan._exhaustive
    monkeypatch.setattr(scan, "_exhaustive", lambda *a: calls.append(1) or original(*a))
    for q in x[:20]:
        scan.search(q, 100)
    assert len(calls) <= 2


def test_too_close_for_the_bound_widens_to_every_figure():
    """Vectors nearly identical: the quantisation error exceeds every gap, the search widens until it is
    the float32 pass, and the ranking is still exact."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=32)
    x = (base + 1e-3 * rng.normal(size=(3000, 32))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    has_vec = np.ones(len(x), dtype=bool)
    scan = VectorScan(x, has_vec, min_rows=0)
    for q in x[:5]:
        assert ranked(scan, q, 50) == reference(x, has_vec, q, 50, None, None)


def test_small_indexes_use_the_float32_pass_only():
    x = clustered(500, 16, 0)
    scan = VectorScan(x, np.ones(len(x), dtype=bool))
    assert len(x) < vector_scan.QUANTISED_MIN_ROWS
    pos, _ = scan.search(x[0], 10)
    assert len(pos) == len(x) and scan._quantised is None


def test_embedded_backend_ranks_alike_with_the_quantised_pass(make_settings, monkeypatch):
    """Through the whole embedded pipeline (grouped hybrid search, a filter): the same hits and scores."""
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

    x = clustered(1500, 32, 7)
    rng = np.random.default_rng(8)
    docs = [{"figure_id": f"P{i // 3}-F{i % 3}", "publication_number": f"P{i // 3}", "figure_number": i % 3,
             "title": "widget" if i % 2 else "gadget", "country": "EP" if i % 4 else "US",
             "image_vector": x[i].tolist()} for i in range(len(x))]
    backend = EmbeddedBackend(make_settings(search_backend="embedded", search_dense_text=False))
    backend.index_figures(docs)
    backend.refresh()
    requests = []
    for _ in range(8):
        q = (x[rng.integers(len(x))] + 0.2 * rng.normal(size=32)).tolist()
        requests += [{"vector": q, "size": 30}, {"text": "widget", "vector": q, "size": 30},
                     {"vector": q, "size": 30, "group_by_patent": False, "filters": {"countries": ["EP"]}}]

    def answers():
        out = []
        for r in requests:
            resp = backend.search(r)
            out.append((resp.total, resp.total_relation, [(h.figure_id, h.score) for h in resp.hits]))
        return out

    before = answers()
    assert any(total > 100 for total, _, _ in before)     # the text tail is counted
    monkeypatch.setattr(backend.snapshot().scan, "min_rows", 0)
    assert answers() == before
    assert backend.snapshot().scan._quantised is not None
    # the lists (and the count's matches) read in parallel threads, as on a large index
    monkeypatch.setattr(backend, "parallel_min_rows", 0)
    assert answers() == before
    assert backend._pool is not None
