"""Scanned (image-only) patent PDFs: older grants, foreign publications.

Pages are rasterised with pypdfium2 and sorted by :func:`classify`: the front page (bibliography,
abstract, often a representative drawing), drawing sheets and text pages (description, claims). The front
page is read with OCR (:mod:`backend.ingest.ocr`): publication number, title (INID 54), classification
(51: IPC, 52: CPC / national), dates (45 / 43), applicant (71 / 73), abstract (57). Every drawing sheet
becomes a figure, labelled with the ``FIG.`` labels read on it; its image is the page rendered again
when the figure is processed (:func:`page_png`).

What cannot be read for sure is said in ``record.notes`` (kept on the job): an unreadable field, OCR not
installed (then the publication number comes from the file name, ``US7123456B2.pdf``, or the document
fails naming why). An encrypted PDF, a damaged one or one with more than ``max_pdf_pages`` pages fails
with the reason; nothing of it is stored.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from backend.ingest import ocr
from backend.ingest.parsers.classification import compact_symbol
from backend.ingest.records import FigureRecord, ImageRef, ParseError, PatentRecord, normalise_publication_number
from backend.ingest.sheet_figures import sheet_label

PDF_SUFFIXES = (".pdf",)
# layout rule (:func:`ink_layout`): the share of the ink in text-line bands
TEXT_SHARE = 0.7                 # at or above: running text (a text page)
DRAWING_SHARE = 0.5              # below: a drawing sheet; between the two a printed FIG. label decides
LINE_MAX_FRACTION = 0.03         # a band of rows with ink at most this fraction of the page high is a line
LOW_CONFIDENCE = ocr.CONFIDENT

_INID = re.compile(r"^\s*[\(\[\{|]?\s*(\d{2})\s*[\)\]\}|]\s*(.*)$")
_PUBLICATION = re.compile(
    r"\b(US|EP|WO|DE|GB|FR|JP|CN|KR|CA|AU)\s*((?:RE|D|PP)?\s*\d[\d ,./]{3,16}\d)\s*([ABCSEPUHT]\d?)\b")
_SYMBOL = re.compile(r"\b([A-H])\s?(\d{2})\s?([A-Z])\s?(\d{1,4})\s?/\s?(\d{2,6})\b")
_DATE = re.compile(r"\b([A-Z][a-z]{2,8})\.?\s+(\d{1,2})\s*,\s*(\d{4})\b")


@dataclass
class Page:
    index: int
    kind: str                        # front | drawing | text
    glyph_share: float
    labels: list[str] = field(default_factory=list)


# -- opening and rendering ----------------------------------------------------------------------------
def open_pdf(path: str, max_pages: int):
    """The pypdfium2 document; :class:`ParseError` for an encrypted, damaged or too long PDF."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        text = str(exc)
        if "password" in text.lower():
            raise ParseError(f"{path}: encrypted PDF (it needs a password); decrypt it first") from None
        raise ParseError(f"{path}: not a readable PDF ({text})") from None
    pages = len(pdf)
    if pages > max_pages:
        pdf.close()
        raise ParseError(f"{path}: {pages} pages is more than the limit of {max_pages} pages for one scanned "
                         f"patent (PRISM_MAX_PDF_PAGES)")
    if pages == 0:
        pdf.close()
        raise ParseError(f"{path}: the PDF has no pages")
    return pdf


def render(pdf, index: int, dpi: int) -> Image.Image:
    """Page ``index`` as a grey image at ``dpi``."""
    import pypdfium2 as pdfium

    try:
        bitmap = pdf[index].render(scale=dpi / 72, grayscale=True)
        return bitmap.to_pil().convert("L")
    except pdfium.PdfiumError as exc:
        raise ParseError(f"page {index + 1}: cannot be rendered ({exc})") from None


def page_png(path: str, index: int, dpi: int, max_pages: int) -> bytes:
    """One page rendered as PNG: the image of a drawing sheet's figure."""
    pdf = open_pdf(path, max_pages)
    try:
        if index >= len(pdf):
            raise ParseError(f"{path}: page {index + 1} not found (the PDF has {len(pdf)} pages)")
        buf = io.BytesIO()
        render(pdf, index, dpi).save(buf, "PNG", compress_level=1)
        return buf.getvalue()
    finally:
        pdf.close()


