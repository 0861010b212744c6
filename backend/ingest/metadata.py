"""A JSON description of one patent (API ``metadata`` field, JSONL manifest line) -> PatentRecord.

Shape (only ``publication_number`` is required)::

    {"publication_number": "USD0907292", "kind": "S1", "country": "US", "title": "...",
     "abstract": "...", "claims": "...", "filing_date": "2019-02-20", "publication_date": "2021-01-05",
     "priority_date": "2013-09-25", "applicants": ["BIC-VIOLEX SA"], "inventors": [],
     "cpc": ["B26B21/40"], "ipc": [], "locarno": ["28-03"],
     "figures": [{"number": 1, "description": "FIG. 1 is a front view of ...", "image": "fig1.png",
                  "viewpoint": null, "object_name": null}]}
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from backend.ingest import family
from backend.ingest.figure_text import parse_figure_text
from backend.ingest.records import FigureRecord, ImageRef, ParseError, PatentRecord, normalise_publication_number

_TEXT_FIELDS = ("kind", "country", "application_number", "title", "abstract", "claims")
_LIST_FIELDS = ("applicants", "inventors", "cpc", "ipc", "locarno")
_DATE_FIELDS = ("filing_date", "publication_date", "priority_date")
#: the patent family: a DOCDB family id, or the family's publication numbers (backend/ingest/family.py)
_FAMILY_FIELDS = ("family_id", "family_members", "Family Members")
KNOWN = {"publication_number", "figures", *_TEXT_FIELDS, *_LIST_FIELDS, *_DATE_FIELDS, *_FAMILY_FIELDS}
_FIGURE_KNOWN = {"number", "description", "image", "viewpoint", "object_name", "label"}

#: what one patent may hold (a 400 naming the field beyond it, before anything is stored or queued)
MAX_FIGURES = 500                  # patents rarely pass 300 figures; each is decoded, rendered and encoded
MAX_FIGURE_NUMBER = 99_999
MAX_NUMBER_CHARS = 32              # publication and application numbers
MAX_CHARS = {"kind": 8, "country": 8, "number": 12, "title": 2_000, "label": 200, "image": 500,
             "viewpoint": 200, "object_name": 500, "description": 20_000}
MAX_TEXT_CHARS = 1_000_000         # abstract, claims and anything not named above
MAX_LIST_ITEMS = 1_000             # applicants, inventors, classification symbols, family members
MAX_ITEM_CHARS = 500


def _check_sizes(meta: dict) -> None:
    """Field sizes and text that storage cannot hold (a lone UTF-16 surrogate, NUL): ParseError naming it."""
    figures = meta.get("figures")
    if isinstance(figures, list) and len(figures) > MAX_FIGURES:
        raise ParseError(f"figures: {len(figures)} figures, at most {MAX_FIGURES} per document")
    items = [(name, value) for name, value in meta.items() if name != "figures"]
    for i, fig in enumerate(figures if isinstance(figures, list) else []):
        if isinstance(fig, dict):
            items.extend((f"figures[{i}].{name}", value) for name, value in fig.items())
    for name, value in items:
        field = name.rsplit(".", 1)[-1]
        if isinstance(value, list):
            if len(value) > MAX_LIST_ITEMS:
                raise ParseError(f"{name}: {len(value)} entries, at most {MAX_LIST_ITEMS}")
            for item in value:
                _check_text(name, item, MAX_ITEM_CHARS)
        elif field in ("publication_number", "application_number"):
            _check_text(name, value, MAX_NUMBER_CHARS)
        else:
            _check_text(name, value, MAX_CHARS.get(field, MAX_TEXT_CHARS))


def _check_text(name: str, value: Any, limit: int) -> None:
    if not isinstance(value, str):
        return
    if len(value) > limit:
        raise ParseError(f"{name}: {len(value)} characters, at most {limit}")
    if "\x00" in value:
        raise ParseError(f"{name}: holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParseError(f"{name}: holds a lone surrogate {value[exc.start]!r} (not a character; "
                         "send the text as UTF-8)") from None


def _date(name: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise ParseError(f"{name}: {value!r} is not a date (YYYY-MM-DD)")


def _family(meta: dict, number: str) -> str | None:
    members = meta.get("family_members", meta.get("Family Members"))
    if isinstance(members, str):
        members = [m for m in re.split(r"[;,\s]+", members) if m]
    if members is not None and (not isinstance(members, list) or not all(isinstance(m, str) for m in members)):
        raise ParseError("family_members: must be a list of publication numbers (or one string, ';'-separated)")
    if meta.get("family_id") is not None and not isinstance(meta["family_id"], (str, int)):
        raise ParseError("family_id: must be a string or a number (a DOCDB family id)")
    return family.from_docdb(meta.get("family_id")) or family.from_members(number, members or []) or \
        family.from_filings([], (meta.get("country") or number[:2], meta.get("application_number")))


def record_from_metadata(meta: Any, resolve_image: Callable[[str, int], ImageRef | None],
                         source: str = "metadata") -> PatentRecord:
    """Validate ``meta`` and build a record; ``resolve_image(name, index)`` maps a figure's image name."""
    if not isinstance(meta, dict):
        raise ParseError("metadata must be a JSON object")
    unknown = set(meta) - KNOWN
    if unknown:
        raise ParseError(f"unknown metadata field(s): {', '.join(sorted(unknown))}")
    _check_sizes(meta)
    if not isinstance(meta.get("publication_number"), str) or not meta["publication_number"].strip():
        raise ParseError("publication_number: required (a string such as 'USD0907292')")
    for name in _TEXT_FIELDS:
        if meta.get(name) is not None and not isinstance(meta[name], str):
            raise ParseError(f"{name}: must be a string")
    for name in _LIST_FIELDS:
        value = meta.get(name)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise ParseError(f"{name}: must be a list of strings")
    country = (meta.get("country") or "").strip().upper() or None
    number = normalise_publication_number(meta["publication_number"], country or "US", meta.get("kind"))
    record = PatentRecord(
        publication_number=number, kind=meta.get("kind") or None, country=country or number[:2],
        application_number=meta.get("application_number") or None,
        title=meta.get("title") or "", abstract=meta.get("abstract") or "", claims=meta.get("claims") or "",
        **{name: [v.strip() for v in meta.get(name) or [] if v.strip()] for name in _LIST_FIELDS},
        **{name: _date(name, meta.get(name)) for name in _DATE_FIELDS},
        source=source, family_id=_family(meta, number),
    )
    figures = meta.get("figures") or []
    if not isinstance(figures, list):
        raise ParseError("figures: must be a list of objects")
    seen: set[int] = set()
    last_object: str | None = None
    for i, fig in enumerate(figures):
        if not isinstance(fig, dict):
            raise ParseError(f"figures[{i}]: must be an object")
        unknown = set(fig) - _FIGURE_KNOWN
        if unknown:
            raise ParseError(f"figures[{i}]: unknown field(s): {', '.join(sorted(unknown))}")
        description = fig.get("description") or ""
        if not isinstance(description, str):
            raise ParseError(f"figures[{i}].description: must be a string")
        parsed = parse_figure_text(description)
        number = fig.get("number", parsed.numbers[0] if parsed else i + 1)
        if isinstance(number, str) and re.fullmatch(r"\d+", number.strip()):
            number = int(number)
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= MAX_FIGURE_NUMBER:
            raise ParseError(f"figures[{i}].number: must be an integer from 0 to {MAX_FIGURE_NUMBER}")
        if number in seen:
            raise ParseError(f"figures[{i}].number: figure {number} appears twice")
        seen.add(number)
        image = fig.get("image")
        if image is not None and not isinstance(image, str):
            raise ParseError(f"figures[{i}].image: must be a file name")
        object_name = fig.get("object_name") or (parsed.object_name if parsed else None) or \
            (last_object if parsed else None)   # "FIG. 2 is a top view thereof"
        last_object = object_name or last_object
        record.figures.append(FigureRecord(
            number=number, label=fig.get("label") or (parsed.labels[0] if parsed else f"FIG. {number}"),
            description=description,
            viewpoint=fig.get("viewpoint") or (parsed.viewpoint if parsed else None),
            object_name=object_name,
            image=resolve_image(image, i) if image else resolve_image("", i)))
    return record   # without figures: a text-only patent (the pipeline indexes a text document)
