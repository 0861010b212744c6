"""Drawings at the size a viewer needs: figure renditions and the preview of an uploaded drawing.

A rendition is the drawing cropped to its ink (the same framing as the stored display image, so that
sizes can be swapped under a zoomed view without a jump), grey, with its longer side at most ``w`` px:
400, 800 or 1600, or ``full`` (the original's own resolution). It is made from the original file as
received (``originals/<h[:2]>/<h>.<ext>``), or from the display image when no original is stored, and
never upscaled: a request above the source's size gets the source's size. A sheet printed turned (a
landscape drawing on a portrait page) is turned upright (:mod:`backend.ingest.orientation`, decided once per
drawing on its first rendition and kept as ``renditions/<h[:2]>/<h>.turn``); the turn, in degrees clockwise,
goes with the rendition (``X-Prism-Rotation``) so that a viewer can map a point back onto the stored drawing.
Renditions are cached in the blob store as ``renditions/<h[:2]>/<h>.<size>`` (:func:`rendition_key`; kept by
``prism blobs gc`` while the figure lives).

The preview of an upload (``POST /search/preview``) is rendered the same way, after the same checks as a
search's upload (pixel limit 413, format 415, unreadable or damaged 400).
"""
from __future__ import annotations

import io
import logging
from typing import NamedTuple

from PIL import Image

from backend.ingest import blobstore, orientation
from backend.ingest.images import ImageRejected, crop_to_ink, decode, to_grey
from backend.model.drawing import min_pool
from backend.search.errors import InvalidQuery, NotFound, Unavailable
from backend.settings import Settings

log = logging.getLogger(__name__)

#: the sizes a client may ask for (longer side in px; None: the source's own resolution)
SIZES: dict[str, int | None] = {"400": 400, "800": 800, "1600": 1600, "full": None}
#: extensions an original may have been stored under (blobstore.original_key of the received name)
ORIGINAL_EXTS = ("tif", "tiff", "png", "jpg", "jpeg", "bin")


def size_of(value: str) -> int | None:
    """The longer side for a ``w`` value; 400 problem naming the choices otherwise."""
    if value not in SIZES:
        raise InvalidQuery(f"w: must be one of {', '.join(SIZES)}, got {value!r}")
    return SIZES[value]


def render_png(im: Image.Image, max_side: int | None) -> bytes:
    """The drawing cropped to its ink, grey, longer side at most ``max_side`` (never enlarged), as PNG.

    Shrinking more than 2x first takes the minimum over integer blocks (thin lines survive), then a
    Lanczos resize to the exact size (lines stay smooth grey instead of the display's 1-bit steps)."""
    grey = crop_to_ink(im if im.mode == "1" else to_grey(im))
    long_side = max(grey.size)
    if max_side and long_side > max_side:
        grey = min_pool(grey, max_side)
        scale = max_side / max(grey.size)
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    grey.save(buf, "PNG", compress_level=3)
    return buf.getvalue()


def preview_png(data: bytes | None, settings: Settings, max_side: int | None = 1600) -> bytes:
    """A PNG of an uploaded drawing (any accepted format, TIFF included) as the viewer shows it."""
    if data is None:
        raise InvalidQuery("image: send the drawing as the multipart file field 'image'")
    if not data:
        raise InvalidQuery("image: the uploaded file is empty")
    im = decode(data, "image", settings.max_image_pixels)
    return render_png(im, max_side)


def _source(store, figure: dict, figure_id: str, settings: Settings) -> Image.Image:
    """The original as received, else the display image; decoded with the upload limits."""
    image_key = figure.get("image_key")
    digest = blobstore.hash_of_key(image_key or "")
    if not digest:
        raise NotFound(f"figure {figure_id!r} has no stored image")
    candidates = [blobstore.original_key(digest, ext) for ext in ORIGINAL_EXTS] + [image_key]
    for key in candidates:
        try:
            data = store.get(key)
        except (blobstore.BlobNotFound, ValueError):
            continue
        except Exception as exc:  # noqa: BLE001 - the store is down or refuses us
            raise Unavailable(f"the blob store cannot be read right now ({type(exc).__name__})") \
                from None
        try:
            return decode(data, figure_id, settings.max_image_pixels)
        except ImageRejected as exc:   # stored, but cannot be read back: try the next source
            log.warning("rendition source %s of %s unreadable: %s", key, figure_id, exc)
    raise NotFound(f"the image of figure {figure_id!r} is missing from the blob store")


