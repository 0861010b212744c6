"""Ingest jobs left queued or running with no live owner are re-driven (the
reconciler: worker start, beat, ``prism jobs recover``) and ``POST /jobs/<id>/retry`` accepts them.

Eager mode here: a real process running ``POST /documents`` in-process is killed with SIGKILL in the
middle of its job (as an OOM kill or gunicorn's timeout would). The Celery side (a worker killed, Redis
restarted without persistence) is in test_broker_faults.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from backend.app import create_app
from backend.settings import REPO_ROOT
from tests.conftest import settings_env

from .test_api import META

KILLED_PROCESS = r"""
import json, sys, time
from pathlib import Path
from backend.settings import get_settings
from backend.ingest import runners, upload
from backend.ingest.pipeline import Pipeline
from tests.ingest.helpers import FakeBackend, FakeEncoder, image_bytes

marker = Path(sys.argv[1])

class Stuck(FakeEncoder):
    def encode_images(self, images):   # the job is running: parsed, rendered, staged; then the process dies
        marker.write_text("embedding")
        time.sleep(600)

settings = get_settings()
pipe = Pipeline(settings, encoder=Stuck(), backend=FakeBackend())
runners.get_pipeline = lambda s: pipe
upload.submit_document(sys.argv[2], [("f1.png", image_bytes("PNG")), ("f2.tif", image_bytes("TIFF", seed=3))],
                       settings)
"""


def _job(settings):
    from backend.ingest.jobs import list_jobs

    (job,) = list_jobs(settings)["items"]
    return job


@pytest.fixture
def killed_mid_job(fake_pipeline, tmp_path):
    """(settings, pipe, job_id): a job whose process was SIGKILLed while it ran, its upload still staged."""
    settings, pipe = fake_pipeline
    marker = tmp_path / "embedding"
    env = {**os.environ, **settings_env(settings), "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_PROCESS, str(marker),
                             json.dumps({**META, "publication_number": "USD0999301"})],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the job never reached the encoder"
            time.sleep(0.05)
        job = _job(settings)
        assert job["status"] == "running"
        # while its process lives, the job is not stuck: neither retried nor re-driven
        from backend.errors import ProblemError
        from backend.ingest.jobs import retry_job
        from backend.ingest.reconcile import reconcile

        assert reconcile(settings, dry_run=True).stale == []
        with pytest.raises(ProblemError, match="its owner is alive") as exc:
            retry_job(job["job_id"], settings)
        assert exc.value.status == 409
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert _job(settings)["status"] == "running"                      # stuck: nobody will finish it
    assert len(list(settings.resolved_blob_dir.glob("uploads/*/*"))) == 2
    return settings, pipe, job["job_id"]


def _finished_cleanly(settings, pipe, job_id):
    from backend.ingest.jobs import get_job

    job = get_job(job_id, settings)
    assert job["status"] == "done" and job["outcome"] == "ingested" and job["attempts"] == 2, job
    assert sorted(pipe.backend.docs) == ["USD0999301-F1", "USD0999301-F2"]
    assert not list(settings.resolved_blob_dir.glob("uploads/*/*"))    # the staged upload was collected


def test_prism_jobs_recover_redrives_a_job_whose_process_died(killed_mid_job):
    from backend.cli import _register, cli

    settings, pipe, job_id = killed_mid_job
    _register()
    dry = CliRunner().invoke(cli, ["jobs", "recover", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"{job_id} running: its process" in dry.output and "would re-drive 1" in dry.output
    result = CliRunner().invoke(cli, ["jobs", "recover"])
    assert result.exit_code == 0 and "re-drove 1" in result.output, result.output
    _finished_cleanly(settings, pipe, job_id)
    again = CliRunner().invoke(cli, ["jobs", "recover"])           # idempotent: nothing left to do
    assert "0 stuck, re-drove 0" in again.output


def test_retry_accepts_a_stuck_job(killed_mid_job):
    settings, pipe, job_id = killed_mid_job
    client = create_app(settings).test_client()
    resp = client.post(f"/jobs/{job_id}/retry")
    assert resp.status_code == 202, resp.json
    _finished_cleanly(settings, pipe, job_id)
    assert client.post(f"/jobs/{job_id}/retry").status_code == 409   # done jobs are not retried


def test_a_queued_job_without_an_owner_is_stuck_only_after_the_stale_time(fake_pipeline):
    """A job created by another host's process (or with no owner recorded) waits its turn until
    PRISM_JOB_STALE_AFTER_S has passed."""
    import datetime as dt

    from backend.db.models import IngestJob
    from backend.db.session import session_scope
    from backend.ingest.pipeline import new_job
    from backend.ingest.reconcile import find_stale

    settings, _ = fake_pipeline
    with session_scope(settings.resolved_database_url) as session:
        job = new_job(session, {"format": "record", "record": {}}, "test")
        job.payload = {**job.payload, "worker": {"host": "another-host", "pid": 1}}
        job_id = job.id
    now = dt.datetime.now(dt.UTC)
    assert find_stale(settings, now=now) == []
    later = now + dt.timedelta(seconds=settings.job_stale_after_s + 1)
    (stale,) = find_stale(settings, now=later)
    assert stale.job_id == job_id and "no news from another-host" in stale.why
    with session_scope(settings.resolved_database_url) as session:
        session.get(IngestJob, job_id).payload = {}
    (stale,) = find_stale(settings, now=later)
    assert "queued for" in stale.why and "with no owner" in stale.why
