"""The projection of the line descriptors that the stored drawing vector carries (backend/training/line_pca.py)."""
from __future__ import annotations

import numpy as np
import pytest

from backend.training import line_pca


def test_fit_gives_orthonormal_axes_of_the_largest_variance_and_skips_blank_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10)) * np.array([9, 5, 1, 1, 1, 1, 1, 1, 1, 1]) + 3
    x = np.vstack([x, np.zeros((50, 10))])                       # blank drawings do not pull the mean
    mean, comps = line_pca.fit(x, 2, whiten=False)
    assert mean.shape == (10,) and comps.shape == (2, 10) and comps.dtype == np.float32
    assert np.allclose(mean, x[:200].mean(0), atol=1e-4)
    assert np.allclose(comps @ comps.T, np.eye(2), atol=1e-5)
    assert abs(comps[0, 0]) > 0.99 and abs(comps[1, 1]) > 0.99   # the two widest axes, in order
    again_mean, again = line_pca.fit(x[::-1], 2, whiten=False)  # row order does not change the file
    assert np.allclose(again, comps, atol=1e-5) and np.allclose(again_mean, mean, atol=1e-5)


def test_whitened_components_give_unit_variance_along_the_same_axes():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 6)) * np.array([8, 4, 2, 1, 1, 1])
    mean, plain = line_pca.fit(x, 3, whiten=False)
    _mean, white = line_pca.fit(x, 3)
    z = (x - mean) @ white.T
    assert np.allclose(z.std(axis=0, ddof=1), 1, atol=1e-4)
    assert np.allclose(white / np.linalg.norm(white, axis=1, keepdims=True), plain, atol=1e-5)


def test_fit_refuses_more_components_than_drawings():
    with pytest.raises(ValueError, match="cannot fit 5 components"):
        line_pca.fit(np.ones((3, 10)) + np.arange(10), 5)


def test_save_round_trips(tmp_path):
    mean, comps = np.arange(4, dtype=np.float32), np.eye(2, 4, dtype=np.float32)
    line_pca.save(tmp_path / "p.npz", mean, comps)
    with np.load(tmp_path / "p.npz") as f:
        assert np.array_equal(f["mean"], mean) and np.array_equal(f["components"], comps)
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]


def test_the_command_names_what_is_missing_in_one_line(tmp_path):
    from click.testing import CliRunner

    from backend.training.cli import model_group

    result = CliRunner().invoke(model_group, ["fit-line-pca"])
    assert result.exit_code == 1 and "give --out and --dims" in result.output
    result = CliRunner().invoke(model_group, ["fit-line-pca", "--out", str(tmp_path / "p.npz"), "--dims", "8",
                                              "--data", str(tmp_path / "absent")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "p.npz").exists()
