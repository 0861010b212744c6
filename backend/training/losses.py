"""Contrastive losses for patent image/text training, in the shape of open_clip's ``ClipLoss``.

Every loss is an ``nn.Module`` with ``get_logits`` / ``get_ground_truth`` separated and a
``forward(image_features, text_features, logit_scale, labels=None)`` returning a dict of named
loss terms (the train loop sums the values). ``labels`` are integer class ids per batch item (the
"class" is configurable at the data level: Locarno class, CPC subclass or object name).

- :class:`InfoNCELoss` — symmetric CLIP InfoNCE; item ``i``'s positive is text ``i``.
- :class:`ClassBalancedInfoNCELoss` — per-sample weights from the class frequency with the
  effective number of samples ``E_n = (1 - beta^n) / (1 - beta)`` (Cui et al., CVPR 2019):
  ``w_c = 1 / E_{n_c}``, normalised so that ``sum_c w_c = C``; loss ``mean_i w_{y_i} l_i``.
- :class:`LogitAdjustedInfoNCELoss` — Menon et al. (ICLR 2021) logit adjustment: candidate ``j``'s
  logit gets ``+ tau * log(pi_{y_j})`` (class prior of the candidate's class) during training.
- :class:`ClassContrastiveLoss` — class-level supervised contrastive term, image->text and
  text->image: every same-class item in the batch is a positive,
  ``l_i = -1/|P(i)| sum_{p in P(i)} log softmax(s_i)_p``.
- :class:`UncertaintyWeightedLoss` — combines named terms with learnable log-variances
  ``s_k`` (Kendall et al., CVPR 2018): ``L = sum_k exp(-s_k) L_k + s_k``.
- :func:`build_loss` — the named recipes used by the CLI and the ablation.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

LOSS_NAMES = ("clip", "cb", "la", "class", "dist", "dist-la")


def _as_counts(class_counts: Sequence[int] | torch.Tensor) -> torch.Tensor:
    counts = torch.as_tensor(class_counts, dtype=torch.float64)
    if counts.ndim != 1 or counts.numel() == 0:
        raise ValueError("class_counts must be a non-empty 1-D sequence")
    if (counts < 0).any():
        raise ValueError("class_counts must be >= 0")
    return counts


def effective_number_weights(class_counts: Sequence[int] | torch.Tensor, beta: float) -> torch.Tensor:
    """Cui et al. class weights ``(1 - beta) / (1 - beta^n_c)`` normalised to sum to C.

    Classes with no samples get the weight of a one-sample class. ``beta = 0`` gives uniform
    weights; ``beta -> 1`` approaches inverse class frequency.
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    counts = _as_counts(class_counts).clamp(min=1.0)
    weights = (1.0 - beta) / (1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), counts))
    weights = weights / weights.sum() * counts.numel()
    return weights.float()


def class_log_prior(class_counts: Sequence[int] | torch.Tensor) -> torch.Tensor:
    counts = _as_counts(class_counts).clamp(min=1.0)
    return torch.log(counts / counts.sum()).float()


def _require_labels(labels: torch.Tensor | None, n: int, who: str) -> torch.Tensor:
    if labels is None:
        raise ValueError(f"{who} needs per-sample class labels")
    if labels.shape != (n,):
        raise ValueError(f"{who}: labels must have shape ({n},), got {tuple(labels.shape)}")
    return labels.long()


class InfoNCELoss(nn.Module):
    """Symmetric InfoNCE (CLIP); the instance-level term."""

    term = "contrastive_loss"

    def get_logits(self, image_features, text_features, logit_scale, labels=None):
        logits_per_image = logit_scale * image_features @ text_features.T
        logits_per_text = logits_per_image.T
        return logits_per_image, logits_per_text

    def get_ground_truth(self, device, num_logits, labels=None) -> torch.Tensor:
        return torch.arange(num_logits, device=device, dtype=torch.long)

    def per_sample(self, image_features, text_features, logit_scale, labels=None):
        """Per-item losses (image->text, text->image), each of shape (n,)."""
        li, lt = self.get_logits(image_features, text_features, logit_scale, labels)
        gt = self.get_ground_truth(image_features.device, li.shape[0], labels)
        return F.cross_entropy(li, gt, reduction="none"), F.cross_entropy(lt, gt, reduction="none")

    def forward(self, image_features, text_features, logit_scale, labels=None):
        a, b = self.per_sample(image_features, text_features, logit_scale, labels)
        return {self.term: (a.mean() + b.mean()) / 2}


class LogitAdjustedInfoNCELoss(InfoNCELoss):
    """InfoNCE whose candidate logits are shifted by ``tau * log prior`` of the candidate's class."""

    def __init__(self, class_counts, tau: float = 1.0):
        super().__init__()
        self.tau = float(tau)
        self.register_buffer("log_prior", class_log_prior(class_counts), persistent=False)

    def get_logits(self, image_features, text_features, logit_scale, labels=None):
        labels = _require_labels(labels, image_features.shape[0], type(self).__name__)
        logits = logit_scale * image_features @ text_features.T
        shift = self.tau * self.log_prior.to(logits.device)[labels]  # (n,) one per candidate column
        return logits + shift[None, :], logits.T + shift[None, :]


