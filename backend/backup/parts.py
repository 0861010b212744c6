"""The three parts of a backup set, each for the setups Prism runs on:

* the record: SQLite (a consistent copy by SQLite's online backup API) or PostgreSQL (``pg_dump``, custom
  format, counted inside the same snapshot the dump reads);
* the index: the embedded index folder (its SQLite databases by the backup API, other files copied) or an
  Elasticsearch snapshot in a filesystem repository inside the set (the set's folder must lie under a
  path in the node's ``path.repo``);
* the blobs: the filesystem blob store's folder, or every object of the S3 bucket.

Each ``save_*`` writes into the set and returns what the manifest records; each ``restore_*`` writes into a
staging place and returns a function that puts it in place (or ``undo`` for what cannot be staged).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from backend.settings import Settings

RECORD_TABLES = ("patents", "figures", "ingest_jobs", "watches", "alerts", "api_keys")
SQLITE_MAGIC = b"SQLite format 3\x00"
SKIP_SUFFIXES = ("-wal", "-shm", "-journal")


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message is one line naming the problem."""


# -- record ----------------------------------------------------------------------------------------------
def record_kind(settings: Settings) -> str:
    return make_url(settings.resolved_database_url).get_backend_name()


def sqlite_path(settings: Settings) -> Path:
    return Path(make_url(settings.resolved_database_url).database or "")


