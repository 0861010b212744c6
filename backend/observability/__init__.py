"""Operating Prism: Prometheus metrics (:mod:`.metrics`), structured logs with request, job and task ids
(:mod:`.logs`), and their hooks in the API (:mod:`.http`) and Celery (:mod:`.tasks`). docs/operations.md."""
from __future__ import annotations

from backend.observability.tasks import connect_publisher

connect_publisher()


def install(app) -> None:
    from backend.observability.http import install as _install

    _install(app)
