"""USPTO pre-grant publications of 2001-2004 (``<patent-application-publication>``, PAP v1.5/1.6): number,
kind and date (document-id), application number and filing date (domestic-filing-data), foreign priority
dates, IPC 7 (classification-ipc), title, inventors (given + family name), assignees, abstract, claims,
the brief description of the drawings and the drawing sheets (subdoc-drawings/figure/image)."""
from __future__ import annotations

import copy
import re

from lxml import etree

from backend.ingest.family import from_filings
from backend.ingest.parsers.classification import compact_symbol
from backend.ingest.parsers.xml_common import build_figures, parse_xml, sheet_number
from backend.ingest.records import (
    ImageRef,
    ParseError,
    PatentRecord,
    iso_date,
    normalise_publication_number,
    party_name,
)


def _text(el, skip: tuple[str, ...] = ()) -> str:
    """The element's text without the ``skip`` elements (paragraph numbers, headings), keeping what
    follows them."""
    if el is None:
        return ""
    if skip:
        el = copy.deepcopy(el)
        etree.strip_elements(el, *skip, with_tail=False)
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


def _person(name) -> str:
    if name is None:
        return ""
    return party_name(*(_text(name.find(t)) for t in ("organization-name", "given-name", "family-name")))


def parse_pap(doc: bytes, image_base: ImageRef | None = None, origin: str = "") -> PatentRecord:
    root = parse_xml(doc, origin, ".//document-id")
    biblio = root.find("subdoc-bibliographic-information")
    number = _text(biblio.find("document-id/doc-number")) if biblio is not None else ""
    if not number:
        raise ParseError(f"{origin or 'document'}: pre-grant publication without document-id/doc-number")
    kind = _text(biblio.find("document-id/kind-code")) or None
    filing = iso_date(_text(biblio.find("domestic-filing-data/filing-date")))
    priorities = [d for d in (iso_date(_text(el))
                              for el in biblio.iterfind(".//foreign-priority-data/filing-date")) if d]
    ipc = []
    for el in biblio.iterfind(".//classification-ipc//ipc"):
        symbol = compact_symbol(_text(el))
        if symbol and symbol not in ipc:
            ipc.append(symbol)
    inventors = [_person(n) for n in biblio.iterfind("inventors//name")]
    assignees = [_person(a) for a in biblio.iterfind(".//assignee")]
    skip = ("heading", "number")
    sheets = [(sheet_number(el.get("file", "")), el.get("file"))
              for el in root.iterfind("subdoc-drawings//image") if el.get("file")]
    record = PatentRecord(
        publication_number=normalise_publication_number(number, "US", kind), kind=kind, country="US",
        application_number=_text(biblio.find("domestic-filing-data/application-number/doc-number")) or None,
        filing_date=filing, publication_date=iso_date(_text(biblio.find("document-id/document-date"))),
        priority_date=min(priorities) if priorities else filing,
        title=_text(biblio.find(".//title-of-invention")),
        abstract=" ".join(_text(p, skip) for p in root.iterfind("subdoc-abstract//paragraph")),
        claims=_text(root.find("subdoc-claims"), skip),
        applicants=list(dict.fromkeys(a for a in assignees if a)),
        inventors=list(dict.fromkeys(i for i in inventors if i)), ipc=ipc, source="uspto-pap",
        family_id=from_filings(
            [(_text(el.find("country-code")), _text(el.find(".//doc-number")), iso_date(_text(el.find("filing-date"))))
             for el in biblio.iterfind(".//foreign-priority-data")],
            ("US", _text(biblio.find("domestic-filing-data/application-number/doc-number")))),
    )
    paragraphs = [_text(p, skip) for p in root.iterfind(".//brief-description-of-drawings//paragraph")]
    record.figures = build_figures(paragraphs, sheets, image_base)
    return record
