"""``prism index reembed``: put the current encoder's vectors on every figure of the search index.

Each figure's model input is derived again from its stored display rendition (``image_key`` in the blob
store) the way ingest derives it (:func:`backend.ingest.images.render`), and encoded; its captions are
encoded again into its text vector (the normalised sum of the caption vectors) when ingest computes
them (``PRISM_INGEST_CAPTION_VECTORS``; off by default, the text vector is then empty). The
figure gets the encoder's ``model_id``. Text-only documents (no image, no captions, no vectors) are kept
as they are.

* Elasticsearch: the vector dims are fixed in the mapping, so the documents go through
  :func:`backend.search.index.index_admin.reindex` into a new concrete index of the encoder's dims (a
  per-batch transform), with catch-up passes; the alias is swapped only at the end (atomic: a failure
  leaves the old index in place and drops the new one).
* Embedded: :meth:`backend.search.backends.embedded.embedded_backend.EmbeddedBackend.reembed` stages the vectors in
  batches (resumable) and swaps them in with one transaction.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from backend.search.errors import SearchBackendError

log = logging.getLogger(__name__)

RENDER_THREADS = 2


class ReembedError(SearchBackendError):
    """A figure's vectors cannot be recomputed (its stored image is missing); the message names it."""


class Reembedder:
    """The per-batch transform: stored documents in, documents with the encoder's vectors out."""

    def __init__(self, settings, encoder=None, blobs=None, drop_missing: bool = False):
        from backend.ingest import blobstore
        from backend.model.encoder import get_encoder

        self.settings = settings
        self.encoder = encoder or get_encoder(settings)
        self.blobs = blobs or blobstore.get_blob_store(settings)
        self.drop_missing = drop_missing
        self.dropped: list[str] = []
        self.encoded = 0

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def __call__(self, docs: list[dict]) -> list[dict]:
        out = [dict(d) for d in docs]
        dims = int(self.encoder.dim)
        todo = [d for d in out if _has_encoder_content(d)
                and (d.get("model_id") != self.model_id or _wrong_dims(d, dims))]
        with_image = [d for d in todo if d.get("image_key") or d.get("image_vector") is not None]
        with ThreadPoolExecutor(max_workers=RENDER_THREADS) as pool:
            prepared = list(pool.map(self._model_input, with_image))
        images = [(d, p) for d, p in zip(with_image, prepared) if p is not None]
        for d, p in zip(with_image, prepared):
            if p is None:
                d["image_vector"] = None
        if images:
            vectors = self.encoder.encode_prepared([p[0] for _d, p in images], [p[1] for _d, p in images])
            for (d, _p), vec in zip(images, vectors):
                d["image_vector"] = vec.astype(float).tolist()
        self._text_vectors(todo)
        for d in todo:
            d["model_id"] = self.model_id
        self.encoded += len(todo)
        return out

    def _model_input(self, doc: dict):
        """(``prepare_drawing`` of the model rendition, the model rendition) as ingest would derive them from
        the stored display PNG."""
        from backend.ingest import blobstore, images

        key = doc.get("image_key")
        fid = doc.get("figure_id")
        if not key:
            return self._missing(fid, "it has an image vector but no stored image (image_key)")
        try:
            data = self.blobs.get(key)
        except (blobstore.BlobNotFound, FileNotFoundError, KeyError):
            return self._missing(fid, f"its stored image {key} is not in the blob store")
        size = int(getattr(self.encoder, "image_size", 224) or 224)
        rendered = images.render(data, key, self.settings.max_image_pixels, size)
        return rendered.prepared, rendered.model

    def _missing(self, figure_id: str, why: str):
        if not self.drop_missing:
            raise ReembedError(f"figure {figure_id}: cannot re-embed, {why}; restore the blob or run the "
                               f"command with --drop-missing to index such figures without an image vector")
        log.warning("figure %s: %s; its image vector is dropped", figure_id, why)
        self.dropped.append(figure_id)
        return None

    def _text_vectors(self, docs: list[dict]) -> None:
        """The caption vectors as ingest computes them, when ingest does (``PRISM_INGEST_CAPTION_VECTORS``)."""
        from backend.ingest.pipeline import caption_vectors

        vectors = caption_vectors(self.encoder, [d.get("captions") or [] for d in docs]) \
            if self.settings.ingest_caption_vectors else [None] * len(docs)
        for d, vec in zip(docs, vectors):
            d["text_vector"] = vec.astype(float).tolist() if vec is not None else None


def _has_encoder_content(doc: dict) -> bool:
    """A figure the encoder has something to say about (an image, captions, or vectors already)."""
    return bool(doc.get("image_key") or doc.get("captions") or doc.get("image_vector") is not None
                or doc.get("text_vector") is not None)


def _wrong_dims(doc: dict, dims: int) -> bool:
    return any(doc.get(f) is not None and len(doc[f]) != dims for f in ("image_vector", "text_vector"))


def reembed(settings, progress: Callable[[int, int], None] | None = None, drop_missing: bool = False,
            break_lock: bool = False, encoder=None, blobs=None) -> dict:
    """Re-embed the index of ``settings`` with its current encoder; returns what was done."""
    transform = Reembedder(settings, encoder=encoder, blobs=blobs, drop_missing=drop_missing)
    dims = int(transform.encoder.dim)
    if settings.search_backend == "elasticsearch":
        from backend.search.index import index_admin

        es = index_admin.make_client(settings)
        result = index_admin.reindex(es, settings, dims=dims, break_lock=break_lock, progress=progress,
                                     transform=transform)
        result = {"backend": "elasticsearch", "alias": result["alias"], "old": result["old"],
                  "new": result["new"], "documents": result["documents"]}
    else:
        from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

        backend = EmbeddedBackend(settings)
        result = {"backend": "embedded", "path": str(backend.path),
                  **backend.reembed(transform, transform.model_id, dims, progress=progress)}
    from backend.search import reset_backends

    reset_backends()   # cached backends of this process forget the old dims
    result.update(model_id=transform.model_id, dims=dims, encoded=transform.encoded,
                  dropped=len(transform.dropped))
    return result
