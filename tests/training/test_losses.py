"""Each loss against small hand-computed cases (numpy, written out element by element)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from backend.training import losses as L


def _t(x):
    return torch.tensor(np.asarray(x, dtype=np.float32))


def _ce(row, target):
    """-log softmax(row)[target], written out."""
    return -(row[target] - math.log(sum(math.exp(v) for v in row)))


# 3 items in 2-D; logits are plain dot products (scale 1) -> easy to write down
IMG = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
TXT = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
LOGITS = IMG @ TXT.T  # [[1, .6, 0], [0, .8, 1], [.6, 1.0, .8]]


def test_infonce_identity_2x2_by_hand():
    out = L.InfoNCELoss()(_t(np.eye(2)), _t(np.eye(2)), torch.tensor(1.0))
    assert set(out) == {"contrastive_loss"}
    # logits [[1,0],[0,1]]: every row/column gives -log(e / (e + 1)) = log(1 + e^-1)
    assert out["contrastive_loss"].item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)


def test_infonce_3x3_matches_written_out_cross_entropy():
    np.testing.assert_allclose(LOGITS, [[1, .6, 0], [0, .8, 1], [.6, 1.0, .8]], atol=1e-12)
    scale = 2.0
    lg = scale * LOGITS
    i2t = np.mean([_ce(lg[i], i) for i in range(3)])
    t2i = np.mean([_ce(lg[:, j], j) for j in range(3)])
    out = L.InfoNCELoss()(_t(IMG), _t(TXT), torch.tensor(scale))
    assert out["contrastive_loss"].item() == pytest.approx((i2t + t2i) / 2, abs=1e-5)
    li, lt = L.InfoNCELoss().get_logits(_t(IMG), _t(TXT), scale)
    np.testing.assert_allclose(lt.numpy(), lg.T, atol=1e-6)
    assert L.InfoNCELoss().get_ground_truth("cpu", 3).tolist() == [0, 1, 2]


def test_effective_number_weights_by_hand():
    # counts [1, 3], beta 0.5: raw (1-b)/(1-b^n) = [1, 0.5/0.875]; normalised to sum 2
    w = L.effective_number_weights([1, 3], beta=0.5).numpy()
    raw = np.array([1.0, 0.5 / 0.875])
    np.testing.assert_allclose(w, raw / raw.sum() * 2, rtol=1e-6)
    np.testing.assert_allclose(w, [1.272727, 0.727273], rtol=1e-5)
    # beta = 0 -> uniform; beta -> 1 -> inverse frequency
    np.testing.assert_allclose(L.effective_number_weights([1, 3], beta=0.0).numpy(), [1, 1])
    inv = np.array([1, 1 / 3]) / (4 / 3) * 2
    np.testing.assert_allclose(L.effective_number_weights([1, 3], beta=0.999999).numpy(), inv, rtol=1e-4)
    with pytest.raises(ValueError):
        L.effective_number_weights([1, 3], beta=1.0)


def test_class_balanced_infonce_by_hand():
    labels = [0, 1, 1]
    w_cls = np.array([1.0, 0.5 / 0.875]) / (1 + 0.5 / 0.875) * 2
    w = w_cls[labels]
    i2t = np.array([_ce(LOGITS[i], i) for i in range(3)])
    t2i = np.array([_ce(LOGITS[:, j], j) for j in range(3)])
    expected = (np.mean(w * i2t) + np.mean(w * t2i)) / 2
    loss = L.ClassBalancedInfoNCELoss([1, 3], beta=0.5)
    out = loss(_t(IMG), _t(TXT), torch.tensor(1.0), torch.tensor(labels))
    assert out["contrastive_loss"].item() == pytest.approx(expected, abs=1e-5)
    # weights differ from plain InfoNCE -> a different number
    plain = L.InfoNCELoss()(_t(IMG), _t(TXT), torch.tensor(1.0))["contrastive_loss"].item()
    assert abs(plain - expected) > 1e-3
    with pytest.raises(ValueError, match="labels"):
        loss(_t(IMG), _t(TXT), torch.tensor(1.0))


def test_logit_adjusted_infonce_by_hand():
    counts = [1, 3]
    tau = 1.0
    prior = np.log(np.array(counts) / 4)  # [log .25, log .75]
    labels = [0, 1, 1]
    shift = tau * prior[labels]  # one per candidate (column)
    adj_i2t = LOGITS + shift[None, :]
    adj_t2i = LOGITS.T + shift[None, :]
    expected = (np.mean([_ce(adj_i2t[i], i) for i in range(3)]) +
                np.mean([_ce(adj_t2i[j], j) for j in range(3)])) / 2
    out = L.LogitAdjustedInfoNCELoss(counts, tau=tau)(_t(IMG), _t(TXT), torch.tensor(1.0), torch.tensor(labels))
    assert out["contrastive_loss"].item() == pytest.approx(expected, abs=1e-5)
    # the rare class's positive is made harder: its loss rises relative to plain InfoNCE
    plain_i0 = _ce(LOGITS[0], 0)
    assert _ce(adj_i2t[0], 0) > plain_i0


def test_class_contrastive_by_hand():
    labels = [0, 1, 1]  # items 1 and 2 share a class
    pos = {0: [0], 1: [1, 2], 2: [1, 2]}

    def supcon(lg):
        return np.mean([-np.mean([lg[i][p] - math.log(sum(math.exp(v) for v in lg[i])) for p in pos[i]])
                        for i in range(3)])

    expected = (supcon(LOGITS) + supcon(LOGITS.T)) / 2
    loss = L.ClassContrastiveLoss()
    out = loss(_t(IMG), _t(TXT), torch.tensor(1.0), torch.tensor(labels))
    assert set(out) == {"class_loss"}
    assert out["class_loss"].item() == pytest.approx(expected, abs=1e-5)
    mask = loss.get_ground_truth("cpu", 3, torch.tensor(labels))
    np.testing.assert_array_equal(mask.numpy(), [[1, 0, 0], [0, 1, 1], [0, 1, 1]])
    # all classes distinct -> identical to InfoNCE
    distinct = loss(_t(IMG), _t(TXT), torch.tensor(1.0), torch.tensor([0, 1, 2]))["class_loss"].item()
    plain = L.InfoNCELoss()(_t(IMG), _t(TXT), torch.tensor(1.0))["contrastive_loss"].item()
    assert distinct == pytest.approx(plain, abs=1e-6)


def test_uncertainty_weighting_by_hand():
    labels = torch.tensor([0, 1, 1])
    combo = L.UncertaintyWeightedLoss([L.InfoNCELoss(), L.ClassContrastiveLoss()])
    with torch.no_grad():
        combo.log_vars.copy_(torch.tensor([0.5, -1.0]))
    out = combo(_t(IMG), _t(TXT), torch.tensor(1.0), labels)
    l1 = L.InfoNCELoss()(_t(IMG), _t(TXT), torch.tensor(1.0))["contrastive_loss"].item()
    l2 = L.ClassContrastiveLoss()(_t(IMG), _t(TXT), torch.tensor(1.0), labels)["class_loss"].item()
    assert out["contrastive_loss"].item() == pytest.approx(math.exp(-0.5) * l1 + 0.5, abs=1e-5)
    assert out["class_loss"].item() == pytest.approx(math.exp(1.0) * l2 - 1.0, abs=1e-5)
    # the log-variances are learnable: dL/ds_k = 1 - exp(-s_k) L_k
    sum(out.values()).backward()
    np.testing.assert_allclose(combo.log_vars.grad.numpy(),
                               [1 - math.exp(-0.5) * l1, 1 - math.exp(1.0) * l2], rtol=1e-4)


def test_build_loss_recipes():
    counts = [5, 1]
    labels = torch.tensor([0, 1, 0])
    for name in L.LOSS_NAMES:
        loss = L.build_loss(name, counts, beta=0.9, tau=1.0)
        out = loss(_t(IMG), _t(TXT), torch.tensor(1.0), labels)
        assert out and all(torch.isfinite(v) for v in out.values())
    assert isinstance(L.build_loss("dist", counts), L.UncertaintyWeightedLoss)
    with pytest.raises(ValueError, match="unknown loss"):
        L.build_loss("nope", counts)
    with pytest.raises(ValueError, match="class counts"):
        L.build_loss("cb")
