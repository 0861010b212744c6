"""The Encoder contract (docs/contracts.md): images and texts into one L2-normalised space.

``get_encoder(settings)`` loads ``settings.checkpoint`` if set, else the packaged default
checkpoint for ``settings.model_name`` (``backend/model/checkpoints/<name>.pt``) if present, else
the config with random (seeded) weights and a logged warning. One encoder per process and per
(model name, checkpoint, device).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from backend.model import registry
from backend.model.drawing import input_size, prepare_drawing

log = logging.getLogger(__name__)


class Encoder:
    """Wraps an open_clip model for inference on patent drawings and texts."""

    def __init__(self, loaded: registry.LoadedModel, batch_size: int = 32):
        self._loaded = loaded
        self.model = loaded.model.eval()
        self.preprocess = loaded.preprocess_val
        self.tokenizer = loaded.tokenizer
        self.device = loaded.device
        self.batch_size = batch_size
        self.model_name = loaded.model_name
        self.model_id: str = loaded.model_id
        self.image_size = input_size(self.preprocess)
        self.dim: int = int(registry.model_config(loaded.model_name)["embed_dim"])
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Encoder({self.model_id!r}, dim={self.dim}, device={self.device})"

    def _tensor(self, image: Image.Image) -> torch.Tensor:
        if not isinstance(image, Image.Image):
            raise TypeError(f"encode_images expects PIL images, got {type(image).__name__}")
        return self.preprocess(prepare_drawing(image, self.image_size))

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        out = [np.zeros((0, self.dim), dtype=np.float32)]
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self._tensor(im) for im in images[start:start + self.batch_size]])
            with self._lock, torch.inference_mode():
                feats = self.model.encode_image(batch.to(self.device))
                out.append(F.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"encode_texts expects strings, got {type(t).__name__}")
        out = [np.zeros((0, self.dim), dtype=np.float32)]
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[start:start + self.batch_size]))
            with self._lock, torch.inference_mode():
                feats = self.model.encode_text(tokens.to(self.device))
                out.append(F.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)


_CACHE: dict[tuple, Encoder] = {}
_CACHE_LOCK = threading.Lock()


def resolve_checkpoint(model_name: str, checkpoint: Path | None) -> tuple[str, Path | None]:
    """Which config and checkpoint to load for these settings (see module docstring)."""
    if checkpoint is not None:
        checkpoint = Path(checkpoint).expanduser().resolve()
        if not checkpoint.is_file():
            raise registry.ModelError(f"PRISM_CHECKPOINT: file not found: {checkpoint}")
        recorded = registry.checkpoint_model_name(checkpoint)
        if recorded and recorded != model_name:
            log.warning("checkpoint %s was trained with config %r; using it instead of %r",
                        checkpoint, recorded, model_name)
            model_name = recorded
        return model_name, checkpoint
    return model_name, registry.default_checkpoint(model_name)


def get_encoder(settings=None) -> Encoder:
    """The process-wide encoder for ``settings`` (default: ``get_settings()``)."""
    if settings is None:
        from backend.settings import get_settings

        settings = get_settings()
    model_name, checkpoint = resolve_checkpoint(settings.model_name, settings.checkpoint)
    device = registry.resolve_device(settings.device)
    key = (model_name, str(checkpoint) if checkpoint else None, str(device))
    with _CACHE_LOCK:
        enc = _CACHE.get(key)
        if enc is None:
            if checkpoint is None:
                log.warning("no checkpoint for model %r: using random (seeded) weights; "
                            "run `prism model build-default` or set PRISM_CHECKPOINT", model_name)
            loaded = registry.load_model(model_name, checkpoint, device)
            enc = Encoder(loaded, batch_size=settings.embed_batch_size)
            _CACHE[key] = enc
        return enc


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
