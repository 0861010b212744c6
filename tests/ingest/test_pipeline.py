import json
from pathlib import Path

from sqlalchemy import func, select

from backend.db.models import Figure, IngestJob, JobStatus, Patent
from backend.db.session import session_scope
from backend.ingest.bulk import ingest_paths
from backend.ingest.jobs import list_jobs, retry_job

from .helpers import write_patent_folder


def _count(settings, model):
    with session_scope(settings.resolved_database_url) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_ingest_then_reingest_replaces(fake_pipeline, tmp_path):
    settings, pipe = fake_pipeline
    write_patent_folder(tmp_path / "data", "D0999001", "Chair", figures=3, seed=1)
    write_patent_folder(tmp_path / "data", "D0999002", "Lamp", figures=2, seed=2)
    first = ingest_paths([tmp_path / "data"], settings, progress=False)
    assert (first.ingested, first.updated, first.failed, first.skipped, first.figures) == (2, 0, 0, 0, 5)
    docs = pipe.backend.docs
    assert sorted(docs) == ["USD0999001-F1", "USD0999001-F2", "USD0999001-F3", "USD0999002-F1", "USD0999002-F2"]
    d = docs["USD0999001-F1"]
    assert d["viewpoint"] == "front left perspective" and d["object_name"] == "chair" and d["locarno"] == ["06-01"]
    # caption text vectors only when asked for (PRISM_INGEST_CAPTION_VECTORS): no search reads them by default
    assert len(d["image_vector"]) == 16 and d["text_vector"] is None and len(d["captions"]) >= 3
    assert pipe.encoder.text_calls == 0
    assert d["image_key"].startswith("figures/") and (settings.resolved_blob_dir / d["thumb_key"]).is_file()
    seqs_before = {p: docs[f"{p}-F1"]["ingest_seq"] for p in ("USD0999001", "USD0999002")}
    assert sorted(seqs_before.values()) == [1, 2]

    # the chair gets one figure fewer: re-ingest replaces rows and documents, never duplicates
    write_patent_folder(tmp_path / "again", "D0999001", "Chair", figures=2, seed=1)
    second = ingest_paths([tmp_path / "again"], settings, progress=False)
    assert (second.ingested, second.updated) == (0, 1)
    assert "USD0999001-F3" not in docs and docs["USD0999001-F1"]["ingest_seq"] == 3
    assert _count(settings, Patent) == 2 and _count(settings, Figure) == 4
    with session_scope(settings.resolved_database_url) as s:
        assert s.scalar(select(Patent.ingest_seq).where(Patent.publication_number == "USD0999001")) == 3


def test_bad_image_fails_the_job_with_the_reason_and_retry_works(fake_pipeline, tmp_path):
    settings, pipe = fake_pipeline
    folder = write_patent_folder(tmp_path / "data", "D0999003", "Vase", figures=2)
    good = (folder / "USD0999003-20210105-D00002.TIF").read_bytes()
    (folder / "USD0999003-20210105-D00002.TIF").write_bytes(b"garbage, not a tiff")
    summary = ingest_paths([folder], settings, progress=False)
    assert summary.failed == 1 and "D00002.TIF: not a readable image" in summary.failures[0][1]
    assert _count(settings, Patent) == 0 and not pipe.backend.docs     # nothing half-written
    failed = list_jobs(settings, status="failed")
    assert failed["total"] == 1 and "not a readable image" in failed["items"][0]["last_error"]
    job_id = failed["items"][0]["job_id"]

    (folder / "USD0999003-20210105-D00002.TIF").write_bytes(good)
    job = retry_job(job_id, settings)
    assert job["status"] == "done" and job["outcome"] == "ingested" and job["attempts"] == 2
    assert sorted(pipe.backend.docs) == ["USD0999003-F1", "USD0999003-F2"]


def test_summary_counts_skips_and_unreadable_sources(fake_pipeline, tmp_path):
    settings, _pipe = fake_pipeline
    (tmp_path / "old.xml").write_bytes(b'<?xml version="1.0"?>\n<ClaimsDocument/>')   # XML4IP part: skipped
    (tmp_path / "bad.jsonl").write_text(json.dumps({"title": "no number"}) + "\n")
    summary = ingest_paths([tmp_path / "old.xml", tmp_path / "bad.jsonl", tmp_path / "nope.xml"], settings,
                           progress=False)
    assert (summary.ingested, summary.skipped, summary.failed) == (0, 1, 2)
    reasons = " | ".join(r for _, r in summary.failures)
    assert "publication_number: required" in reasons and "no such file" in reasons
    with session_scope(settings.resolved_database_url) as s:
        jobs = {Path(j.source).name: j for j in s.scalars(select(IngestJob))}
        assert sorted(jobs) == ["bad.jsonl:1", "nope.xml"]          # each unreadable source is a failed job
        job = jobs["bad.jsonl:1"]
        assert job.status == JobStatus.failed and "publication_number" in job.last_error
        assert jobs["nope.xml"].status == JobStatus.failed and "no such file" in jobs["nope.xml"].last_error


def test_bulk_ingest_reports_progress_through_a_callback(fake_pipeline, tmp_path):
    """Each finished document is reported as (finished, in all, its origin), up to the whole count."""
    settings, _pipe = fake_pipeline
    for i, title in enumerate(("Chair", "Lamp", "Table")):
        write_patent_folder(tmp_path / "data", f"D099900{i + 1}", title, figures=1, seed=i)
    calls: list[tuple[int, int, str]] = []
    summary = ingest_paths([tmp_path / "data"], settings, progress=lambda *call: calls.append(call))
    assert summary.ingested == 3
    assert [c[:2] for c in calls][-1] == (3, 3) and all(total == 3 for _done, total, _o in calls)
    assert [done for done, _t, _o in calls] == sorted(done for done, _t, _o in calls)
    assert all("D09990" in origin for _d, _t, origin in calls)
