"""Training/evaluation records from DeepPatent2 JSON, USPTO grant XML + TIFF folders, JSONL manifests
or the synthetic generator.

Every source becomes a list of :class:`FigureRecord` (one drawing each). The retrieval "class" of a
record is chosen with ``class_key``: ``locarno`` (class-subclass, "28-03"), ``locarno_class`` ("28"),
``cpc`` (CPC subclass, "B26B"), ``object`` (normalised object name) or ``label`` (a manifest's
``"class"``).

USPTO folders: every ``*.XML`` grant with its ``*-D000NN.TIF`` drawing sheets beside it. Sheet
``D00000`` (the front-page copy of a figure) is skipped. Sheet k is paired with FIG. k when the
patent has as many figure descriptions as sheets, and otherwise with FIG. k if it exists (design
patents nearly always have one figure per sheet); sheets without a description keep the title as
their object and an empty description.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

CLASS_KEYS = ("locarno", "locarno_class", "cpc", "object", "label")
UNKNOWN = "unknown"


class DatasetError(ValueError):
    """A dataset source is missing or malformed; the message names the file and the problem."""


@dataclass
class FigureRecord:
    patent: str
    figure: int | None = None
    image_path: Path | None = None
    image: Image.Image | None = None       # in-memory image (synthetic data)
    description: str = ""
    viewpoint: str | None = None
    object_name: str | None = None
    title: str = ""
    locarno: str | None = None
    cpc: str | None = None
    label: str | None = None
    texts: list[str] = field(default_factory=list)   # precomputed captions (manifest "text"/"texts")

    def load_image(self) -> Image.Image:
        if self.image is not None:
            return self.image
        if self.image_path is None:
            raise DatasetError(f"figure {self.patent}/{self.figure} has no image")
        try:
            with Image.open(self.image_path) as im:
                im.load()
                return im
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{self.image_path}: cannot open image ({exc})") from None

    def class_label(self, key: str) -> str:
        if key == "locarno":
            return self.locarno or UNKNOWN
        if key == "locarno_class":
            return (self.locarno or UNKNOWN)[:2] if self.locarno else UNKNOWN
        if key == "cpc":
            return (self.cpc or "")[:4].upper() or UNKNOWN
        if key == "object":
            return normalise_object(self.object_name) or UNKNOWN
        if key == "label":
            return self.label or UNKNOWN
        raise DatasetError(f"unknown class key {key!r}; choose one of {', '.join(CLASS_KEYS)}")


def normalise_object(name: str | None) -> str | None:
    if not name:
        return None
    name = re.sub(r"[^a-z0-9 \-]", " ", name.lower())
    name = re.sub(r"\b(?:an?|the|ornamental|design|for|of)\b", " ", name)
    return re.sub(r"\s+", " ", name).strip() or None


def normalise_locarno(raw: str | None) -> str | None:
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) < 4:
        return None
    return f"{digits[:2]}-{digits[2:4]}"


# ------------------------------------------------------------------------------------------------
# figure descriptions -> number, viewpoint, object

_FIG = re.compile(r"^\s*(?:the\s+)?fig(?:ure)?s?\.?\s*(\d+)", re.IGNORECASE)
_VIEW = re.compile(r"\b(?:is|are|shows?)\s+(?:an?\s+|the\s+)?(?P<vp>.*?)\s+views?\b(?:\s+of\s+(?P<obj>[^;,.]*))?",
                   re.IGNORECASE)


def parse_figure_descriptions(paragraphs: list[str]) -> dict[int, tuple[str, str | None, str | None]]:
    """Figure number -> (description, viewpoint, object); uses the ingest area's parser when present."""
    try:
        from backend.ingest.figure_text import parse_descriptions
    except ImportError:  # pragma: no cover - minimal fallback
        parse_descriptions = None
    if parse_descriptions is not None:
        return {n: (ft.description, ft.viewpoint, ft.object_name) for n, ft in parse_descriptions(paragraphs).items()}
    out: dict[int, tuple[str, str | None, str | None]] = {}  # pragma: no cover
    last_obj = None  # pragma: no cover
    for p in paragraphs:  # pragma: no cover
        m = _FIG.match(p)
        if not m:
            continue
        v = _VIEW.search(p)
        obj = (v.group("obj") or "").strip() if v else ""
        obj = None if not obj or obj.lower().startswith("thereof") else obj
        last_obj = obj or last_obj
        out.setdefault(int(m.group(1)), (p.strip(" ;"), v.group("vp").lower() if v else None, obj or last_obj))
    return out


