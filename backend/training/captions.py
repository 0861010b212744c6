"""Training texts per figure.

``text_mode``:
- ``description`` — the raw figure description only (plain CLIP baseline; "thereof" and all),
- ``captions`` — language-informed captions: the ingest area's deterministic
  :class:`backend.ingest.captioning.template.TemplateCaptioner` (synonym-rich captions from the
  figure description, viewpoint, object, title and classification titles) plus the description;
  a minimal built-in template captioner is used if the ingest package is not importable,
- ``manifest`` — precomputed ``texts`` from a manifest (falls back to ``captions``).

Several captions per figure are kept; the data pipeline samples one per step.
"""
from __future__ import annotations

import functools
import logging

from backend.training.datasets import FigureRecord

log = logging.getLogger(__name__)
TEXT_MODES = ("description", "captions", "manifest")

_VIEW_SYNONYMS = {
    "perspective": "three-dimensional view", "plan": "plan view", "elevational": "elevation",
    "elevation": "elevational view", "side": "profile view", "top": "view from above",
    "bottom": "view from below", "front": "frontal view", "rear": "back view",
}


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def minimal_captions(r: FigureRecord) -> list[str]:
    """Deterministic fallback captioner (used only when the ingest captioner is unavailable)."""
    obj = r.object_name or (r.title.lower() if r.title else "design")
    out = []
    if r.viewpoint:
        out.append(f"{r.viewpoint} view of {_article(obj)}")
        syn = [_VIEW_SYNONYMS[w] for w in r.viewpoint.split() if w in _VIEW_SYNONYMS]
        if syn:
            out.append(f"{obj} shown in {_article(syn[0])}, patent line drawing")
    out.append(f"ornamental design drawing of {_article(obj)}")
    if r.title and r.title.lower() != obj:
        out.append(f"drawing from the design patent \"{r.title}\"")
    return out


@functools.lru_cache(maxsize=1)
def _ingest_captioner():
    try:
        from backend.ingest.captioning.base import FigureContext
        from backend.ingest.captioning.template import TemplateCaptioner
        from backend.settings import get_settings

        return TemplateCaptioner(get_settings().cpc_titles_dir), FigureContext
    except Exception as exc:  # ImportError, or the package is mid-change
        log.warning("ingest template captioner unavailable (%s); using the built-in minimal one", exc)
        return None


def language_captions(r: FigureRecord) -> list[str]:
    found = _ingest_captioner()
    if found is None:
        caps = minimal_captions(r)
    else:
        captioner, FigureContext = found
        ctx = FigureContext(publication_number=r.patent, number=r.figure or 0, title=r.title,
                            description=r.description, viewpoint=r.viewpoint, object_name=r.object_name,
                            kind="S1" if r.patent[2:3] == "D" else None,
                            cpc=[r.cpc] if r.cpc else [], locarno=[r.locarno] if r.locarno else [])
        caps = captioner.caption_one(ctx)
    if r.description:
        caps = [r.description] + caps
    return list(dict.fromkeys(c for c in caps if c)) or [r.title or r.patent]


def texts_for(r: FigureRecord, mode: str) -> list[str]:
    if mode == "description":
        return [r.description or r.title or (r.object_name or r.patent)]
    if mode == "captions":
        return language_captions(r)
    if mode == "manifest":
        return list(r.texts) if r.texts else language_captions(r)
    raise ValueError(f"unknown text mode {mode!r}; choose one of {', '.join(TEXT_MODES)}")
