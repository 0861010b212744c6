"""``prism backup DEST`` and ``prism restore SRC``: the record, the index and the blobs saved together and
restored together, with a manifest of counts, checksums and the encoder that made the index's vectors.

A restore reads and checks the whole set before it writes anything (every file's size and SHA-256, the
setup it was made on, the encoder), stages each part beside its target, checks the staged counts against the
manifest, and only then moves the parts in; an error undoes what was done. It restores into an empty
installation only (a fresh data folder, an empty database and index), and never over data.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from backend import __version__
from backend.backup import parts
from backend.backup.parts import BackupError
from backend.settings import Settings

MANIFEST = "manifest.json"
FORMAT = "prism-backup"
FORMAT_VERSION = 1
CHUNK = 1 << 20


@dataclass
class Result:
    folder: Path
    manifest: dict


def current_encoder_id(settings: Settings) -> str:
    from backend.search.index.index_encoder import current_encoder

    return current_encoder(settings).model_id


def _index_encoders(settings: Settings) -> dict:
    from backend.search import get_backend

    return {str(k): v for k, v in get_backend(settings).encoder_ids().items()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _inventory(folder: Path) -> dict[str, dict]:
    return {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


# -- backup ----------------------------------------------------------------------------------------------
def backup(settings: Settings, dest: Path) -> Result:
    """Write a set into ``dest`` (a new or empty folder). A set without its manifest is unfinished: the
    manifest is written last, and a failed backup removes what it wrote."""
    dest = Path(dest).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder: back up into a new folder")
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        record = parts.save_record(settings, dest / "record")
        if settings.search_backend == "elasticsearch":
            index = parts.save_es_index(settings, dest / "index")
        else:
            index = parts.save_embedded_index(settings, dest / "index")
        index["encoders"] = _index_encoders(settings)
        blobs = parts.save_blobs(settings, dest / "blobs")
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "prism_version": __version__,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "encoder": current_encoder_id(settings),
            "record": record, "index": index, "blobs": blobs,
            "files": _inventory(dest),
        }
        (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        raise
    return Result(dest, manifest)


# -- checking a set --------------------------------------------------------------------------------------
def read_manifest(src: Path) -> dict:
    path = Path(src) / MANIFEST
    if not Path(src).is_dir():
        raise BackupError(f"{src} is not a folder")
    if not path.is_file():
        raise BackupError(f"{src} has no {MANIFEST}: not a Prism backup set, or an unfinished one")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is not valid JSON ({exc}): the set is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Prism backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{path} has format version {manifest.get('format_version')}; this Prism reads "
                          f"version {FORMAT_VERSION}")
    for key in ("record", "index", "blobs", "files", "encoder"):
        if key not in manifest:
            raise BackupError(f"{path} lacks '{key}': the set is damaged")
    return manifest


def verify(src: Path) -> dict:
    """The manifest, once every file of the set is there with its size and checksum (and nothing else is)."""
    src = Path(src).resolve()
    manifest = read_manifest(src)
    listed = manifest["files"]
    present = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file() and p.name != MANIFEST}
    missing = sorted(set(listed) - present)
    if missing:
        raise BackupError(f"{missing[0]} is missing from the set ({len(missing)} file(s) missing)")
    extra = sorted(present - set(listed))
    if extra:
        raise BackupError(f"{extra[0]} is not in the manifest: the set was changed after it was made")
    for name, want in listed.items():
        size = (src / name).stat().st_size
        if size != want["bytes"]:
            raise BackupError(f"{name}: {size:,} bytes, the manifest says {want['bytes']:,} (truncated or "
                              f"damaged set)")
    for name, want in listed.items():
        if _sha256(src / name) != want["sha256"]:
            raise BackupError(f"{name}: checksum differs from the manifest (damaged set)")
    return manifest


def _check_fits(settings: Settings, manifest: dict) -> None:
    """The set was made on this kind of setup, with this installation's encoder."""
    have = {"record": parts.record_kind(settings), "index": settings.search_backend, "blobs": settings.blob_store}
    for part, kind in have.items():
        if manifest[part]["kind"] != kind:
            raise BackupError(f"the set's {part} is {manifest[part]['kind']}, this installation's is {kind}: "
                              f"restore with the settings it was made with")
    encoders = {k for k, n in (manifest["index"].get("encoders") or {}).items() if n}
    current = current_encoder_id(settings)
    if encoders and encoders != {current}:
        raise BackupError(f"the set's index holds vectors of {', '.join(sorted(encoders))}; this installation "
                          f"encodes with {current}: set PRISM_MODEL_NAME / PRISM_CHECKPOINT as when it was made")


# -- restore ---------------------------------------------------------------------------------------------
def restore(settings: Settings, src: Path) -> dict:
    """Restore the set at ``src`` into this (empty) installation; returns the manifest."""
    src = Path(src).resolve()
    manifest = verify(src)
    _check_fits(settings, manifest)
    if settings.search_backend == "elasticsearch" or parts.record_kind(settings) == "postgresql" or \
            settings.blob_store == "s3":
        _restore_distributed(settings, src, manifest)
    else:
        _restore_embedded(settings, src, manifest)
    return manifest


