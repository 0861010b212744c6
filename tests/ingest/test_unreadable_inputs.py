"""Every input that cannot be read is a failed job row (``GET /jobs?status=failed``), not only a line on the
CLI: a manifest line that is not JSON, one that breaks the metadata limits, a broken archive."""
from __future__ import annotations

import json

from backend.app import create_app


def test_malformed_manifest_lines_are_failed_jobs(fake_pipeline, tmp_path):
    from backend.ingest.bulk import ingest_paths

    settings, _ = fake_pipeline
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join([
        "not json",
        '{"publication_number": "US1", "title": "unterminated',
        json.dumps({"publication_number": "US" + "1" * 5000}),
        json.dumps({"publication_number": "US2", "title": "Chair \ud800"}),
    ]) + "\n")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    summary = ingest_paths([path, tmp_path / "broken.zip"], settings, progress=False)
    assert summary.failed == 5, summary.failures
    jobs = create_app(settings).test_client().get("/jobs?status=failed&limit=50").json
    assert jobs["total"] == 5, jobs
    by_source = {j["source"]: j["last_error"] for j in jobs["items"]}
    assert "not JSON" in by_source[f"{path}:1"] and "not JSON" in by_source[f"{path}:2"]
    assert "at most 32" in by_source[f"{path}:3"] and "lone surrogate" in by_source[f"{path}:4"]
    assert "cannot read" in by_source[str(tmp_path / "broken.zip")]