# ------------------------------------------------------------------------------------------------
# USPTO grant XML + TIFF sheets

def _text(el) -> str:
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip() if el is not None else ""


def parse_uspto_grant(xml_path: Path) -> list[FigureRecord]:
    from lxml import etree

    try:
        root = etree.parse(str(xml_path), etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                                                          load_dtd=False)).getroot()
    except (etree.XMLSyntaxError, OSError) as exc:
        raise DatasetError(f"{xml_path}: not a readable grant XML ({exc})") from None
    if root is None:
        raise DatasetError(f"{xml_path}: empty XML")
    doc_number = _text(root.find(".//publication-reference//doc-number"))
    if not doc_number:
        raise DatasetError(f"{xml_path}: no publication-reference/doc-number")
    title = _text(root.find(".//invention-title"))
    locarno = normalise_locarno(_text(root.find(".//classification-locarno/main-classification")))
    cpc = None
    main_cpc = root.find(".//classifications-cpc/main-cpc/classification-cpc")
    if main_cpc is not None:
        cpc = "".join(_text(main_cpc.find(t)) for t in ("section", "class", "subclass")) or None
    if cpc is None:
        field_cpc = root.find(".//us-field-of-classification-search/classification-cpc-text")
        if field_cpc is not None:
            cpc = _text(field_cpc).replace(" ", "")[:4] or None
    paragraphs = [_text(p) for p in root.findall(".//description-of-drawings//p")]
    figures = parse_figure_descriptions(paragraphs)
    sheets = []
    for img in root.findall(".//drawings//img"):
        name = img.get("file")
        if name and not re.search(r"-D0+\.", name, re.IGNORECASE):
            sheets.append(name)
    if not sheets:  # fall back to the files beside the XML
        sheets = sorted(p.name for p in xml_path.parent.glob(f"{xml_path.stem}-D*.[Tt][Ii][Ff]")
                        if not re.search(r"-D0+\.", p.name))
    patent = f"US{doc_number.lstrip('US')}"
    records = []
    for k, name in enumerate(sheets, start=1):
        path = xml_path.parent / name
        if not path.is_file():
            alt = next(iter(xml_path.parent.glob(name.rsplit(".", 1)[0] + ".*")), None)
            if alt is None:
                continue
            path = alt
        desc, vp, obj = figures.get(k, ("", None, None))
        records.append(FigureRecord(patent=patent, figure=k, image_path=path, description=desc, viewpoint=vp,
                                    object_name=obj or title.lower() or None, title=title, locarno=locarno,
                                    cpc=cpc))
    return records


def load_uspto_dir(root: Path) -> list[FigureRecord]:
    xmls = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() == ".xml" and p.is_file())
    if not xmls:
        raise DatasetError(f"{root}: no grant XML files found")
    records: list[FigureRecord] = []
    for path in xmls:
        records.extend(parse_uspto_grant(path))
    if not records:
        raise DatasetError(f"{root}: grant XML files found but no drawing sheets beside them")
    return records


# ------------------------------------------------------------------------------------------------
# DeepPatent2 JSON

def load_deeppatent2(json_path: Path, image_root: Path | None = None) -> list[FigureRecord]:
    """DeepPatent2 figure annotations: a JSON list (or dict of entries, or JSON lines) with
    ``patentID``, ``figid``, ``caption``, ``object``, ``aspect``, ``figure_file``, ``subfigure_file``,
    ``object_title``. Images are looked up under ``image_root`` (default: the JSON file's folder),
    preferring the segmented ``subfigure_file``."""
    json_path = Path(json_path)
    text = json_path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{json_path}: not JSON or JSON lines ({exc})") from None
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), list(data.values()))
    if not isinstance(data, list):
        raise DatasetError(f"{json_path}: expected a list of figure entries")
    base = Path(image_root) if image_root else json_path.parent
    records = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "patentID" not in entry:
            raise DatasetError(f"{json_path}: entry {i} has no patentID")
        path = None
        for key in ("subfigure_file", "figure_file"):
            name = entry.get(key)
            if name:
                for cand in (base / name, base / entry["patentID"] / name):
                    if cand.is_file():
                        path = cand
                        break
            if path:
                break
        if path is None:
            continue
        fig = entry.get("figid")
        try:
            fig = int(re.sub(r"\D", "", str(fig))) if fig not in (None, "") else None
        except ValueError:
            fig = None
        records.append(FigureRecord(
            patent=str(entry["patentID"]).split("-")[0], figure=fig, image_path=path,
            description=str(entry.get("caption") or entry.get("description") or ""),
            viewpoint=(entry.get("aspect") or None), object_name=(entry.get("object") or None),
            title=str(entry.get("object_title") or ""), locarno=normalise_locarno(entry.get("locarno")),
            cpc=entry.get("cpc")))
    if not records:
        raise DatasetError(f"{json_path}: no entry's image was found under {base}")
    return records


