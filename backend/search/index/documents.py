"""Figure documents (docs/contracts.md): validate, normalise and derive the indexed fields.

Both backends store what :func:`prepare` returns, so filters mean the same thing everywhere:
classification symbols are normalised and every level gets its own field (``cpc_subclass`` ...),
applicant names get a normalised key, codes are upper-cased.

:data:`FIGURE_DOCUMENT` defines the stored document, field by field with its Elasticsearch type (the
mapping in es_mappings/figures/ must agree: tests/search/test_figure_document.py); the lists of fields
that code reads (the hit, the family and patent views, the CSV export) are named projections of it.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from backend.classification import try_parse
from backend.patent_numbers import normalise_lenient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FigureField:
    """One field of the stored figure document: its Elasticsearch type (es_mappings/figures/, checked by
    tests/search/test_figure_document.py), and whether the contract document carries it (what ingest and
    ``POST /documents`` send) or :func:`prepare` derives it from the contract fields."""

    name: str
    es_type: str
    derived: bool = False
    #: dense vectors: their dimension (None: the encoder's, filled in when the index is made)
    dims: int | None = None


#: the patent's MiniLM text vector (backend/search/text/dense_text.py): its own fixed dimension
DENSE_FIELD, DENSE_DIMS = "dense_text_vector", 384
HIER_LEVELS = ("section", "class", "subclass", "main_group", "symbol")
#: German and French text, analysed per language (backend/search/text/languages.py makes them)
LANGUAGE_FIELDS = tuple(f"{lang}_{part}" for lang in ("de", "fr")
                        for part in ("title", "abstract", "claims", "description"))

#: The figure document: one figure, its patent's fields denormalised; the contract fields in their order,
#: then what :func:`prepare` derives. Every list of document fields below is a projection of this.
FIGURE_DOCUMENT: tuple[FigureField, ...] = (
    FigureField("figure_id", "keyword"),
    FigureField("publication_number", "keyword"),
    FigureField("figure_number", "integer"),
    FigureField("kind", "keyword"),
    FigureField("country", "keyword"),
    FigureField("title", "text"),
    FigureField("abstract", "text"),
    FigureField("claims", "text"),
    FigureField("description", "text"),
    FigureField("viewpoint", "keyword"),
    FigureField("object_name", "text"),
    FigureField("captions", "text"),
    FigureField("applicants", "text"),
    FigureField("cpc", "keyword"),
    FigureField("ipc", "keyword"),
    FigureField("locarno", "keyword"),
    FigureField("filing_date", "date"),
    FigureField("publication_date", "date"),
    FigureField("priority_date", "date"),
    FigureField("image_vector", "dense_vector"),
    FigureField("text_vector", "dense_vector"),
    FigureField("image_key", "keyword"),
    FigureField("thumb_key", "keyword"),
    FigureField("ingest_seq", "long"),
    FigureField("model_id", "keyword"),     # optional: the encoder's id
    FigureField(DENSE_FIELD, "dense_vector", dims=DENSE_DIMS),
    FigureField("family_id", "keyword"),
    FigureField("language", "keyword"),
    FigureField("texts", "object"),         # per language: title, abstract, claims, description
    FigureField("figure_region", "integer"),
    FigureField("figure_box", "float"),
    FigureField("sheet_key", "keyword"),
    # derived: every level of a classification symbol in its own field, for filters at any level
    *(FigureField(f"{scheme}_{level}", "keyword", derived=True) for scheme in ("cpc", "ipc")
      for level in HIER_LEVELS),
    FigureField("locarno_class", "keyword", derived=True),
    FigureField("locarno_subclass", "keyword", derived=True),
    FigureField("applicant_keys", "keyword", derived=True),     # normalised applicant names
    FigureField("titles", "object", derived=True),              # language -> title
    *(FigureField(name, "text", derived=True) for name in LANGUAGE_FIELDS),
)
FIELDS: dict[str, FigureField] = {f.name: f for f in FIGURE_DOCUMENT}


def projection(*names: str) -> tuple[str, ...]:
    """A named subset of the figure document's fields; a name the document does not define fails at import."""
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise ValueError(f"not fields of the figure document: {', '.join(unknown)}")
    return names


