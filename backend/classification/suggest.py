"""Autocomplete for classification symbols with their titles (GET /classifications/suggest)."""
from __future__ import annotations

import re

from backend.classification.catalog import CpcCatalog, locarno_classes, locarno_subclasses, locarno_title
from backend.classification.symbols import SymbolError, parse_hierarchical, parse_locarno
from backend.classification.synonyms import alternatives

_SYMBOLISH_CPC = re.compile(r"^[A-HY](\d{0,2}([A-Z](\s*\d{0,4}(\s*/\s*\d{0,6})?)?)?)?$", re.IGNORECASE)
_SYMBOLISH_LOC = re.compile(r"^(LOC\b.*|\d{1,2}([-.\s]?\d{0,2})?)$", re.IGNORECASE)


def _cpc_prefix(q: str) -> str:
    """``h01l 21/0`` -> ``H01L21/0`` (what stored symbols start with)."""
    text = re.sub(r"\s+", "", q.upper())
    if "/" not in text:
        try:  # a complete subclass/main group like "H01L 21" -> its main group first
            sym = parse_hierarchical(q, "cpc")
            if sym.level == "main_group":
                return sym.symbol[:-2]
        except SymbolError:
            pass
    return text


#: an IPC symbol as CPC spells it: IPC's hierarchy is CPC's down to the main groups and the short subgroups
#: (CPC's own subgroups have 4+ digits after the slash, e.g. A47C 1/0201)
_IPC_SHAPED = re.compile(r"^[A-H](\d\d([A-Z](\d{1,4}/\d{2,3})?)?)?$")


def suggest(q: str, scheme: str, catalog: CpcCatalog, limit: int = 20) -> list[dict]:
    """Symbols starting with ``q`` (or, for words, whose title holds them or a word that stands for them:
    ``shoe`` finds footwear), with titles. IPC is suggested from the CPC titles, IPC-shaped symbols only."""
    q = (q or "").strip()
    if not q:
        return []
    if scheme == "locarno":
        return _suggest_locarno(q, limit)
    if scheme not in ("cpc", "ipc"):
        raise ValueError(f"scheme must be cpc, ipc or locarno, got {scheme!r}")
    if not catalog.available:
        return []
    wanted = limit if scheme == "cpc" else limit * 20
    if _SYMBOLISH_CPC.match(q):
        entries = catalog.with_prefix(_cpc_prefix(q), wanted)
    else:
        words = re.findall(r"\w+", q)
        entries = catalog.title_search_any([alternatives(w) for w in words], wanted) \
            or catalog.title_search(words, wanted)
    if scheme == "ipc":
        entries = [e for e in entries if _IPC_SHAPED.match(e.symbol)]
    return [{"symbol": e.symbol, "title": e.title, "level": _level_name(e)} for e in entries[:limit]]


def _level_name(entry) -> str:
    if entry.level == "":
        return {1: "section", 3: "class", 4: "subclass"}.get(len(entry.symbol), "subclass")
    return "main_group" if entry.level == "0" else "subgroup"


def _locarno_entry(symbol: str, title: str, classes: dict[str, str]) -> dict:
    if "-" not in symbol:
        return {"symbol": symbol, "title": title, "level": "class"}
    return {"symbol": symbol, "title": title, "level": "subclass", "class_title": classes.get(symbol[:2])}


def _suggest_locarno(q: str, limit: int) -> list[dict]:
    """Classes and subclasses (:func:`locarno_subclasses`): by symbol (``02``, ``02-04``, ``0204``, ``LOC (13)
    Cl. 02-04``) or by title words (each word starts a word of the subclass or class title: ``footwear``,
    ``sock``); a class comes before its subclasses."""
    classes, subclasses = locarno_classes(), locarno_subclasses()
    entries = sorted([(k, t) for k, t in classes.items()] + list(subclasses.items()))
    if _SYMBOLISH_LOC.match(q):
        try:
            sym = parse_locarno(q)
            if sym.level == "subclass" and sym.klass in classes:
                return [_locarno_entry(sym.symbol, locarno_title(sym.symbol), classes)]
        except SymbolError:
            pass
        digits = re.sub(r"\D", "", re.sub(r"^LOC\s*\(\d+\)\s*(CL\.?)?", "", q, flags=re.IGNORECASE))
        klass = digits.zfill(2) if len(digits) == 1 else digits[:2]
        found = [(k, t) for k, t in entries if k.startswith(klass) or (len(digits) == 1 and k[:1] == digits)]
    else:
        groups = [alternatives(w) for w in re.findall(r"\w+", q)]

        def matches(title: str) -> bool:
            title_words = re.findall(r"\w+", title.casefold())
            return all(any(t.startswith(w) for t in title_words for w in group) for group in groups)

        found = [(k, t) for k, t in entries if matches(t)]
        if not found:   # words from the class heading and the subclass title together ("clothing footwear")
            found = [(k, t) for k, t in entries if "-" in k and matches(f"{classes.get(k[:2], '')} {t}")]
    return [_locarno_entry(k, t, classes) for k, t in found][:limit]
