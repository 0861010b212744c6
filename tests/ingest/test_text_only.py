"""Text-only patents (no drawings) and ``prism ingest`` into a fresh data dir."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from backend.cli import _register, cli

from .helpers import FakeBackend, FakeEncoder, grant_xml, write_patent_folder


@pytest.fixture
def fresh(make_settings, monkeypatch):
    """Eager settings on a fresh SQLite data dir (never migrated), fake encoder and backend."""
    from backend.ingest import runners
    from backend.ingest.pipeline import Pipeline

    settings = make_settings(task_mode="eager", dense_text_at_ingest=False)
    pipe = Pipeline(settings, encoder=FakeEncoder(), backend=FakeBackend())
    monkeypatch.setattr(runners, "get_pipeline", lambda s: pipe)
    _register()
    return settings, pipe


def test_fresh_data_dir_is_migrated_and_a_text_only_patent_is_one_text_document(fresh, tmp_path):
    settings, pipe = fresh
    text_only = grant_xml("D0999301", "Stool", figures=0)     # no drawing, no described figure
    text_only = re.sub(rb"<drawings.*?</drawings>", b"", text_only, flags=re.S)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "USD0999301-20210105.XML").write_bytes(text_only)
    write_patent_folder(tmp_path / "data", "D0999302", "Bench", figures=2)
    result = CliRunner().invoke(cli, ["ingest", "--quiet", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "migrated the database from an empty database to" in result.output
    assert "Traceback" not in result.output
    assert sorted(pipe.backend.docs) == ["USD0999301-TEXT", "USD0999302-F1", "USD0999302-F2"]
    text = pipe.backend.docs["USD0999301-TEXT"]
    # no invented "FIG. 0": no description, no caption repeating the title, no image, no vectors
    assert text["figure_number"] == 0 and text["description"] == "" and text["captions"] == []
    assert text["image_key"] is None and text["image_vector"] is None and text["text_vector"] is None
    assert text["title"] == "Stool" and "ornamental stool" in text["abstract"]
    from sqlalchemy import func, select

    from backend.db.models import Figure, Patent
    from backend.db.session import session_scope

    with session_scope(settings.resolved_database_url) as session:
        assert session.scalar(select(func.count()).select_from(Patent)) == 2
        assert session.scalar(select(func.count()).select_from(Figure)) == 2     # no figure row invented
    again = CliRunner().invoke(cli, ["ingest", "--quiet", str(tmp_path / "data")])
    assert again.exit_code == 0 and "migrated" not in again.output      # already at head: nothing to do


def test_unmigrated_postgres_says_what_to_run(make_settings, pg_database, tmp_path, monkeypatch):
    make_settings(task_mode="eager", database_url=pg_database, dense_text_at_ingest=False)
    write_patent_folder(tmp_path / "data", "D0999303", "Stool", figures=1)
    _register()
    result = CliRunner().invoke(cli, ["ingest", "--quiet", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert "is at revision none (no tables)" in result.output
    assert "run `prism db upgrade` first" in result.output and "Traceback" not in result.output