def _refuse_unless_empty(settings: Settings) -> None:
    where = []
    if parts.record_kind(settings) == "sqlite":
        db = parts.sqlite_path(settings)
        if db.exists() and any(parts.sqlite_counts(db).values()):
            where.append(str(db))
    elif not parts.pg_is_empty(settings):
        where.append("the PostgreSQL database")
    if settings.search_backend == "elasticsearch":
        if parts.es_alias_exists(settings) and parts.es_count(settings):
            where.append(f"Elasticsearch index prefix {settings.es_index_prefix}")
    else:
        index = settings.resolved_embedded_dir / "figures.sqlite3"
        if index.exists() and parts.embedded_figures(index):
            where.append(str(settings.resolved_embedded_dir))
    if not parts.blob_target_is_empty(settings):
        where.append(str(settings.resolved_blob_dir) if settings.blob_store == "fs" else "the S3 bucket")
    if where:
        raise BackupError(f"this installation already holds data ({'; '.join(where)}): restore into an empty one "
                          f"(a new PRISM_DATA_DIR, database and index prefix)")


def _counts_match(what: str, got, want) -> None:
    if got != want:
        raise BackupError(f"the restored {what} does not match the manifest ({got} vs {want}): the set is "
                          f"inconsistent")


def _restore_embedded(settings: Settings, src: Path, manifest: dict) -> None:
    _refuse_unless_empty(settings)
    targets = {"record": parts.sqlite_path(settings), "index": settings.resolved_embedded_dir,
               "blobs": settings.resolved_blob_dir}
    staged: dict[str, Path] = {}
    moved: list[tuple[Path, Path]] = []
    try:
        for part, target in targets.items():
            staging = parts.staging_next_to(target)
            staged[part] = staging
            if part == "record":
                parts.sqlite_copy(src / manifest["record"]["file"], staging / target.name)
                _counts_match("record", parts.sqlite_counts(staging / target.name), manifest["record"]["counts"])
            else:
                shutil.copytree(src / manifest[part]["folder"], staging / target.name)
        index_db = staged["index"] / targets["index"].name / "figures.sqlite3"
        _counts_match("index", parts.embedded_figures(index_db) if index_db.exists() else 0,
                      manifest["index"]["figures"])
        for part, target in targets.items():   # all staged and checked: move them in
            _clear_empty(target, part)
            os.replace(staged[part] / target.name, target)
            moved.append((target, staged[part] / target.name))
    except BaseException:
        for target, back in reversed(moved):
            os.replace(target, back)
        raise
    finally:
        for staging in staged.values():
            shutil.rmtree(staging, ignore_errors=True)


def _clear_empty(target: Path, part: str) -> None:
    """Remove an empty target (an upgraded but empty database, an empty index or blob folder) before the
    staged one takes its place; :func:`_refuse_unless_empty` made sure it holds nothing."""
    if part == "record":
        for suffix in ("", *parts.SKIP_SUFFIXES):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    elif target.exists():
        shutil.rmtree(target)


def _restore_distributed(settings: Settings, src: Path, manifest: dict) -> None:
    """Index first (a restored index is deleted on error), then the blobs (staged, renamed), the record last
    (one transaction); an error on a later part undoes the earlier ones."""
    _refuse_unless_empty(settings)
    undo = []
    try:
        if settings.search_backend == "elasticsearch":
            made = parts.restore_es_index(settings, src / manifest["index"]["folder"], manifest["index"])
            undo.append(lambda: parts.undo_es_index(settings, made))
            _counts_match("index", parts.es_count(settings), manifest["index"]["figures"])
        else:
            _restore_embedded_index_only(settings, src, manifest, undo)
        if settings.blob_store == "fs":
            _swap_in_folder(src / manifest["blobs"]["folder"], settings.resolved_blob_dir, "blobs", undo)
        else:
            keys = parts.put_s3_blobs(settings, src / manifest["blobs"]["folder"])
            undo.append(lambda: parts.delete_s3_blobs(settings, keys))
        if parts.record_kind(settings) == "postgresql":
            parts.pg_restore(settings, src / manifest["record"]["file"])
            undo.append(lambda: parts.pg_clear(settings))
            _counts_match("record", parts.pg_counts(settings), manifest["record"]["counts"])
        else:
            target = parts.sqlite_path(settings)
            staging = parts.staging_next_to(target)
            try:
                parts.sqlite_copy(src / manifest["record"]["file"], staging / target.name)
                _counts_match("record", parts.sqlite_counts(staging / target.name), manifest["record"]["counts"])
                _clear_empty(target, "record")
                os.replace(staging / target.name, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        for step in reversed(undo):
            step()
        raise


def _restore_embedded_index_only(settings: Settings, src: Path, manifest: dict, undo: list) -> None:
    _swap_in_folder(src / manifest["index"]["folder"], settings.resolved_embedded_dir, "index", undo)


def _swap_in_folder(source: Path, target: Path, what: str, undo: list) -> None:
    """Copy ``source`` beside ``target`` first, then move it into place in one rename (never half-copied)."""
    staging = parts.staging_next_to(target)
    try:
        shutil.copytree(source, staging / target.name)
        _clear_empty(target, what)
        os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    undo.append(lambda: shutil.rmtree(target, ignore_errors=True))
