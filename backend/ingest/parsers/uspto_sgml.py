"""USPTO grants of 2001 in ST.32 form (``<PATDOC>``, DTD 2.4/2.5, delivered as XML): the B-coded
bibliography (B110 number, B130 kind, B140 date, B210/B220 application, B320 priority dates, B511/B512
IPC 7 - for designs B511 is the Locarno class -, B540 title, B721 inventors, B731 assignees), the
abstract (SDOAB), claims (SDOCL), the brief description of the drawings (DRWDESC) and the drawing
sheets (SDODR/EMI)."""
from __future__ import annotations

import re

from backend.ingest.family import from_filings
from backend.ingest.parsers.classification import compact_symbol, locarno_symbol
from backend.ingest.parsers.xml_common import build_figures, parse_xml, sheet_number
from backend.ingest.records import (
    ImageRef,
    ParseError,
    PatentRecord,
    iso_date,
    normalise_publication_number,
    party_name,
)

# IPC 7 as ST.32 writes it: subclass, then main group and a two-digit subgroup run together ("G06F 1516")
_IPC7 = re.compile(r"^([A-H]\d\d[A-Z])\s*0*(\d+?)(\d\d)$")


def ipc7_symbol(raw: str) -> str | None:
    """``G06F 1516`` -> ``G06F15/16``; ``H01L 2102`` -> ``H01L21/02``; anything else via compact_symbol."""
    text = re.sub(r"\s+", " ", (raw or "").strip().upper())
    m = _IPC7.match(text.replace(" ", " "))
    if m and "/" not in text:
        return f"{m.group(1)}{int(m.group(2))}/{m.group(3)}"
    return compact_symbol(text)


def _text(el) -> str:
    if el is None:
        return ""
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


def _name(party) -> str:
    return party_name(*(_text(party.find(t)) for t in (".//ONM", ".//FNM", ".//SNM")))


def parse_st32(doc: bytes, image_base: ImageRef | None = None, origin: str = "") -> PatentRecord:
    root = parse_xml(doc, origin, ".//B110")
    biblio = root.find("SDOBI")
    number = _text(root.find("SDOBI/B100/B110"))
    if biblio is None or not number:
        raise ParseError(f"{origin or 'document'}: ST.32 grant without SDOBI/B100/B110 (document number)")
    country = _text(biblio.find("B100/B190")) or "US"
    kind = _text(biblio.find("B100/B130")) or None
    design = (kind or "").upper().startswith("S") or number.upper().startswith("D")
    filing = iso_date(_text(biblio.find("B200/B220")))
    priorities = [d for d in (iso_date(_text(el)) for el in biblio.iterfind(".//B300//B320")) if d]
    claims = [(_text(el.find(".//B330")), _text(el.find(".//B310")), iso_date(_text(el.find(".//B320"))))
              for el in biblio.iterfind("B300")]
    family = from_filings(claims, (country, _text(biblio.find("B200/B210"))))
    class_texts = [_text(el) for el in biblio.iterfind("B500/B510/*") if el.tag in ("B511", "B512")]
    ipc, locarno = [], []
    for text in class_texts:
        symbol = locarno_symbol(text) if design and re.fullmatch(r"\d{3,4}", text.replace(" ", "")) else None
        if symbol:
            locarno.append(symbol)
        elif (symbol := ipc7_symbol(text)) and symbol not in ipc:
            ipc.append(symbol)
    sheets = [(sheet_number(el.get("FILE", "")), el.get("FILE")) for el in root.iterfind("SDODR//EMI")
              if el.get("FILE")]
    record = PatentRecord(
        publication_number=normalise_publication_number(number, country, kind),
        kind=kind, country=country, application_number=_text(biblio.find("B200/B210")) or None,
        filing_date=filing, publication_date=iso_date(_text(biblio.find("B100/B140"))),
        priority_date=min(priorities) if priorities else filing,
        title=_text(biblio.find("B500/B540")), abstract=_text(root.find("SDOAB")),
        claims=_text(root.find("SDOCL")),
        applicants=list(dict.fromkeys(n for n in (_name(p) for p in biblio.iterfind(".//B731")) if n)),
        inventors=list(dict.fromkeys(n for n in (_name(p) for p in biblio.iterfind(".//B721")) if n)),
        ipc=ipc, locarno=locarno, source=f"uspto-st32-{root.get('DTD') or 'unknown'}", family_id=family,
    )
    paragraphs = [_text(p) for p in root.iterfind(".//DRWDESC//PARA")]
    record.figures = build_figures(paragraphs, sheets, image_base)
    return record
