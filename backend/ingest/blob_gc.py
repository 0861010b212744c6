"""Garbage collection of the blob store: blobs no figure or pending job refers to any more.

Keys are content addressed, so re-ingesting a patent with new drawings leaves the old renditions
behind. A blob is *referenced* when a figure row names it (``image_key``, ``thumb_key``, ``sheet_key``: the
sheet a figure region was split from, kept for display), when it is the
original of a figure's ``image_hash`` (``originals/<h[:2]>/<h>.*``) or its drawing features
(``features/<h[:2]>/<h>.orb``) or a viewer's cached size of it (``renditions/<h[:2]>/<h>.*``), or when an unfinished
ingest job's
payload names it (``uploads/…``). Unreferenced blobs younger than ``older_than`` are kept: an ingest in
flight writes its blobs before it commits the rows that name them.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from backend.db.models import Figure, IngestJob, JobStatus
from backend.db.session import session_scope
from backend.ingest.blobstore import get_blob_store
from backend.settings import Settings

_UPLOAD = re.compile(r"uploads/[0-9a-f]{2}/[0-9a-f]{64}(?:\.[0-9a-f]{32})?")
_ORIGINAL = re.compile(r"^(?:originals|features|renditions)/[0-9a-f]{2}/([0-9a-f]{64})\.")


@dataclass
class GcReport:
    examined: int = 0
    referenced: int = 0
    kept_recent: int = 0
    deleted: list[str] = field(default_factory=list)
    dry_run: bool = False


def _references(settings: Settings) -> tuple[set[str], set[str]]:
    keys: set[str] = set()
    hashes: set[str] = set()
    with session_scope(settings.resolved_database_url) as session:
        for image_key, thumb_key, sheet_key, image_hash in session.execute(
                select(Figure.image_key, Figure.thumb_key, Figure.sheet_key, Figure.image_hash)):
            keys.update(k for k in (image_key, thumb_key, sheet_key) if k)
            if image_hash:
                hashes.add(image_hash)
        for payload in session.scalars(select(IngestJob.payload).where(IngestJob.status != JobStatus.done)):
            keys.update(_UPLOAD.findall(json.dumps(payload or {})))
    return keys, hashes


def collect(settings: Settings, *, older_than: dt.timedelta = dt.timedelta(hours=24), dry_run: bool = False,
            now: dt.datetime | None = None, on_blob: Callable[[], None] | None = None) -> GcReport:
    """Delete (or with ``dry_run`` only list) unreferenced blobs last written before ``now - older_than``."""
    now = now or dt.datetime.now(dt.UTC)
    store = get_blob_store(settings)
    keys, hashes = _references(settings)
    report = GcReport(dry_run=dry_run)
    for key, modified in store.list():
        report.examined += 1
        if on_blob:
            on_blob()
        original = _ORIGINAL.match(key)
        if key in keys or (original and original.group(1) in hashes):
            report.referenced += 1
        elif now - modified < older_than:
            report.kept_recent += 1
        else:
            if not dry_run:
                store.delete(key)
            report.deleted.append(key)
    return report
