"""Query vectors scaled to unit length, the one way every entry point accepts them."""
from __future__ import annotations

import numpy as np


def unit_vector(values):
    """``values`` scaled to length 1 (float64 throughout, so 1e20 or 1e-300 components are as good as any),
    then float32; ValueError for an empty, non-finite or all-zero vector. /search, /search/export and watches
    accept and normalise query vectors with this one function."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or not v.size or not np.isfinite(v).all():
        raise ValueError("must be a non-empty list of finite numbers")
    peak = float(np.abs(v).max())
    if peak == 0:
        raise ValueError("must not be all zeros")
    v = v / peak                     # no overflow in the norm, whatever the scale
    return (v / np.linalg.norm(v)).astype(np.float32)
