"""``prism db upgrade|check`` — schema migrations and a configuration/readiness check."""
from __future__ import annotations

import json

import click

from backend.settings import REPO_ROOT, get_settings


def alembic_config(url: str | None = None):
    from alembic.config import Config

    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().resolved_database_url).replace("%", "%%"))
    return cfg


def upgrade_database(url: str | None = None, revision: str = "head") -> None:
    from alembic import command

    from backend.db.session import get_engine

    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    with get_engine(url or get_settings().resolved_database_url).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def schema_revisions(url: str) -> tuple[str | None, set[str]]:
    """(the database's Alembic revision - None when it has no schema -, the head revisions)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from backend.db.session import get_engine

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    with get_engine(url).connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, heads


def ensure_schema(url: str, migrate: bool) -> str | None:
    """Make sure the database schema is at head before writing to it: with ``migrate`` (a local SQLite
    database nobody else serves) apply the migrations and return what was done; otherwise raise a
    ClickException that says exactly what to run."""
    current, heads = schema_revisions(url)
    if current in heads:
        return None
    if migrate:
        upgrade_database(url)
        return f"migrated the database from {current or 'an empty database'} to {', '.join(sorted(heads))}"
    where = url.split("@")[-1]
    raise click.ClickException(
        f"the database at {where} is at revision {current or 'none (no tables)'}, this Prism needs "
        f"{', '.join(sorted(heads))}; run `prism db upgrade` first")


@click.group("db")
def db() -> None:
    """Relational database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Apply Alembic migrations to PRISM_DATABASE_URL."""
    upgrade_database(revision=revision)
    click.echo(f"database at {get_settings().resolved_database_url.split('@')[-1]} is at {revision}")


@click.command("check")
def check() -> None:
    """Validate settings and report each dependency's readiness."""
    from backend.readiness import check_all

    settings = get_settings()
    results = check_all(settings, index_encoder=True)
    click.echo(json.dumps(results, indent=2))
    if not all(r["ok"] for r in results.values()):
        raise SystemExit(1)


commands = [db, check]
