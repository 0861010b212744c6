"""Line-drawing image preparation shared by the encoder and the training data pipeline.

Patent drawing sheets are large bilevel images (often 2500 x 3300 px) with one-pixel lines and
wide white margins. Plain bicubic down-scaling to the model's input size (128-224 px) would fade
those lines to near-white, and open_clip's resize-then-centre-crop would cut off the ends of a
tall sheet. So before open_clip's own transform we

1. convert any mode (1, L, P, RGBA, I;16 ...) to 8-bit grey on white,
2. crop to the *drawing region* (plus a small margin): not the ink bounding box, which a frame, a
   sheet header or a stray figure label would stretch, but the box around the main ink masses
   (``drawing_bbox``),
3. min-pool ("keep the ink") by an integer factor down to about twice the target size,
4. drop isolated specks (scan noise that min-pooling would otherwise enlarge),
5. pad to a square with white, and return RGB.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

INK_THRESHOLD = 245  # grey values below this count as ink when finding the drawing's extent
MARGIN_FRACTION = 0.03
MASK_SIDE = 384          # the drawing region is found on an ink mask of about this long side
FRAME_FILL = 0.5         # a mask row/column inked over more than this share of its length is a frame line
BLOB_DILATE = 0.025      # ink closer than this share of the sheet's long side belongs to one mass
BLOB_KEEP = 0.12         # masses with less ink than this share of the largest one are labels, headers, specks
SPECK_MAX = 4            # connected ink of at most this many pixels (after pooling) is scan noise
PAPER_LEVEL = 200        # grey above this is paper (JPEG ringing, scanner noise), set to white
MASK_INK = 160           # darker than this counts as ink when finding the drawing region


def to_grey(image: Image.Image) -> Image.Image:
    """Any PIL image -> mode "L" with transparent areas rendered white."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(image, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 1.0
        return Image.fromarray(((arr - lo) * scale).clip(0, 255).astype(np.uint8), "L")
    return image.convert("L")


def crop_to_ink(grey: Image.Image) -> Image.Image:
    arr = np.asarray(grey)
    ink = arr < INK_THRESHOLD
    if not ink.any():
        return grey
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    margin = int(round(MARGIN_FRACTION * max(bottom - top, right - left))) + 1
    h, w = arr.shape
    return grey.crop((max(0, left - margin), max(0, top - margin), min(w, right + margin), min(h, bottom + margin)))


def block_reduce(arr: np.ndarray, factor: int, ufunc) -> np.ndarray:
    """``ufunc`` (np.logical_or, np.minimum ...) over ``factor`` x ``factor`` blocks, the last row and column
    of blocks cut short at the edge. Work and memory follow the array's own size (padding a 1 x 59 M strip
    to whole blocks would ask for factor x 59 M)."""
    starts_r = np.arange(0, arr.shape[0], factor)
    starts_c = np.arange(0, arr.shape[1], factor)
    return ufunc.reduceat(ufunc.reduceat(arr, starts_r, axis=0), starts_c, axis=1)