class ClassBalancedInfoNCELoss(InfoNCELoss):
    """InfoNCE with per-sample class-balanced (effective number) weights; optional logit adjustment."""

    def __init__(self, class_counts, beta: float = 0.999, tau: float = 0.0):
        super().__init__()
        self.beta = float(beta)
        self.tau = float(tau)
        self.register_buffer("class_weights", effective_number_weights(class_counts, beta), persistent=False)
        self.register_buffer("log_prior", class_log_prior(class_counts), persistent=False)

    def get_logits(self, image_features, text_features, logit_scale, labels=None):
        if self.tau == 0.0:
            return super().get_logits(image_features, text_features, logit_scale, labels)
        labels = _require_labels(labels, image_features.shape[0], type(self).__name__)
        logits = logit_scale * image_features @ text_features.T
        shift = self.tau * self.log_prior.to(logits.device)[labels]
        return logits + shift[None, :], logits.T + shift[None, :]

    def sample_weights(self, labels: torch.Tensor) -> torch.Tensor:
        return self.class_weights.to(labels.device)[labels]

    def forward(self, image_features, text_features, logit_scale, labels=None):
        labels = _require_labels(labels, image_features.shape[0], type(self).__name__)
        a, b = self.per_sample(image_features, text_features, logit_scale, labels)
        w = self.sample_weights(labels).to(a.dtype)
        return {self.term: ((w * a).mean() + (w * b).mean()) / 2}


class ClassContrastiveLoss(InfoNCELoss):
    """Class-level supervised contrastive term: same-class items are positives (image<->text)."""

    term = "class_loss"

    def __init__(self, class_counts=None, tau: float = 0.0):
        super().__init__()
        self.tau = float(tau)
        if tau:
            if class_counts is None:
                raise ValueError("logit adjustment (tau != 0) needs class_counts")
            self.register_buffer("log_prior", class_log_prior(class_counts), persistent=False)

    def get_logits(self, image_features, text_features, logit_scale, labels=None):
        logits = logit_scale * image_features @ text_features.T
        if not self.tau:
            return logits, logits.T
        labels = _require_labels(labels, image_features.shape[0], type(self).__name__)
        shift = self.tau * self.log_prior.to(logits.device)[labels]
        return logits + shift[None, :], logits.T + shift[None, :]

    def get_ground_truth(self, device, num_logits, labels=None) -> torch.Tensor:
        """(n, n) positive mask: ``mask[i, j] = labels[i] == labels[j]``."""
        labels = _require_labels(labels, num_logits, type(self).__name__).to(device)
        return (labels[:, None] == labels[None, :]).float()

    @staticmethod
    def _supcon(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        log_prob = F.log_softmax(logits, dim=1)
        return -(mask * log_prob).sum(1) / mask.sum(1)

    def forward(self, image_features, text_features, logit_scale, labels=None):
        labels = _require_labels(labels, image_features.shape[0], type(self).__name__)
        li, lt = self.get_logits(image_features, text_features, logit_scale, labels)
        mask = self.get_ground_truth(image_features.device, li.shape[0], labels)
        return {self.term: (self._supcon(li, mask).mean() + self._supcon(lt, mask).mean()) / 2}


class UncertaintyWeightedLoss(nn.Module):
    """``L = sum_k exp(-s_k) L_k + s_k`` over the terms of several losses (Kendall et al. 2018).

    ``s_k`` (log-variances) are learnable parameters: add this module's parameters to the
    optimizer. ``forward`` returns the weighted terms under their own names (they sum to ``L``).
    """

    def __init__(self, losses: Sequence[nn.Module], init_log_vars: float = 0.0):
        super().__init__()
        self.losses = nn.ModuleList(losses)
        names = [getattr(loss, "term", type(loss).__name__) for loss in losses]
        if len(set(names)) != len(names):
            raise ValueError(f"combined losses need distinct term names, got {names}")
        self.names = names
        self.log_vars = nn.Parameter(torch.full((len(losses),), float(init_log_vars)))

    def forward(self, image_features, text_features, logit_scale, labels=None):
        out = {}
        for k, (name, loss) in enumerate(zip(self.names, self.losses)):
            raw = sum(loss(image_features, text_features, logit_scale, labels).values())
            s = self.log_vars[k]
            out[name] = torch.exp(-s) * raw + s
        return out

    def weights(self) -> dict[str, float]:
        return {n: float(torch.exp(-s)) for n, s in zip(self.names, self.log_vars.detach())}


def build_loss(name: str, class_counts=None, beta: float = 0.999, tau: float = 1.0) -> nn.Module:
    """Named recipes.

    ``clip``: InfoNCE. ``cb``: class-balanced InfoNCE. ``la``: logit-adjusted InfoNCE.
    ``class``: InfoNCE + class-level term (plain sum). ``dist``: uncertainty-weighted
    class-balanced InfoNCE + class-level term. ``dist-la``: ``dist`` with logit adjustment in both.
    """
    if name == "clip":
        return InfoNCELoss()
    if class_counts is None:
        raise ValueError(f"loss {name!r} needs class counts")
    if name == "cb":
        return ClassBalancedInfoNCELoss(class_counts, beta=beta)
    if name == "la":
        return LogitAdjustedInfoNCELoss(class_counts, tau=tau)
    if name == "class":
        return _SumLoss([InfoNCELoss(), ClassContrastiveLoss()])
    if name == "dist":
        return UncertaintyWeightedLoss([ClassBalancedInfoNCELoss(class_counts, beta=beta),
                                        ClassContrastiveLoss()])
    if name == "dist-la":
        return UncertaintyWeightedLoss([ClassBalancedInfoNCELoss(class_counts, beta=beta, tau=tau),
                                        ClassContrastiveLoss(class_counts, tau=tau)])
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}")


class _SumLoss(nn.Module):
    def __init__(self, losses):
        super().__init__()
        self.losses = nn.ModuleList(losses)

    def forward(self, image_features, text_features, logit_scale, labels=None):
        out = {}
        for loss in self.losses:
            out.update(loss(image_features, text_features, logit_scale, labels))
        return out