class Rendition(NamedTuple):
    png: bytes
    etag: str
    rotation: int     # degrees clockwise the stored drawing was turned to stand upright (0, 90, 180, 270)


def figure_rendition(figure_id: str, size: str, settings: Settings) -> Rendition:
    """The figure at ``size`` (a key of :data:`SIZES`), upright, from the cache when made before."""
    from backend.search import get_backend

    max_side = size_of(size)
    figure = get_backend(settings).get_figure(figure_id)
    if figure is None:
        raise NotFound(f"no figure {figure_id!r}")
    digest = blobstore.hash_of_key(figure.get("image_key") or "")
    if not digest:
        raise NotFound(f"figure {figure_id!r} has no stored image")
    store = blobstore.get_blob_store(settings)
    source: list[Image.Image] = []

    def read_source() -> Image.Image:
        if not source:
            source.append(_source(store, figure, figure_id, settings))
        return source[0]

    rotation = figure_turn(store, digest, read_source)
    key = rendition_key(digest, size, rotation)
    etag = f"{digest[:32]}-{size}" + (f"-r{rotation}" if rotation else "")
    try:
        return Rendition(store.get(key), etag, rotation)
    except (blobstore.BlobNotFound, ValueError):
        pass
    except Exception as exc:  # noqa: BLE001 - the store is down or refuses us
        raise Unavailable(f"the blob store cannot be read right now ({type(exc).__name__})") from None
    png = render_png(orientation.turn(read_source(), rotation), max_side)
    try:
        store.put(key, png, "image/png")
    except Exception:  # noqa: BLE001 - a cache write that fails only costs the next request a render
        log.warning("rendition cache write %s failed", key, exc_info=True)
    return Rendition(png, etag, rotation)


def figure_turn(store, digest: str, read_source) -> int:
    """The clockwise turn that stands the drawing ``digest`` upright: kept in the blob store once decided;
    decided on ``read_source()`` otherwise. Without tesseract: 0, and nothing kept (decided once it is there)."""
    key = turn_key(digest)
    try:
        return int(store.get(key).decode("ascii").strip()) % 360
    except (blobstore.BlobNotFound, ValueError, UnicodeDecodeError):
        pass
    except Exception as exc:  # noqa: BLE001 - the store is down or refuses us
        raise Unavailable(f"the blob store cannot be read right now ({type(exc).__name__})") from None
    if not orientation.available():
        orientation.detect(read_source())   # logs once why nothing is turned
        return 0
    found = orientation.detect(read_source())
    if found.rotation:
        log.info("drawing %s shown turned %d degrees: %s", digest[:12], found.rotation, found.reason)
    try:
        store.put(key, f"{found.rotation}\n".encode("ascii"), "text/plain")
    except Exception:  # noqa: BLE001 - not kept: decided again next time
        log.warning("orientation cache write %s failed", key, exc_info=True)
    return found.rotation


def rendition_key(digest: str, size: str, rotation: int = 0) -> str:
    """``renditions/<h[:2]>/<h>.w800``; turned upright: ``.t1w8`` (quarter turns, then the size in hundreds:
    a blob key's extension has at most 5 characters)."""
    if rotation:
        return f"renditions/{digest[:2]}/{digest}.t{rotation // 90}{'f' if size == 'full' else 'w' + size[:-2]}"
    return f"renditions/{digest[:2]}/{digest}.{'full' if size == 'full' else 'w' + size}"


def turn_key(digest: str) -> str:
    return f"renditions/{digest[:2]}/{digest}.turn"
