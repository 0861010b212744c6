"""Classification schemes (CPC, IPC, Locarno): parse, normalise, derive levels, validate, titles."""
from backend.classification.catalog import (
    CpcCatalog,
    cpc_catalog,
    default_cpc_catalog,
    locarno_classes,
    title,
    validate,
)
from backend.classification.suggest import suggest
from backend.classification.symbols import (
    SCHEMES,
    Symbol,
    SymbolError,
    normalise,
    parse,
    parse_hierarchical,
    parse_locarno,
    try_parse,
)

__all__ = ["SCHEMES", "CpcCatalog", "Symbol", "SymbolError", "cpc_catalog", "default_cpc_catalog",
           "locarno_classes", "normalise", "parse", "parse_hierarchical", "parse_locarno", "suggest", "title",
           "try_parse", "validate"]
