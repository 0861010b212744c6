"""Resuming an interrupted weekly archive: a document of a tar member is not ingested again when a job
for the same archive (path, size, modification time) and member already finished.

The progress record is the ingest job table itself: each job keeps its origin (``archive!member``) as
``source`` and the archive's size and mtime in its locator, so nothing new is stored and a job that
failed, or never ran because the process died, is simply done again.
"""
from __future__ import annotations

from sqlalchemy import select

from backend.db.models import IngestJob, JobStatus
from backend.db.session import session_scope


def _key(locator: dict | None) -> tuple | None:
    if not locator or locator.get("tar_offset") is None:
        return None
    return (locator.get("path"), locator.get("archive_size"), locator.get("archive_mtime"),
            locator.get("tar_member"), locator.get("member"), locator.get("index"))


def finished_origins(db_url: str, items: list) -> set[str]:
    """The origins among ``items`` (discover's items of tar members) whose document a finished job of
    the same archive already ingested."""
    wanted = {item.origin[:512]: _key(item.locator) for item in items if _key(item.locator)}
    done: set[str] = set()
    origins = list(wanted)
    if not origins:
        return done
    with session_scope(db_url) as session:
        for start in range(0, len(origins), 500):
            chunk = origins[start:start + 500]
            rows = session.execute(select(IngestJob.source, IngestJob.payload).where(
                IngestJob.source.in_(chunk), IngestJob.status == JobStatus.done))
            for source, payload in rows:
                if _key((payload or {}).get("source")) == wanted.get(source):
                    done.add(source)
    return done
