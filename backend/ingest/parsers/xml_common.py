"""What the XML parsers share (USPTO ICE, ST.32, PAP, EPO): a safe lxml parser, the document root with
recovery, drawing sheets and the figures built from them. No parser imports another parser: each imports
this module, and :func:`backend.ingest.parsers.uspto_xml.parse_document` dispatches to them by root element.
"""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from lxml import etree

from backend.ingest.figure_text import parse_descriptions
from backend.ingest.records import FigureRecord, ImageRef, ParseError


def _parser(recover: bool = False) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
                           recover=recover, remove_pis=False)


def parse_xml(doc: bytes, origin: str, must_have: str) -> etree._Element:
    """The document's root; a damaged document is read in recovery mode if ``must_have`` survives."""
    try:
        return etree.fromstring(doc, _parser())
    except etree.XMLSyntaxError as exc:
        try:
            root = etree.fromstring(doc, _parser(recover=True))
        except etree.XMLSyntaxError:
            root = None
        if root is None or root.find(must_have) is None:
            raise ParseError(f"{origin or 'document'}: malformed XML: {exc}") from None
        return root


def drawing_sheets(root) -> list[tuple[int, str]]:
    """``(figure number, image file)`` of every ``drawings/figure`` with an image (USPTO and EPO XML)."""
    sheets = []
    for fig in root.iterfind("drawings/figure"):
        img = fig.find("img")
        try:
            num = int(fig.get("num") or 0)
        except ValueError:
            continue
        if img is not None and img.get("file"):
            sheets.append((num, img.get("file")))
    return sheets


_SHEET_NUMBER = re.compile(r"-D(\d{5})\.TIF$", re.IGNORECASE)


def sheet_number(file: str) -> int:
    """``US...-D00003.TIF`` -> 3 (0 when the name has no sheet number)."""
    m = _SHEET_NUMBER.search(file or "")
    return int(m.group(1)) if m else 0


def build_figures(paragraphs: list[str], sheets: list[tuple[int, str]],
                  image_base: ImageRef | None) -> list[FigureRecord]:
    """Figures from the brief description of the drawings and the drawing sheets ``(number, file)``."""
    descriptions = parse_descriptions(paragraphs)
    numbered = [s for s in sheets if s[0] > 0] or sheets   # D00000 is the front-page copy of a drawing
    figures = []
    if numbered:
        for i, (num, file) in enumerate(numbered, start=1):
            number = num or i
            parsed = descriptions.get(number)
            figures.append(FigureRecord(
                number=number, label=parsed.labels[0] if parsed else f"Sheet {number}",
                description=parsed.description if parsed else "",
                viewpoint=parsed.viewpoint if parsed else None,
                object_name=parsed.object_name if parsed else None,
                image=_image_ref(image_base, file)))
    else:   # text-only documents (weekly bulk files ship without drawings): index the described figures
        for number, parsed in sorted(descriptions.items()):
            figures.append(FigureRecord(number=number, label=parsed.labels[0], description=parsed.description,
                                        viewpoint=parsed.viewpoint, object_name=parsed.object_name))
    # nothing drawn or described: no figure (the pipeline indexes a text-only document instead)
    return figures


def _image_ref(base: ImageRef | None, file: str) -> ImageRef | None:
    if base is None:
        return None
    # a drawing the document names but the delivery lacks (weekly text-only files): the figure is still
    # indexed by its text, without an image
    if base.zip:
        member = str(PurePosixPath(base.member or "") / file) if base.member else file
        return ImageRef(zip=base.zip, member=member, name=file, tar_offset=base.tar_offset) \
            if _zip_has(base.zip, member, base.tar_offset) else None
    folder = Path(base.path or ".")
    for candidate in (folder / file, folder / file.upper(), folder / file.lower()):
        if candidate.is_file():
            return ImageRef(path=str(candidate), name=file)
    return None


def _zip_has(path: str, member: str, tar_offset: int | None = None) -> bool:
    import zipfile

    from backend.ingest.parsers.weekly_tar import open_zip

    try:
        with open_zip(path, tar_offset) as zf:
            zf.getinfo(member)
        return True
    except (KeyError, OSError, zipfile.BadZipFile):
        return False
