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

from backend.model import line_descriptors, registry, text_bridge, thumbnail
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
        #: the sheet-thumbnail channel of the drawing vectors (backend/model/thumbnail.py), or None
        self.thumbnail = thumbnail.channel(loaded.model_name)
        #: the line-descriptor channel of the drawing vectors (backend/model/line_descriptors.py), or None
        self.line = line_descriptors.channel(loaded.model_name)
        self.model_id: str = loaded.model_id
        self.image_size = input_size(self.preprocess)
        self.embed_dim = int(registry.model_config(loaded.model_name)["embed_dim"])
        self.dim: int = registry.vector_dims(loaded.model_name)
        #: the text -> drawing bridge of this checkpoint (backend/model/text_bridge.py), or None
        self.text_bridge = _load_bridge(loaded, self.embed_dim)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Encoder({self.model_id!r}, dim={self.dim}, device={self.device})"

    def _tensor(self, image: Image.Image) -> torch.Tensor:
        if not isinstance(image, Image.Image):
            raise TypeError(f"encode_images expects PIL images, got {type(image).__name__}")
        return self.preprocess(prepare_drawing(image, self.image_size))

    def _batch(self, images: list[Image.Image], prepared: bool) -> torch.Tensor:
        """``torch.stack([preprocess(prepare_drawing(im)) ...])`` with the tensor steps (to-tensor,
        normalise) done once for the whole batch instead of per image - the same float operations, so
        the same values; any other kind of transform falls back to the per-image path."""
        for im in images:
            if not isinstance(im, Image.Image):
                raise TypeError(f"encode_images expects PIL images, got {type(im).__name__}")
        if not prepared:
            images = [prepare_drawing(im, self.image_size) for im in images]
        pil_steps, tensor_steps = _split_transform(self.preprocess)
        if pil_steps is None:
            return torch.stack([self.preprocess(im) for im in images])
        arrays = []
        for im in images:
            for step in pil_steps:
                im = step(im)
            arrays.append(np.asarray(im, dtype=np.uint8))
        # what torchvision's to_tensor does to one HxWxC uint8 picture, on the stacked batch
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous().to(torch.float32).div(255)
        for step in tensor_steps:
            batch = step(batch)
        return batch

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        return self.with_channels(self._encode_images(images, prepared=False), images)

    def encode_prepared(self, images: list[Image.Image], originals: list[Image.Image] | None = None) -> np.ndarray:
        """Like :meth:`encode_images` for images that already are
        ``backend.model.drawing.prepare_drawing(image, self.image_size)`` (ingest prepares them in its
        image threads); the result is the same as ``encode_images`` on the ``originals`` (which the
        thumbnail and line channels need: required when the encoder has one)."""
        if self.has_channels and (originals is None or len(originals) != len(images)):
            raise ValueError(f"{self.model_id}: encode_prepared needs the original of each prepared image "
                             "(its vectors carry a sheet thumbnail or line descriptors)")
        return self.with_channels(self._encode_images(images, prepared=True), originals)

    @property
    def has_channels(self) -> bool:
        return self.thumbnail is not None or self.line is not None

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """The learnt embedding alone (no channels), float32 ``(n, embed_dim)``, L2-normalised."""
        return self._encode_images(images, prepared=False)

    def with_channels(self, embeddings: np.ndarray, images) -> np.ndarray:
        """The stored drawing vectors of ``images`` from their learnt ``embeddings``:
        ``[e, w_t * thumbnail, w_l * line] / |...|`` (the channels the model has)."""
        if not self.has_channels:
            return embeddings
        parts = [embeddings.astype(np.float32, copy=False)]
        if self.thumbnail is not None:
            parts.append(self.thumbnail.weight * thumbnail.thumbnail_vectors(images, self.thumbnail.side))
        if self.line is not None:
            parts.append(self.line.weight * line_descriptors.channel_vectors(images, self.line))
        v = np.hstack(parts)
        return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32, copy=False)

    def _encode_images(self, images: list[Image.Image], prepared: bool) -> np.ndarray:
        out = [np.zeros((0, self.embed_dim), dtype=np.float32)]
        for start in range(0, len(images), self.batch_size):
            batch = self._batch(images[start:start + self.batch_size], prepared)
            with self._lock, torch.inference_mode():
                feats = self.model.encode_image(batch.to(self.device))
                out.append(F.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"encode_texts expects strings, got {type(t).__name__}")
        out = [np.zeros((0, self.embed_dim), dtype=np.float32)]
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[start:start + self.batch_size]))
            with self._lock, torch.inference_mode():
                if self.text_bridge is None:
                    feats = F.normalize(self.model.encode_text(tokens.to(self.device)).float(), dim=-1)
                    out.append(feats.cpu().numpy())
                else:
                    out.append(self.text_bridge.mix(*self._text_features(tokens.to(self.device))))
        vectors = np.concatenate(out).astype(np.float32, copy=False)
        if not self.has_channels:
            return vectors
        # a text vector is [e_text, 0]: its ranking of drawings is the encoder's own
        return np.hstack([vectors, np.zeros((len(vectors), self.dim - self.embed_dim), dtype=np.float32)])

    def sentence_vectors(self, texts: list[str]) -> np.ndarray:
        """The text tower's unit MiniLM sentence vectors (its pooled output, before the learnt projection):
        what the text bridge's memory holds of each training text."""
        out = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[start:start + self.batch_size]))
            with self._lock, torch.inference_mode():
                out.append(self._text_features(tokens.to(self.device))[1])
        return np.concatenate(out) if out else np.zeros((0, sentence_dims(self.model) or 0), dtype=np.float32)

    def _text_features(self, tokens: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(unit learnt text embeddings, unit pooled sentence vectors) of a token batch - what
        ``encode_text`` computes, with the pooled output kept (open_clip's HF text tower)."""
        tower = self.model.text
        mask = (tokens != tower.config.pad_token_id).long()
        pooled = tower.pooler(tower.transformer(input_ids=tokens, attention_mask=mask), mask)
        projected = tower.proj(pooled)
        return (F.normalize(projected.float(), dim=-1).cpu().numpy(),
                F.normalize(pooled.float(), dim=-1).cpu().numpy())


def sentence_dims(model) -> int | None:
    """The width of the model's pooled sentence vector: an open_clip HF text tower's hidden size (None for
    any other text tower)."""
    tower = getattr(model, "text", None)
    if not all(hasattr(tower, a) for a in ("transformer", "pooler", "proj", "config")):
        return None
    return int(tower.config.hidden_size)


def _load_bridge(loaded: registry.LoadedModel, embed_dim: int) -> text_bridge.TextBridge | None:
    dims = sentence_dims(loaded.model)
    if dims is None:
        return None
    bridge = text_bridge.load(loaded.checkpoint, embed_dim, dims, loaded.checkpoint_digest)
    if bridge is not None:
        log.info("text bridge: %d training texts of %s (k %d)", len(bridge.sentences), loaded.checkpoint, bridge.k)
    return bridge


def _split_transform(preprocess) -> tuple[list | None, list]:
    """open_clip's eval transform as (PIL steps, batchable tensor steps): everything before its
    ToTensor, and the Normalize after it; ``(None, [])`` for any other shape of transform."""
    from torchvision import transforms as T

    steps = list(getattr(preprocess, "transforms", []))
    at = next((i for i, t in enumerate(steps) if isinstance(t, T.ToTensor)), None)
    if at is None or not all(isinstance(t, T.Normalize) for t in steps[at + 1:]):
        return None, []
    if any(isinstance(t, (T.ToTensor, T.Normalize)) for t in steps[:at]):
        return None, []
    return steps[:at], steps[at + 1:]


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
            from backend.observability.metrics import model_load_timer

            with model_load_timer(model_name):
                loaded = registry.load_model(model_name, checkpoint, device)
            enc = Encoder(loaded, batch_size=settings.embed_batch_size)
            _CACHE[key] = enc
        return enc


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
