"""The figures on a drawing sheet: a connected-component and whitespace segmenter.

A USPTO sheet often holds several figures ("FIGS. 3A and 3B"), a query sheet several views of one design.
:func:`split_sheet` returns one box per figure region, in reading order (top to bottom, then left to right):

1. a small ink mask of the sheet (OpenCV, area-max pooling keeps one-pixel lines), frame and border lines
   cleared (full-length rows/columns, a rectangle drawn around the sheet) and scan specks dropped,
2. the strokes of one figure (its lead lines and reference numerals included) merged into masses by
   closing gaps under ``GAP`` of the sheet's long side,
3. masses whose boxes overlap (an exploded view, a part drawn inside another's bounding box) merged,
4. masses with less ink than ``KEEP`` of the largest one, or a box under ``KEEP_AREA`` of the largest
   one's, dropped (figure labels, sheet headers, stray numerals, scan specks),
5. when the caller knows how many figures the sheet holds (``expected``, from the figure labels read or
   described), the two regions with the narrowest whitespace between them are merged until that many are
   left; a region is never split further than the ink allows.

A sheet with one figure returns one box: the drawing region (:func:`backend.model.drawing.drawing_bbox`
finds the same union). A blank sheet returns no box.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from backend.model.drawing import to_grey

MASK_SIDE = 512          # the regions are found on an ink mask of about this long side
INK = 160                # darker than this is ink
FRAME_FILL = 0.5         # a mask row/column inked over more than this share of its length is a frame line
KEEP_AREA = 0.08         # ... or a box smaller than this share of the largest region's box
GAP = 0.02               # ink closer than this share of the long side belongs to one figure
KEEP = 0.12              # regions with less ink than this share of the largest one are labels / headers
MARGIN = 0.01            # each box grows by this share of the sheet's long side (then clipped to the sheet)


@dataclass(frozen=True)
class Box:
    """A figure region in pixels of the sheet given: ``left, top, right, bottom`` (right/bottom exclusive)."""
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]

    def normalised(self, width: int, height: int) -> list[float]:
        """The box as shares of the sheet's width and height (what a figure document stores: it holds for
        every rendition of the sheet)."""
        return [round(self.left / width, 4), round(self.top / height, 4),
                round(self.right / width, 4), round(self.bottom / height, 4)]


def _mask(grey: np.ndarray) -> tuple[np.ndarray, int]:
    ink = (grey < INK).astype(np.uint8)
    factor = max(1, -(-max(ink.shape) // MASK_SIDE))
    if factor > 1:
        h, w = ink.shape
        ink = np.pad(ink, ((0, (-h) % factor), (0, (-w) % factor)))
        ink = ink.reshape(ink.shape[0] // factor, factor, ink.shape[1] // factor, factor).max(axis=(1, 3))
    return ink, factor


def _clear_frames(mask: np.ndarray) -> np.ndarray:
    mask = mask.copy()
    mask[mask.mean(axis=1) > FRAME_FILL, :] = 0
    mask[:, mask.mean(axis=0) > FRAME_FILL] = 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    h, w = mask.shape
    band = max(2, int(0.04 * max(h, w)))
    for i in range(1, n):
        x, y, bw, bh, _area = stats[i]
        if bw < 0.6 * w or bh < 0.6 * h:
            continue
        comp = labels[y:y + bh, x:x + bw] == i
        inner = comp[band:-band, band:-band] if bh > 2 * band and bw > 2 * band else comp[:0, :0]
        if inner.sum() <= 0.1 * comp.sum():       # a rectangle drawn around the sheet
            mask[y:y + bh, x:x + bw][comp] = 0
    return mask


def _overlap(a: list[int], b: list[int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _gap(a: list[int], b: list[int]) -> int:
    """The whitespace between two boxes (0 when they overlap in both directions)."""
    dx = max(0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0, max(a[1], b[1]) - min(a[3], b[3]))
    return max(dx, dy)


def _area(b: list[int]) -> int:
    return (b[2] - b[0]) * (b[3] - b[1])


def _union(a: list[int], b: list[int]) -> list[int]:
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


def _merge_overlapping(regions: list[tuple[list[int], int]]) -> list[tuple[list[int], int]]:
    changed = True
    while changed:
        changed = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                if _overlap(regions[i][0], regions[j][0]):
                    box = _union(regions[i][0], regions[j][0])
                    regions[i] = (box, regions[i][1] + regions[j][1])
                    del regions[j]
                    changed = True
                    break
            if changed:
                break
    return regions


def split_sheet(image: Image.Image, expected: int | None = None) -> list[Box]:
    """The figure regions of a drawing sheet (any PIL mode), in reading order; ``expected``: how many
    figures the sheet is known to hold (the regions with the narrowest whitespace between them are merged
    down to that many). One box for a single drawing, none for a blank image."""
    grey = np.asarray(to_grey(image))
    if grey.size == 0:
        return []
    mask, factor = _mask(grey)
    mask = _clear_frames(mask)
    if not mask.any():
        return []
    h, w = mask.shape
    radius = max(1, round(GAP * max(h, w) / 2))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))
    merged = cv2.dilate(mask, kernel)
    n, labels = cv2.connectedComponents(merged, connectivity=8)
    inked = np.where(mask > 0, labels, 0)
    ink = np.bincount(inked.ravel(), minlength=n)
    regions = []
    for i, found in enumerate(ndimage.find_objects(inked), start=1):
        if found is not None:             # the box of the mass's own ink, not of its dilation
            rows, cols = found
            regions.append(([cols.start, rows.start, cols.stop, rows.stop], int(ink[i])))
    regions = _merge_overlapping(regions)
    largest = max(r[1] for r in regions)
    largest_area = max(_area(r[0]) for r in regions)
    regions = [r for r in regions if r[1] >= KEEP * largest and _area(r[0]) >= KEEP_AREA * largest_area]
    if expected is not None and expected >= 1:
        while len(regions) > expected:
            pairs = [(_gap(regions[i][0], regions[j][0]), i, j)
                     for i in range(len(regions)) for j in range(i + 1, len(regions))]
            _, i, j = min(pairs)
            regions[i] = (_union(regions[i][0], regions[j][0]), regions[i][1] + regions[j][1])
            del regions[j]
            regions = _merge_overlapping(regions)
    height, width = grey.shape
    margin = round(MARGIN * max(height, width))
    boxes = [Box(max(0, b[0] * factor - margin), max(0, b[1] * factor - margin),
                 min(width, b[2] * factor + margin), min(height, b[3] * factor + margin)) for b, _ in regions]
    return sorted(boxes, key=_reading_order(boxes))


#: :func:`clear_views`: the narrowest whitespace gutter, as a share of the sheet's long side, and the
#: smallest region's box area as a share of the largest one's
GUTTER = 0.04
COMPARABLE = 0.35
MAX_CLEAR_VIEWS = 4


def clear_views(image: Image.Image, gutter: float = GUTTER, comparable: float = COMPARABLE,
                max_views: int = MAX_CLEAR_VIEWS) -> list[Box]:
    """The figure regions of a sheet whose labels are unknown (an uploaded query drawing), only when it is
    confidently several figures: 2 to ``max_views`` regions of comparable size (the smallest box at least
    ``comparable`` of the largest one's area) that straight whitespace gutters at least ``gutter`` of the
    sheet's long side wide separate (a guillotine cut between any two groups of them, across the whole
    sheet). Anything else, a single drawing included, gives ``[]``: without labels the segmenter also
    splits one drawing whose parts stand apart (dashed or broken line art), which these rules reject."""
    boxes = split_sheet(image)
    if not 2 <= len(boxes) <= max_views:
        return []
    areas = [b.width * b.height for b in boxes]
    if min(areas) < comparable * max(areas):
        return []
    width, height = image.size
    if not _guillotine([b.as_list() for b in boxes], gutter * max(width, height)):
        return []
    return boxes


def _guillotine(boxes: list[list[int]], gap: float) -> bool:
    """Whether ``boxes`` fall apart down to one box each by straight cuts through whitespace bands at least
    ``gap`` wide (across the whole group, vertical or horizontal)."""
    if len(boxes) <= 1:
        return True
    for lo, hi in ((0, 2), (1, 3)):          # a vertical cut (x intervals), then a horizontal one
        order = sorted(boxes, key=lambda b: b[lo])
        reach = order[0][hi]
        for i in range(1, len(order)):
            # (each box carries its MARGIN: the whitespace between the inks is 2 MARGIN wider)
            if order[i][lo] - reach >= gap:
                return _guillotine(order[:i], gap) and _guillotine(order[i:], gap)
            reach = max(reach, order[i][hi])
    return False


def _reading_order(boxes: list[Box]):
    """Rows of boxes whose vertical extents overlap, top to bottom; left to right within a row."""
    rows: list[list[Box]] = []
    for b in sorted(boxes, key=lambda b: b.top):
        for row in rows:
            if any(b.top < o.bottom and o.top < b.bottom for o in row):
                row.append(b)
                break
        else:
            rows.append([b])
    rank = {b: (r, b.left) for r, row in enumerate(rows) for b in row}
    return lambda b: rank[b]


def crop(image: Image.Image, box: Box) -> Image.Image:
    return image.crop((box.left, box.top, box.right, box.bottom))
