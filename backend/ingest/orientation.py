"""Which way up a drawing sheet is: landscape drawings are printed turned on a portrait page, the figure and
its ``FIG. 3`` label reading upwards (or downwards). :func:`detect` says by how many degrees clockwise the
sheet must be turned to stand upright: 0, 90, 180 or 270.

Two readings of tesseract (``make ocr`` installs it with its ``osd`` model):

1. the figure labels, read as :func:`backend.ingest.ocr.figure_labels` reads them (about 1 s a pass at
   :data:`READ_SIDE`): a sheet whose ``FIG.`` labels read upright stays as it is;
2. otherwise tesseract's orientation and script detection (``--psm 0``, about 0.2 s) proposes a turn, and
   the sheet is turned the way its labels read: the proposed turn (confidence :data:`OSD_MIN` or more)
   tried first, then 90 and 270 degrees. Without a label either way the proposed turn is taken only when
   tesseract is sure of it (:data:`OSD_SURE`: a sheet of text), else the sheet is left as it is.

On drawings (few letters) the detector alone is not to be trusted: on the 2025 US grants of the shared data
it named a wrong turn for 5 of the 13 sideways sheets and, at half resolution, called one of them upright.
The labels are what decides; a sheet without labels stays as scanned unless it is mostly text.

Without tesseract (or without its ``osd`` model) nothing is turned, and one log line says why.
"""
from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from backend.ingest import ocr

log = logging.getLogger(__name__)

TURNS = (0, 90, 180, 270)
#: tesseract's orientation confidence above which its turn is taken without a label that confirms it
#: (text-rich sheets: tables, flow charts with many words score 5-20; a drawing's few labels 0-2)
OSD_SURE = 6.0
#: below this, the detector's turn is not even worth checking against the labels
OSD_MIN = 0.3
TIMEOUT_S = 30
#: the longer side the sheet is read at (about 100 dpi for a US sheet: labels are large print)
READ_SIDE = 1200


@dataclass(frozen=True)
class Orientation:
    rotation: int          # degrees clockwise that turn the sheet upright: 0, 90, 180 or 270
    confidence: float      # tesseract's orientation confidence of the turn it proposed (0 when not run)
    reason: str            # how it was decided, one line


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether tesseract with its orientation model (``osd``) can be run here."""
    if shutil.which(ocr.TESSERACT) is None:
        return False
    try:
        out = subprocess.run([ocr.TESSERACT, "--list-langs"], capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return False
    return "osd" in out.stdout.split()


def missing_reason() -> str:
    return ("orientation detection unavailable (tesseract-ocr with its osd model is not installed; "
            "`make ocr` installs it): sheets are shown as scanned")


@functools.lru_cache(maxsize=1)
def _warn_missing() -> None:
    log.warning(missing_reason())


def turn(image: Image.Image, rotation: int) -> Image.Image:
    """``image`` turned ``rotation`` degrees clockwise (0, 90, 180, 270; a lossless transpose)."""
    if rotation % 360 == 0:
        return image
    step = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    try:
        return image.transpose(step[rotation % 360])
    except KeyError:
        raise ValueError(f"rotation must be 0, 90, 180 or 270, got {rotation!r}") from None


def _grey(image: Image.Image) -> Image.Image:
    grey = image.convert("L")
    if max(grey.size) > READ_SIDE:
        scale = READ_SIDE / max(grey.size)
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                           Image.Resampling.BOX)
    return grey


_ROTATE = re.compile(r"^Rotate:\s*(\d+)", re.MULTILINE)
_CONF = re.compile(r"^Orientation confidence:\s*([\d.]+)", re.MULTILINE)


def osd(image: Image.Image) -> tuple[int, float] | None:
    """Tesseract's (clockwise turn, confidence) for ``image``; None when it finds too little text to say."""
    with tempfile.TemporaryDirectory(prefix="prism-osd-") as tmp:
        path = Path(tmp) / "sheet.png"
        _grey(image).save(path)
        try:
            out = subprocess.run([ocr.TESSERACT, str(path), "stdout", "--psm", "0"], capture_output=True,
                                 text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None
    rotate, conf = _ROTATE.search(out.stdout), _CONF.search(out.stdout)
    if out.returncode != 0 or not rotate or not conf:
        return None   # "Too few characters": a drawing without text
    return int(rotate.group(1)) % 360, float(conf.group(1))


def _labels(grey: Image.Image, rotation: int) -> list[str]:
    words = ocr.read_words(turn(grey, rotation), sparse=True)
    return ocr.labels_in(" ".join(ocr.lines(words)))


def detect(image: Image.Image) -> Orientation:
    """The clockwise turn that stands ``image`` (a drawing sheet or a figure) upright; 0 without tesseract."""
    if not available() or not ocr.available():
        _warn_missing()
        return Orientation(0, 0.0, "tesseract unavailable")
    try:
        grey = image.convert("L")
        small = _grey(grey)
        if _labels(small, 0):
            return Orientation(0, 0.0, "figure labels read upright")
        proposed = osd(grey.reduce(2) if max(grey.size) > 2000 else grey)
        rotation, conf = proposed if proposed and proposed[1] >= OSD_MIN else (0, 0.0)
        for candidate in dict.fromkeys(([rotation] if rotation else []) + [90, 270]):
            if _labels(small, candidate):
                return Orientation(candidate, conf, f"figure labels read once turned {candidate}")
    except (ocr.OcrUnavailable, OSError) as exc:
        log.warning("orientation detection failed, sheet left as scanned: %s", exc)
        return Orientation(0, 0.0, f"detection failed: {exc}")
    if rotation and conf >= OSD_SURE:
        return Orientation(rotation, conf, "no figure label; orientation detection sure")
    return Orientation(0, conf, "no figure label read either way")
