"""A job's source locator -> :class:`PatentRecord` (the pipeline's parse step)."""
from __future__ import annotations

import functools
import json
import zipfile
from pathlib import Path, PurePosixPath

from backend.ingest.metadata import record_from_metadata
from backend.ingest.parsers import deeppatent2, uspto_aps, uspto_xml
from backend.ingest.parsers.weekly_tar import open_zip
from backend.ingest.records import ImageRef, ParseError, PatentRecord


@functools.lru_cache(maxsize=4)
def _documents(path: str, member: str | None, mtime: float,
               tar_offset: int | None = None) -> tuple[bytes, ...]:
    """Split documents of one file (cached: a bulk file's documents are loaded one job after another).
    With ``tar_offset`` the zip is a member of the tar ``path`` (a weekly archive)."""
    if member is None:
        data = Path(path).read_bytes()
    else:
        with open_zip(path, tar_offset) as zf:
            data = zf.read(member)
    return tuple(uspto_xml.split_documents(data))


@functools.lru_cache(maxsize=4)
def _aps_patents(path: str, mtime: float) -> tuple[bytes, ...]:
    return tuple(uspto_aps.split_patents(Path(path).read_bytes()))


@functools.lru_cache(maxsize=4)
def _deeppatent2_entries(path: str, mtime: float) -> tuple[dict, ...]:
    return tuple(deeppatent2.load_json(Path(path)))


def _mtime(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError as exc:
        raise ParseError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_source(locator: dict) -> PatentRecord:
    fmt = locator.get("format")
    if fmt == "record":
        return PatentRecord.from_dict(locator["record"])
    path = str(locator.get("path") or "")
    mtime = _mtime(path)
    if fmt == "uspto-xml":
        member = locator.get("member")
        tar_offset = locator.get("tar_offset")
        if tar_offset is not None and locator.get("archive_size") not in (None, Path(path).stat().st_size):
            raise ParseError(f"{path}: the archive changed since this job was queued (size "
                             f"{locator['archive_size']} then); ingest it again")
        try:
            docs = _documents(path, member, mtime, tar_offset)
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            raise ParseError(f"{path}: cannot read {member or ''}: {exc}") from None
        index = int(locator.get("index") or 0)
        if index >= len(docs):
            raise ParseError(f"{path}: document #{index + 1} not found (file has {len(docs)})")
        if member is None:
            base = ImageRef(path=str(Path(path).parent))
        else:
            parent = str(PurePosixPath(member).parent)
            base = ImageRef(zip=path, member="" if parent == "." else parent, tar_offset=tar_offset)
        inner = f"!{locator['tar_member']}" if locator.get("tar_member") else ""
        origin = f"{path}{inner}{'!' + member if member else ''}"
        return uspto_xml.parse_document(docs[index], base, origin)
    if fmt == "uspto-aps":
        docs = _aps_patents(path, mtime)
        index = int(locator.get("index") or 0)
        if index >= len(docs):
            raise ParseError(f"{path}: patent #{index + 1} not found (file has {len(docs)})")
        return uspto_aps.parse_aps(docs[index], ImageRef(path=str(Path(path).parent)), path)
    if fmt == "scanned-pdf":
        from backend.ingest.parsers.scanned_pdf import parse_pdf
        from backend.settings import get_settings

        settings = get_settings()
        return parse_pdf(path, settings.pdf_dpi, settings.max_pdf_pages)
    if fmt == "deeppatent2":
        entries = list(_deeppatent2_entries(path, mtime))
        return deeppatent2.build_record(entries, str(locator["patent"]), Path(path).parent)
    if fmt == "manifest":
        line_no = int(locator["line"])
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):  # noqa: B007 - the line found is read below
                if n == line_no:
                    break
            else:
                raise ParseError(f"{path}: line {line_no} not found")
        try:
            meta = json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise ParseError(f"{path}:{line_no}: not JSON: {exc}") from None
        base = Path(path).parent

        def resolve(name: str, _index: int) -> ImageRef | None:
            return ImageRef(path=str((base / name).resolve()), name=name) if name else None

        try:
            return record_from_metadata(meta, resolve, source="manifest")
        except ParseError as exc:
            raise ParseError(f"{path}:{line_no}: {exc}") from None
    raise ParseError(f"unknown source format {fmt!r}")
