"""Shared fixtures: real services (started or reused), settings, app, a real Celery worker.

Services are never mocked. If one cannot start the test fails with the reason; the only way to
skip them is the explicit opt-out ``PRISM_TEST_SKIP_SERVICES=1`` (CI never sets it).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from backend import devservices
from backend.settings import REPO_ROOT, SHARED_DATA, Settings, reset_settings_cache

OPT_OUT = os.environ.get("PRISM_TEST_SKIP_SERVICES") == "1"
# reading the FIG. labels on drawing sheets (OCR, 1-2 s a sheet) is for the tests that check it
# (tests/ingest/test_sheet_figures.py turn it on); everywhere else the order maps figures to sheets
os.environ.setdefault("PRISM_INGEST_SHEET_OCR", "false")


def _service(name: str) -> str:
    if OPT_OUT:
        pytest.skip(f"{name}: skipped because PRISM_TEST_SKIP_SERVICES=1")
    try:
        return devservices.SERVICES[name][0]()
    except devservices.ServiceError as exc:
        pytest.fail(f"{name} could not start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def es_url() -> str:
    return _service("es")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _service("redis")


@pytest.fixture(scope="session")
def pg_url() -> str:
    return _service("postgres")


@pytest.fixture(scope="session")
def llm_url() -> str:
    """llama.cpp's OpenAI-compatible server with the packaged SmolLM2 model (``prism services up llm``)."""
    return _service("llm")


@pytest.fixture
def pg_database(pg_url):
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = devservices.ensure_pg_database(name)
    yield url
    from backend.db.session import get_engine

    get_engine(url).dispose()
    devservices.drop_pg_database(name)


@pytest.fixture
def redis_db_url(redis_url):
    """A Redis URL on a randomly chosen, flushed logical DB (1..63)."""
    import random

    import redis

    db = random.randint(1, 63)
    url = redis_url.rsplit("/", 1)[0] + f"/{db}"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment variables that reproduce ``settings`` in a subprocess."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[f"PRISM_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@pytest.fixture
def make_settings(tmp_path, monkeypatch):
    """Build Settings rooted in tmp_path; also exported to os.environ so get_settings() agrees."""

    def _make(**overrides) -> Settings:
        # the class consensus re-orders a vector list by its neighbours' classes: off unless a test asks for
        # it (tests/search/test_class_consensus.py), so kNN tests see the cosine order they check
        base = {"data_dir": tmp_path / "var", "auth_required": False, "search_class_consensus_k": 0}
        base.update(overrides)
        settings = Settings(**base)
        for key, value in settings_env(settings).items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        return settings

    yield _make
    reset_settings_cache()


@pytest.fixture
def app(make_settings):
    from backend.app import create_app
    from backend.cli_db import upgrade_database

    settings = make_settings()
    upgrade_database(settings.resolved_database_url)
    application = create_app(settings)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):
    return app.test_client()


class CeleryProcess:
    """A real ``celery`` subprocess in its own process group, logging to ``log``; ready when ``markers``
    appear in the log. Subclasses set the command."""

    what = "celery"
    ready_markers: tuple[bytes, ...] = ()
    start_timeout_s = 120

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path):
        self.log = log
        self.cmd = cmd
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen | None = None

    def start(self):
        self._fh = open(self.log, "ab")
        self.proc = subprocess.Popen(self.cmd, cwd=REPO_ROOT, env=self.env, stdout=self._fh,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.what} exited early:\n{self.log.read_text()[-3000:]}")
            text = self.log.read_bytes()
            if any(marker in text for marker in self.ready_markers):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"{self.what} not ready after {self.start_timeout_s}s:\n{self.log.read_text()[-3000:]}")

    def kill(self, sig: int = 9) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)

    def stop(self) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        if getattr(self, "_fh", None):
            self._fh.close()


class WorkerProcess(CeleryProcess):
    """A real ``celery worker`` subprocess."""

    what = "celery worker"
    ready_markers = (b"ready.",)

    def __init__(self, env: dict[str, str], log: Path, queues: str = "ingest,watches,default",
                 concurrency: int = 1):
        super().__init__([sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--loglevel=INFO",
                          "-Q", queues, "-c", str(concurrency), "--pool=prefork", "-n", f"w{uuid.uuid4().hex[:6]}@%h"],
                         env, log)


@pytest.fixture
def celery_worker_proc(tmp_path, redis_db_url):
    """Factory: start a real worker for the given Settings (task_mode=celery, broker on redis_db_url)."""
    started: list[WorkerProcess] = []

    def _start(settings: Settings, **kw) -> WorkerProcess:
        worker = WorkerProcess(settings_env(settings), tmp_path / f"worker{len(started)}.log", **kw)
        started.append(worker)
        return worker.start()

    yield _start
    for worker in started:
        worker.stop()


# -- a closing line in the log: how many passed tests really used each service ------------------
_SERVICE_FIXTURES = {"es_url": "Elasticsearch", "redis_url": "Redis", "pg_url": "PostgreSQL",
                     "llm_url": "LLM server",
                     "celery_worker_proc": "Celery worker", "chromium": "Chromium"}
_service_counts: dict[str, int] = {}


def pytest_runtest_logreport(report):
    if report.when != "call" or not report.passed:
        return
    for fixture, label in _SERVICE_FIXTURES.items():
        if fixture in getattr(report, "fixturenames_used", ()):
            _service_counts[label] = _service_counts.get(label, 0) + 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    # static fixture names plus those requested at run time with request.getfixturevalue(...)
    dynamic = getattr(getattr(item, "_request", None), "_fixture_defs", {}) or {}
    outcome.get_result().fixturenames_used = tuple(set(item.fixturenames) | set(dynamic))


def pytest_terminal_summary(terminalreporter):
    if _service_counts:
        parts = ", ".join(f"{label}: {n}" for label, n in sorted(_service_counts.items()))
        terminalreporter.write_line(f"passed tests that used real services — {parts}")
