"""Multi-view drawing queries: several drawings of one design (front, side, top ...) searched at once.

Each view is a query vector of its own (``vectors``, several uploaded ``image`` files, or
``image_figure_ids``). Every view ranks the figures nearest it (grouped by patent, like a one-drawing
query); the lists are fused *per patent*: a patent scores the mean over the views of the cosine of its
figure closest to that view (a view whose list does not hold the patent counts that list's lowest cosine,
an upper bound), so a design that matches every view goes before one that matches a single view very
well. Each hit's ``explain.views`` says which of its figures matched which view. Past the fused head the
drawing tail ranks by the views' mean vector (:mod:`backend.search.pipeline.paging`).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from backend.search.errors import InvalidQuery, NotFound

if TYPE_CHECKING:
    from backend.search.pipeline.candidates import Candidate, Query
    from backend.search.pipeline.protocols import Retrieval
    from backend.search.request import SearchRequest

MAX_VIEWS = 7        # what EUIPO's design search takes


def view_vectors(retrieval: Retrieval, request: SearchRequest) -> list[np.ndarray] | None:
    """The unit query vector of each view (None: not a multi-view query); 404/400 problems name the view."""
    from backend.search.pipeline.planning import check_dims
    from backend.search.unit_vector import unit_vector

    out = []
    if request.vectors:
        for i, values in enumerate(request.vectors):
            try:
                out.append(check_dims(retrieval, unit_vector(values), f"vectors.{i}"))
            except ValueError as exc:
                raise InvalidQuery(f"vectors.{i}: {exc}") from None
    for i, fid in enumerate(request.image_figure_ids):
        figure = retrieval.get_figure(fid)
        if figure is None:
            raise NotFound(f"image_figure_ids.{i}: no figure {fid!r}")
        if not figure.get("image_vector"):
            raise InvalidQuery(f"image_figure_ids.{i}: figure {fid!r} has no image vector")
        out.append(check_dims(retrieval, unit_vector(figure["image_vector"]), f"image_figure_ids.{i}"))
    return out or None


def mean_vector(views: list[np.ndarray]) -> np.ndarray:
    """The views' mean direction (the drawing tail's query vector)."""
    total = np.sum(views, axis=0)
    norm = float(np.linalg.norm(total))
    return (total / norm).astype(np.float32) if norm > 0 else views[0]


def fuse_views(retrieval: Retrieval, query: Query, views: list[np.ndarray], keyof
               ) -> tuple[list[Candidate], dict[str, list[tuple[str | None, float | None]]]]:
    """The fused vector list (best first, at most ``query.window``; each candidate is the patent's figure
    closest to its best view, scored by the mean over views) and per key the (figure id, cosine) each view
    matched (None, None where the view's list does not hold the key)."""
    lists = []
    for vector in views:
        _bm25, knn = retrieval.retrieve(dataclasses.replace(query, text=None, terms=[], node=None, vector=vector))
        lists.append({keyof(c): c for c in knn[:query.window]})
    floors = [min((c.score for c in found.values()), default=0.0) for found in lists]
    fused = []
    matches: dict[str, list[tuple[str | None, float | None]]] = {}
    for key in {k for found in lists for k in found}:
        per_view = [found.get(key) for found in lists]
        sims = [c.score if c is not None else floor for c, floor in zip(per_view, floors)]
        best = max((c for c in per_view if c is not None), key=lambda c: (c.score, c.figure_id))
        fused.append(dataclasses.replace(best, score=float(np.mean(sims))))
        matches[key] = [(c.figure_id, c.score) if c is not None else (None, None) for c in per_view]
    fused.sort(key=lambda c: (-c.score, c.figure_id))
    return fused[:query.window], matches
