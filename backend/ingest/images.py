"""Decode, validate and normalise figure images (TIFF/G4, PNG, JPEG via Pillow).

:func:`decode` refuses what should not be processed (not an image, an unsupported format, more pixels than
``settings.max_image_pixels`` - a decompression bomb -, a shape no drawing has (a side under 8 px, sides over
50 to 1: :func:`check_shape`) or a truncated/corrupt file) with
:class:`ImageRejected`, a permanent 4xx error. :func:`render` turns a decoded drawing into

* ``model``   - grey on white, cropped to the ink, padded square, ``2 * model_size`` px (ink kept when
  shrinking), given to the encoder;
* ``display`` - the cropped drawing at most :data:`DISPLAY_MAX` px, stored as ``figures/<hash>.png``;
* ``thumb``   - at most :data:`THUMB_MAX` px, stored as ``thumbs/<hash>.png``;
* ``prepared`` - ``backend.model.drawing.prepare_drawing(model, model_size)``, done here (in the image
  threads, on the grey image) so the encoder does not redo it: pass it to ``Encoder.encode_prepared``.
"""
from __future__ import annotations

import hashlib
import io
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError

from backend.ingest import libtiff_messages
from backend.ingest.records import IngestError

ALLOWED_FORMATS = ("TIFF", "PNG", "JPEG")
DISPLAY_MAX = 1200
THUMB_MAX = 256
INK_THRESHOLD = 245          # grey values below this are ink (same rule as backend.model.drawing)
MARGIN_FRACTION = 0.03
MIN_SIDE = 8                 # px: a thinner image is no drawing (and feature detection cannot work on it)
MAX_ASPECT = 50              # long side / short side: a 10 x 60,000 strip is no drawing either
_ANY_INK = [0 if v < 250 else 255 for v in range(256)]   # after a box reduce: any ink in the box -> black


class ImageRejected(IngestError):
    """A figure image that cannot be accepted; ``status`` is the HTTP status to answer with."""

    status = 422


@dataclass
class Rendered:
    sha256: str
    width: int
    height: int
    model: Image.Image
    display_png: bytes
    thumb_png: bytes
    prepared: Image.Image | None = None   # model input already prepared for an encoder of model_size
    model_size: int | None = None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_pixels(im: Image.Image, name: str, max_pixels: int) -> None:
    """413 when the header declares more than ``max_pixels`` pixels (a decompression bomb)."""
    w, h = im.size
    if w * h > max_pixels:
        raise ImageRejected(f"{name}: {w}x{h} = {w * h} pixels is more than the limit of {max_pixels} "
                            "(decompression bomb protection, PRISM_MAX_IMAGE_PIXELS)", status=413)


def check_shape(im: Image.Image, name: str) -> None:
    """400 for a shape no drawing has (from the header, before decoding): a side under :data:`MIN_SIDE`
    px, or sides in a ratio over :data:`MAX_ASPECT` to 1."""
    w, h = im.size
    if min(w, h) < MIN_SIDE:
        raise ImageRejected(f"{name}: {w}x{h} px: a side is shorter than {MIN_SIDE} px; send the drawing",
                            status=400)
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageRejected(f"{name}: {w}x{h} px: the sides are in a ratio of {max(w, h) / min(w, h):.0f} to 1, "
                            f"at most {MAX_ASPECT} to 1; crop or send the drawing sheet", status=400)


