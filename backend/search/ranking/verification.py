"""Second-stage geometric verification of two drawings: is one a re-publication of the other?

A re-published drawing (another office's sheet: frame, header line, moved figure label, rescaled 0.5-2x,
turned 90 degrees or skewed a few degrees, scan speckle, bilevel, JPEG, thicker or thinner strokes) keeps
the *geometry* of its lines. So each drawing gets local features once - at ingest for stored figures,
per query for an uploaded drawing:

1. the encoder's sheet preparation up to the crop (``backend.model.drawing.to_grey`` and
   ``crop_to_ink``), then the long side brought to :data:`WORK_SIDE` px by area averaging (isolated
   scan specks fade to near-white, thin and thick strokes both stay dark);
2. at most :data:`MAX_KEYPOINTS` ORB keypoints (oriented FAST + rotated BRIEF: rotation invariant, so a
   sideways sheet needs no second try; an image pyramid covers the rescale).

:func:`verify` matches the descriptors (Hamming, Lowe's ratio test), fits a similarity transform with
RANSAC (``cv2.estimateAffinePartial2D``: rotation, uniform scale, shift) and counts the inliers. A
frame, a header or a figure label of the other sheet does not fit the drawing's transform; but the
letters "FIG." of two unrelated sheets can fit one, with a dozen inliers packed in one small area. So
the evidence is how much of the drawing the inliers cover: the number of cells of a
:data:`GRID` x :data:`GRID` grid over the stored drawing's keypoints that hold an inlier. The score
is a logistic function of that count whose two constants were fitted on real drawings
(``bench/verify_bench.py``): near 1 for a re-published copy, near 0 for unrelated drawings.

Features serialise to about 18 KB (:meth:`DrawingFeatures.to_bytes`: float16 keypoints + uint8
descriptors), stored next to the figure's image in the blob store (``blobstore.features_key``).
"""
from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from backend.ingest.images import shrink_keep_ink
from backend.model.drawing import crop_to_ink, to_grey

WORK_SIDE = 640                 # long side of the drawing the keypoints are found on
MAX_KEYPOINTS = 500
DESCRIPTOR_BYTES = 32           # ORB: 256-bit binary descriptors
FAST_THRESHOLD = 20
# Lowe's ratio test (0.8 lost 5 % of the re-published copies: bench/drawing_retrieval.py)
RATIO = 0.9
RANSAC_PX = WORK_SIDE / 100     # reprojection error allowed for an inlier
MAX_SCALE = 3.5                 # a transform that rescales by more than this (or less than 1/this) is no match
GRID = 8
OVERSAMPLE = 2                  # ORB finds this many times MAX_KEYPOINTS, spread() keeps MAX_KEYPOINTS
SPREAD_GRID = 8
PRE_SHRINK_SIDE = 1200          # big sheets are first shrunk keeping ink, as the display rendition is
MIN_FEATURE_SIDE = 8            # a drawing thinner than this (after the ink crop) has no features (ORB's pyramid)
#: score = 1 / (1 + exp(-SLOPE * (cells - MIDPOINT))), fitted by bench/verify_bench.py (docs/search.md)
SCORE_SLOPE = 1.5
SCORE_MIDPOINT = 5.5
VERIFIED_SCORE = 0.5            # from here on a candidate counts as the same drawing
FORMAT = b"PRV1"                # magic + version of the serialised form


class FeatureFormatError(ValueError):
    """Bytes that are not serialised drawing features."""


