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

Then, unless told not to (``--no-split-sheets``; the default follows ``PRISM_INGEST_SPLIT_FIGURES``, so an
index made before ingest split sheets ends up as ingest makes it now), :func:`split_sheets` splits every
stored whole sheet whose description names two or more figures (the rule of
:mod:`backend.ingest.figure_split`): the regions are found on its stored display image, rendered, stored
and encoded like ingested figures, and one write per sheet replaces the sheet's document by the regions'
(``<number>-F<sheet>.<r>``, ``figure_region``, ``figure_box``, ``sheet_key``: the sheet's image, kept for
display), in the index and in the database's figure rows. A failed write leaves the sheet as it was; a
second run changes nothing (split sheets are gone, the others split the same way again: not at all).
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
            break_lock: bool = False, encoder=None, blobs=None, split: bool | None = None,
            split_progress: Callable[[int, int], None] | None = None) -> dict:
    """Re-embed the index of ``settings`` with its current encoder, then (``split``; default
    ``settings.ingest_split_figures``) split its multi-figure sheets; returns what was done."""
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
    if settings.ingest_split_figures if split is None else split:
        result["split"] = split_sheets(settings, progress=split_progress, encoder=transform.encoder,
                                       blobs=transform.blobs)
    return result


class SheetSplitter:
    """Plans and writes the split of stored whole sheets into their figure regions."""

    def __init__(self, settings, encoder, blobs, backend):
        self.settings = settings
        self.encoder = encoder
        self.blobs = blobs
        self.backend = backend

    def candidates(self) -> list[tuple[str, str]]:
        """``(figure id, publication number)`` of every stored whole sheet with an image whose description
        names two or more figures, in figure id order."""
        from backend.ingest.figure_split import described_keys

        out = [(d["figure_id"], d["publication_number"]) for d in self._sheets()
               if not d.get("figure_region") and d.get("image_key")
               and len(described_keys(d.get("description") or "")) >= 2]
        return sorted(out)

    def _sheets(self):
        """The id, number, region, image and description of every stored figure."""
        fields = ("figure_id", "publication_number", "figure_region", "image_key", "description")
        if self.backend.name == "elasticsearch":
            from elasticsearch import NotFoundError, helpers

            try:
                for hit in helpers.scan(self.backend.es, index=self.backend.alias, _source=list(fields),
                                        query={"query": {"match_all": {}}}):
                    yield hit["_source"]
            except NotFoundError:
                return
        else:
            rows = self.backend.conn().execute(
                "SELECT figure_id, publication_number, json_extract(doc, '$.figure_region'), "
                "json_extract(doc, '$.image_key'), json_extract(doc, '$.description') FROM figures").fetchall()
            for row in rows:
                yield dict(zip(fields, row))

    def regions_of(self, sheet: dict) -> list[tuple[dict, object]]:
        """The figure documents that replace ``sheet`` (a stored document with vectors), each with its
        rendition; none when its image does not split into two or more regions."""
        from backend.ingest import blobstore
        from backend.ingest.figure_split import described_keys, region_png, regions, render_region
        from backend.ingest.pipeline import figure_id

        keys = described_keys(sheet.get("description") or "")
        try:
            png = self.blobs.get(sheet["image_key"])
        except (blobstore.BlobNotFound, FileNotFoundError, KeyError):
            raise ReembedError(f"figure {sheet['figure_id']}: cannot split the sheet, its stored image "
                               f"{sheet['image_key']} is not in the blob store") from None
        boxes, (width, height) = regions(png, len(keys))
        if len(boxes) < 2:
            return []
        size = int(getattr(self.encoder, "image_size", 224) or 224)
        rendered = [render_region(self.settings, self.blobs, region_png(png, box),
                                  f"{sheet['figure_id']} region {r}", size)
                    for r, box in enumerate(boxes, start=1)]
        vectors = self.encoder.encode_prepared([r.prepared for r, _i, _t in rendered],
                                               [r.model for r, _i, _t in rendered])
        out = []
        for r, (box, (region, image_key, thumb_key), vec) in enumerate(zip(boxes, rendered, vectors), start=1):
            out.append(({**sheet, "figure_id": figure_id(sheet["publication_number"], sheet["figure_number"], r),
                        "figure_region": r, "figure_box": box.normalised(width, height),
                        "sheet_key": sheet["image_key"], "image_key": image_key, "thumb_key": thumb_key,
                        "image_vector": vec.astype(float).tolist(), "model_id": self.encoder.model_id}, region))
        return out

    def split(self, sheet_id: str) -> int:
        """Replace the sheet ``sheet_id`` by its regions in the index and the database, in one write each
        (the database commits only once the index holds the regions; a failed index write leaves the sheet);
        returns how many regions replaced it (0: it stays whole)."""
        sheet = self.backend.get_figure(sheet_id)
        if sheet is None or sheet.get("figure_region"):
            return 0
        if self.backend.name != "elasticsearch" and sheet.get("dense_text_vector") is None:
            sheet["dense_text_vector"] = self._embedded_dense(sheet_id)
        planned = self.regions_of(sheet)
        if not planned:
            return 0
        from backend.db.session import session_scope

        docs = [doc for doc, _r in planned]
        written = False
        try:
            with session_scope(self.settings.resolved_database_url) as session:
                _split_rows(session, sheet_id, planned)
                written = True
                self.backend.index_figures(docs, remove=[sheet_id])
        except BaseException:
            if written:   # the index back as it was (the database rolled back)
                self.backend.index_figures([sheet], remove=[d["figure_id"] for d in docs])
            raise
        return len(docs)

    def _embedded_dense(self, figure_id: str) -> list[float] | None:
        """The embedded index's patent text vector of a figure (its documents come back without it)."""
        import numpy as np

        row = self.backend.conn().execute("SELECT dense_vector FROM figures WHERE figure_id = ?",
                                           (figure_id,)).fetchone()
        return np.frombuffer(row[0], dtype=np.float32).tolist() if row and row[0] is not None else None


