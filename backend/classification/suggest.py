"""Autocomplete for classification symbols with their titles (GET /classifications/suggest)."""
from __future__ import annotations

import re

from backend.classification.catalog import CpcCatalog, locarno_classes
from backend.classification.symbols import parse_hierarchical, parse_locarno, SymbolError

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


def suggest(q: str, scheme: str, catalog: CpcCatalog, limit: int = 20) -> list[dict]:
    """Symbols starting with ``q`` (or, for words, whose title contains them), with titles."""
    q = (q or "").strip()
    if not q:
        return []
    if scheme == "locarno":
        return _suggest_locarno(q, limit)
    if scheme != "cpc":
        raise ValueError(f"scheme must be cpc or locarno, got {scheme!r}")
    if not catalog.available:
        return []
    if _SYMBOLISH_CPC.match(q):
        entries = catalog.with_prefix(_cpc_prefix(q), limit)
    else:
        entries = catalog.title_search(q.split(), limit)
    return [{"symbol": e.symbol, "title": e.title, "level": _level_name(e)} for e in entries]


def _level_name(entry) -> str:
    if entry.level == "":
        return {1: "section", 3: "class", 4: "subclass"}.get(len(entry.symbol), "subclass")
    return "main_group" if entry.level == "0" else "subgroup"


def _suggest_locarno(q: str, limit: int) -> list[dict]:
    classes = locarno_classes()
    out = []
    if _SYMBOLISH_LOC.match(q):
        digits = re.sub(r"\D", "", re.sub(r"^LOC\s*\(\d+\)\s*(CL\.?)?", "", q, flags=re.IGNORECASE))
        try:
            sym = parse_locarno(q)
            if sym.level == "subclass" and sym.klass in classes:
                return [{"symbol": sym.symbol, "title": classes[sym.klass], "level": "subclass"}]
        except SymbolError:
            pass
        for klass, title in classes.items():
            if klass.startswith(digits[:2]) or (len(digits) == 1 and klass == digits.zfill(2)):
                out.append({"symbol": klass, "title": title, "level": "class"})
    else:
        words = [w.casefold() for w in q.split()]
        for klass, title in classes.items():
            if all(w in title.casefold() for w in words):
                out.append({"symbol": klass, "title": title, "level": "class"})
    return out[:limit]
