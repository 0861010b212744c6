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
    results = check_all(settings)
    click.echo(json.dumps(results, indent=2))
    if not all(r["ok"] for r in results.values()):
        raise SystemExit(1)


commands = [db, check]
