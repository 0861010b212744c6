"""DeepPatent2 annotations (JSON) + PNG drawings.

DeepPatent2 ships one JSON per year/type with one entry per (sub)figure. Field names vary between
releases, so each field is read from the first present of several names::

    patent:      patentID | patent_id | documentId | publication_number | doc_id
    image file:  subfigurefile | file_name | filename | figure_file | image
    number:      figid | figure_number | fig_num | figure_label ("FIG. 3")
    description: origreftext | description | figure_description | caption
    viewpoint:   aspect | viewpoint          object: object | object_title | object_name
    title:       title | patent_title        date:   pub_date | publication_date

The top level is a list of entries, or an object holding one under ``annotations``/``data``/``records``/
``figures``, or an object keyed by patent id. PNGs are looked up next to the JSON, in ``images/`` beside
it, or in a folder named after the patent.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from backend.ingest.figure_text import parse_figure_text
from backend.ingest.records import (
    FigureRecord,
    ImageRef,
    ParseError,
    PatentRecord,
    iso_date,
    normalise_publication_number,
)

_PATENT = ("patentID", "patent_id", "documentId", "publication_number", "doc_id")
_FILE = ("subfigurefile", "file_name", "filename", "figure_file", "image")
_NUMBER = ("figid", "figure_number", "fig_num", "figure_label")
_DESC = ("origreftext", "description", "figure_description", "caption")
_VIEW = ("aspect", "viewpoint")
_OBJECT = ("object", "object_title", "object_name")
_TITLE = ("title", "patent_title")
_DATE = ("pub_date", "publication_date")


def _get(entry: dict, names: tuple[str, ...]) -> Any:
    for name in names:
        if entry.get(name) not in (None, ""):
            return entry[name]
    return None


def looks_like(data: Any) -> bool:
    entries = entries_of(data)
    return bool(entries) and all(isinstance(e, dict) for e in entries[:5]) and \
        _get(entries[0], _PATENT) is not None and _get(entries[0], _FILE) is not None


def entries_of(data: Any) -> list:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("annotations", "data", "records", "figures"):
            if isinstance(data.get(key), list):
                return data[key]
        if data and all(isinstance(v, list) for v in data.values()):   # {patent_id: [entries]}
            return [{"patentID": k, **e} for k, v in data.items() for e in v if isinstance(e, dict)]
    return []


def load_json(path: Path) -> list[dict]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ParseError(f"{path}: not readable JSON: {exc}") from None
    if not looks_like(data):
        raise ParseError(f"{path}: not DeepPatent2 annotations (need entries with patentID and a figure file)")
    return entries_of(data)


def patent_ids(entries: list[dict]) -> list[str]:
    return list(dict.fromkeys(str(_get(e, _PATENT)) for e in entries))


def _number(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    m = re.search(r"\d+", str(value or ""))
    return int(m.group()) if m else None


def _find_image(base: Path, patent: str, name: str) -> ImageRef | None:
    for candidate in (base / name, base / "images" / name, base / patent / name):
        if candidate.is_file():
            return ImageRef(path=str(candidate), name=name)
    return ImageRef(path=str(base / name), name=name)   # a missing file is reported when it is loaded


def build_record(entries: list[dict], patent: str, base: Path) -> PatentRecord:
    mine = [e for e in entries if str(_get(e, _PATENT)) == patent]
    if not mine:
        raise ParseError(f"patent {patent} not in the annotations")
    pub_raw = patent.split("-")[0]
    first = mine[0]
    record = PatentRecord(publication_number=normalise_publication_number(pub_raw), country="US",
                          kind="S1" if pub_raw.upper().lstrip("US").startswith("D") else None,
                          title=str(_get(first, _TITLE) or ""),
                          publication_date=iso_date(_get(first, _DATE) or (patent.split("-")[1]
                                                                           if "-" in patent else None)),
                          source="deeppatent2")
    used: set[int] = set()
    for i, entry in enumerate(mine):
        desc = str(_get(entry, _DESC) or "")
        parsed = parse_figure_text(desc)
        number = _number(_get(entry, _NUMBER)) or (parsed.numbers[0] if parsed else None) or i + 1
        while number in used:   # compound figures split into sub-figures share a label
            number += 1000
        used.add(number)
        record.figures.append(FigureRecord(
            number=number, label=f"FIG. {number}", description=desc,
            viewpoint=_get(entry, _VIEW) or (parsed.viewpoint if parsed else None),
            object_name=_get(entry, _OBJECT) or (parsed.object_name if parsed else None),
            image=_find_image(base, patent, str(_get(entry, _FILE)))))
    record.figures.sort(key=lambda f: f.number)
    return record
