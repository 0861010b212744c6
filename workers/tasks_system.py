"""System tasks: a ping used by readiness checks and the foundation tests."""
from __future__ import annotations

import os
import socket

from workers.celery_app import app


@app.task(name="prism.system.ping")
def ping(payload: str = "") -> dict:
    """Answer with who ran it: proves a real worker process consumed the message."""
    return {"pong": payload, "pid": os.getpid(), "host": socket.gethostname()}
