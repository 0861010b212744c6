"""Scanned patent PDFs (backend/ingest/parsers/scanned_pdf.py): pages sorted by the layout rule, the front
page read with OCR, drawing sheets indexed as figures; encrypted, damaged and over-long PDFs fail alone.

The PDFs are built here: a front page and a text page drawn with Pillow, drawing sheets from the shared
USPTO TIFFs (US12448749: sheet 1 carries FIG. 1A, sheet 4 FIGS. 3A and 3B)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from backend.db.models import IngestJob, Patent
from backend.db.session import session_scope
from backend.ingest import ocr
from backend.ingest.bulk import ingest_paths
from backend.ingest.jobs import get_job
from backend.ingest.parsers import scanned_pdf
from backend.ingest.parsers.discover import discover
from backend.ingest.records import ParseError

from .conftest import faked_pipeline

GRANT = "uspto_grants_2025/US12448749-20251021.ZIP"
FRONT_LINES = [
    "(12) United States Patent", "(10) Patent No.: US 7,123,456 B2", "(45) Date of Patent: Oct. 21, 2025",
    "(54) FOLDING CHAIR WITH A", "     SPRING LOADED BACKREST",
    "(71) Applicant: Acme Furniture Inc., Springfield, IL (US)", "(22) Filed: Mar. 3, 2023",
    "(51) Int. Cl.", "     A47C 7/00 (2006.01)", "     A47C 4/04 (2006.01)",
    "(52) U.S. Cl.", "     CPC A47C 7/402 (2013.01)",
    "(57) ABSTRACT", "A folding chair has a backrest held by a spring."]
needs_ocr = pytest.mark.skipif(not ocr.available(), reason=ocr.missing_reason())


def _page(lines: list[str], size: int = 34) -> Image.Image:
    im = Image.new("L", (1700, 2200), 255)
    draw, font = ImageDraw.Draw(im), ImageFont.load_default(size=size)
    for i, line in enumerate(lines):
        draw.text((120, 120 + int(i * size * 1.5)), line, fill=0, font=font)
    return im


def _sheets(shared_data: Path, numbers=(1, 4)) -> list[Image.Image]:
    path = shared_data / GRANT
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with zipfile.ZipFile(path) as zf:
        return [Image.open(io.BytesIO(zf.read(f"US12448749-20251021/US12448749-20251021-D{n:05d}.TIF"))).convert("L")
                for n in numbers]


def _pdf(path: Path, pages: list[Image.Image]) -> Path:
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=200)
    return path


@pytest.fixture
def scanned(tmp_path, shared_data) -> Path:
    text = _page(["DETAILED DESCRIPTION"] + ["The chair comprises a seat, a backrest and legs joined by hinges."] * 40,
                 size=30)
    return _pdf(tmp_path / "scan.pdf", [_page(FRONT_LINES), text, *_sheets(shared_data)])


# -- the layout rule ------------------------------------------------------------------------------------
@pytest.mark.parametrize("index,share,labels,inid,kind", [
    (0, 1.0, [], 0, "front"),            # a first page of text
    (0, 0.2, [], 5, "front"),            # a first page with a big drawing, but INID codes
    (0, 0.2, [], 0, "drawing"),          # a scan that starts with a drawing sheet
    (3, 0.1, [], 0, "drawing"),
    (3, 0.6, ["2"], 0, "drawing"),       # between text and drawing: the printed label decides
    (3, 0.6, [], 0, "text"),
    (3, 0.95, ["2"], 0, "text"),         # running text that names a figure
])
def test_classify_rule(index, share, labels, inid, kind):
    assert scanned_pdf.classify(index, share, labels, inid) == kind


def test_layout_tells_text_from_drawing_sheets(shared_data):
    text = _page(["A line of running text with words of ordinary size."] * 40, size=30)
    assert scanned_pdf.ink_layout(text) > scanned_pdf.TEXT_SHARE
    for sheet in _sheets(shared_data, (1, 2, 4, 5, 11)):
        assert scanned_pdf.ink_layout(sheet) < scanned_pdf.DRAWING_SHARE


def test_front_page_fields_from_ocr_lines():
    words = [ocr.Word(text, 95.0, (0, 0, 1, 1), (1, 1, i)) for i, line in enumerate(FRONT_LINES)
             for text in line.split()]
    front = scanned_pdf.read_front_page(words)
    assert front.publication_number == "US7123456B2"
    assert front.title == "FOLDING CHAIR WITH A SPRING LOADED BACKREST"
    assert front.ipc == ["A47C7/00", "A47C4/04"] and front.cpc == ["A47C7/402"]
    assert front.publication_date == "2025-10-21" and front.filing_date == "2023-03-03"
    assert front.applicants == ["Acme Furniture Inc."]
    assert front.abstract.startswith("A folding chair")


# -- whole documents ------------------------------------------------------------------------------------
@needs_ocr
def test_scanned_pdf_is_read(scanned):
    record = scanned_pdf.parse_pdf(str(scanned))
    assert record.publication_number == "US7123456B2"
    assert record.title == "FOLDING CHAIR WITH A SPRING LOADED BACKREST"
    assert "A47C7/00" in record.ipc and record.cpc == ["A47C7/402"]
    assert [(f.number, f.label, f.image.page) for f in record.figures] == [
        (1, "FIG. 1A", 2), (2, "FIGS. 3A and 3B", 3)]
    assert record.notes == ["1 text page(s) not read (pages 2)"]


def test_without_ocr_the_file_name_gives_the_number(tmp_path, shared_data, monkeypatch):
    monkeypatch.setattr(ocr, "available", lambda: False)
    pages = [_page(FRONT_LINES), *_sheets(shared_data)]
    record = scanned_pdf.parse_pdf(str(_pdf(tmp_path / "US7123456B2.pdf", pages)))
    assert record.publication_number == "US7123456B2" and record.title == ""
    assert [f.label for f in record.figures] == ["Sheet 1", "Sheet 2"]   # found by layout, labels unread
    assert any("OCR unavailable" in n for n in record.notes)
    assert any("taken from the file name" in n for n in record.notes)
    with pytest.raises(ParseError, match="no publication number.*name the file after the number"):
        scanned_pdf.parse_pdf(str(_pdf(tmp_path / "scan.pdf", pages)))


def _encrypted_pdf(path: Path) -> Path:
    """A PDF with a standard security handler whose user password is not empty (O/U entries that the
    empty password does not open)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
            b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> /P -4 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<0123456789abcdef0123456789abcdef>"
            b"<0123456789abcdef0123456789abcdef>] >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    path.write_bytes(bytes(out))
    return path