# -- sorting pages --------------------------------------------------------------------------------------
def ink_layout(grey: Image.Image) -> float:
    """The share of the page's ink in text-line bands: runs of rows with ink, separated by blank rows, at
    most :data:`LINE_MAX_FRACTION` of the page high. Running text is such bands and nothing else (near
    1.0); a drawing's strokes run down the page in tall bands (seen on the shared USPTO sheets: 0.0 -
    0.47); a blank page counts as text (1.0)."""
    rows = (np.asarray(grey) < 160).sum(axis=1)
    total = int(rows.sum())
    if total == 0:
        return 1.0
    on = np.concatenate(([0], (rows > 0).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(on))
    starts, ends = edges[0::2], edges[1::2]
    cumulative = np.concatenate(([0], np.cumsum(rows)))
    short = (ends - starts) <= LINE_MAX_FRACTION * grey.height
    return float((cumulative[ends[short]] - cumulative[starts[short]]).sum()) / total


def classify(index: int, line_share: float, labels: list[str], inid_codes: int) -> str:
    """front | drawing | text. The first page is the front page when it carries INID codes ("(54)
    Title") or is mostly text lines; any other page is a drawing sheet when most of its ink is not in text
    lines, or when a ``FIG.`` label is printed on it and it is not running text; else a text page."""
    if index == 0 and (inid_codes >= 2 or line_share >= DRAWING_SHARE):
        return "front"
    if line_share < DRAWING_SHARE or (labels and line_share < TEXT_SHARE):
        return "drawing"
    return "text"


# -- the front page -------------------------------------------------------------------------------------
@dataclass
class FrontPage:
    publication_number: str | None = None
    kind: str | None = None
    country: str | None = None
    number_confidence: float = 0.0
    title: str = ""
    ipc: list[str] = field(default_factory=list)
    cpc: list[str] = field(default_factory=list)
    publication_date: str | None = None
    filing_date: str | None = None
    applicants: list[str] = field(default_factory=list)
    abstract: str = ""
    inid_codes: int = 0


def inid_blocks(lines: list[str]) -> dict[str, str]:
    """INID code -> its text ("54" -> the title), continuation lines joined; the first block of each code."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in lines:
        m = _INID.match(line)
        if m:
            current = m.group(1)
            if current in blocks:   # a second (57) etc.: keep the first
                current = f"{current}+"
            blocks.setdefault(current, []).append(m.group(2))
        elif current is not None:
            blocks[current].append(line)
    return {code: re.sub(r"\s+", " ", " ".join(parts)).strip() for code, parts in blocks.items()
            if not code.endswith("+")}


def symbols(text: str) -> list[str]:
    out = []
    for m in _SYMBOL.finditer(text or ""):
        sym = compact_symbol(f"{m.group(1)}{m.group(2)}{m.group(3)}{m.group(4)}/{m.group(5)}")
        if sym and sym not in out:
            out.append(sym)
    return out


def _date(text: str) -> str | None:
    for m in _DATE.finditer(text or ""):
        for fmt in ("%b %d %Y", "%B %d %Y"):
            try:
                return dt.datetime.strptime(f"{m.group(1)[:3] if fmt == '%b %d %Y' else m.group(1)} "
                                            f"{m.group(2)} {m.group(3)}", fmt).date().isoformat()
            except ValueError:
                continue
    return None


def _title(text: str) -> str:
    text = re.sub(r"^(?:title(?: of (?:the )?invention)?\s*[:.]?\s*)", "", text, flags=re.IGNORECASE)
    return text.strip(" .:;")


def read_front_page(words: list[ocr.Word]) -> FrontPage:
    """The bibliography printed on a front page, from its OCR words."""
    lines = ocr.lines(words)
    front = FrontPage()
    blocks = inid_blocks(lines)
    front.inid_codes = len(blocks)
    # the publication number: in the (10)/(11) block if there is one, else the first one printed
    candidates = [blocks.get("10", ""), blocks.get("11", "")] + lines
    for text in candidates:
        m = _PUBLICATION.search(text or "")
        if m:
            digits = re.sub(r"[\s,./]", "", m.group(2))
            try:
                front.publication_number = normalise_publication_number(digits, m.group(1), m.group(3))
            except ParseError:
                continue
            front.country, front.kind = m.group(1), m.group(3)
            front.number_confidence = _confidence(words, m.group(2))
            break
    front.title = _title(blocks.get("54", ""))
    front.ipc = symbols(blocks.get("51", ""))
    front.cpc = symbols(blocks.get("52", ""))
    if not front.ipc and not front.cpc:
        front.ipc = symbols(" ".join(lines))
    front.publication_date = _date(blocks.get("45", "")) or _date(blocks.get("43", ""))
    front.filing_date = _date(blocks.get("22", ""))
    party = blocks.get("73") or blocks.get("71") or ""
    party = re.sub(r"^(?:assignee|applicants?)\s*[:.]?\s*", "", party, flags=re.IGNORECASE)
    if party:
        front.applicants = [party.split(",")[0].split(";")[0].strip()]
    front.abstract = re.sub(r"^abstract\s*", "", blocks.get("57", ""), flags=re.IGNORECASE)
    return front


def _confidence(words: list[ocr.Word], printed: str) -> float:
    """The lowest confidence of the words that spell ``printed``."""
    parts = [p for p in re.split(r"\s+", printed.strip()) if p]
    confs = [w.conf for w in words if any(p in w.text for p in parts)]
    return min(confs) if confs else 0.0


# -- the document ---------------------------------------------------------------------------------------
def parse_pdf(path: str, dpi: int = 200, max_pages: int = 500) -> PatentRecord:
    notes: list[str] = []
    reading = ocr.available()
    if not reading:
        notes.append(f"{ocr.missing_reason()}: no bibliographic data read, figure labels not read")
    pdf = open_pdf(path, max_pages)
    pages: list[Page] = []
    front = FrontPage()
    try:
        for index in range(len(pdf)):
            try:
                grey = render(pdf, index, dpi)
            except ParseError as exc:
                raise ParseError(f"{path}: {exc}") from None
            share = ink_layout(grey)
            labels: list[str] = []
            inid = 0
            if reading and index == 0:
                try:
                    front = read_front_page(ocr.read_words(grey))
                    inid = front.inid_codes
                except ocr.OcrUnavailable as exc:
                    notes.append(f"front page: {exc}")
            kind = classify(index, share, [], inid)
            if reading and kind != "front" and share < TEXT_SHARE:
                try:   # a drawing sheet's labels; on a page between text and drawing a label decides
                    labels = ocr.figure_labels(grey)
                except ocr.OcrUnavailable as exc:
                    notes.append(f"page {index + 1}: {exc}")
                kind = classify(index, share, labels, inid)
            pages.append(Page(index, kind, share, labels))
    finally:
        pdf.close()
    return build_record(path, pages, front, notes, reading)


def build_record(path: str, pages: list[Page], front: FrontPage, notes: list[str], reading: bool) -> PatentRecord:
    name = Path(path).name
    number, kind, country = front.publication_number, front.kind, front.country
    if number and front.number_confidence < LOW_CONFIDENCE:
        notes.append(f"publication number {number} read with low OCR confidence ({front.number_confidence:.0f})")
    if not number:
        number, kind, country = _number_from_name(Path(path).stem)
        if not number:
            why = "OCR found none on the front page" if reading else ocr.missing_reason()
            raise ParseError(f"{path}: no publication number ({why}) and the file name {name!r} is not one; "
                             f"name the file after the number (e.g. US7123456B2.pdf)")
        notes.append(f"publication number {number} taken from the file name"
                     + ("" if reading else " (no OCR)"))
    if reading:
        for what, value in (("title", front.title), ("classification", front.ipc or front.cpc)):
            if not value:
                notes.append(f"{what} not found on the front page")
    figures = []
    for sheet, page in enumerate((p for p in pages if p.kind == "drawing"), start=1):
        figures.append(FigureRecord(number=sheet, label=sheet_label(page.labels) or f"Sheet {sheet}",
                                    description=sheet_label(page.labels),
                                    image=ImageRef(path=path, page=page.index, name=f"{name}#page{page.index + 1}")))
    if not figures:
        notes.append(f"no drawing sheet among the {len(pages)} page(s)")
    text_pages = [p.index + 1 for p in pages if p.kind == "text"]
    if text_pages:
        notes.append(f"{len(text_pages)} text page(s) not read (pages {_ranges(text_pages)})")
    return PatentRecord(
        publication_number=number, kind=kind, country=country, title=front.title, abstract=front.abstract,
        applicants=front.applicants, ipc=front.ipc, cpc=front.cpc, publication_date=front.publication_date,
        filing_date=front.filing_date, priority_date=front.filing_date, figures=figures,
        source="scanned-pdf" + ("-ocr" if reading else ""), notes=notes)


def _number_from_name(stem: str) -> tuple[str | None, str | None, str | None]:
    m = re.match(r"^([A-Z]{2})[-_ ]?((?:RE|D|PP)?\d{4,12})[-_ ]?([A-Z]\d?)?(?:$|[-_ .])", stem.upper())
    if not m:
        return None, None, None
    try:
        return normalise_publication_number(m.group(2), m.group(1), m.group(3)), m.group(3), m.group(1)
    except ParseError:
        return None, None, None


def _ranges(numbers: list[int]) -> str:
    out, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out)
