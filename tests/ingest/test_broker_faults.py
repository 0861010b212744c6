"""A Celery ingest survives a worker killed mid-job and a Redis restart that loses
the queue. Real services: a Redis server of the test's own on a free loopback port (restarted here, so
the shared one is never touched), PostgreSQL, real ``celery worker`` processes and the real encoder."""
from __future__ import annotations

import socket
import subprocess
import time

import pytest
import redis
from sqlalchemy import func, select

from backend import devservices
from backend.cli_db import upgrade_database
from backend.db.models import Figure, IngestJob, Patent
from backend.db.session import session_scope
from tests.conftest import WorkerProcess, settings_env

from .helpers import write_patent_folder

pytestmark = [pytest.mark.services, pytest.mark.slow]

PATENTS = 10


class OwnRedis:
    """redis-server on a free 127.0.0.1 port, with (``aof``) or without persistence, killable."""

    def __init__(self, workdir, aof: bool):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        workdir.mkdir(parents=True, exist_ok=True)
        self.cmd = devservices.redis_command(self.port, workdir, daemonize=False)
        if not aof:
            self.cmd[self.cmd.index("--appendonly") + 1] = "no"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> OwnRedis:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not devservices.redis_ready(self.url):
            assert time.monotonic() < deadline and self.proc.poll() is None, "own redis-server did not start"
            time.sleep(0.1)
        return self

    def crash(self) -> None:
        """SIGKILL: what a machine or container restart does to it."""
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.crash()


@pytest.fixture
def own_redis(tmp_path):
    started = []

    def _start(aof: bool) -> OwnRedis:
        server = OwnRedis(tmp_path / "redis", aof).start()
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


def _setup(make_settings, pg_database, tmp_path, broker_url):
    settings = make_settings(task_mode="celery", redis_url=broker_url, database_url=pg_database,
                             search_backend="embedded", embed_batch_size=8, job_enqueue_grace_s=0.5)
    upgrade_database(pg_database)
    folders = [write_patent_folder(tmp_path / "corpus", f"D09994{i:02d}", f"Chair {i}", figures=2, seed=40 + i)
               for i in range(PATENTS)]
    return settings, folders


def _statuses(settings) -> dict[str, str]:
    with session_scope(settings.resolved_database_url) as s:
        return {j.id: j.status.value for j in s.scalars(select(IngestJob))}


def test_with_an_append_only_file_a_redis_crash_keeps_the_queue(make_settings, pg_database, tmp_path, own_redis):
    from backend.ingest.bulk import ingest_paths
    from backend.ingest.reconcile import broker_job_ids

    server = own_redis(aof=True)
    settings, folders = _setup(make_settings, pg_database, tmp_path, server.url)
    queued = ingest_paths(folders, settings, wait=False, progress=False)
    assert len(queued.job_ids) == PATENTS
    time.sleep(1.5)                                   # appendfsync everysec
    server.crash()
    server.start()
    assert set(queued.job_ids) <= broker_job_ids(settings)


def test_worker_killed_and_redis_restarted_mid_ingest_every_job_completes_once(make_settings, pg_database, tmp_path,
                                                                              own_redis):
    from backend.ingest.bulk import ingest_paths, wait_for_jobs
    from backend.ingest.reconcile import broker_job_ids
    from backend.search import get_backend

    server = own_redis(aof=False)                     # as `prism services up` ran it before: no persistence
    settings, folders = _setup(make_settings, pg_database, tmp_path, server.url)
    queued = ingest_paths(folders, settings, wait=False, progress=False)
    job_ids = queued.job_ids
    env = settings_env(settings)

    first = WorkerProcess(env, tmp_path / "worker1.log", queues="ingest")
    try:
        first.start()
        deadline = time.monotonic() + 300
        while "done" not in _statuses(settings).values():
            assert time.monotonic() < deadline, first.log.read_text()[-3000:]
            time.sleep(0.05)
        first.kill(9)                                     # mid-batch: no ack, no clean-up
    finally:
        first.stop()
    server.crash()                                        # the queue and the unacknowledged messages are gone
    server.start()
    statuses = _statuses(settings)
    unfinished = [j for j in job_ids if statuses[j] != "done"]
    assert unfinished, "the first worker finished everything before it was killed"
    assert not set(unfinished) & broker_job_ids(settings)   # lost: before the fix they stayed queued for ever
    print(f"\nafter the kill and the Redis crash: {len(job_ids) - len(unfinished)} done, "
          f"{sum(statuses[j] == 'running' for j in unfinished)} running, "
          f"{sum(statuses[j] == 'queued' for j in unfinished)} queued with no message")

    second = WorkerProcess(env, tmp_path / "worker2.log", queues="ingest")   # its start re-drives them
    try:
        second.start()
        wait_for_jobs(job_ids, settings, timeout_s=600)
    finally:
        second.stop()
    statuses = _statuses(settings)
    assert all(statuses[j] == "done" for j in job_ids), statuses
    with session_scope(settings.resolved_database_url) as s:
        per_patent = dict(s.execute(select(Patent.publication_number, func.count(Figure.id)).join(Figure)
                                    .group_by(Patent.publication_number)).all())
        outcomes = s.scalars(select(IngestJob.outcome)).all()
    assert len(per_patent) == PATENTS and set(per_patent.values()) == {2}
    assert set(outcomes) == {"ingested"}                  # a redone job is still a first ingest
    backend = get_backend(settings)
    for pub in per_patent:
        ids = [d["figure_id"] for d in backend.get_patent_figures(pub)]
        assert sorted(ids) == [f"{pub}-F1", f"{pub}-F2"], ids     # every figure indexed exactly once
    assert "re-driving" in second.log.read_text(errors="replace")
    redis.Redis.from_url(server.url).flushall()
