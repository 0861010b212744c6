"""Walk the paths given to ``prism ingest`` and yield one :class:`Item` per document.

Recognised: USPTO ICE XML (``.xml``; single documents or weekly bulk files), ``.zip`` archives of them
(drawings inside the zip), ``.tar`` weekly archives of such ZIPs (:mod:`weekly_tar`), scanned patent
PDFs (``.pdf``, :mod:`scanned_pdf`), DeepPatent2
annotations (``.json``), JSONL manifests (``.jsonl``).
Folders are walked recursively; files of other types inside folders (drawings, READMEs, CSVs) are
ignored, while a file named explicitly with an unknown type is reported as skipped.
"""
from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from backend.ingest.parsers import deeppatent2, uspto_aps, uspto_xml, weekly_tar
from backend.ingest.records import IngestError, UnsupportedFormat

XML_SUFFIXES = (".xml", ".sgm", ".sgml")
KNOWN_SUFFIXES = (*XML_SUFFIXES, ".zip", ".json", ".jsonl", ".txt", ".greenbook", ".tar", ".pdf")


@dataclass
class Item:
    origin: str                      # human-readable: path, path!member#3, manifest.jsonl:12
    locator: dict | None = None      # how to load it (stored in the job payload)
    skip: str | None = None          # why it is skipped (unsupported format, not a patent)
    error: str | None = None         # why it cannot even be located (unreadable file)


def discover(paths: Iterable[str | Path]) -> Iterator[Item]:
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            yield Item(str(path), error="no such file or directory")
        elif path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in KNOWN_SUFFIXES and not child.name.startswith("."):
                    if child.suffix.lower() in (".txt",) :
                        continue   # READMEs and bulk-file listings beside the data
                    yield from _file(child.resolve())
        else:
            yield from _file(path.resolve(), explicit=True)


def _file(path: Path, explicit: bool = False) -> Iterator[Item]:
    suffix = path.suffix.lower()
    try:
        if suffix in XML_SUFFIXES:
            yield from _xml_items(path.read_bytes(), str(path), {"path": str(path), "member": None})
        elif suffix == ".zip":
            yield from _zip(path)
        elif weekly_tar.is_tar_name(path):
            yield from _tar(path)
        elif suffix == ".json":
            yield from _deeppatent2(path)
        elif suffix == ".pdf":   # a scanned patent (parsers/scanned_pdf.py): one document per file
            yield Item(str(path), {"format": "scanned-pdf", "path": str(path)})
        elif suffix == ".jsonl":
            yield from _manifest(path)
        elif suffix in (".txt", ".greenbook"):
            data = path.read_bytes()
            if uspto_aps.is_aps(data[:4096]):
                docs = uspto_aps.split_patents(data)
                for i in range(len(docs)):
                    name = f"{path}#{i + 1}" if len(docs) > 1 else str(path)
                    yield Item(name, {"format": "uspto-aps", "path": str(path), "index": i})
                if not docs:
                    yield Item(str(path), skip="Green Book text without a PATN record")
            else:
                try:
                    uspto_xml.sniff(data[:4096])
                except UnsupportedFormat as exc:
                    yield Item(str(path), skip=str(exc))
        elif explicit:
            yield Item(str(path), skip=f"unknown file type {suffix or '(none)'}; "
                                      f"expected .xml, .zip, .tar, .pdf, .json, .jsonl")
    except IngestError as exc:
        yield Item(str(path), error=str(exc))
    except (OSError, zipfile.BadZipFile) as exc:
        yield Item(str(path), error=f"cannot read: {exc}")


def _xml_items(data: bytes, origin: str, where: dict) -> Iterator[Item]:
    docs = uspto_xml.split_documents(data)
    for i, doc in enumerate(docs):
        name = f"{origin}#{i + 1}" if len(docs) > 1 else origin
        try:
            uspto_xml.sniff(doc)
        except UnsupportedFormat as exc:
            yield Item(name, skip=str(exc))
            continue
        yield Item(name, {"format": "uspto-xml", **where, "index": i})


def _zip(path: Path) -> Iterator[Item]:
    with zipfile.ZipFile(path) as zf:
        for member in sorted(zf.namelist()):
            if member.lower().endswith(XML_SUFFIXES) and not member.endswith("/"):
                yield from _xml_items(zf.read(member), f"{path}!{member}", {"path": str(path), "member": member})


def _tar(path: Path) -> Iterator[Item]:
    """One item per document of each member ZIP; members that are not documents are skipped with the
    reason, a broken archive ends the walk with an error item (the members before it still ingest)."""
    where = {"path": str(path), **weekly_tar.stamp(path)}
    try:
        for m in weekly_tar.members(path):
            origin = f"{path}!{m.name}"
            if m.skip or m.error:
                yield Item(origin, skip=m.skip, error=m.error)
                continue
            try:
                with weekly_tar.open_zip(str(path), m.offset) as zf:
                    xmls = weekly_tar.xml_members(zf)
                    for xml in xmls:
                        locator = {**where, "tar_offset": m.offset, "tar_member": m.name, "member": xml}
                        name = origin if len(xmls) == 1 else f"{origin}!{xml}"
                        yield from _xml_items(zf.read(xml), name, locator)
            except (OSError, zipfile.BadZipFile, IngestError) as exc:
                yield Item(origin, error=f"cannot read: {exc}")
    except weekly_tar.ArchiveError as exc:
        yield Item(str(path), error=str(exc))


def _deeppatent2(path: Path) -> Iterator[Item]:
    entries = deeppatent2.load_json(path)
    for patent in deeppatent2.patent_ids(entries):
        yield Item(f"{path}:{patent}", {"format": "deeppatent2", "path": str(path), "patent": patent})


def _manifest(path: Path) -> Iterator[Item]:
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Item(f"{path}:{n}", error=f"line {n} is not UTF-8: {exc}")
                continue
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                json.loads(line)
            except ValueError as exc:
                yield Item(f"{path}:{n}", error=f"line {n} is not JSON: {exc}")
                continue
            yield Item(f"{path}:{n}", {"format": "manifest", "path": str(path), "line": n})
