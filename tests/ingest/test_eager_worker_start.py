"""Eager mode: the ingest job of an API worker that died (OOM, gunicorn's timeout) is run again by the worker
gunicorn starts in its place (``backend.wsgi``), not only by ``prism jobs recover``."""
from __future__ import annotations

import importlib
import sys

from .test_stuck_jobs import killed_mid_job  # noqa: F401 - the fixture


def test_a_starting_worker_redrives_the_job_of_a_dead_one(killed_mid_job):  # noqa: F811
    from backend.ingest.jobs import get_job, redrive_orphaned_at_start

    settings, pipe, job_id = killed_mid_job
    thread = redrive_orphaned_at_start(settings)
    assert thread is not None
    thread.join(timeout=300)
    assert not thread.is_alive()
    job = get_job(job_id, settings)
    assert job["status"] == "done" and job["outcome"] == "ingested" and job["attempts"] == 2, job
    assert {d.split("-F")[0] for d in pipe.backend.docs} == {"USD0999301"}
    assert not list(settings.resolved_blob_dir.glob("uploads/*/*"))    # the staged upload was collected


def test_the_wsgi_module_starts_the_redrive(make_settings, monkeypatch):
    from backend.cli_db import upgrade_database
    from backend.ingest import jobs

    settings = make_settings(task_mode="eager")
    upgrade_database(settings.resolved_database_url)
    started = []
    monkeypatch.setattr(jobs, "redrive_orphaned_at_start", lambda s: started.append(s.task_mode))
    monkeypatch.delitem(sys.modules, "backend.wsgi", raising=False)
    importlib.import_module("backend.wsgi")
    monkeypatch.delitem(sys.modules, "backend.wsgi", raising=False)
    assert started == ["eager"]


def test_celery_mode_leaves_it_to_the_celery_workers(make_settings):
    from backend.ingest.jobs import redrive_orphaned_at_start

    assert redrive_orphaned_at_start(make_settings(task_mode="celery")) is None
