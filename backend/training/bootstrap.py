"""Paired bootstrap interval of a difference between two models, over queries, seeds pooled.

``paired_bootstrap(treatment, control)`` takes per-query scores of two models (shape ``(queries,)``
or ``(seeds, queries)``; the same query in the same column, the same seed in the same row) and
returns the mean difference ``treatment - control`` with a percentile bootstrap interval
(``scipy.stats.bootstrap``). Queries are the resampled unit: one draw of query indices is used for
every seed, so the statistic is the mean over seeds and resampled queries of the paired
difference - the same as resampling the per-query differences averaged over seeds.

Queries whose score is NaN in any row of either model (no relevant item) are left out.
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def paired_bootstrap(treatment, control, n_resamples: int = 1000, confidence: float = 0.95,
                     seed: int = 0) -> dict:
    """Mean paired difference ``treatment - control`` and its bootstrap interval over queries."""
    a = np.atleast_2d(np.asarray(treatment, dtype=np.float64))
    b = np.atleast_2d(np.asarray(control, dtype=np.float64))
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"treatment {np.shape(treatment)} and control {np.shape(control)} must be equal "
                         "(queries,) or (seeds, queries) shapes")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, not {n_resamples}")
    valid = ~(np.isnan(a).any(0) | np.isnan(b).any(0))
    diff = (a - b)[:, valid].mean(axis=0)          # per query, averaged over seeds
    n = int(valid.sum())
    if n < 2:
        raise ValueError(f"need at least 2 queries with a score in both models, got {n}")
    res = stats.bootstrap((diff,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                          method="percentile", random_state=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return {"mean_diff": float(diff.mean()), "low": low, "high": high,
            "excludes_zero": bool(low > 0 or high < 0), "queries": n, "seeds": int(a.shape[0]),
            "n_resamples": int(n_resamples), "confidence": confidence}