# ------------------------------------------------------------------------------------------------
# JSONL manifests

def load_manifest(path: Path) -> list[FigureRecord]:
    """One JSON object per line: ``{"image", "patent", "class", "text" | "texts", ...}``.

    Relative image paths are resolved against the manifest's folder. Optional keys:
    ``figure``, ``description``, ``viewpoint``, ``object``, ``title``, ``locarno``, ``cpc``.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"manifest not found: {path}")
    records = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object")
            for key in ("image", "patent"):
                if not row.get(key):
                    raise DatasetError(f"{path}:{lineno}: missing {key!r}")
            image = Path(row["image"])
            if not image.is_absolute():
                image = path.parent / image
            if not image.is_file():
                raise DatasetError(f"{path}:{lineno}: image not found: {image}")
            texts = row.get("texts") or ([row["text"]] if row.get("text") else [])
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise DatasetError(f"{path}:{lineno}: 'texts' must be a list of strings")
            label = row.get("class")
            records.append(FigureRecord(
                patent=str(row["patent"]), figure=row.get("figure"), image_path=image,
                description=str(row.get("description") or ""), viewpoint=row.get("viewpoint"),
                object_name=row.get("object"), title=str(row.get("title") or ""),
                locarno=normalise_locarno(row.get("locarno")) or row.get("locarno"), cpc=row.get("cpc"),
                label=str(label) if label is not None else None, texts=list(texts)))
    if not records:
        raise DatasetError(f"{path}: empty manifest")
    return records


def write_manifest(records: Iterable[FigureRecord], path: Path, class_key: str = "label",
                   texts: bool = True) -> Path:
    """Write records (with on-disk images) as a JSONL manifest; returns the path."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in records:
            if r.image_path is None:
                raise DatasetError(f"figure {r.patent}/{r.figure} has no image file for a manifest")
            row = {"image": str(r.image_path), "patent": r.patent, "class": r.class_label(class_key),
                   "figure": r.figure, "description": r.description, "viewpoint": r.viewpoint,
                   "object": r.object_name, "title": r.title, "locarno": r.locarno, "cpc": r.cpc}
            if texts and r.texts:
                row["texts"] = r.texts
            fh.write(json.dumps(row) + "\n")
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------------
# synthetic

def synthetic_records(n_patents: int, seed: int, size: int = 192, progress: bool = False) -> list[FigureRecord]:
    from backend.training import synthetic

    records = []
    for p in synthetic.generate(n_patents, seed=seed, size=size, progress=progress):
        for f in p.figures:
            records.append(FigureRecord(patent=f.patent, figure=f.figure, image=f.image, description=f.description,
                                        viewpoint=f.viewpoint, object_name=f.object_name, title=f.title,
                                        locarno=f.locarno, label=f.label))
    return records


def load_source(spec: str, image_root: Path | None = None, seed: int = 0,
                synthetic_size: int = 192) -> list[FigureRecord]:
    """``synthetic:N`` | a ``.jsonl`` manifest | a DeepPatent2 ``.json`` | a folder of USPTO grants."""
    if spec.startswith("synthetic:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            raise DatasetError(f"{spec!r}: expected synthetic:<number of patents>") from None
        if n < 1:
            raise DatasetError(f"{spec!r}: need at least one patent")
        return synthetic_records(n, seed=seed, size=synthetic_size, progress=True)
    path = Path(spec)
    if not path.exists():
        raise DatasetError(f"dataset not found: {path}")
    if path.is_dir():
        return load_uspto_dir(path)
    if path.suffix.lower() == ".jsonl":
        return load_manifest(path)
    if path.suffix.lower() == ".json":
        return load_deeppatent2(path, image_root)
    raise DatasetError(f"{path}: unknown dataset type (want .jsonl manifest, DeepPatent2 .json or a folder)")
