"""Bad members of a weekly archive: XML that is not well-formed, XML without the
bibliography it must have, a drawing sheet that will not decode. Each fails its own document with the
reason in the job and the summary; nothing of it is stored or indexed; the rest of the archive ingests.
(Corrupt ZIPs and truncated tars: test_weekly_tar.py; encrypted and over-long PDFs: test_scanned_pdf.py.)"""
from __future__ import annotations

import io
import re
import tarfile
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.db.models import IngestJob, JobStatus, Patent
from backend.db.session import session_scope
from backend.ingest.bulk import ingest_paths

from .conftest import faked_pipeline

GRANTS = "uspto_grants_2025"


def _zip_bytes(source: Path, change: dict[str, bytes | None]) -> bytes:
    """``source`` with members replaced (bytes) or, for a name ending in ``.XML``, the XML changed."""
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            for suffix, new in change.items():
                if name.endswith(suffix):
                    data = new(data) if callable(new) else new
            zout.writestr(name, data)
    return out.getvalue()


def _zip(shared_data: Path, number: str) -> Path:
    path = shared_data / GRANTS / f"{number}-20251021.ZIP"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def test_bad_members_fail_alone_and_leave_nothing_behind(make_settings, shared_data, tmp_path):
    good = [_zip(shared_data, n) for n in ("US12448385", "US12448730")]
    members = {
        # cut in the bibliography: not well-formed, and not readable in recovery mode either
        "US12448135": _zip_bytes(_zip(shared_data, "US12448135"), {".XML": lambda d: d[:d.find(b"<us-bibliographic")]
                                                                    + b"<us-bibliographic-data-grant><publ"}),
        # well-formed, but without the publication number the grant XML must have
        "US12448527": _zip_bytes(_zip(shared_data, "US12448527"), {
            ".XML": lambda d: re.sub(rb"<publication-reference>.*?</publication-reference>", b"", d, count=1,
                                     flags=re.S)}),
        # a drawing sheet cut short: it will not decode
        "US12448402": _zip_bytes(_zip(shared_data, "US12448402"), {"-D00001.TIF": lambda d: d[:300]}),
    }
    tar = tmp_path / "I20251021.tar"
    with tarfile.open(tar, "w") as tf:
        for z in good:
            tf.add(z, arcname=f"20251021/UTIL0448/{z.name}")
        for number, data in members.items():
            info = tarfile.TarInfo(f"20251021/UTIL0448/{number}-20251021.ZIP")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with faked_pipeline(make_settings, embed_batch_size=8) as (settings, pipe):
        summary = ingest_paths([tar], settings, progress=False)
        assert (summary.ingested, summary.failed, summary.skipped) == (2, 3, 0), summary.failures
        reasons = {origin.rsplit("/", 1)[-1].split("-")[0]: why for origin, why in summary.failures}
        assert "malformed XML" in reasons["US12448135"]
        assert "no publication-reference/document-id/doc-number" in reasons["US12448527"]
        assert "US12448402-20251021-D00001.TIF" in reasons["US12448402"]
        assert re.search(r"corrupt|truncated|damaged|not a readable image", reasons["US12448402"])
        with session_scope(settings.resolved_database_url) as s:
            assert sorted(p.publication_number for p in s.scalars(select(Patent))) == ["US12448385B2",
                                                                                       "US12448730B2"]
            failed = list(s.scalars(select(IngestJob).where(IngestJob.status == JobStatus.failed)))
            assert len(failed) == 3 and all(j.last_error for j in failed)
        assert {d["publication_number"] for d in pipe.backend.docs.values()} == {"US12448385B2", "US12448730B2"}
