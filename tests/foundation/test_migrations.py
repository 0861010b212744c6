"""Models and Alembic migrations agree (empty autogenerate diff) on SQLite and PostgreSQL."""
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backend.cli_db import upgrade_database
from backend.db.models import Base


def _diff(url: str) -> list:
    upgrade_database(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    return diff


def test_sqlite_models_match_migrations(tmp_path):
    assert _diff(f"sqlite:///{tmp_path / 'm.db'}") == []


@pytest.mark.services
def test_postgres_models_match_migrations(pg_database):
    assert _diff(pg_database) == []


@pytest.mark.services
def test_postgres_downgrade_and_upgrade_again(pg_database):
    from alembic import command

    from backend.cli_db import alembic_config

    upgrade_database(pg_database)
    command.downgrade(alembic_config(pg_database), "base")
    engine = sa.create_engine(pg_database)
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    assert _diff(pg_database) == []
