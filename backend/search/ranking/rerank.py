"""The second stage of a drawing query: geometric verification of the nearest figures.

When the query has a drawing - an uploaded image (its features are computed with the query vector, see
``service.parse_request``, and passed to the search as a :class:`QueryDrawing`) or ``image_figure_id``
(the stored features of that figure) - the first ``PRISM_SEARCH_VERIFY_TOP_K`` figures of the vector list
are verified against it (:func:`backend.search.ranking.verification.verify`). Verified figures (score >=
``VERIFIED_SCORE``: the same drawing, re-published) move to the top of the fused list, best verification
first; everything else keeps its fused order. Each checked hit reports ``match_score`` (the calibrated verification
score) and, with ``explain``, ``verification`` {inliers, cells, score}. Backend-neutral: the features are
blobs next to the figure's image (``blobstore.features_key``); a figure ingested before features
existed gets them computed from its stored image on first use and saved.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backend.search.ranking.fusion import Fused
from backend.search.ranking.verification import (
    DrawingFeatures,
    FeatureFormatError,
    Verification,
    extract,
    extract_bytes,
    verify,
)

if TYPE_CHECKING:
    from backend.search.pipeline.candidates import Candidate, Query
    from backend.search.pipeline.protocols import Retrieval
    from backend.search.request import SearchRequest
    from backend.search.response import Hit
    from backend.settings import Settings

log = logging.getLogger(__name__)

CACHE_SIZE = 4096          # feature sets kept in memory per process (about 18 KB each)
LOAD_THREADS = 8           # parallel blob reads (S3 round trips)
VERIFY_THREADS = 2         # OpenCV matching releases the GIL


class _FeatureCache:
    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[tuple, DrawingFeatures] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> DrawingFeatures | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple, value: DrawingFeatures) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CACHE = _FeatureCache(CACHE_SIZE)


@dataclass(frozen=True)
class QueryDrawing:
    """An uploaded query drawing as the verification uses it: its local features and the vectors of the
    drawing turned by 90 and 270 degrees (service.parse_request computes both with the query vector)."""

    features: DrawingFeatures | None
    turned_vectors: list[Any] = field(default_factory=list)


def upload_features(image) -> DrawingFeatures:
    """Features of an uploaded query drawing (a decoded PIL image)."""
    return extract(image)


def turned(image) -> list:
    """The uploaded drawing turned by 90 and by 270 degrees: their vectors find the figures to verify
    when the other office printed the sheet the other way up (the encoder is not rotation invariant;
    the verification is)."""
    from PIL import Image

    return [image.transpose(Image.Transpose.ROTATE_90), image.transpose(Image.Transpose.ROTATE_270)]


def load_features(settings, image_key: str | None) -> DrawingFeatures | None:
    """The stored features of the figure whose display image is ``image_key`` (computed from that image
    and saved when missing); None when the figure has no image or the store cannot be read."""
    from backend.ingest.blobstore import BlobNotFound, features_key, get_blob_store, hash_of_key

    digest = hash_of_key(image_key or "")
    if digest is None:
        return None
    key = features_key(digest)
    where = (settings.blob_store, str(settings.resolved_blob_dir) if settings.blob_store == "fs"
             else f"{settings.s3_endpoint_url}/{settings.s3_bucket}")
    cached = CACHE.get((where, key))
    if cached is not None:
        return cached
    store = get_blob_store(settings)
    try:
        try:
            features = DrawingFeatures.from_bytes(store.get(key))
        except (BlobNotFound, FeatureFormatError):
            features = extract_bytes(store.get(image_key))
            store.put(key, features.to_bytes())
    except BlobNotFound:
        return None
    except Exception:  # noqa: BLE001 - verification is an extra: a store problem must not fail the search
        log.warning("cannot load the drawing features of %s", image_key, exc_info=True)
        return None
    CACHE.put((where, key), features)
    return features


def query_features(retrieval: Retrieval, settings: Settings, drawing: QueryDrawing | None,
                   request: SearchRequest) -> DrawingFeatures | None:
    """The uploaded drawing's features, else the stored ones of ``image_figure_id``'s figure."""
    if drawing is not None and drawing.features is not None:
        return drawing.features
    if request.image_figure_id:
        figure = retrieval.get_figure(request.image_figure_id) or {}
        return load_features(settings, figure.get("image_key"))
    return None


def nearest_figures(retrieval: Retrieval, query: Query, k: int, always: bool = False) -> list[Candidate]:
    """The ``k`` figures nearest the query vector, filtered like the query, not grouped by patent (a
    patent's re-published drawing need not be its figure nearest the query vector); [] when the query's
    own vector list already holds them, unless ``always``."""
    if not always and not query.group and query.window >= k:
        return []
    _bm25, knn = retrieval.retrieve(dataclasses.replace(query, text=None, terms=[], group=False, window=k,
                                                       node=None))
    return knn[:k]


def verify_nearest(retrieval: Retrieval, settings: Settings, drawing: QueryDrawing | None, request: SearchRequest,
                   query: Query, knn: list[Candidate]) -> tuple[dict[str, Verification], list[Candidate]]:
    """(figure id -> verification, the figures checked): the first ``search_verify_top_k`` figures
    nearest the query vector, verified against the query drawing (nothing when the query has no
    drawing or verification is off)."""
    k = settings.search_verify_top_k
    if k <= 0 or query.vector is None:
        return {}, []
    features = query_features(retrieval, settings, drawing, request)
    if features is None or len(features) == 0:
        return {}, []
    candidates = nearest_figures(retrieval, query, k) or knn[:k]
    turned_k = settings.search_verify_turned_k
    for vector in (drawing.turned_vectors if drawing is not None and turned_k > 0 else []):
        seen = {c.figure_id for c in candidates}
        candidates = candidates + [c for c in nearest_figures(retrieval, dataclasses.replace(query, vector=vector),
                                                              turned_k, always=True) if c.figure_id not in seen]
    missing = [c.figure_id for c in candidates if c.source is None or "image_key" not in c.source]
    hydrated = retrieval.hydrate(missing) if missing else {}
    keys = [(hydrated.get(c.figure_id) or c.source or {}).get("image_key") for c in candidates]
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        stored = list(pool.map(lambda key: load_features(settings, key), keys))
    todo = [(c, f) for c, f in zip(candidates, stored) if f is not None]
    with ThreadPoolExecutor(VERIFY_THREADS) as pool:
        results = list(pool.map(lambda cf: verify(features, cf[1]), todo))
    return {c.figure_id: v for (c, _f), v in zip(todo, results)}, candidates


def verified_first(fused: list[Fused], checks: dict[str, Verification], checked: list[Candidate],
                   keyof: Callable) -> tuple[list[Fused], dict[str, Candidate]]:
    """The fused list with verified items first (best verification first, then fused order), and for
    each of them the verified figure that stands for it. A verified figure whose patent the fused list does
    not hold (found by the query turned 90/270 degrees, or past the list) joins it, scored by its cosine."""
    best: dict[str, tuple[Verification, Candidate]] = {}
    for cand in checked:
        check = checks.get(cand.figure_id)
        if check is None or not check.verified:
            continue
        key = keyof(cand)
        if key not in best or (check.score, check.cells, check.inliers) > (best[key][0].score, best[key][0].cells,
                                                                           best[key][0].inliers):
            best[key] = (check, cand)
    if not best:
        return fused, {}
    held = {item.key for item in fused}
    fused = fused + [Fused(key, cand.score) for key, (_check, cand) in sorted(best.items()) if key not in held]
    position = {item.key: i for i, item in enumerate(fused)}
    top = sorted((fused[position[key]] for key in best),
                 key=lambda item: (-best[item.key][0].score, -best[item.key][0].cells, -best[item.key][0].inliers,
                                   position[item.key]))
    return top + [item for item in fused if item.key not in best], {key: cand for key, (_v, cand) in best.items()}


def annotate(hits: list[Hit], checks: dict[str, Verification]) -> None:
    """``match_score`` on each checked hit; ``explain.verification`` when explaining."""
    from backend.search.response import VerificationExplain

    for hit in hits:
        check = checks.get(hit.figure_id)
        if check is None:
            continue
        hit.match_score = check.score
        if hit.explain is not None:
            hit.explain.verification = VerificationExplain(inliers=check.inliers, cells=check.cells,
                                                           score=check.score)
