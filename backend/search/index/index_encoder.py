"""Which encoder made the vectors in the search index, and whether that is the current encoder.

Every figure document carries ``model_id`` (config name + checkpoint digest, ``prism-tiny@8bc6b6a937bc``;
``backend/model/encoder.py``). Vectors of two encoders are not comparable, so an index must hold the
vectors of one encoder only:

* :func:`index_state` - the encoder id(s) present in the index (figures that have a vector), the index's
  vector dims, the current encoder's id and dims, and ``stale`` when they differ (``prism index status``);
* :func:`check_writable` - raises :class:`EncoderMismatch` (naming both ids and :data:`REEMBED_COMMAND`)
  before ingest would write vectors of one encoder into an index holding another's (or other dims).

Figures whose vectors carry no ``model_id`` (documents written by hand or by tests) have an unknown
origin: they are counted, but neither make an index stale nor block a write.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from backend.search.errors import SearchBackendError

REEMBED_COMMAND = "prism index reembed"


class EncoderMismatch(SearchBackendError):
    """Vectors of another encoder (or of other dims) would be mixed into the index."""


@dataclass(frozen=True)
class EncoderIdentity:
    model_id: str
    dims: int


@functools.lru_cache(maxsize=16)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    from backend.model import registry

    return registry.file_digest(Path(path))


def current_encoder(settings) -> EncoderIdentity:
    """The id and dims of the encoder ``settings`` select, without loading the model: the same
    ``model_id`` as ``get_encoder(settings).model_id`` (config + checkpoint digest, or random-seed)."""
    from backend.model import registry
    from backend.model.encoder import resolve_checkpoint

    name, checkpoint = resolve_checkpoint(settings.model_name, settings.checkpoint)
    if checkpoint is not None:
        stat = Path(checkpoint).stat()
        model_id = f"{name}@{_digest(str(checkpoint), stat.st_size, stat.st_mtime_ns)}"
    else:
        model_id = f"{name}@random-seed{registry.RANDOM_INIT_SEED}"
    return EncoderIdentity(model_id + registry.vector_tag(name), registry.vector_dims(name))


def index_state(backend, settings=None, current: EncoderIdentity | None = None) -> dict:
    """What ``prism index status`` reports about encoders (JSON-ready)."""
    current = current or current_encoder(settings or backend.settings)
    present = backend.encoder_ids()
    dims = backend.dims()
    known = {m: n for m, n in present.items() if m}
    others = sorted(m for m in known if m != current.model_id)
    reasons = []
    if others:
        reasons.append(f"{sum(known[m] for m in others)} figures have vectors of {', '.join(others)}")
    if dims is not None and dims != current.dims:
        reasons.append(f"the index has {dims}-dim vectors, the current encoder makes {current.dims}")
    return {
        "current": {"model_id": current.model_id, "dims": current.dims},
        "index": {"model_ids": dict(sorted(known.items())), "unknown_model_id": present.get(None, 0),
                  "dims": dims},
        "stale": bool(reasons),
        "reason": "; ".join(reasons) or None,
        "command": REEMBED_COMMAND if reasons else None,
    }


def check_writable(backend, model_id: str | None, dims: int | None) -> None:
    """Refuse to write vectors of encoder ``model_id`` (``dims``) into an index holding another's."""
    index_dims = backend.dims()
    others = sorted(m for m in backend.encoder_ids() if m and model_id and m != model_id)
    if not others and index_dims not in (None, dims) and dims is not None:
        index_dims = backend.dims(fresh=True)   # the alias may have moved since (prism index reembed)
    if not others and (index_dims is None or dims is None or index_dims == dims):
        return
    held = f"holds vectors of {', '.join(others)} ({index_dims} dims)" if others else \
        f"is made for {index_dims}-dim vectors"
    raise EncoderMismatch(
        f"the search index {held}; this ingest encodes with {model_id} ({dims} dims). "
        f"Vectors of two encoders cannot share an index: run `{REEMBED_COMMAND}` to re-embed the index with "
        f"the current encoder, or switch PRISM_MODEL_NAME / PRISM_CHECKPOINT back")