@dataclass(frozen=True)
class DrawingFeatures:
    """Keypoint positions (n, 2) float32 in working-image pixels and ORB descriptors (n, 32) uint8."""

    points: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def to_bytes(self) -> bytes:
        n = len(self)
        return (FORMAT + struct.pack("<H", n) + self.points.astype("<f2").tobytes()
                + np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> DrawingFeatures:
        if len(data) < 6 or data[:4] != FORMAT:
            raise FeatureFormatError("not drawing features (bad header)")
        (n,) = struct.unpack_from("<H", data, 4)
        end_points = 6 + 4 * n
        if len(data) != end_points + DESCRIPTOR_BYTES * n:
            raise FeatureFormatError(f"drawing features of {n} keypoints have the wrong length {len(data)}")
        points = np.frombuffer(data, dtype="<f2", count=2 * n, offset=6).astype(np.float32).reshape(n, 2)
        descriptors = np.frombuffer(data, dtype=np.uint8, offset=end_points).reshape(n, DESCRIPTOR_BYTES)
        return cls(points, descriptors)


@dataclass(frozen=True)
class Verification:
    inliers: int        # matches that fit the similarity transform
    cells: int          # grid cells of the stored drawing holding an inlier (how much of it matched)
    score: float        # calibrated: near 1 the same drawing, near 0 unrelated

    @property
    def verified(self) -> bool:
        return self.score >= VERIFIED_SCORE


NO_MATCH = Verification(0, 0, 0.0)


def working_image(image: Image.Image) -> np.ndarray:
    """The drawing as the keypoints are found on it: grey, cropped to the ink, long side WORK_SIDE."""
    bilevel = image.mode == "1"
    grey = crop_to_ink(to_grey(image))
    grey = shrink_keep_ink(grey, PRE_SHRINK_SIDE, bilevel)
    arr = np.asarray(grey, dtype=np.uint8)
    h, w = arr.shape
    scale = WORK_SIDE / max(h, w)
    if scale != 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return arr


def extract(image: Image.Image, max_keypoints: int = MAX_KEYPOINTS) -> DrawingFeatures:
    """The local features of one drawing (any PIL mode; a blank image has none)."""
    arr = working_image(image)
    if min(arr.shape) < MIN_FEATURE_SIDE:
        return DrawingFeatures(np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8))
    orb = cv2.ORB_create(nfeatures=OVERSAMPLE * max_keypoints, edgeThreshold=15, patchSize=31,
                         fastThreshold=FAST_THRESHOLD)
    keypoints, descriptors = orb.detectAndCompute(arr, None)
    if descriptors is None or not keypoints:
        return DrawingFeatures(np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8))
    if len(keypoints) > max_keypoints:
        keep = spread(np.array([k.pt for k in keypoints], dtype=np.float32),
                      np.array([k.response for k in keypoints], dtype=np.float32), arr.shape, max_keypoints)
        keypoints, descriptors = [keypoints[i] for i in keep], descriptors[keep]
    points = np.array([k.pt for k in keypoints], dtype=np.float32)
    return DrawingFeatures(points, np.ascontiguousarray(descriptors, dtype=np.uint8))


def spread(points: np.ndarray, responses: np.ndarray, shape: tuple[int, int], limit: int) -> np.ndarray:
    """Indices of at most ``limit`` keypoints spread over the drawing: the strongest of each cell of a
    SPREAD_GRID x SPREAD_GRID grid in turn (round robin), so hatching or lettering does not take them all."""
    h, w = shape
    cell = (np.minimum(points[:, 1] * SPREAD_GRID // max(h, 1), SPREAD_GRID - 1) * SPREAD_GRID
            + np.minimum(points[:, 0] * SPREAD_GRID // max(w, 1), SPREAD_GRID - 1)).astype(np.int64)
    order = np.lexsort((-responses, cell))            # by cell, strongest first within a cell
    sorted_cells = cell[order]
    starts = np.searchsorted(sorted_cells, sorted_cells, side="left")
    rank_in_cell = np.arange(len(order)) - starts     # 0 for the strongest of its cell, 1 for the next ...
    pick = np.lexsort((-responses[order], rank_in_cell))[:limit]
    return np.sort(order[pick])


def extract_bytes(data: bytes) -> DrawingFeatures:
    """Features of an encoded image (PNG, TIFF, JPEG)."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return extract(image)


def score(cells: int) -> float:
    return 1.0 / (1.0 + math.exp(-SCORE_SLOPE * (cells - SCORE_MIDPOINT)))


def verify(query: DrawingFeatures, candidate: DrawingFeatures) -> Verification:
    """How well ``candidate`` (a stored drawing) is the same drawing as ``query``, up to a similarity
    transform; symmetric up to the grid being laid over the candidate."""
    if len(query) < 4 or len(candidate) < 4:
        return NO_MATCH
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, candidate.descriptors, k=2)
    good = [(m[0].queryIdx, m[0].trainIdx) for m in pairs if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if len(good) < 4:
        return NO_MATCH
    idx = np.asarray(good)
    src, dst = query.points[idx[:, 0]], candidate.points[idx[:, 1]]
    matrix, inlier_mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                                      ransacReprojThreshold=RANSAC_PX, maxIters=2000,
                                                      confidence=0.99)
    if matrix is None or inlier_mask is None:
        return NO_MATCH
    scale = math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
    if not (1 / MAX_SCALE < scale < MAX_SCALE):
        return NO_MATCH
    inliers = dst[inlier_mask.ravel().astype(bool)]
    low = candidate.points.min(axis=0)
    span = np.maximum(candidate.points.max(axis=0) - low, 1.0)
    cells = np.minimum(((inliers - low) / span * GRID).astype(int), GRID - 1)
    n_cells = len({(int(a), int(b)) for a, b in cells})
    return Verification(len(inliers), n_cells, round(score(n_cells), 4))