def _long_pdf(path: Path, pages: int) -> Path:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(200, 200)
    pdf.save(str(path))
    pdf.close()
    return path


def test_encrypted_damaged_and_overlong_pdfs_are_refused(tmp_path):
    with pytest.raises(ParseError, match="encrypted PDF"):
        scanned_pdf.parse_pdf(str(_encrypted_pdf(tmp_path / "locked.pdf")))
    truncated = tmp_path / "cut.pdf"
    truncated.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    with pytest.raises(ParseError, match="not a readable PDF"):
        scanned_pdf.parse_pdf(str(truncated))
    with pytest.raises(ParseError, match="5000 pages is more than the limit of 500 pages"):
        scanned_pdf.parse_pdf(str(_long_pdf(tmp_path / "long.pdf", 5000)), max_pages=500)


@needs_ocr
def test_ingest_pdfs_bad_ones_fail_alone_with_notes(make_settings, tmp_path, scanned):
    folder = tmp_path / "in"
    folder.mkdir()
    scanned.rename(folder / "scan.pdf")
    _encrypted_pdf(folder / "locked.pdf")
    _long_pdf(folder / "long.pdf", 5000)
    assert [i.locator["format"] for i in discover([folder])] == ["scanned-pdf"] * 3
    with faked_pipeline(make_settings) as (settings, _pipe):
        summary = ingest_paths([folder], settings, progress=False)
        assert (summary.ingested, summary.failed, summary.figures) == (1, 2, 2)
        reasons = dict(summary.failures)
        assert "encrypted PDF" in reasons[str(folder / "locked.pdf")]
        assert "5000 pages" in reasons[str(folder / "long.pdf")]
        assert summary.notes == [(str(folder / "scan.pdf"), "1 text page(s) not read (pages 2)")]
        with session_scope(settings.resolved_database_url) as s:
            assert [p.publication_number for p in s.scalars(select(Patent))] == ["US7123456B2"]   # nothing else
            patent = s.scalar(select(Patent))
            assert sorted(f.number for f in patent.figures) == [1, 2] and patent.cpc == ["A47C7/402"]
            job = s.scalar(select(IngestJob).where(IngestJob.publication_number == "US7123456B2"))
            assert job.payload["notes"] == ["1 text page(s) not read (pages 2)"]
            job_id = job.id
        assert get_job(job_id, settings)["notes"] == ["1 text page(s) not read (pages 2)"]   # GET /jobs/<id>
