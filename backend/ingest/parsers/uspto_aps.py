"""USPTO Green Book full text (APS, grants 1976-2001): fixed-tag text, a section name alone on a line
(``PATN``, ``INVT``, ``ASSG``, ``PRIR``, ``CLAS``, ``ABST``, ``DRWD``, ``CLMS`` ...) followed by
``TAG  value`` lines whose continuation lines start with blanks. A weekly file concatenates patents,
each starting at ``PATN``. Read: number (WKU, without its check digit), application number and date,
issue date, title, inventors and assignees (``Last; First`` names turned around), priority dates, IPC
(ICL, ST.32-style ``H04M 1100``), abstract, claims and the brief description of the drawings (APS ships no
drawing images, so figures are indexed by their descriptions)."""
from __future__ import annotations

import re

from backend.ingest.parsers.uspto_sgml import ipc7_symbol
from backend.ingest.parsers.xml_common import build_figures
from backend.ingest.records import ImageRef, ParseError, PatentRecord, iso_date, normalise_publication_number

_SECTION = re.compile(r"^[A-Z]{4}\s*$")
_TEXT_TAGS = ("PAR", "PAL", "PA1", "PAC", "TBL", "EQU")   # paragraph-like fields (PAC: a heading)


def is_aps(head: bytes) -> bool:
    text = head.lstrip()
    return text[:4] in (b"PATN", b"HHHH") or b"\nPATN" in head[:4096]


def split_patents(data: bytes) -> list[bytes]:
    """One chunk per ``PATN`` record (a weekly file's ``HHHHHT`` header is dropped)."""
    starts = [m.start() for m in re.finditer(rb"(?m)^PATN\s*$", data)]
    return [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]


def _sections(doc: str) -> list[tuple[str, list[list[str]]]]:
    """``[(section, [[tag, value], ...]), ...]`` with continuation lines joined to their field."""
    sections: list[tuple[str, list[list[str]]]] = []
    for line in doc.splitlines():
        if not line.strip():
            continue
        if _SECTION.match(line):
            sections.append((line.strip(), []))
        elif sections and line[:1] == " " and sections[-1][1]:
            sections[-1][1][-1][1] += " " + line.strip()
        elif sections and len(line) > 3:
            sections[-1][1].append([line[:4].strip(), line[5:].strip() if len(line) > 5 else ""])
    return sections


def _values(sections, section: str, tag: str) -> list[str]:
    return [v for name, fields in sections if name == section for t, v in fields if t == tag and v]


def _first(sections, section: str, tag: str) -> str:
    values = _values(sections, section, tag)
    return values[0] if values else ""


def _person(name: str) -> str:
    """``Hoff; Don G.`` -> ``Don G. Hoff``."""
    last, _, first = name.partition(";")
    return " ".join(p for p in (first.strip(), last.strip()) if p)


def _paragraphs(sections, section: str) -> list[str]:
    return [v for name, fields in sections if name == section
            for t, v in fields if t in _TEXT_TAGS and t != "PAC"]


def publication_number(wku: str) -> str:
    """WKU ``039327094`` -> ``US3932709``: the last character is a check digit, a series letter stays
    (``D02456789`` -> ``USD0245678``)."""
    wku = re.sub(r"\s", "", wku or "").upper()
    m = re.fullmatch(r"([A-Z]*)(\d+)\d", wku)
    if not m:
        raise ParseError(f"WKU {wku!r} is not a Green Book patent number")
    series, digits = m.groups()
    return normalise_publication_number(f"{series}{digits.lstrip('0') or '0'}")


def parse_aps(doc: bytes, image_base: ImageRef | None = None, origin: str = "") -> PatentRecord:
    sections = _sections(doc.decode("latin-1"))
    wku = _first(sections, "PATN", "WKU")
    if not wku:
        raise ParseError(f"{origin or 'document'}: Green Book record without PATN/WKU (patent number)")
    filing = iso_date(_first(sections, "PATN", "APD"))
    priorities = [d for d in (iso_date(v) for v in _values(sections, "PRIR", "APD")) if d]
    ipc = []
    for value in _values(sections, "CLAS", "ICL"):
        symbol = ipc7_symbol(value)
        if symbol and symbol not in ipc:
            ipc.append(symbol)
    record = PatentRecord(
        publication_number=publication_number(wku), country="US",
        application_number=_first(sections, "PATN", "APN") or None, filing_date=filing,
        publication_date=iso_date(_first(sections, "PATN", "ISD")),
        priority_date=min(priorities) if priorities else filing,
        title=_first(sections, "PATN", "TTL"), abstract=" ".join(_paragraphs(sections, "ABST")),
        claims=" ".join(_paragraphs(sections, "CLMS")),
        applicants=list(dict.fromkeys(_values(sections, "ASSG", "NAM"))),
        inventors=list(dict.fromkeys(_person(n) for n in _values(sections, "INVT", "NAM"))),
        ipc=ipc, source="uspto-aps",
    )
    record.figures = build_figures(_paragraphs(sections, "DRWD"), [], image_base)
    return record
