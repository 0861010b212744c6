"""Parse and normalise classification symbols (CPC, IPC, Locarno) and derive their levels.

CPC and IPC share one grammar::

    H                 section
    H01               class
    H01L              subclass
    H01L 21/00        main group      (also ``H01L21``)
    H01L 21/02        subgroup        (also ``H01L21/02``, ``H01L0021020000``, ``H01L 21/02 (2006.01)``)

Locarno: ``06-01``, ``0601``, ``6-1``, ``06.01``, ``LOC (13) Cl. 06-01`` -> ``06-01``; a bare class
``6`` / ``06`` -> ``06``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SCHEMES = ("cpc", "ipc", "locarno")
#: level name -> the index field suffix holding that level (``cpc_`` + suffix)
HIERARCHICAL_LEVELS = ("section", "class", "subclass", "main_group", "subgroup")


class SymbolError(ValueError):
    """A symbol that cannot be parsed, or that is not in the official list; the message names it."""

    def __init__(self, scheme: str, raw: str, reason: str):
        self.scheme, self.raw, self.reason = scheme, raw, reason
        super().__init__(f"{scheme.upper() if scheme != 'locarno' else 'Locarno'} symbol {raw!r}: {reason}")


@dataclass(frozen=True)
class Symbol:
    """One normalised symbol with every level above it."""

    scheme: str
    symbol: str                 # normalised full spelling
    level: str                  # section | class | subclass | main_group | subgroup (Locarno: class | subclass)
    section: str | None = None
    klass: str | None = None
    subclass: str | None = None
    main_group: str | None = None

    def levels(self) -> dict[str, str]:
        """Field suffix -> value, for every level this symbol has (what a document is indexed with)."""
        if self.scheme == "locarno":
            out = {"class": self.klass}
            if self.level == "subclass":
                out["subclass"] = self.symbol
            return out
        out = {"section": self.section}
        if self.klass:
            out["class"] = self.klass
        if self.subclass:
            out["subclass"] = self.subclass
        if self.main_group:
            out["main_group"] = self.main_group
        if self.level == "subgroup" or self.level == "main_group":
            out["symbol"] = self.symbol
        return out


_SECTIONS = {"cpc": "A-HY", "ipc": "A-H"}
_ANNOTATION = re.compile(r"\(\s*\d{4}\s*[.\-]\s*\d{2}\s*\)|\b(?:CPC|IPC)\s*[:\-]?\s*", re.IGNORECASE)


def _hier_patterns(sections: str) -> dict[str, re.Pattern]:
    s = f"[{sections}]"
    return {
        "compact14": re.compile(rf"^({s})(\d{{2}})([A-Z])(\d{{4}})(\d{{6}})$"),
        "group": re.compile(rf"^({s})\s*(\d{{2}})\s*([A-Z])\s*0*(\d{{1,4}})\s*(?:/\s*(\d{{1,6}}))?$"),
        "subclass": re.compile(rf"^({s})\s*(\d{{2}})\s*([A-Z])$"),
        "class": re.compile(rf"^({s})\s*(\d{{2}})$"),
        "section": re.compile(rf"^({s})$"),
    }


_PATTERNS = {scheme: _hier_patterns(sections) for scheme, sections in _SECTIONS.items()}


def _subgroup_digits(digits: str, scheme: str, raw: str) -> str:
    # "020000" (14-character form) and "020" both mean "02"; at least two digits remain
    stripped = digits.rstrip("0")
    if len(stripped) < 2:
        stripped = (stripped + "00")[:2]
    return stripped


def parse_hierarchical(raw: str, scheme: str = "cpc") -> Symbol:
    """Parse a CPC or IPC symbol at any level; raises :class:`SymbolError` naming it."""
    if scheme not in _PATTERNS:
        raise ValueError(f"unknown scheme {scheme!r}")
    if not isinstance(raw, str) or not raw.strip():
        raise SymbolError(scheme, str(raw), "empty symbol")
    text = _ANNOTATION.sub(" ", raw).strip().upper()
    pats = _PATTERNS[scheme]
    m = pats["compact14"].match(text.replace(" ", ""))
    if m:
        sec, cls, sub, main, group = m.groups()
        main_n = int(main)
        if main_n == 0:
            raise SymbolError(scheme, raw, "main group 0 does not exist")
        return _group_symbol(scheme, sec, cls, sub, str(main_n), _subgroup_digits(group, scheme, raw))
    m = pats["group"].match(text)
    if m:
        sec, cls, sub, main, group = m.groups()
        if int(main) == 0:
            raise SymbolError(scheme, raw, "main group 0 does not exist")
        if group is None:
            group = "00"
        elif len(group) < 2:
            raise SymbolError(scheme, raw, "a subgroup needs at least two digits after '/' (e.g. 21/02)")
        return _group_symbol(scheme, sec, cls, sub, str(int(main)), _subgroup_digits(group, scheme, raw))
    m = pats["subclass"].match(text)
    if m:
        sec, cls, sub = m.groups()
        return Symbol(scheme, f"{sec}{cls}{sub}", "subclass", sec, f"{sec}{cls}", f"{sec}{cls}{sub}")
    m = pats["class"].match(text)
    if m:
        sec, cls = m.groups()
        return Symbol(scheme, f"{sec}{cls}", "class", sec, f"{sec}{cls}")
    m = pats["section"].match(text)
    if m:
        return Symbol(scheme, m.group(1), "section", m.group(1))
    sections = "A-H, Y" if scheme == "cpc" else "A-H"
    raise SymbolError(scheme, raw, f"not a {scheme.upper()} symbol (expected e.g. H01L, H01L 21/02, "
                                   f"H01L0021020000; sections {sections})")


def _group_symbol(scheme: str, sec: str, cls: str, sub: str, main: str, group: str) -> Symbol:
    subclass = f"{sec}{cls}{sub}"
    main_group = f"{subclass}{main}/00"
    symbol = f"{subclass}{main}/{group}"
    level = "main_group" if group == "00" else "subgroup"
    return Symbol(scheme, symbol, level, sec, f"{sec}{cls}", subclass, main_group)


_LOC_PREFIX = re.compile(r"^\s*LOC\s*(?:\(\s*\d+\s*\))?\s*(?:CL\.?)?\s*", re.IGNORECASE)
_LOC_PAIR = re.compile(r"^(\d{1,2})\s*[-./\s]\s*(\d{1,2})$")
_LOC_COMPACT = re.compile(r"^(\d{2})(\d{2})$")
_LOC_CLASS = re.compile(r"^(\d{1,2})$")


def parse_locarno(raw: str) -> Symbol:
    """Parse a Locarno class or class-subclass; raises :class:`SymbolError` naming it."""
    if not isinstance(raw, str) or not raw.strip():
        raise SymbolError("locarno", str(raw), "empty symbol")
    text = _LOC_PREFIX.sub("", raw.strip()).strip()
    m = _LOC_PAIR.match(text) or _LOC_COMPACT.match(text)
    if m:
        cls, sub = int(m.group(1)), int(m.group(2))
        if not 1 <= cls <= 99 or not 0 <= sub <= 99:
            raise SymbolError("locarno", raw, "class must be 01-99 and subclass 00-99")
        klass = f"{cls:02d}"
        return Symbol("locarno", f"{klass}-{sub:02d}", "subclass", klass=klass)
    m = _LOC_CLASS.match(text)
    if m:
        cls = int(m.group(1))
        if not 1 <= cls <= 99:
            raise SymbolError("locarno", raw, "class must be 01-99")
        return Symbol("locarno", f"{cls:02d}", "class", klass=f"{cls:02d}")
    raise SymbolError("locarno", raw, "not a Locarno symbol (expected e.g. 06-01, 0601, 6-1 or LOC (13) Cl. 06-01)")


def parse(raw: str, scheme: str) -> Symbol:
    """Parse ``raw`` in ``scheme`` (cpc | ipc | locarno); syntax only (see :mod:`.catalog` for lists)."""
    if scheme == "locarno":
        return parse_locarno(raw)
    return parse_hierarchical(raw, scheme)


def normalise(raw: str, scheme: str) -> str:
    """The normalised spelling of ``raw`` (``H01L0021020000`` -> ``H01L21/02``)."""
    return parse(raw, scheme).symbol


def try_parse(raw: str, scheme: str) -> Symbol | None:
    try:
        return parse(raw, scheme)
    except SymbolError:
        return None
