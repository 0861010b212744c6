"""``prism serve``: warns about an empty or unmigrated data directory, prints the URL and a one-time key, and
serves the API and the UI (a real gunicorn on a free port)."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import requests

from backend.settings import REPO_ROOT

PRISM = [sys.executable, "-m", "backend"]


def _env(data_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRISM_")}
    env.update(PRISM_SEARCH_BACKEND="embedded", PRISM_TASK_MODE="eager")
    return env


def test_check_warns_about_an_empty_unmigrated_data_dir(tmp_path):
    data = tmp_path / "var"
    done = subprocess.run([*PRISM, "serve", "--data-dir", str(data), "--check"], cwd=REPO_ROOT, env=_env(data),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "is not migrated" in done.stderr and "prism serve --migrate" in done.stderr
    assert "no patents are indexed" in done.stderr and "prism ingest" in done.stderr
    assert "Prism UI: http://127.0.0.1:8000/" in done.stdout
    assert "API key for the UI" not in done.stdout, "no key can be kept in an unmigrated database"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_prints_the_url_and_a_one_time_key_and_serves_the_ui(tmp_path):
    data, port = tmp_path / "var", _free_port()
    server = subprocess.Popen([*PRISM, "serve", "--data-dir", str(data), "--migrate", "--port", str(port)],
                              cwd=REPO_ROOT, env=_env(data), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        lines = []
        while not any("API key for the UI" in line for line in lines):
            line = server.stdout.readline()
            assert line, f"prism serve ended: {server.stderr.read()}"
            lines.append(line)
        out = "".join(lines)
        assert f"Prism UI: http://127.0.0.1:{port}/" in out
        key = re.search(r"(prism_\w+_[\w-]+)", out).group(1)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                page = requests.get(base + "/", timeout=60)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.5)
        assert page.status_code == 200 and "Prism" in page.text
        assert requests.get(base + "/watches", timeout=30).status_code == 401
        assert requests.get(base + "/watches", headers={"Authorization": f"Bearer {key}"},
                            timeout=30).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=60)
    again = subprocess.run([*PRISM, "serve", "--data-dir", str(data), "--check"], cwd=REPO_ROOT, env=_env(data),
                           capture_output=True, text=True, timeout=120)
    assert "API key for the UI" not in again.stdout, "the key is made once"
