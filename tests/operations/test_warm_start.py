"""Warm start (backend/warmup.py): a server process loads its models when it starts; /readyz says
"warming" until they are in, and the first search after ready does not load them."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time

import pytest
import requests

from backend import warmup
from backend.cli_db import upgrade_database
from tests.conftest import REPO_ROOT, settings_env


@pytest.fixture
def fresh_state():
    warmup._set(status="cold")
    yield
    warmup._set(status="cold")


def test_readyz_says_warming_until_the_models_are_in(client, fresh_state, monkeypatch):
    assert "models" not in client.get("/readyz").json["checks"]   # no warm-up started: loads on first use
    release = threading.Event()
    monkeypatch.setattr(warmup, "warm_up", lambda settings, pipeline=None, search=False: release.wait(30) and
                        {"drawing_encoder": "enc@1", "seconds": 0.1})
    thread = warmup.start_background(object())
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["status"] == "warming"
    assert resp.json["checks"]["models"] == {"ok": False, "status": "warming", "error": "models loading"}
    release.set()
    thread.join(30)
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.json["status"] == "ok"
    assert resp.json["checks"]["models"]["info"]["drawing_encoder"] == "enc@1"


def test_a_failed_warm_up_is_degraded_with_the_reason(client, fresh_state, monkeypatch):
    def broken(settings, pipeline=None, search=False):
        raise FileNotFoundError("prism-draw.pt")

    monkeypatch.setattr(warmup, "warm_up", broken)
    warmup.start_background(object()).join(30)
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["status"] == "degraded"
    assert "FileNotFoundError: prism-draw.pt" in resp.json["checks"]["models"]["error"]


def _drawing_png() -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("L", (400, 500), 255)
    draw = ImageDraw.Draw(im)
    draw.rectangle([100, 120, 300, 380], outline=0, width=4)
    draw.line([100, 120, 300, 380], fill=0, width=3)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _search(base: str) -> float:
    started = time.perf_counter()
    resp = requests.post(f"{base}/search", files={"image": ("q.png", _drawing_png(), "image/png")},
                         data={"request": json.dumps({"text": "chair with armrests", "size": 5})}, timeout=120)
    assert resp.status_code == 200, resp.text[:500]
    return time.perf_counter() - started


def test_gunicorn_worker_is_ready_with_its_models_and_the_first_search_loads_none(make_settings, tmp_path,
                                                                                 free_tcp_port):
    """The default model in a real gunicorn worker: /readyz is 503 "warming" until the drawing encoder and
    MiniLM are loaded, then 200; the first search (drawing + words) then answers in about the time of the
    second (loading the models inside it took 17-24 s)."""
    settings = make_settings()
    upgrade_database(settings.resolved_database_url)
    env = {**settings_env(settings), "PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"}
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "1", "--timeout", "300", "--bind",
                                 f"127.0.0.1:{free_tcp_port}", "backend.wsgi:app"], cwd=REPO_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{free_tcp_port}"
    try:
        deadline = time.monotonic() + 600
        statuses = []
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                resp = requests.get(f"{base}/readyz", timeout=30)
            except requests.ConnectionError:
                time.sleep(0.3)
                continue
            statuses.append(resp.json()["status"])
            if resp.status_code == 200:
                break
            assert resp.json()["status"] == "warming", resp.json()
            time.sleep(0.3)
        models = resp.json()["checks"]["models"]["info"]
        assert models["drawing_encoder"].startswith("prism-draw@") and models["dense_text"]
        first, second = _search(base), _search(base)
        # 1 s on a quiet machine; a loaded one slows both searches alike, while loading models takes 15 s+
        assert first <= max(1.0, 3 * second), (first, second, statuses)
        text = log.read_text()
        assert "Loading weights" not in text and "LOAD REPORT" not in text and "initialized partially" not in text
    finally:
        proc.terminate()
        proc.wait(timeout=60)
