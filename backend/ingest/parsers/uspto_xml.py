"""USPTO full-text XML (ICE v4.0 - v4.7): grants (``us-patent-grant``) and applications
(``us-patent-application``), single files, weekly bulk files that concatenate many documents, and zips;
the older XML forms too: 2001 ST.32 grants (``PATDOC``, :mod:`.uspto_sgml`) and 2001-2004 pre-grant
publications (``patent-application-publication``, :mod:`.uspto_pap`). Green Book text (APS, 1976-2001)
is plain text, read by :mod:`.uspto_aps`.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from backend.ingest.family import from_filings
from backend.ingest.parsers import epo, uspto_pap, uspto_sgml
from backend.ingest.parsers.classification import compact_symbol, locarno_symbol, symbol_from_parts
from backend.ingest.parsers.xml_common import (  # noqa: F401 - build_figures etc. re-exported for callers
    _image_ref,
    _parser,
    build_figures,
    drawing_sheets,
    parse_xml,
    sheet_number,
)
from backend.ingest.records import (
    ImageRef,
    ParseError,
    PatentRecord,
    UnsupportedFormat,
    iso_date,
    normalise_publication_number,
    party_name,
)
from backend.ingest.sheet_figures import figure_records

SUPPORTED_ROOTS = {"us-patent-grant": "ice", "us-patent-application": "ice", "PATDOC": "st32",
                   "patent-application-publication": "pap", "ep-patent-document": "epo"}
NON_PATENT_ROOTS = {
    "class-scheme": "a CPC scheme file, not a patent document",
    "CPCMasterClassificationFile": "a CPC master classification file, not a patent document",
    "ClaimsDocument": "a USPTO XML4IP file-wrapper part (claims), not a published patent document",
    "SpecificationDocument": "a USPTO XML4IP file-wrapper part (specification), not a published patent document",
}

# sniffed format -> parser (this module parses "ice" itself); each parser imports only xml_common
OTHER_PARSERS = {"st32": uspto_sgml.parse_st32, "pap": uspto_pap.parse_pap, "epo": epo.parse_epo}

_XML_DECL = re.compile(rb"<\?xml[^>]*\?>")
_ROOT = re.compile(rb"<(?!\?|!)([A-Za-z_][\w:.-]*)")


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


def parse_document(doc: bytes, image_base: ImageRef | None = None, origin: str = "") -> PatentRecord:
    """Parse one USPTO XML document (any supported format). ``image_base`` says where drawings live:
    ``ImageRef(path=dir)`` or ``ImageRef(zip=file, member=dir-inside-zip)``; None for documents without
    their drawings."""
    fmt = sniff(doc)
    if fmt in OTHER_PARSERS:
        return OTHER_PARSERS[fmt](doc, image_base, origin)
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


def iter_documents(data: bytes) -> Iterator[tuple[int, bytes]]:
    yield from enumerate(split_documents(data))
