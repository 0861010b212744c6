"""Issue 15: ``backend/`` never imports ``workers/`` (it enqueues through backend/task_queue.py), and the
monitoring runner and dispatcher do not import each other."""
from __future__ import annotations

import ast

from backend.settings import REPO_ROOT


def _imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_backend_never_imports_workers():
    offenders = {str(p.relative_to(REPO_ROOT)): sorted(n for n in _imports(p) if n.split(".")[0] == "workers")
                 for p in (REPO_ROOT / "backend").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_runner_and_dispatch_do_not_import_each_other():
    monitoring = REPO_ROOT / "backend" / "monitoring"
    assert "backend.monitoring.runner" not in _imports(monitoring / "dispatch.py")


def test_the_worker_app_routes_what_the_port_sends():
    from backend import task_queue
    from workers.celery_app import app

    app.loader.import_default_modules()
    for name in (task_queue.INGEST_PROCESS, task_queue.JOBS_RECONCILE, task_queue.WATCHES_CHECK_NEW,
                 task_queue.WEBHOOKS_DELIVER):
        assert name in app.tasks, name
    assert task_queue.queue_for(task_queue.INGEST_PROCESS) == "ingest"
    assert task_queue.queue_for(task_queue.WATCHES_CHECK_NEW) == "watches"
    assert task_queue.queue_for(task_queue.WEBHOOKS_DELIVER) == "default"
    assert task_queue.queue_for(task_queue.JOBS_RECONCILE) == "default"
    beat = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert task_queue.JOBS_RECONCILE in beat
