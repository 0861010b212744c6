"""Paired bootstrap interval (backend/training/bootstrap.py) on hand-made per-query scores."""
from __future__ import annotations

import numpy as np
import pytest

from backend.training.bootstrap import paired_bootstrap


def test_clear_gain_excludes_zero_and_mean_is_pooled_over_seeds():
    rng = np.random.default_rng(1)
    control = rng.uniform(0.2, 0.6, size=(3, 200))
    treatment = control + 0.1 + rng.normal(0, 0.02, size=control.shape)
    res = paired_bootstrap(treatment, control, n_resamples=1000, seed=0)
    assert res["mean_diff"] == pytest.approx(float((treatment - control).mean()))
    assert res["low"] < res["mean_diff"] < res["high"]
    assert res["low"] > 0.09 and res["high"] < 0.11
    assert res["excludes_zero"] and res["queries"] == 200 and res["seeds"] == 3


def test_noise_only_interval_contains_zero_and_is_symmetric_under_swap():
    rng = np.random.default_rng(2)
    control = rng.uniform(0, 1, size=(5, 300))
    treatment = control + rng.normal(0, 0.2, size=control.shape)
    treatment -= (treatment - control).mean()         # exactly no mean difference
    res = paired_bootstrap(treatment, control, seed=3)
    assert res["low"] < 0 < res["high"] and not res["excludes_zero"]
    swapped = paired_bootstrap(control, treatment, seed=3)
    assert swapped["low"] == pytest.approx(-res["high"]) and swapped["high"] == pytest.approx(-res["low"])


def test_pairing_matters_a_shared_query_effect_cancels():
    # queries differ hugely in difficulty, the treatment adds 0.01 to every one: unpaired this would be
    # lost in the spread, paired the interval is tight around 0.01
    base = np.linspace(0, 0.9, 100)
    res = paired_bootstrap(base + 0.01, base)
    assert res["low"] == pytest.approx(0.01) and res["high"] == pytest.approx(0.01)
    assert res["excludes_zero"]


def test_nan_queries_left_out_and_bad_shapes_named():
    a = np.array([[0.5, np.nan, 0.7, 0.2], [0.4, 0.1, 0.6, 0.3]])
    b = np.array([[0.4, 0.3, 0.5, 0.1], [0.3, 0.3, 0.4, 0.2]])
    res = paired_bootstrap(a, b)
    assert res["queries"] == 3
    assert res["mean_diff"] == pytest.approx(np.mean([0.1, 0.2, 0.1, 0.1, 0.2, 0.1]))
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(4,\)"):
        paired_bootstrap(a, b[0])
    with pytest.raises(ValueError, match="at least 2 queries"):
        paired_bootstrap([0.1, np.nan], [0.2, 0.3])
