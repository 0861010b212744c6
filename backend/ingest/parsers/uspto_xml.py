"""USPTO full-text XML (ICE v4.0 - v4.7): grants (``us-patent-grant``) and applications
(``us-patent-application``), single files, weekly bulk files that concatenate many documents, and zips;
the older XML forms too: 2001 ST.32 grants (``PATDOC``, :mod:`.uspto_sgml`) and 2001-2004 pre-grant
publications (``patent-application-publication``, :mod:`.uspto_pap`). Green Book text (APS, 1976-2001)
is plain text, read by :mod:`.uspto_aps`.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from lxml import etree

from backend.ingest.figure_text import parse_descriptions
from backend.ingest.sheet_figures import figure_records
from backend.ingest.parsers.classification import compact_symbol, locarno_symbol, symbol_from_parts
from backend.ingest.family import from_filings
from backend.ingest.records import (
    FigureRecord, ImageRef, ParseError, PatentRecord, UnsupportedFormat, iso_date, normalise_publication_number,
    party_name,
)

SUPPORTED_ROOTS = {"us-patent-grant": "ice", "us-patent-application": "ice", "PATDOC": "st32",
                   "patent-application-publication": "pap", "ep-patent-document": "epo"}
NON_PATENT_ROOTS = {
    "class-scheme": "a CPC scheme file, not a patent document",
    "CPCMasterClassificationFile": "a CPC master classification file, not a patent document",
    "ClaimsDocument": "a USPTO XML4IP file-wrapper part (claims), not a published patent document",
    "SpecificationDocument": "a USPTO XML4IP file-wrapper part (specification), not a published patent document",
}

_XML_DECL = re.compile(rb"<\?xml[^>]*\?>")
_ROOT = re.compile(rb"<(?!\?|!)([A-Za-z_][\w:.-]*)")


def _parser(recover: bool = False) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
                           recover=recover, remove_pis=False)


def split_documents(data: bytes) -> list[bytes]:
    """Split a weekly bulk file on its ``<?xml`` declarations (one element per document)."""
    starts = [m.start() for m in _XML_DECL.finditer(data)]
    if len(starts) <= 1:
        return [data] if data.strip() else []
    docs = [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]
    head = data[:starts[0]].strip()
    if head:
        docs.insert(0, head)
    return [d for d in docs if d.strip()]


def root_name(doc: bytes) -> str | None:
    """The document element's name, read from the head without parsing (skips the DOCTYPE and comments)."""
    head = doc[:8192]
    head = re.sub(rb"<!--.*?-->", b"", head, flags=re.S)
    head = re.sub(rb"<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", b"", head, flags=re.S)
    m = _ROOT.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


def sniff(doc: bytes) -> str:
    """Return the format (``"ice"``, ``"st32"``, ``"pap"``) of a supported document; raise
    UnsupportedFormat with the reason otherwise."""
    root = root_name(doc)
    root = root.split(":", 1)[-1] if root else root
    if root in SUPPORTED_ROOTS:
        return SUPPORTED_ROOTS[root]
    if root in NON_PATENT_ROOTS:
        raise UnsupportedFormat(NON_PATENT_ROOTS[root])
    if root is None:
        if doc.lstrip()[:4] in (b"PATN", b"HHHH") or b"\nPATN" in doc[:4096]:
            raise UnsupportedFormat("USPTO Green Book text (APS) is read from .txt files, not as XML")
        raise UnsupportedFormat("not an XML document")
    raise UnsupportedFormat(f"unknown XML document <{root}>")


def _text(el) -> str:
    if el is None:
        return ""
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


def _first(el, path: str) -> str:
    found = el.find(path) if el is not None else None
    return _text(found)


def _party_name(party) -> str:
    book = party.find("addressbook")
    book = book if book is not None else party
    return party_name(*(_first(book, t) for t in ("orgname", "first-name", "last-name")))


def _description_paragraphs(root) -> list[str]:
    dod = root.find(".//description-of-drawings")
    if dod is not None:
        return [_text(p) for p in dod.iter("p")]
    # v4.0 without the element: paragraphs between the brief-description-of-drawings PIs
    desc = root.find(".//description")
    paras, inside = [], False
    for node in (desc.iter() if desc is not None else []):
        if isinstance(node, etree._ProcessingInstruction) and node.target == "brief-description-of-drawings":
            inside = 'end="lead"' in (node.text or "")
            continue
        if inside and node.tag == "p":
            paras.append(_text(node))
    return paras


def _cpc(biblio) -> list[str]:
    out = []
    for el in biblio.iterfind(".//classifications-cpc//classification-cpc"):
        sym = symbol_from_parts(*(_first(el, t) for t in ("section", "class", "subclass", "main-group", "subgroup")))
        if sym and sym not in out:
            out.append(sym)
    return out


def _ipc(biblio) -> list[str]:
    out = []
    for el in biblio.iterfind(".//classifications-ipcr/classification-ipcr"):
        sym = symbol_from_parts(*(_first(el, t) for t in ("section", "class", "subclass", "main-group", "subgroup")))
        if sym and sym not in out:
            out.append(sym)
    for el in biblio.iterfind("classification-ipc"):   # v4.0 - v4.1
        for child in el:
            if child.tag in ("main-classification", "further-classification"):
                sym = compact_symbol(_text(child))
                if sym and sym not in out:
                    out.append(sym)
    return out


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


