"""A server process never loads the trainer: importing the API app, the WSGI module's pieces and the search
service, and building the app, leaves ``backend.training`` and the training-only libraries out of
``sys.modules``. Checked in a fresh interpreter (this test process has imported everything already);
tests/foundation/test_layering.py reads the same rule off the import statements."""
from __future__ import annotations

import json
import subprocess
import sys

from backend.settings import REPO_ROOT

#: what only the trainer and the benches load: the training package, plots, report tables, statistics
TRAINING_ONLY = ("backend.training", "matplotlib", "rich", "scipy.stats", "open_clip_train")

PROBE = """
import json, sys
import backend.app, backend.search.service, backend.warmup
import backend.model.encoder, backend.model.line_descriptors
backend.app.create_app()
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_by_a_server() -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_api_app_and_the_search_service_do_not_load_the_trainer():
    modules = _loaded_by_a_server()
    assert "backend.model.encoder" in modules and "backend.search.service" in modules   # the probe ran
    loaded = sorted(m for m in modules if any(m == t or m.startswith(t + ".") for t in TRAINING_ONLY))
    assert loaded == []
