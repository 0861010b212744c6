"""The real drawing sets in ``../shared/data`` as :class:`FigureRecord` lists, with fixed splits by patent.

Sets (see ``shared/data/README.md``):

=============== ======================================== ============================== =============
name            what                                     class (``record.label``)       texts
=============== ======================================== ============================== =============
``impact``      50 US designs, 388 sheets (G4 TIFF)      Locarno class, ``loc:28``      title + figure description
``usdesign``    827 US designs, one drawing each         USPC design class, ``uspc:D6`` title
``kr``          771 Korean utility drawings              IPC subclass, ``ipc:H01L``     English title
``grants``      9 US utility grants (ZIP as shipped)     CPC subclass, ``cpc:A61B``     title + figure description
=============== ======================================== ============================== =============

**Splits** are fixed and by patent: a patent is in ``dev`` when the first byte of
``sha1("prism-split-v1:" + patent)`` is below 77 (about 30 %), else in ``train``. Every drawing of
a patent is on the same side, so a held-out patent is never trained on. ``split(records, "dev")``
is what the benchmark evaluates; training reads only ``"train"``.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

from backend.training.datasets import DatasetError, FigureRecord, load_uspto_dir

SETS = ("impact", "usdesign", "kr", "grants")
DEV_CUTOFF = 77  # of 256: about 30 % of the patents are held out
SPLIT_SALT = "prism-split-v1:"


def default_root() -> Path:
    """``../shared/data`` beside the repository (the layout CI and the developers have)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def split_of(patent: str) -> str:
    digest = hashlib.sha1((SPLIT_SALT + patent).encode()).digest()
    return "dev" if digest[0] < DEV_CUTOFF else "train"


def split(records: Iterable[FigureRecord], which: str) -> list[FigureRecord]:
    if which not in ("train", "dev"):
        raise ValueError(f"split must be 'train' or 'dev', not {which!r}")
    return [r for r in records if split_of(r.patent) == which]


def source_of(record: FigureRecord) -> str:
    """Which set a record came from (its label's scheme decides: loc, uspc, ipc, cpc)."""
    return {"loc": "impact", "uspc": "usdesign", "ipc": "kr", "cpc": "grants"}.get(
        (record.label or "").split(":", 1)[0], "other")


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"{path}: not found")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_impact(root: Path) -> list[FigureRecord]:
    records = load_uspto_dir(root / "impact")
    for r in records:
        r.label = f"loc:{(r.locarno or 'unknown')[:2]}"
    return records


def load_usdesign(root: Path) -> list[FigureRecord]:
    base = root / "usdesign2007"
    out = []
    for row in _jsonl(base / "designs.jsonl"):
        uspc_class = str(row.get("uspc") or "").split("-")[0] or "unknown"
        title = row.get("title") or ""
        out.append(FigureRecord(patent=row["publication_number"], figure=1, image_path=base / row["image"],
                                title=title, object_name=title.lower() or None, label=f"uspc:{uspc_class}"))
    return out


def load_kr(root: Path) -> list[FigureRecord]:
    base = root / "kr_utility"
    out = []
    for row in _jsonl(base / "patents.jsonl"):
        ipc = (row.get("ipc") or [None])[0]
        title = (row.get("title_en") or "").strip()
        title = title.capitalize() if title.isupper() else title
        out.append(FigureRecord(patent=f"KR{row['application_number']}", figure=1, image_path=base / row["image"],
                                title=title, object_name=title.lower() or None,
                                label=f"ipc:{(ipc or 'unknown')[:4].upper()}", cpc=None))
    return out


def load_grants(root: Path, cache: Path) -> list[FigureRecord]:
    """The USPTO per-patent ZIPs, unpacked once into ``cache`` (XML + drawing sheets only)."""
    zips = sorted((root / "uspto_grants_2025").glob("*.ZIP")) + sorted((root / "uspto_grants_2025").glob("*.zip"))
    if not zips:
        raise DatasetError(f"{root / 'uspto_grants_2025'}: no ZIP files")
    target = cache / "uspto_grants_2025"
    for z in zips:
        done = target / (z.stem + ".done")
        if done.exists():
            continue
        with zipfile.ZipFile(z) as archive:
            for info in archive.infolist():
                name = Path(info.filename).name
                if name.upper().endswith(".XML") or "-D0" in name.upper():
                    (target / z.stem).mkdir(parents=True, exist_ok=True)
                    (target / z.stem / name).write_bytes(archive.read(info))
        done.touch()
    records = load_uspto_dir(target)
    for r in records:
        r.label = f"cpc:{(r.cpc or 'unknown')[:4].upper()}"
    return records


def load_sets(root: Path | None = None, sets: Iterable[str] = SETS, cache: Path | None = None) -> list[FigureRecord]:
    """Every record of the named sets (``DatasetError`` naming the folder when one is missing)."""
    root = Path(root) if root else default_root()
    if not root.is_dir():
        raise DatasetError(f"shared data not found at {root}")
    cache = Path(cache) if cache else Path(__file__).resolve().parents[2] / "var" / "cache" / "realdata"
    loaders = {"impact": load_impact, "usdesign": load_usdesign, "kr": load_kr,
               "grants": lambda r: load_grants(r, cache)}
    out: list[FigureRecord] = []
    for name in sets:
        if name not in loaders:
            raise DatasetError(f"unknown set {name!r}; choose from {', '.join(SETS)}")
        out.extend(loaders[name](root))
    return out


def text_of(record: FigureRecord) -> str:
    """The query text of a drawing for text->drawing retrieval: its figure description when it has one
    (with the title), else its title."""
    if record.description:
        return f"{record.title}. {record.description}".strip(". ")
    return record.title
