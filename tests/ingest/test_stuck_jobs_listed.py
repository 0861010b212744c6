"""``GET /jobs`` (and ``prism jobs list``) shows which jobs are stuck - queued or running with no
live owner, by the reconciler's rule - and why; ``?status=stuck`` lists only those. Against the real
services in celery mode: PostgreSQL holds the jobs, the Redis broker's ingest queue is read."""
from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.services


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)
    return proc.pid


def test_jobs_list_marks_the_stuck_ones_with_their_reason(make_settings, pg_database, redis_db_url):
    from backend.app import create_app
    from backend.cli_db import upgrade_database
    from backend.db.models import JobStatus
    from backend.db.session import session_scope
    from backend.ingest import runners
    from backend.ingest.pipeline import new_job
    from backend.ingest.reconcile import this_process

    settings = make_settings(task_mode="celery", redis_url=redis_db_url, database_url=pg_database,
                             job_enqueue_grace_s=0)
    upgrade_database(pg_database)
    dead = _dead_pid()
    with session_scope(settings.resolved_database_url) as session:
        lost = new_job(session, {"format": "record", "record": {}}, "lost with the broker")
        waiting = new_job(session, {"format": "record", "record": {}}, "waiting in the queue")
        orphan = new_job(session, {"format": "record", "record": {}}, "its worker died")
        orphan.status, orphan.payload = JobStatus.running, {**orphan.payload, "worker": {**this_process(),
                                                                                          "pid": dead}}
        alive = new_job(session, {"format": "record", "record": {}}, "its worker is alive")
        alive.status, alive.payload = JobStatus.running, {**alive.payload, "worker": this_process()}
        done = new_job(session, {"format": "record", "record": {}}, "finished")
        done.status = JobStatus.done
        ids = {name: job.id for name, job in (("lost", lost), ("waiting", waiting), ("orphan", orphan),
                                               ("alive", alive), ("done", done))}
    runners.enqueue([ids["waiting"]], settings)     # a real message in Redis; no worker takes it here

    client = create_app(settings).test_client()
    resp = client.get("/jobs")
    assert resp.status_code == 200, resp.json
    by_id = {item["job_id"]: item for item in resp.json["items"]}
    stuck = {name for name, job_id in ids.items() if by_id[job_id]["stuck"]}
    assert stuck == {"lost", "orphan"}
    assert by_id[ids["lost"]]["stuck_reason"] == "no broker message carries it (lost with the broker)"
    assert by_id[ids["orphan"]]["stuck_reason"].startswith(f"its process {dead} on ")
    assert all(by_id[ids[n]]["stuck_reason"] is None for n in ("waiting", "alive", "done"))

    only = client.get("/jobs?status=stuck").json
    assert only["total"] == 2 and {i["job_id"] for i in only["items"]} == {ids["lost"], ids["orphan"]}
    one = client.get(f"/jobs/{ids['lost']}").json
    assert one["stuck"] is True and one["status"] == "queued"
    bad = client.get("/jobs?status=wedged")
    assert bad.status_code in (400, 422) and bad.content_type == "application/problem+json"

    from backend.cli import _register, cli

    _register()
    out = CliRunner().invoke(cli, ["jobs", "list", "--status", "stuck"])
    assert out.exit_code == 0, out.output
    assert f"{ids['lost']} queued STUCK (no broker message carries it" in out.output
    assert f"{ids['orphan']} running STUCK (its process {dead}" in out.output and "2 of 2 jobs" in out.output

    # a retry puts the lost job back in the broker: no longer stuck
    assert client.post(f"/jobs/{ids['lost']}/retry").status_code == 202
    again = client.get(f"/jobs/{ids['lost']}").json
    assert again["status"] == "queued" and again["stuck"] is False
