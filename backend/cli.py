"""The ``prism`` command line. Each area contributes commands from its own module."""
from __future__ import annotations

import importlib
import sys

import click

from backend.settings import SettingsError

# Modules exposing click commands/groups in a ``commands`` list. Each area appends its own line.
COMMANDS: list[str] = [
    "backend.cli_services",
    "backend.cli_db",
    "backend.cli_serve",
    "backend.demo",
    "backend.auth.cli",
    "backend.monitoring.cli",
    "backend.ingest.cli",
    "backend.training.cli",
    "backend.search.cli",
    "backend.search.search_cli",
    "backend.backup.cli",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prism-patent-search")
def cli() -> None:
    """Prism: hybrid image + text prior-art search for patent offices."""


def _register() -> None:
    for module in COMMANDS:
        for command in importlib.import_module(module).commands:
            cli.add_command(command)


def _observe_command() -> None:
    """Warnings and errors as structured lines (PRISM_LOG_FORMAT), with a request id for the whole command
    that the tasks it sends carry to the workers' logs (PRISM_REQUEST_ID: the caller's own id)."""
    import os

    from backend.observability.logs import accepted_request_id, bind, configure
    from backend.settings import get_settings

    settings = get_settings()
    configure(settings)
    if settings.log_level.lower() == "info":   # the command's own output is its report; logs say what went wrong
        import logging

        logging.getLogger().setLevel(logging.WARNING)
    bind(request_id="cli-" + accepted_request_id(os.environ.get("PRISM_REQUEST_ID")))


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        _observe_command()
        cli.main(args=argv, prog_name="prism", standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"prism: configuration error: {exc}", err=True)
        sys.exit(2)
