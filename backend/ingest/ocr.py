"""Optical character recognition with Debian's tesseract (``tesseract-ocr`` + ``tesseract-ocr-eng``, called
through pytesseract): offline, the English model ships with the Debian package, nothing is downloaded.

:func:`available` says whether the engine is installed (``make ocr`` installs it); callers that can do
without OCR (the PDF parser, the drawing-sheet labeller) ask it first and say what they could not read.
:func:`read_words` returns the words with their boxes and confidences; :func:`figure_labels` the
``FIG. 3A`` labels printed on a drawing sheet.
"""
from __future__ import annotations

import functools
import re
import shutil
from dataclasses import dataclass

from PIL import Image, ImageOps

TESSERACT = "tesseract"
LANG = "eng"
CONFIDENT = 60          # tesseract word confidence (0-100) below which a word is "not sure"
TIMEOUT_S = 60          # one page; a page tesseract cannot finish in a minute is left unread

# "FIG. 3", "FIGS. 3A", "Fig 12", "FIG. 3(a)"; tesseract reads the I as 1, l or | now and then
_LABEL = re.compile(r"\bF\s*[I1l|]\s*G(?:URE|S)?\s*[.,:]?\s*(\d{1,3})(?:\s*\(\s*([A-Za-z])\s*\)|([A-Za-z])\b)?",
                    re.IGNORECASE)


class OcrUnavailable(RuntimeError):
    """The OCR engine is not installed (or not runnable)."""


@dataclass
class Word:
    text: str
    conf: float
    box: tuple[int, int, int, int]   # left, top, right, bottom (pixels of the image given)
    line: tuple[int, int, int]       # (block, paragraph, line): words of one printed line share it


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether tesseract with the English model can be run here."""
    if shutil.which(TESSERACT) is None:
        return False
    try:
        import pytesseract

        return LANG in pytesseract.get_languages(config="")
    except Exception:   # not runnable (a broken install): the same as absent for the callers
        return False


def missing_reason() -> str:
    return "OCR unavailable (tesseract-ocr with the English model is not installed; `make ocr` installs it)"


def read_words(image: Image.Image, sparse: bool = False) -> list[Word]:
    """Every word tesseract reads on ``image`` (grey or bilevel). ``sparse``: scattered labels (a drawing
    sheet) rather than running text. Raises :class:`OcrUnavailable` without the engine."""
    if not available():
        raise OcrUnavailable(missing_reason())
    import pytesseract

    grey = ImageOps.expand(image.convert("L"), border=32, fill=255)   # text touching the edge is missed
    config = "--psm 11" if sparse else "--psm 3"
    try:
        data = pytesseract.image_to_data(grey, lang=LANG, config=config, timeout=TIMEOUT_S,
                                         output_type=pytesseract.Output.DICT)
    except RuntimeError as exc:   # pytesseract's timeout
        raise OcrUnavailable(f"OCR gave up on a page after {TIMEOUT_S} s ({exc})") from None
    words = []
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        if not text:
            continue
        left, top = data["left"][i] - 32, data["top"][i] - 32
        words.append(Word(text, float(data["conf"][i]),
                          (left, top, left + data["width"][i], top + data["height"][i]),
                          (data["block_num"][i], data["par_num"][i], data["line_num"][i])))
    return words


def lines(words: list[Word]) -> list[str]:
    """The words grouped into printed lines, in reading order."""
    out: dict[tuple[int, int, int], list[str]] = {}
    for w in words:
        out.setdefault(w.line, []).append(w.text)
    return [" ".join(parts) for parts in out.values()]


def label_key(number: int | str, letter: str | None = None) -> str:
    """``3``, ``a`` -> ``"3A"``: the key a printed label and a described figure are matched by."""
    return f"{int(number)}{(letter or '').upper()}"


def labels_in(text: str) -> list[str]:
    """The figure label keys (``"3A"``) in ``text``, in order, each once."""
    keys = [label_key(m.group(1), m.group(2) or m.group(3)) for m in _LABEL.finditer(text or "")]
    return list(dict.fromkeys(keys))


def figure_labels(sheet: Image.Image) -> list[str]:
    """The figure labels printed on a drawing sheet (``["3A", "3B"]``), read at about 150 dpi."""
    grey = sheet.convert("L")
    grey = grey.reduce(2) if max(grey.size) > 2000 else grey
    found = labels_in(" ".join(lines(read_words(grey, sparse=True))))
    if not found:   # a landscape sheet is printed turned, its labels reading upwards
        found = labels_in(" ".join(lines(read_words(grey.transpose(Image.Transpose.ROTATE_270), sparse=True))))
    return found
