"""``prism serve``: the API and the examiner UI on one data directory, in one command.

Before serving it says what an examiner needs to know: the URL to open, a one-time API key when keys are
required and none exists yet, and a warning when the data directory holds no patents or its database is
not migrated (each with the command that fixes it). Then it runs gunicorn on ``backend.wsgi:app``.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from backend.settings import Settings, get_settings, reset_settings_cache

KEY_NAME = "examiner (prism serve)"


@dataclass
class ServeCheck:
    """What ``prism serve`` found in the data directory, and the key it made (None: none made)."""

    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key: str | None = None


def check_data_dir(settings: Settings, migrate: bool) -> ServeCheck:
    from backend.cli_db import schema_revisions, upgrade_database

    found = ServeCheck()
    data_dir = Path(settings.data_dir)
    if not data_dir.exists():
        found.warnings.append(f"{data_dir} does not exist: it will be created empty")
    url = settings.resolved_database_url
    current, heads = schema_revisions(url)
    migrated = current in heads
    if not migrated and migrate:
        upgrade_database(url)
        found.notes.append(f"migrated the database in {data_dir} to {', '.join(sorted(heads))}")
        migrated = True
    if not migrated:
        found.warnings.append(f"the database in {data_dir} is not migrated (revision {current or 'none'}): run "
                              f"`prism serve --migrate` or `PRISM_DATA_DIR={data_dir} prism db upgrade`")
    figures = _indexed_figures(settings)
    if figures == 0:
        found.warnings.append(f"no patents are indexed in {data_dir}: ingest some with "
                              f"`PRISM_DATA_DIR={data_dir} prism ingest PATH`, or run `prism demo`")
    elif figures is not None:
        found.notes.append(f"{figures:,} figures indexed ({settings.search_backend} backend)")
    if settings.auth_required and migrated:
        found.key = _first_key(url)
    return found


def _indexed_figures(settings: Settings) -> int | None:
    """Figures in the index; None when the backend cannot be asked (it is down: /readyz will say so)."""
    try:
        from backend.search import get_backend

        return get_backend(settings).count()
    except Exception:   # noqa: BLE001 - a check before serving: the server reports the backend itself
        return None


def _first_key(url: str) -> str | None:
    """A new key (scope search) when no usable key exists; None when one does."""
    from backend.auth.keys import create_key, list_keys
    from backend.db.session import session_scope

    with session_scope(url) as session:
        if any(not key.revoked for key in list_keys(session)):
            return None
        _, token = create_key(session, KEY_NAME, "search")
        return token


@click.command("serve")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="The data directory to serve (default: PRISM_DATA_DIR, else ./var).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="gunicorn threads (one worker).")
@click.option("--migrate", is_flag=True, help="Migrate the data directory's database first.")
@click.option("--check", is_flag=True, help="Say what would be served, then exit without serving.")
def serve(data_dir: Path | None, host: str, port: int, threads: int, migrate: bool, check: bool) -> None:
    """Serve the API and the examiner UI on a data directory; prints the URL to open."""
    if data_dir is not None:
        os.environ["PRISM_DATA_DIR"] = str(data_dir.resolve())
        reset_settings_cache()
    settings = get_settings()
    found = check_data_dir(settings, migrate)
    for line in found.notes:
        click.echo(line)
    for line in found.warnings:
        click.secho(f"warning: {line}", fg="yellow", err=True)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"Prism UI: http://{shown_host}:{port}/  (data: {settings.data_dir})")
    if found.key:
        click.echo(f"API key for the UI (shown once; paste it into the page's \"API key\" dialog): {found.key}")
    elif settings.auth_required:
        click.echo("API keys are required: use your key (`prism keys create NAME` makes another)")
    if check:
        return
    sys.stdout.flush()
    args = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", "1",
            "--threads", str(threads), "--access-logfile", "-", "backend.wsgi:app"]
    os.execv(sys.executable, args)


commands = [serve]