#: The contract's figure fields, in order (what a document sent to the index may carry).
CONTRACT_FIELDS: tuple[str, ...] = tuple(f.name for f in FIGURE_DOCUMENT if not f.derived)
#: Everything a backend stores (what :func:`prepare` returns).
STORED_FIELDS: tuple[str, ...] = tuple(FIELDS)
TEXT_FIELDS = projection("title", "abstract", "claims", "description", "captions")
DATE_FIELDS = {"filing": "filing_date", "publication": "publication_date", "priority": "priority_date"}
VECTOR_FIELDS = projection("image_vector", "text_vector")
#: The hit: fields a hit shows (also what the ES backend fetches for every candidate).
HIT_FIELDS = projection("figure_id", "publication_number", "figure_number", "title", "description", "kind",
                        "country", "publication_date", "cpc", "locarno", "applicants", "cpc_subclass",
                        "ipc_subclass", "locarno_class", "image_key", "family_id", "titles", "filing_date",
                        "priority_date", "figure_region", "figure_box")
#: The family view: what GET /patents/<n> lists per member of the patent's family.
FAMILY_FIELDS = projection("publication_number", "kind", "country", "title", "publication_date", "filing_date")
#: The patent view (GET /patents/<n>): the patent's fields, then each figure's.
PATENT_FIELDS = projection("publication_number", "kind", "country", "title", "abstract", "claims", "applicants",
                           "cpc", "ipc", "locarno", "filing_date", "publication_date", "priority_date",
                           "ingest_seq")
FIGURE_FIELDS = projection("figure_id", "figure_number", "description", "viewpoint", "object_name", "captions",
                           "image_key", "thumb_key", "figure_region", "figure_box")
#: The export: the document fields of a CSV row (POST /search/export), in column order.
EXPORT_FIELDS = projection("publication_number", "figure_id", "figure_number", "title", "kind", "country",
                           "publication_date", "filing_date", "priority_date", "cpc", "locarno", "applicants")
#: The CSV columns: the hit's rank, the export fields, then what the hit adds (score, links).
EXPORT_COLUMNS: tuple[str, ...] = ("rank", *EXPORT_FIELDS, "score", "image_url", "patent_url")

_CORPORATE_SUFFIXES = {
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc", "llp", "lp",
    "plc", "gmbh", "ag", "kg", "sa", "sas", "sarl", "spa", "srl", "bv", "nv", "oy", "ab", "as", "kk",
    "pty", "pte", "the",
}


#: a patent without figures is indexed as one text-only document with this figure id suffix
TEXT_DOCUMENT_SUFFIX = "-TEXT"


def text_document_id(publication_number: str) -> str:
    return f"{publication_number}{TEXT_DOCUMENT_SUFFIX}"


def is_text_document(figure_id: str) -> bool:
    """The text-only document of a patent without figures (no drawing, figure_number 0)."""
    return str(figure_id).endswith(TEXT_DOCUMENT_SUFFIX)


class InvalidDocument(ValueError):
    """A figure document that breaks the contract; the message names the figure and the field."""


