"""Multiprocess metrics under a real gunicorn with two workers: whichever worker answers the scrape, the
requests every worker served are counted (PROMETHEUS_MULTIPROC_DIR)."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from backend.cli_db import upgrade_database
from tests.conftest import REPO_ROOT, settings_env
from tests.operations.helpers import samples, total

REQUESTS = 12


@pytest.fixture
def gunicorn(make_settings, tmp_path, free_tcp_port):
    settings = make_settings(log_format="json")
    upgrade_database(settings.resolved_database_url)
    metrics_dir = tmp_path / "metrics"
    env = {**settings_env(settings), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PYTHONUNBUFFERED": "1",
           "PATH": "/usr/bin:/bin"}
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind",
                                 f"127.0.0.1:{free_tcp_port}", "backend.wsgi:app"], cwd=REPO_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{free_tcp_port}"
    try:
        deadline = time.monotonic() + 180
        booted = 0
        while booted < 2:   # both workers imported the app (each writes its files)
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            booted = len({p.name.split("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}) \
                if metrics_dir.is_dir() else 0
            time.sleep(0.5)
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
        yield base, metrics_dir, log
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_every_workers_requests_are_in_the_scrape(gunicorn):
    base, metrics_dir, log = gunicorn
    for _ in range(REQUESTS):   # a new connection each: the workers take turns
        assert requests.get(f"{base}/jobs", headers={"Connection": "close"}, timeout=30).status_code == 200
    scrape = requests.get(f"{base}/metrics", timeout=30)
    assert scrape.status_code == 200
    got = samples(scrape.text)
    assert total(got, "prism_http_requests_total", endpoint="jobs.list_jobs", status="200") == REQUESTS
    assert total(got, "prism_http_request_duration_seconds_count", endpoint="jobs.list_jobs") == REQUESTS
    assert len({p.name.split("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}) >= 2
    # gunicorn's workers log JSON request lines (PRISM_LOG_FORMAT=json)
    assert log.read_text().count('"endpoint": "jobs.list_jobs"') == REQUESTS
