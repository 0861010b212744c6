from __future__ import annotations

import contextlib

import pytest

from backend.cli_db import upgrade_database

from .helpers import FakeBackend, FakeEncoder


@contextlib.contextmanager
def faked_pipeline(make_settings, **overrides):
    """Eager settings on SQLite (plus ``overrides``) with the pipeline's encoder and search backend
    replaced by fakes, installed as the runners' pipeline while the block runs."""
    from backend.ingest import runners
    from backend.ingest.pipeline import Pipeline

    settings = make_settings(task_mode="eager", **overrides)
    upgrade_database(settings.resolved_database_url)
    pipe = Pipeline(settings, encoder=FakeEncoder(), backend=FakeBackend())
    original = runners.get_pipeline
    runners.get_pipeline = lambda s: pipe
    try:
        yield settings, pipe
    finally:
        runners.get_pipeline = original


@pytest.fixture
def fake_pipeline(make_settings):
    """Unit level; the real encoder and backends run in test_end_to_end.py."""
    with faked_pipeline(make_settings) as pair:
        yield pair
