"""EPO publications (``<ep-patent-document>``, DTD 1.0 - 1.5.1; A1/A2 applications, B1/B2 grants) in
English, German or French: the ``SDOBI`` bibliography (B110 number, B130 kind, B140 date, B210/B220
application, B320 priorities, B510EP/B510 IPC, B540 titles per language, B711/B731 applicants, B721
inventors), abstract, claims (every language's claim set) and figures from the drawings and the brief
description of the drawings.

The record keeps one title (English when the document has one, else the document's language) and all
claim sets, the document's language first, and per language (``record.texts``) the title, abstract and
claims in that language, with ``record.language`` the document's own; designated states (B840) are read by
:func:`designated_states` but have no place in the record yet (see docs/ingest.md).
"""
from __future__ import annotations

import re

from backend.ingest.family import from_filings
from backend.ingest.parsers.xml_common import build_figures, drawing_sheets, parse_xml
from backend.ingest.records import ImageRef, ParseError, PatentRecord, iso_date, normalise_publication_number

#: the languages of EPO publications (and of the search index's per-language fields)
LANGUAGES = ("en", "de", "fr")

_IPC_IN_TEXT = re.compile(r"([A-HY])\s?(\d{2})\s?([A-Z])\s*(\d{1,4})\s*/\s*(\d{1,6})")
# the heading before the brief description of the drawings, in the three languages
_DRAWINGS_HEADING = re.compile(r"drawing|figure|zeichnung|abbildung|figur|dessin", re.IGNORECASE)


def _text(el) -> str:
    if el is None:
        return ""
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


def titles(sdobi) -> dict[str, str]:
    """``{"de": ..., "en": ..., "fr": ...}`` from B540 (B541 language, B542 title, in pairs)."""
    out: dict[str, str] = {}
    lang = None
    for el in (sdobi.find(".//B540") if sdobi is not None and sdobi.find(".//B540") is not None else []):
        if el.tag == "B541":
            lang = (el.text or "").strip().lower()
        elif el.tag == "B542" and lang:
            out.setdefault(lang, _text(el))
    return out


def designated_states(sdobi) -> list[str]:
    return [_text(c) for c in sdobi.iterfind(".//B840/ctry")] if sdobi is not None else []


def _ipc(sdobi) -> list[str]:
    out: list[str] = []
    texts = [_text(t) for t in sdobi.iterfind(".//B510EP/classification-ipcr/text")]
    texts += [_text(el) for el in sdobi.iterfind(".//B510/*") if el.tag in ("B511", "B512")]
    for raw in texts:
        m = _IPC_IN_TEXT.search(raw.upper())
        if m:
            sec, cls, sub, main, group = m.groups()
            sym = f"{sec}{cls}{sub}{int(main)}/{group}"
            if sym not in out:
                out.append(sym)
    return out


def _names(sdobi, path: str) -> list[str]:
    names = [_text(p.find("snm")) for p in sdobi.iterfind(path)]
    return [n for n in dict.fromkeys(names) if n]


def _priority_claims(sdobi) -> list[tuple[str, str, str | None]]:
    """``(country, number, date)`` from B300: B310 number, B320 date, B330 country, in triples."""
    out, number, date = [], "", None
    for el in (sdobi.find("B300") if sdobi.find("B300") is not None else []):
        if el.tag == "B310":
            number = _text(el)
        elif el.tag == "B320":
            date = iso_date(_text(el.find("date")) or _text(el))
        elif el.tag == "B330":
            out.append((_text(el.find("ctry")) or _text(el), number, date))
            number, date = "", None
    return out


def _drawing_paragraphs(root) -> list[str]:
    """The paragraphs under the description's heading about the drawings (up to the next heading)."""
    desc = root.find("description")
    paras: list[str] = []
    inside = False
    for el in (desc if desc is not None else []):
        if el.tag == "heading":
            inside = bool(_DRAWINGS_HEADING.search(_text(el)))
        elif el.tag == "p" and inside:
            paras.append(_text(el))
    return paras


def parse_epo(doc: bytes, image_base: ImageRef | None = None, origin: str = "") -> PatentRecord:
    root = parse_xml(doc, origin, ".//SDOBI")
    sdobi = root.find("SDOBI")
    if sdobi is None:
        raise ParseError(f"{origin or 'document'}: no SDOBI bibliography")
    raw_number = _text(sdobi.find(".//B110")) or root.get("doc-number") or ""
    if not raw_number:
        raise ParseError(f"{origin or 'document'}: no publication number (B110)")
    kind = _text(sdobi.find(".//B130")) or root.get("kind") or None
    country = _text(sdobi.find(".//B190")) or root.get("country") or "EP"
    number = normalise_publication_number(raw_number, country, kind)
    lang = (root.get("lang") or sdobi.get("lang") or "").lower()
    by_lang = titles(sdobi)
    title = by_lang.get("en") or by_lang.get(lang) or next(iter(by_lang.values()), "")
    claim_sets = sorted(root.iterfind("claims"), key=lambda c: (c.get("lang") or lang) != lang)
    filing = iso_date(_text(sdobi.find(".//B220/date")))
    claimed = _priority_claims(sdobi)
    priorities = [d for _c, _n, d in claimed if d]
    application = _text(sdobi.find(".//B210")) or None
    sheets = drawing_sheets(root)
    record = PatentRecord(
        publication_number=number, kind=kind, country=country, application_number=application,
        filing_date=filing, publication_date=iso_date(_text(sdobi.find(".//B140/date"))),
        priority_date=min(priorities) if priorities else filing, title=title,
        abstract=_text(root.find("abstract")), claims="\n\n".join(t for t in map(_text, claim_sets) if t),
        applicants=_names(sdobi, ".//B710/B711") or _names(sdobi, ".//B730/B731"),
        inventors=_names(sdobi, ".//B720/B721"), ipc=_ipc(sdobi),
        source=f"epo-{(root.get('dtd-version') or 'unknown').replace('ep-patent-document-', '')}"[:64],
        family_id=from_filings(claimed, ("EP", application.split(".")[0]) if application else None),
    )
    record.figures = build_figures(_drawing_paragraphs(root), sheets, image_base)
    record.language = lang if lang in LANGUAGES else None
    record.texts = _texts(root, by_lang, claim_sets, lang)
    return record


def _texts(root, by_lang: dict[str, str], claim_sets: list, lang: str) -> dict[str, dict[str, str]]:
    """Per language (en/de/fr): title (B540), abstract and claims (each element's ``lang``, else the
    document's)."""
    out: dict[str, dict[str, str]] = {}
    for code, title in by_lang.items():
        out.setdefault(code, {})["title"] = title
    for part, elements in (("abstract", root.iterfind("abstract")), ("claims", claim_sets)):
        for el in elements:
            text = _text(el)
            code = (el.get("lang") or lang).lower()
            if text and code:
                slot = out.setdefault(code, {})
                slot[part] = f"{slot[part]}\n\n{text}" if slot.get(part) else text
    return {code: parts for code, parts in out.items() if code in LANGUAGES and parts}
