"""Monitoring fixtures: a real ``celery beat`` subprocess (short schedule via settings)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from backend.settings import Settings
from tests.conftest import CeleryProcess, settings_env


class BeatProcess(CeleryProcess):
    """``celery -A workers.celery_app beat`` with its schedule file in a temporary folder."""

    what = "celery beat"
    ready_markers = (b"Sending due task", b"beat: Starting")
    start_timeout_s = 60

    def __init__(self, env: dict[str, str], workdir: Path):
        super().__init__([sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat", "--loglevel=INFO",
                          "-s", str(workdir / "beat-schedule"), "--pidfile", str(workdir / "beat.pid")],
                         env, workdir / "beat.log")

    def sent(self, task: str) -> int:
        return self.log.read_text(errors="replace").count(f"({task})")


@pytest.fixture
def celery_beat_proc(tmp_path):
    """Factory: start a real beat process for the given Settings (set watch_beat_interval_s short)."""
    started: list[BeatProcess] = []

    def _start(settings: Settings) -> BeatProcess:
        workdir = tmp_path / f"beat{len(started)}"
        workdir.mkdir()
        beat = BeatProcess(settings_env(settings), workdir)
        started.append(beat)
        return beat.start()

    yield _start
    for beat in started:
        beat.stop()


@pytest.fixture(autouse=True)
def _loopback_webhooks_allowed(monkeypatch):
    """The monitoring tests' webhook receivers listen on 127.0.0.1, which webhooks may reach only when an
    admin allows it (SSRF protection, backend/monitoring/webhook_targets.py); test_webhook_targets.py
    checks the refusals with an empty allow-list."""
    monkeypatch.setenv("PRISM_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32")
