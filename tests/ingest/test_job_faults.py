"""Two uploads of the same drawing in flight at once; the outcome of a patent
whose first attempt was stored but not indexed (an Elasticsearch outage)."""
from __future__ import annotations

import json

from backend.ingest import bulk, runners, upload
from backend.ingest import jobs as ingest_jobs

from .helpers import image_bytes
from .test_api import META


def _submit(settings, number: str):
    meta = {**META, "publication_number": number}
    files = [("f1.png", image_bytes("PNG")), ("f2.tif", image_bytes("TIFF", seed=3))]   # same bytes each time
    return upload.submit_document(json.dumps(meta), files, settings)


def test_two_uploads_of_the_same_drawing_in_flight_both_succeed(fake_pipeline, monkeypatch):
    settings, pipe = fake_pipeline
    queued: list[str] = []
    # as in celery mode: both requests are answered (jobs queued) before a worker runs either job
    monkeypatch.setattr(upload, "start_jobs", lambda job_ids, _settings: queued.extend(job_ids))
    first, second = _submit(settings, "USD0999101"), _submit(settings, "USD0999102")
    assert first["status"] == second["status"] == "queued"
    # each job has its own staged copy of the shared drawing bytes
    assert len(list(settings.resolved_blob_dir.glob("uploads/*/*"))) == 4

    for job_id in queued:   # the first job's clean-up must not take the second job's input away
        runners.process_jobs([job_id], settings)
    jobs = [ingest_jobs.get_job(j, settings) for j in queued]
    assert [j["status"] for j in jobs] == ["done", "done"], [j["last_error"] for j in jobs]
    assert sorted(pipe.backend.docs) == ["USD0999101-F1", "USD0999101-F2", "USD0999102-F1", "USD0999102-F2"]
    assert not list(settings.resolved_blob_dir.glob("uploads/*/*"))   # both staged copies collected


def test_a_failed_request_removes_only_its_own_staged_copies(fake_pipeline, monkeypatch):
    settings, _ = fake_pipeline
    monkeypatch.setattr(upload, "start_jobs", lambda job_ids, _settings: None)
    _submit(settings, "USD0999103")
    staged = set(settings.resolved_blob_dir.glob("uploads/*/*"))

    def broken_new_job(*_a, **_k):
        raise RuntimeError("database went away")

    monkeypatch.setattr(upload, "new_job", broken_new_job)
    try:
        _submit(settings, "USD0999104")
    except RuntimeError:
        pass
    assert set(settings.resolved_blob_dir.glob("uploads/*/*")) == staged   # the first job's input is intact


class FlakyBackend:
    """The fake backend, unreachable for the first ``outages`` index calls (an Elasticsearch outage)."""

    def __init__(self, inner, outages: int = 1):
        self.inner, self.outages = inner, outages

    def index_figures(self, docs):
        if self.outages:
            self.outages -= 1
            import elasticsearch

            raise elasticsearch.ConnectionError("connection refused (test outage)")
        return self.inner.index_figures(docs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_new_patent_stored_before_an_es_outage_is_reported_ingested(fake_pipeline):
    settings, pipe = fake_pipeline
    inner = pipe.backend
    pipe._backend = FlakyBackend(inner)
    job = upload.submit_document(json.dumps({**META, "publication_number": "USD0999105"}),
                                  [("f1.png", image_bytes("PNG")), ("f2.tif", image_bytes("TIFF", seed=3))],
                                  settings)
    # eager mode retried after the outage: the patent row was committed by the first attempt
    assert job["status"] == "done" and job["attempts"] == 2
    assert job["outcome"] == "ingested"
    assert sorted(inner.docs) == ["USD0999105-F1", "USD0999105-F2"]
    # a real second ingest of the same patent (another drawing) is still an update
    again = upload.submit_document(json.dumps({**META, "publication_number": "USD0999105"}),
                                    [("f1.png", image_bytes("PNG")), ("f2.tif", image_bytes("TIFF", seed=4))],
                                    settings)
    assert again["outcome"] == "updated"


def test_bulk_ingest_summary_after_an_es_outage(fake_pipeline, tmp_path):
    from .helpers import write_patent_folder

    settings, pipe = fake_pipeline
    pipe._backend = FlakyBackend(pipe.backend)
    write_patent_folder(tmp_path / "data", "D0999106", "Chair", figures=2, seed=6)
    summary = bulk.ingest_paths([tmp_path / "data"], settings, progress=False)
    assert (summary.ingested, summary.updated, summary.failed) == (1, 0, 0), summary.failures