def parse_document(doc: bytes, image_base: ImageRef | None = None, origin: str = "") -> PatentRecord:
    """Parse one USPTO XML document (any supported format). ``image_base`` says where drawings live:
    ``ImageRef(path=dir)`` or ``ImageRef(zip=file, member=dir-inside-zip)``; None for documents without
    their drawings."""
    fmt = sniff(doc)
    if fmt == "st32":
        from backend.ingest.parsers.uspto_sgml import parse_st32

        return parse_st32(doc, image_base, origin)
    if fmt == "pap":
        from backend.ingest.parsers.uspto_pap import parse_pap

        return parse_pap(doc, image_base, origin)
    if fmt == "epo":
        from backend.ingest.parsers.epo import parse_epo

        return parse_epo(doc, image_base, origin)
    root = parse_xml(doc, origin, ".//publication-reference")
    biblio = root.find("us-bibliographic-data-grant")
    if biblio is None:
        biblio = root.find("us-bibliographic-data-application")
    if biblio is None:
        raise ParseError(f"{origin or 'document'}: no us-bibliographic-data-grant/-application element")
    pub = biblio.find("publication-reference/document-id")
    if pub is None or not _first(pub, "doc-number"):
        raise ParseError(f"{origin or 'document'}: no publication-reference/document-id/doc-number")
    country = _first(pub, "country") or "US"
    kind = _first(pub, "kind") or None
    number = normalise_publication_number(_first(pub, "doc-number"), country, kind)
    app = biblio.find("application-reference/document-id")
    claims = [(_first(p, "country"), _first(p, "doc-number"), iso_date(_first(p, "date")))
              for p in biblio.iterfind("priority-claims/priority-claim")]
    priorities = [d for _c, _n, d in claims if d]
    filing = iso_date(_first(app, "date")) if app is not None else None

    applicants = [_party_name(p) for p in biblio.iterfind(".//us-applicants/us-applicant")]
    if not applicants:
        applicants = [_party_name(p) for p in biblio.iterfind(".//applicants/applicant")]
    inventors = [_party_name(p) for p in biblio.iterfind(".//inventors/inventor")]
    if not inventors:
        inventors = [_party_name(p) for p in biblio.iterfind(".//applicants/applicant")
                     if "inventor" in (p.get("app-type") or "")]
    if not applicants:   # older grants name the owner only as assignee
        applicants = [_party_name(p) for p in biblio.iterfind(".//assignees/assignee")]

    locarno = []
    for el in biblio.iterfind("classification-locarno/main-classification"):
        sym = locarno_symbol(_text(el))
        if sym:
            locarno.append(sym)

    record = PatentRecord(
        publication_number=number, kind=kind, country=country,
        application_number=_first(app, "doc-number") or None if app is not None else None,
        filing_date=filing, publication_date=iso_date(_first(pub, "date")),
        priority_date=min(priorities) if priorities else filing,
        title=_first(biblio, "invention-title"), abstract=_text(root.find("abstract")),
        claims=_text(root.find("claims")),
        applicants=[a for a in dict.fromkeys(applicants) if a], inventors=[i for i in dict.fromkeys(inventors) if i],
        cpc=_cpc(biblio), ipc=_ipc(biblio), locarno=locarno,
        source=f"uspto-{root.tag}-{(root.get('dtd-version') or '').split(' ')[0] or 'unknown'}",
        family_id=from_filings(claims, (_first(app, "country") or country, _first(app, "doc-number"))
                               if app is not None else None),
    )
    sheets = [s for s in drawing_sheets(root) if s[0] > 0]
    if sheets and image_base is not None:   # a sheet may hold several figures: map them (sheet_figures)
        refs = [(num, _image_ref(image_base, file)) for num, file in sheets]
        record.figures = figure_records(_description_paragraphs(root), refs,
                                        _sheet_reader(refs) if _read_sheet_labels() else None, record.notes)
    else:
        record.figures = build_figures(_description_paragraphs(root), drawing_sheets(root), image_base)
    return record


def _read_sheet_labels() -> bool:
    from backend.settings import get_settings

    return bool(get_settings().ingest_sheet_ocr)


def _sheet_reader(refs: list[tuple[int, ImageRef | None]]):
    def read() -> list[bytes | None]:
        import zipfile

        from backend.ingest.parsers.weekly_tar import open_zip

        out: list[bytes | None] = []
        for _num, ref in refs:
            try:
                if ref is None:
                    out.append(None)
                elif ref.zip:
                    with open_zip(ref.zip, ref.tar_offset) as zf:
                        out.append(zf.read(ref.member))
                else:
                    with open(ref.path, "rb") as fh:
                        out.append(fh.read())
            except (OSError, KeyError, zipfile.BadZipFile):
                out.append(None)   # rendering the sheet fails the job with the reason
        return out
    return read


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
    from pathlib import Path

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


def iter_documents(data: bytes) -> Iterator[tuple[int, bytes]]:
    for i, doc in enumerate(split_documents(data)):
        yield i, doc
