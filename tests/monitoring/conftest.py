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
