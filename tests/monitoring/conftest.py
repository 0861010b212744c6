"""Monitoring fixtures: a real ``celery beat`` subprocess (short schedule via settings)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.settings import REPO_ROOT, Settings
from tests.conftest import settings_env


class BeatProcess:
    """``celery -A workers.celery_app beat`` with its schedule file in a temporary folder."""

    def __init__(self, env: dict[str, str], workdir: Path):
        self.log = workdir / "beat.log"
        self.cmd = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat", "--loglevel=INFO",
                    "-s", str(workdir / "beat-schedule"), "--pidfile", str(workdir / "beat.pid")]
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "BeatProcess":
        self._fh = open(self.log, "ab")
        self.proc = subprocess.Popen(self.cmd, cwd=REPO_ROOT, env=self.env, stdout=self._fh,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery beat exited early:\n{self.log.read_text()[-3000:]}")
            if b"Sending due task" in self.log.read_bytes() or b"beat: Starting" in self.log.read_bytes():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"celery beat did not start in 60s:\n{self.log.read_text()[-3000:]}")

    def sent(self, task: str) -> int:
        return self.log.read_text(errors="replace").count(f"({task})")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        if getattr(self, "_fh", None):
            self._fh.close()


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