def decode(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Open and fully load one image; first frame of a multi-page TIFF."""
    if not data:
        raise ImageRejected(f"{name}: empty file", status=400)
    # Pillow's own guard (a warning above MAX_IMAGE_PIXELS, an error above twice that) must not stop what our
    # limit allows, so PRISM_MAX_IMAGE_PIXELS can go above Pillow's default of about 89 M pixels; it is raised,
    # never lowered (it is process-wide: other readers of images share it), and check_pixels enforces ours
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.format not in ALLOWED_FORMATS:
                raise ImageRejected(f"{name}: {im.format} images are not accepted; use TIFF, PNG or JPEG",
                                    status=415)
            check_pixels(im, name, max_pixels)   # from the header, before anything is decoded
            check_shape(im, name)
            im.seek(0)
            with libtiff_messages.collect() as messages:
                im.load()
            damaged = libtiff_messages.decoding_problems(messages)
            if damaged:
                raise ImageRejected(f"{name}: damaged image data: {'; '.join(damaged[:3])}", status=400)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"{name}: more pixels than the limit of {max_pixels} (decompression bomb protection, "
                            f"PRISM_MAX_IMAGE_PIXELS): {exc}", status=413) from None
    except UnidentifiedImageError:
        raise ImageRejected(f"{name}: not a readable image (TIFF, PNG or JPEG expected)", status=400) from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageRejected(f"{name}: corrupt or truncated image: {exc}", status=400) from None
    if im.width < 1 or im.height < 1:
        raise ImageRejected(f"{name}: image has no pixels", status=400)
    return im


def to_grey(im: Image.Image) -> Image.Image:
    try:   # the model area's conversion handles every mode (alpha, 16-bit, palette)
        from backend.model.drawing import to_grey as model_to_grey

        return model_to_grey(im)
    except ImportError:  # pragma: no cover - the model package is part of the project
        return im.convert("L")


def crop_to_ink(grey: Image.Image) -> Image.Image:
    """Trim white margins (keeping a small margin); a blank image is returned unchanged.

    A bilevel ("1") image is cropped as it is (its bounding box is found on the inverted bits, the
    cheap path for G4 drawing sheets) and converted to grey afterwards."""
    if grey.mode == "1":
        bbox = ImageChops.invert(grey).getbbox()
    else:
        bbox = grey.point(lambda v: 255 if v < INK_THRESHOLD else 0).getbbox()
    if not bbox:
        return grey if grey.mode == "L" else to_grey(grey)
    left, top, right, bottom = bbox
    margin = int(round(MARGIN_FRACTION * max(bottom - top, right - left))) + 1
    cropped = grey.crop((max(0, left - margin), max(0, top - margin), min(grey.width, right + margin),
                         min(grey.height, bottom + margin)))
    return cropped if cropped.mode == "L" else to_grey(cropped)


def shrink_keep_ink(grey: Image.Image, max_side: int, bilevel: bool) -> Image.Image:
    """Shrink so the long side is at most ``max_side`` without losing thin lines.

    For bilevel drawings a box reduction followed by "any ink -> black" equals a min-pool (C speed); for
    grey images an integer min-pool (numpy) is followed by a smooth resize.
    """
    long_side = max(grey.size)
    if long_side <= max_side:
        return grey
    factor = -(-long_side // max_side)
    if bilevel:
        return grey.reduce(factor).point(_ANY_INK)
    if factor >= 2:
        from backend.model.drawing import block_reduce

        grey = Image.fromarray(np.ascontiguousarray(block_reduce(np.asarray(grey), factor, np.minimum)), "L")
    grey.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return grey


def pad_square(grey: Image.Image, size: int | None = None) -> Image.Image:
    side = max(grey.size)
    out = ImageOps.pad(grey, (side, side), color=255, centering=(0.5, 0.5)) if grey.width != grey.height else grey
    if size and out.width != size:
        out = out.resize((size, size), Image.Resampling.BILINEAR)
    return out


def png_bytes(im: Image.Image, bilevel: bool = False) -> bytes:
    buf = io.BytesIO()
    if bilevel:   # values are 0/255 only: a 1-bit PNG is 8x smaller and faster to write
        im = im.convert("1", dither=Image.Dither.NONE)
    # zlib's run-length strategy: line drawings are long runs of white; faster and smaller than the default
    im.save(buf, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
    return buf.getvalue()


def render(data: bytes, name: str, max_pixels: int, model_size: int = 224) -> Rendered:
    im = decode(data, name, max_pixels)
    bilevel = im.mode == "1"
    grey = crop_to_ink(im if bilevel else to_grey(im))
    display = shrink_keep_ink(grey, DISPLAY_MAX, bilevel)
    model_grey = pad_square(shrink_keep_ink(display, 2 * model_size, bilevel), 2 * model_size)
    # the encoder's own preparation of ``model``, on the grey image (RGB -> L of a grey picture is exact)
    prepared = _prepare_for_encoder(model_grey, model_size)
    thumb = shrink_keep_ink(display, THUMB_MAX, bilevel)
    return Rendered(sha256(data), im.width, im.height, model_grey.convert("RGB"), png_bytes(display, bilevel),
                    png_bytes(thumb), prepared, model_size)


def _prepare_for_encoder(model_grey: Image.Image, model_size: int) -> Image.Image | None:
    try:
        from backend.model.drawing import prepare_drawing
    except ImportError:  # pragma: no cover - the model package is part of the project
        return None
    return prepare_drawing(model_grey, model_size)