def _ink_mask(grey: Image.Image) -> tuple[np.ndarray, int]:
    """A max-pooled ink mask of about ``MASK_SIDE`` long side and its pooling factor."""
    arr = np.asarray(grey) < MASK_INK
    factor = max(1, -(-max(arr.shape) // MASK_SIDE))
    if factor > 1:
        arr = block_reduce(arr, factor, np.logical_or)
    return arr, factor


def _drop_frames(mask: np.ndarray) -> np.ndarray:
    """Clear frame and border lines: full-length rows/columns, and any connected ink spanning most of
    the sheet both ways whose pixels lie almost all along its own bounding box (a drawn rectangle
    around the sheet, also when it is slightly rotated)."""
    mask = mask.copy()
    mask[mask.mean(axis=1) > FRAME_FILL, :] = False
    mask[:, mask.mean(axis=0) > FRAME_FILL] = False
    labels, _n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    h, w = mask.shape
    band = max(2, int(0.04 * max(h, w)))
    for index, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        rs, cs = sl
        bh, bw = rs.stop - rs.start, cs.stop - cs.start
        if bh < 0.6 * h or bw < 0.6 * w:
            continue
        comp = labels[sl] == index
        inner = comp[band:-band, band:-band] if bh > 2 * band and bw > 2 * band else comp[:0, :0]
        if inner.sum() <= 0.1 * comp.sum():
            mask[sl][comp] = False
    return mask


def drawing_bbox(grey: Image.Image) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the drawing on a sheet, without its frame, header or stray labels.

    On a small ink mask: rows and columns inked over most of their length (frame and border lines) are
    cleared; the remaining ink is dilated so that the strokes of one drawing merge into one mass; the
    masses holding at least ``BLOB_KEEP`` of the largest one's ink are kept (several figures on one
    sheet stay; a header line, a figure label or scan specks do not). None for a blank image."""
    mask, factor = _ink_mask(grey)
    if not mask.any():
        return None
    mask = _drop_frames(mask)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n:
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        mask &= (sizes > SPECK_MAX)[labels]   # scan specks would bridge the masses once dilated
    if not mask.any():
        return None
    radius = max(1, int(round(BLOB_DILATE * max(mask.shape))))
    merged = ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool), iterations=radius)
    labels, n = ndimage.label(merged)
    if n == 0:
        return None
    ink = np.bincount(labels[mask], minlength=n + 1)
    ink[0] = 0
    keep = np.flatnonzero(ink >= BLOB_KEEP * ink.max())
    rows, cols = np.nonzero(np.isin(labels, keep) & mask)
    top, bottom = rows.min() * factor, (rows.max() + 1) * factor
    left, right = cols.min() * factor, (cols.max() + 1) * factor
    return int(left), int(top), int(min(right, grey.width)), int(min(bottom, grey.height))


def crop_to_drawing(grey: Image.Image) -> Image.Image:
    """Crop to ``drawing_bbox`` plus a small margin (the image itself when it is blank)."""
    box = drawing_bbox(grey)
    if box is None:
        return grey
    left, top, right, bottom = box
    margin = int(round(MARGIN_FRACTION * max(bottom - top, right - left))) + 1
    return grey.crop((max(0, left - margin), max(0, top - margin), min(grey.width, right + margin),
                      min(grey.height, bottom + margin)))


def drop_specks(grey: Image.Image) -> Image.Image:
    """Whiten connected ink of at most ``SPECK_MAX`` pixels (8-connected)."""
    arr = np.asarray(grey)
    ink = arr < MASK_INK
    labels, n = ndimage.label(ink, structure=np.ones((3, 3), bool))
    if n == 0:
        return grey
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    small = sizes <= SPECK_MAX
    small[0] = False
    if not small.any():
        return grey
    out = arr.copy()
    out[small[labels]] = 255
    return Image.fromarray(out, "L")


def min_pool(grey: Image.Image, target: int) -> Image.Image:
    """Shrink by the largest integer factor that keeps the long side >= 2 * target, keeping ink."""
    factor = max(grey.size) // (2 * target)
    if factor < 2:
        return grey
    pooled = block_reduce(np.asarray(grey), factor, np.minimum)
    return Image.fromarray(np.ascontiguousarray(pooled), "L")


def pad_square(grey: Image.Image) -> Image.Image:
    w, h = grey.size
    side = max(w, h)
    if w == h:
        return grey
    return ImageOps.pad(grey, (side, side), color=255, centering=(0.5, 0.5))


def prepare_drawing(image: Image.Image, target: int, crop: bool = True) -> Image.Image:
    """Prepare one drawing for a model whose input is ``target`` px square; returns RGB."""
    grey = to_grey(image)
    if grey.getextrema()[0] < PAPER_LEVEL:
        grey = grey.point(lambda v: 255 if v > PAPER_LEVEL else v)
    if crop:
        grey = crop_to_drawing(grey)
    grey = drop_specks(min_pool(grey, target))
    return pad_square(grey).convert("RGB")


def input_size(preprocess) -> int:
    """The square input size of an open_clip transform (torchvision Compose)."""
    for t in getattr(preprocess, "transforms", []):
        size = getattr(t, "size", None)
        if size is not None:
            return int(size if isinstance(size, int) else max(size))
    raise ValueError("cannot find the input size of the image transform")
