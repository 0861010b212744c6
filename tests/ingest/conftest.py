from __future__ import annotations

import pytest

from backend.cli_db import upgrade_database

from .helpers import FakeBackend, FakeEncoder


@pytest.fixture
def fake_pipeline(make_settings):
    """Eager settings on SQLite with the pipeline's encoder and search backend replaced by fakes
    (unit level; the real encoder and backends run in test_end_to_end.py)."""
    from backend.ingest import service
    from backend.ingest.pipeline import Pipeline

    settings = make_settings(task_mode="eager")
    upgrade_database(settings.resolved_database_url)
    pipe = Pipeline(settings, encoder=FakeEncoder(), backend=FakeBackend())
    original = service.get_pipeline
    service.get_pipeline = lambda s: pipe
    try:
        yield settings, pipe
    finally:
        service.get_pipeline = original