def sqlite_copy(src: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (readers and writers may go on meanwhile)."""
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30) as source, sqlite3.connect(dest) as target:
        source.backup(target)
    target.close()
    source.close()


def sqlite_counts(path: Path, tables=RECORD_TABLES) -> dict[str, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables if t in present}


def _libpq_url(settings: Settings) -> str:
    url = make_url(settings.resolved_database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def save_record(settings: Settings, folder: Path) -> dict:
    folder.mkdir(parents=True)
    kind = record_kind(settings)
    if kind == "sqlite":
        src = sqlite_path(settings)
        if not src.is_file():
            raise BackupError(f"no database at {src}: nothing to back up")
        sqlite_copy(src, folder / "prism.db")
        return {"kind": "sqlite", "file": "record/prism.db", "counts": sqlite_counts(folder / "prism.db")}
    if kind == "postgresql":
        return _pg_dump(settings, folder / "prism.pgdump")
    raise BackupError(f"cannot back up a {kind} database (SQLite or PostgreSQL only)")


def _pg_dump(settings: Settings, dest: Path) -> dict:
    """Count the tables and dump them in one snapshot (``pg_export_snapshot`` + ``pg_dump --snapshot``)."""
    import psycopg

    pg_dump = _pg_tool("pg_dump")
    with psycopg.connect(_libpq_url(settings)) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        present = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in RECORD_TABLES if t in present}
        done = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                               f"--file={dest}", _libpq_url(settings)], capture_output=True, text=True)
        conn.rollback()
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {_last_line(done.stderr)}")
    return {"kind": "postgresql", "file": "record/prism.pgdump", "counts": counts}


def pg_counts(settings: Settings) -> dict[str, int]:
    import psycopg

    with psycopg.connect(_libpq_url(settings)) as conn:
        present = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in RECORD_TABLES if t in present}


def pg_is_empty(settings: Settings) -> bool:
    import psycopg

    with psycopg.connect(_libpq_url(settings)) as conn:
        present = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        if not present or present <= {"alembic_version"}:
            return True
        return all(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0
                   for t in RECORD_TABLES if t in present)


def pg_restore(settings: Settings, dump: Path) -> None:
    """Into an empty database, in one transaction: an error leaves the database as it was."""
    import psycopg

    tool = _pg_tool("pg_restore")
    with psycopg.connect(_libpq_url(settings), autocommit=True) as conn:   # empty tables made by migrations go
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall():
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    done = subprocess.run([tool, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
                           f"--dbname={_libpq_url(settings)}", str(dump)], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {_last_line(done.stderr)}")


def pg_clear(settings: Settings) -> None:
    """Undo a restore of the record (drop what it made)."""
    import psycopg

    with psycopg.connect(_libpq_url(settings), autocommit=True) as conn:
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall():
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


# -- index -----------------------------------------------------------------------------------------------
def save_embedded_index(settings: Settings, folder: Path) -> dict:
    src = settings.resolved_embedded_dir
    folder.mkdir(parents=True)
    figures = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else []:
        if path.name.endswith(SKIP_SUFFIXES):
            continue
        dest = folder / path.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if _is_sqlite(path):
            sqlite_copy(path, dest)
        else:
            shutil.copy2(path, dest)
    main = folder / "figures.sqlite3"
    if main.is_file():
        figures = embedded_figures(main)
    return {"kind": "embedded", "folder": "index", "figures": figures}


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(16) == SQLITE_MAGIC


def embedded_figures(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM figures").fetchone()[0]


def _es(settings: Settings):
    from elasticsearch import Elasticsearch

    return Elasticsearch(settings.es_hosts, request_timeout=max(settings.es_request_timeout, 120))


def _alias(settings: Settings) -> str:
    from backend.search.index.index_admin import alias_name

    return alias_name(settings.es_index_prefix)


def save_es_index(settings: Settings, folder: Path) -> dict:
    """Snapshot the index behind the alias into ``folder/es-repo`` (a filesystem repository registered for
    the time of the snapshot). The count before and after must agree: an index written meanwhile (ingest
    running) would not match its count."""
    from elasticsearch import ApiError

    es = _es(settings)
    alias = _alias(settings)
    try:
        indices = sorted(es.indices.get_alias(name=alias).body)
    except ApiError:
        raise BackupError(f"Elasticsearch has no index {alias} (PRISM_ES_INDEX_PREFIX={settings.es_index_prefix})") \
            from None
    repo_dir = folder / "es-repo"
    repo_dir.mkdir(parents=True)
    os.chmod(folder, 0o777)        # the node writes the repository as its own user
    os.chmod(repo_dir, 0o777)
    repo = f"prism-backup-{uuid.uuid4().hex[:12]}"
    es.indices.refresh(index=alias)
    before = es.count(index=alias)["count"]
    try:
        es.snapshot.create_repository(name=repo, repository={"type": "fs", "settings": {"location": str(repo_dir)}})
    except ApiError as exc:
        raise BackupError(_repo_refused(exc, repo_dir)) from None
    try:
        es.snapshot.create(repository=repo, snapshot="prism", indices=",".join(indices), include_global_state=False,
                           wait_for_completion=True)
        info = es.snapshot.get(repository=repo, snapshot="prism")["snapshots"][0]
    finally:
        es.snapshot.delete_repository(name=repo)
    if info["state"] != "SUCCESS":
        raise BackupError(f"the Elasticsearch snapshot ended {info['state']}: {info.get('failures')}")
    after = es.count(index=alias)["count"]
    if after != before:
        raise BackupError(f"the index changed while it was saved ({before} -> {after} documents): stop ingest "
                          f"(the workers) and back up again")
    return {"kind": "elasticsearch", "folder": "index", "figures": before, "indices": indices,
            "prefix": settings.es_index_prefix, "snapshot": "prism"}


def _repo_refused(exc, repo_dir: Path) -> str:
    text = str(exc)
    if "path.repo" in text or "doesn't match any of the locations" in text:
        return (f"Elasticsearch may not write to {repo_dir}: the backup folder must lie under a path listed in "
                f"the node's path.repo setting (docs/operations.md)")
    return f"Elasticsearch refused the snapshot repository at {repo_dir}: {text[:300]}"


def es_alias_exists(settings: Settings) -> bool:
    return bool(_es(settings).indices.exists_alias(name=_alias(settings)))


def restore_es_index(settings: Settings, folder: Path, part: dict) -> list[str]:
    """Restore the snapshot's indices under this installation's prefix and point the alias at them; returns the
    indices made (for undo)."""
    from elasticsearch import ApiError

    es = _es(settings)
    repo = f"prism-restore-{uuid.uuid4().hex[:12]}"
    try:
        es.snapshot.create_repository(name=repo, repository={"type": "fs", "settings": {
            "location": str(folder / "es-repo"), "readonly": True}})
    except ApiError as exc:
        raise BackupError(_repo_refused(exc, folder / "es-repo")) from None
    src, dst = part["prefix"], settings.es_index_prefix
    made = [dst + name[len(src):] for name in part["indices"]]
    if any(es.indices.exists(index=name) for name in made):
        es.snapshot.delete_repository(name=repo)
        raise BackupError(f"Elasticsearch already has an index named {made[0]}: restore into an empty installation")
    try:
        es.snapshot.restore(repository=repo, snapshot=part["snapshot"], indices=",".join(part["indices"]),
                            include_global_state=False, include_aliases=False, rename_pattern=f"^{src}(.*)$",
                            rename_replacement=f"{dst}$1", wait_for_completion=True)
        es.cluster.health(index=",".join(made), wait_for_status="yellow", timeout="120s")
        es.indices.update_aliases(actions=[{"add": {"index": made[-1], "alias": _alias(settings)}}])
    except ApiError as exc:
        undo_es_index(settings, made)
        raise BackupError(f"Elasticsearch could not restore the snapshot: {str(exc)[:300]}") from None
    finally:
        es.snapshot.delete_repository(name=repo)
    return made


def es_count(settings: Settings) -> int:
    es = _es(settings)
    es.indices.refresh(index=_alias(settings))
    return es.count(index=_alias(settings))["count"]


def undo_es_index(settings: Settings, made: list[str]) -> None:
    es = _es(settings)
    for name in made:
        es.indices.delete(index=name, ignore_unavailable=True)


# -- blobs -----------------------------------------------------------------------------------------------
def save_blobs(settings: Settings, folder: Path) -> dict:
    if settings.blob_store == "fs":
        src = settings.resolved_blob_dir
        if src.is_dir():
            shutil.copytree(src, folder, symlinks=False)
        else:
            folder.mkdir(parents=True)
    else:
        from backend.ingest.blobstore import get_blob_store

        store = get_blob_store(settings)
        folder.mkdir(parents=True)
        for key, _modified in store.list():
            dest = folder / key
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(store.get(key))
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {"kind": settings.blob_store, "folder": "blobs", "count": len(files),
            "bytes": sum(p.stat().st_size for p in files)}


def blob_target_is_empty(settings: Settings) -> bool:
    if settings.blob_store == "fs":
        target = settings.resolved_blob_dir
        return not target.exists() or not any(p.is_file() for p in target.rglob("*"))
    from backend.ingest.blobstore import get_blob_store

    return next(iter(get_blob_store(settings).list()), None) is None


def put_s3_blobs(settings: Settings, folder: Path) -> list[str]:
    from backend.ingest.blobstore import get_blob_store

    store = get_blob_store(settings)
    keys = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = path.relative_to(folder).as_posix()
        store.put(key, path.read_bytes())
        keys.append(key)
    return keys


def delete_s3_blobs(settings: Settings, keys: list[str]) -> None:
    from backend.ingest.blobstore import get_blob_store

    store = get_blob_store(settings)
    for key in keys:
        store.delete(key)


def staging_next_to(target: Path) -> Path:
    """A fresh folder beside ``target`` (same filesystem: the final step is a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.restoring-{int(time.time())}-{uuid.uuid4().hex[:6]}"
    staging.mkdir()
    return staging
