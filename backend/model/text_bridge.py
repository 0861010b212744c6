"""Text -> drawing through the training drawings: a text query also looks like the drawings whose texts read like it.

The learnt text tower alone maps a title near few of its drawings (a small model trained on about 1,400
real drawings). The bridge is a memory of the **train** split's (text, drawing) pairs
(``prism model fit-text-bridge``, ``backend/training/text_bridge_fit.py``): each training text's MiniLM
sentence vector (the text tower's pooled output, before its learnt projection) and its drawing's learnt
embedding. A query text's bridge vector is the similarity-weighted mean (softmax at ``temperature``) of the
drawing embeddings of its ``k`` nearest training texts, and its text vector becomes
``normalise(e_text + weight * bridge)``: "titles like this one were drawn like these".

Only text vectors change: drawing vectors and the indexes that hold them stay as they are. The memory
belongs to one checkpoint (its digest is in the file); any other checkpoint loads no bridge.
"""
from __future__ import annotations

import functools
import io
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SUFFIX = ".text-bridge.npz"
K = 10
TEMPERATURE = 0.05
WEIGHT = 2.0


class TextBridgeError(RuntimeError):
    """The bridge file cannot be used; the message names it."""


@dataclass(frozen=True)
class TextBridge:
    sentences: np.ndarray     # (n, d_text) unit MiniLM vectors of the training texts
    drawings: np.ndarray      # (n, embed_dim) unit learnt embeddings of their drawings
    k: int
    temperature: float
    weight: float
    checkpoint_digest: str    # the checkpoint whose embeddings ``drawings`` are

    def bridge(self, sentences: np.ndarray) -> np.ndarray:
        """The bridge vector ``(n, embed_dim)`` of each query's unit sentence vector (a zero row stays zero)."""
        q = np.asarray(sentences, dtype=np.float32)
        if len(q) == 0:
            return np.zeros((0, self.drawings.shape[1]), dtype=np.float32)
        sims = q @ self.sentences.T
        k = min(self.k, sims.shape[1])
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(sims, idx, axis=1)
        w = np.exp((near - near.max(axis=1, keepdims=True)) / self.temperature)
        w[~q.any(axis=1)] = 0.0
        mixed = np.einsum("nk,nkd->nd", w, self.drawings[idx])
        return _unit(mixed)

    def mix(self, text_embeddings: np.ndarray, sentences: np.ndarray) -> np.ndarray:
        """``normalise(e_text + weight * bridge(sentences))`` row by row, float32."""
        e = np.asarray(text_embeddings, dtype=np.float32)
        return _unit(e + self.weight * self.bridge(sentences))


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return (v / np.maximum(norm, 1e-12)).astype(np.float32, copy=False)


def path_for(checkpoint: Path) -> Path:
    """The bridge file of a checkpoint: beside it, ``<stem>.text-bridge.npz``."""
    return checkpoint.with_name(checkpoint.stem + SUFFIX)


def save(path: Path, sentences: np.ndarray, drawings: np.ndarray, checkpoint_digest: str,
         k: int = K, temperature: float = TEMPERATURE, weight: float = WEIGHT) -> None:
    """Written whole or not at all (a temporary file renamed over the old one); vectors as float16."""
    if len(sentences) != len(drawings) or len(sentences) == 0:
        raise ValueError(f"a bridge needs as many sentences as drawings (>0), got {len(sentences)} and "
                         f"{len(drawings)}")
    buf = io.BytesIO()
    np.savez_compressed(buf, sentences=np.asarray(sentences, np.float16), drawings=np.asarray(drawings, np.float16),
                        k=np.int64(k), temperature=np.float64(temperature), weight=np.float64(weight),
                        checkpoint_digest=np.array(checkpoint_digest))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _read.cache_clear()


@functools.cache
def _read(path: Path) -> TextBridge:
    try:
        raw = path.read_bytes()
        with np.load(io.BytesIO(raw)) as f:
            sentences, drawings = _unit(f["sentences"].astype(np.float32)), _unit(f["drawings"].astype(np.float32))
            k, temperature, weight = int(f["k"]), float(f["temperature"]), float(f["weight"])
            digest = str(f["checkpoint_digest"])
    except (ValueError, OSError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        raise TextBridgeError(f"{path}: not a text bridge (.npz with sentences, drawings, k, temperature, "
                              f"weight, checkpoint_digest): {exc}") from exc
    if sentences.ndim != 2 or drawings.ndim != 2 or len(sentences) != len(drawings) or len(sentences) == 0:
        raise TextBridgeError(f"{path}: sentences {sentences.shape} and drawings {drawings.shape} do not pair up")
    if k < 1 or temperature <= 0:
        raise TextBridgeError(f"{path}: k must be >= 1 and temperature > 0, got {k} and {temperature}")
    return TextBridge(sentences, drawings, k, temperature, weight, digest)


def load(checkpoint: Path | None, embed_dim: int, sentence_dim: int, digest: str | None = None) -> TextBridge | None:
    """The bridge of ``checkpoint`` if its file is there and was made for exactly these weights, else None
    (``digest``: the checkpoint's, when the caller has it already)."""
    if checkpoint is None:
        return None
    path = path_for(checkpoint)
    if not path.is_file():
        return None
    from backend.model.registry import file_digest

    bridge = _read(path)
    digest = digest or file_digest(checkpoint)
    if bridge.checkpoint_digest != digest:
        log.warning("text bridge %s was made for checkpoint %s, not %s (%s): not used", path,
                    bridge.checkpoint_digest, digest, checkpoint)
        return None
    if bridge.drawings.shape[1] != embed_dim or bridge.sentences.shape[1] != sentence_dim:
        raise TextBridgeError(f"{path}: vectors of {bridge.sentences.shape[1]} / {bridge.drawings.shape[1]} dims, "
                              f"the model has {sentence_dim} / {embed_dim}")
    return bridge