def normalise_applicant(name: str) -> str:
    """``"ACME Corp."`` / ``"Acme Corporation"`` / ``"Ácme, Inc"`` -> ``"acme"``."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ")
    words = re.findall(r"[a-z0-9]+", text)
    while len(words) > 1 and words[-1] in _CORPORATE_SUFFIXES:
        words.pop()
    while len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(words)


def normalise_publication_number(raw: str) -> str:
    """The canonical spelling (:func:`backend.patent_numbers.normalise_lenient`)."""
    return normalise_lenient(raw)


def normalise_code(raw: str | None) -> str | None:
    text = (raw or "").strip().upper()
    return text or None


def _date(value: Any, figure_id: str, field: str) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidDocument(f"figure {figure_id}: {field} must be YYYY-MM-DD, got {value!r}") from None


def _vector(value: Any, figure_id: str, field: str, dims: int | None) -> list[float] | None:
    if value is None:
        return None
    try:
        vec = [float(x) for x in value]
    except (TypeError, ValueError):
        raise InvalidDocument(f"figure {figure_id}: {field} must be a list of numbers") from None
    if dims is not None and len(vec) != dims:
        raise InvalidDocument(f"figure {figure_id}: {field} has {len(vec)} dimensions, the index has {dims}")
    if not vec or not all(math.isfinite(x) for x in vec):
        raise InvalidDocument(f"figure {figure_id}: {field} must be non-empty and finite")
    if not any(vec):
        return None  # an all-zero vector has no direction: treat as missing
    return vec


def _strings(value: Any, figure_id: str, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise InvalidDocument(f"figure {figure_id}: {field} must be a list of strings")
    return [str(v) for v in value if v is not None and str(v).strip()]


def _symbols(values: list[str], scheme: str, figure_id: str) -> tuple[list[str], dict[str, list[str]]]:
    symbols: list[str] = []
    levels: dict[str, list[str]] = {}
    for raw in values:
        sym = try_parse(raw, scheme)
        if sym is None:
            log.warning("figure %s: ignoring unparseable %s symbol %r", figure_id, scheme, raw)
            continue
        if sym.symbol not in symbols:
            symbols.append(sym.symbol)
        for level, value in sym.levels().items():
            bucket = levels.setdefault(level, [])
            if value not in bucket:
                bucket.append(value)
    return symbols, levels


def prepare(doc: dict, dims: int | None = None) -> dict:
    """Validate one contract document and return what a backend stores (contract fields + derived)."""
    if not isinstance(doc, dict):
        raise InvalidDocument(f"a figure document must be an object, got {type(doc).__name__}")
    figure_id = str(doc.get("figure_id") or "").strip()
    if not figure_id:
        raise InvalidDocument("a figure document needs a figure_id")
    unknown = sorted(set(doc) - set(CONTRACT_FIELDS))
    if unknown:
        raise InvalidDocument(f"figure {figure_id}: unknown field(s) {', '.join(unknown)}")
    raw_number = doc.get("publication_number")
    pub = normalise_publication_number("" if raw_number is None else str(raw_number))
    if not pub:
        raise InvalidDocument(f"figure {figure_id}: publication_number is required")
    try:
        figure_number = int(doc.get("figure_number") or 0)
        ingest_seq = int(doc.get("ingest_seq") or 0)
    except (TypeError, ValueError):
        raise InvalidDocument(f"figure {figure_id}: figure_number and ingest_seq must be integers") from None
    out: dict[str, Any] = {
        "figure_id": figure_id, "publication_number": pub, "figure_number": figure_number,
        "kind": normalise_code(doc.get("kind")), "country": normalise_code(doc.get("country")),
        "title": str(doc.get("title") or ""), "abstract": str(doc.get("abstract") or ""),
        "claims": str(doc.get("claims") or ""), "description": str(doc.get("description") or ""),
        "viewpoint": doc.get("viewpoint") or None, "object_name": doc.get("object_name") or None,
        "captions": _strings(doc.get("captions"), figure_id, "captions"),
        "applicants": _strings(doc.get("applicants"), figure_id, "applicants"),
        "image_key": doc.get("image_key") or None, "thumb_key": doc.get("thumb_key") or None,
        "ingest_seq": ingest_seq, "model_id": doc.get("model_id") or None,
        # the patent family (ingest: DOCDB id, family members or earliest filing); alone in its own
        # family when unknown, so one_per_family never merges unrelated patents
        "family_id": str(doc.get("family_id") or "").strip() or pub,
    }
    out.update(_region(doc, figure_id))
    for field in DATE_FIELDS.values():
        out[field] = _date(doc.get(field), figure_id, field)
    for field in VECTOR_FIELDS:
        out[field] = _vector(doc.get(field), figure_id, field, dims)
    out[DENSE_FIELD] = _vector(doc.get(DENSE_FIELD), figure_id, DENSE_FIELD, DENSE_DIMS)
    for scheme in ("cpc", "ipc"):
        symbols, levels = _symbols(_strings(doc.get(scheme), figure_id, scheme), scheme, figure_id)
        out[scheme] = symbols
        for level in HIER_LEVELS:
            out[f"{scheme}_{level}"] = levels.get(level, [])
    symbols, levels = _symbols(_strings(doc.get("locarno"), figure_id, "locarno"), "locarno", figure_id)
    out["locarno"] = symbols
    out["locarno_class"] = levels.get("class", [])
    out["locarno_subclass"] = levels.get("subclass", [])
    out["applicant_keys"] = sorted({k for k in (normalise_applicant(a) for a in out["applicants"]) if k})
    _languages(doc, out, figure_id)
    return out


def _region(doc: dict, figure_id: str) -> dict:
    """A figure split from a multi-figure sheet (backend/ingest/figure_split.py): ``figure_region`` (1, 2 ...
    in reading order; 0 or absent: the whole sheet), ``figure_box`` (left, top, right, bottom as shares of
    the sheet's display image) and ``sheet_key`` (that image)."""
    try:
        region = int(doc.get("figure_region") or 0)
    except (TypeError, ValueError):
        raise InvalidDocument(f"figure {figure_id}: figure_region must be an integer") from None
    box = doc.get("figure_box")
    if box is not None:
        try:
            box = [float(v) for v in box]
        except (TypeError, ValueError):
            raise InvalidDocument(f"figure {figure_id}: figure_box must be 4 numbers") from None
        if len(box) != 4 or not all(0.0 <= v <= 1.0 for v in box) or box[0] >= box[2] or box[1] >= box[3]:
            raise InvalidDocument(f"figure {figure_id}: figure_box must be [left, top, right, bottom] shares of "
                                  f"the sheet (0..1, left < right, top < bottom), got {doc.get('figure_box')!r}")
    if region < 0:
        raise InvalidDocument(f"figure {figure_id}: figure_region must be 0 or more")
    return {"figure_region": region, "figure_box": box, "sheet_key": doc.get("sheet_key") or None}


def _languages(doc: dict, out: dict, figure_id: str) -> None:
    """``language``, ``texts`` (per language: title, abstract, claims, description) and what they give the
    index: ``titles`` and the analysed German/French fields (:mod:`.languages`)."""
    from backend.search.text import languages

    language = str(doc.get("language") or "").strip().lower() or None
    if language is not None and language not in languages.LANGUAGES:
        raise InvalidDocument(f"figure {figure_id}: language {doc.get('language')!r} is not one of "
                              f"{', '.join(languages.LANGUAGES)}")
    try:
        texts = languages.check_texts(doc.get("texts"), f"figure {figure_id}")
    except ValueError as exc:
        raise InvalidDocument(str(exc)) from None
    out["language"], out["texts"] = language, texts
    out.update(languages.derived(texts))


def public(stored: dict, with_vectors: bool = True) -> dict:
    """A stored document back in the contract's shape."""
    out = {field: stored.get(field) for field in CONTRACT_FIELDS}
    for field in ("captions", "applicants", "cpc", "ipc", "locarno"):
        out[field] = list(out[field] or [])
    out["texts"] = dict(out["texts"] or {})
    if not with_vectors:
        for field in (*VECTOR_FIELDS, DENSE_FIELD):
            out.pop(field, None)
    return out
