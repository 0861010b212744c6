"""``prism model fit-text-bridge``: the memory of training (text, drawing) pairs that text queries read
(``backend/model/text_bridge.py``).

Only the **train** split of the real sets (``backend/training/realdata.py``) goes in; the dev split measures
it (``bench/drawing_retrieval.py``, task d). Each train drawing's text is its title and figure description
(``realdata.text_of``), the same kind of text an examiner types. The file records the checkpoint's digest:
a new checkpoint needs a new bridge (``prism model build-default`` fits one).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path


def build(checkpoint: Path, model_name: str = "prism-draw", root: Path | None = None,
          progress: Callable[[str], None] = print, batch: int = 128, sets: Iterable[str] | None = None) -> dict:
    """Embed every train-split drawing and text with ``checkpoint`` and write its bridge file."""
    import numpy as np

    from backend.model import registry, text_bridge
    from backend.model.encoder import Encoder, sentence_dims
    from backend.training import realdata

    t0 = time.time()
    records = realdata.load_sets(root or realdata.default_root(), tuple(sets) if sets else realdata.SETS)
    train = realdata.split(records, "train")
    if not train:
        raise ValueError("no train-split drawings to fit the text bridge on")
    enc = Encoder(registry.load_model(model_name, checkpoint, "cpu"), batch_size=64)
    if sentence_dims(enc.model) is None:
        raise ValueError(f"{model_name}: its text tower has no pooled sentence vector to bridge from")
    drawings = []
    for start in range(0, len(train), batch):
        drawings.append(enc.embed_images([r.load_image() for r in train[start:start + batch]]))
        progress(f"  embedded {min(start + batch, len(train))} / {len(train)} drawings")
    sentences = enc.sentence_vectors([realdata.text_of(r) for r in train])
    out = text_bridge.path_for(checkpoint)
    text_bridge.save(out, sentences, np.concatenate(drawings), registry.file_digest(checkpoint))
    return {"out": str(out), "pairs": len(train), "seconds": round(time.time() - t0, 1)}
