"""A request's filters as backend-neutral clauses; each backend translates them (ES query DSL / masks).

Classification include/exclude at any level: a section, class, subclass or main group is a term on
that level's field (``cpc_subclass: A47C`` matches every symbol below A47C); a subgroup matches
itself and its children, i.e. every symbol it is a prefix of (``A47C7/62`` -> ``A47C7/62``,
``A47C7/624``) on ``cpc_symbol``. Includes within a scheme are ORed, excludes remove.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from backend.classification import parse
from backend.patent_numbers import lookup_keys
from backend.search.index.documents import DATE_FIELDS
from backend.search.request import Filters

_LEVEL_FIELD = {"section": "section", "class": "class", "subclass": "subclass", "main_group": "main_group"}


@dataclass(frozen=True)
class Clause:
    """``field`` equals ``value`` (``prefix``: starts with it)."""

    field: str
    value: str
    prefix: bool = False


@dataclass
class FilterSpec:
    must_any: list[list[Clause]] = field(default_factory=list)      # AND over groups, OR inside a group
    must_not: list[Clause] = field(default_factory=list)
    ranges: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # field -> (gte, lte)

    @property
    def empty(self) -> bool:
        return not (self.must_any or self.must_not or self.ranges)


def symbol_clause(scheme: str, symbol: str) -> Clause:
    sym = parse(symbol, scheme)
    if scheme == "locarno":
        if sym.level == "class":
            return Clause("locarno_class", sym.klass)
        return Clause("locarno_subclass", sym.symbol)
    if sym.level == "subgroup":
        return Clause(f"{scheme}_symbol", sym.symbol, prefix=True)
    return Clause(f"{scheme}_{_LEVEL_FIELD[sym.level]}", sym.symbol)


def build(filters: Filters, exclude_patents: list[str] = (), exclude_families: list[str] = (),
          exclude_figures: list[str] = ()) -> FilterSpec:
    """The clauses of ``filters``; ``exclude_patents`` (every stored spelling of each number),
    ``exclude_families`` (family ids) and ``exclude_figures`` (figure ids) are left out like an excluded
    classification."""
    spec = FilterSpec()
    spec.must_not.extend(Clause("publication_number", k) for p in exclude_patents for k in lookup_keys(p))
    spec.must_not.extend(Clause("family_id", f) for f in exclude_families)
    spec.must_not.extend(Clause("figure_id", f) for f in exclude_figures)
    for scheme in ("cpc", "ipc", "locarno"):
        f = getattr(filters, scheme)
        if f.include:
            spec.must_any.append([symbol_clause(scheme, s) for s in f.include])
        spec.must_not.extend(symbol_clause(scheme, s) for s in f.exclude)
    for name, values in (("applicant_keys", filters.applicants), ("country", filters.countries),
                         ("kind", filters.kinds)):
        if values:
            spec.must_any.append([Clause(name, v) for v in values])
    if filters.publication_numbers:   # every stored spelling: any kind when typed without one
        keys = dict.fromkeys(k for p in filters.publication_numbers for k in lookup_keys(p))
        spec.must_any.append([Clause("publication_number", k) for k in keys])
    for kind, fld in DATE_FIELDS.items():
        rng = getattr(filters.dates, kind)
        if rng.gte or rng.lte:
            spec.ranges[fld] = (rng.gte.isoformat() if rng.gte else None, rng.lte.isoformat() if rng.lte else None)
    return spec