def _split_rows(session, sheet_id: str, planned: list[tuple[dict, object]]) -> None:
    """The database's figure row of the sheet replaced by one row per region (as ingest writes them); nothing
    to do for a sheet the database does not hold (an index imported without it)."""
    from sqlalchemy import select

    from backend.db.models import Figure

    row = session.scalar(select(Figure).where(Figure.figure_id == sheet_id))
    if row is None:
        return
    for doc, rendered in planned:
        session.add(Figure(figure_id=doc["figure_id"], patent_id=row.patent_id, number=row.number,
                           region=doc["figure_region"], box=doc["figure_box"], sheet_key=doc["sheet_key"],
                           description=row.description, viewpoint=row.viewpoint, object_name=row.object_name,
                           image_hash=rendered.sha256, image_key=doc["image_key"], thumb_key=doc["thumb_key"],
                           width=rendered.width, height=rendered.height, captions=list(row.captions or [])))
    session.delete(row)
    session.flush()


def split_sheets(settings, progress: Callable[[int, int], None] | None = None, encoder=None, blobs=None) -> dict:
    """Split every stored multi-figure sheet of the index of ``settings`` (see the module docstring); returns
    ``{"sheets": candidates looked at, "split": sheets replaced, "regions": documents written}``."""
    from backend.ingest import blobstore
    from backend.model.encoder import get_encoder
    from backend.search import get_backend, reset_backends

    reset_backends()
    splitter = SheetSplitter(settings, encoder or get_encoder(settings), blobs or blobstore.get_blob_store(settings),
                             get_backend(settings))
    todo = splitter.candidates()
    split = written = 0
    for done, (sheet_id, _pub) in enumerate(todo, start=1):
        n = splitter.split(sheet_id)
        split += bool(n)
        written += n
        if progress:
            progress(done, len(todo))
    splitter.backend.refresh()
    return {"sheets": len(todo), "split": split, "regions": written}
