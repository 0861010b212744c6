"""``prism services up|down|status`` — the real services for tests and local runs."""
from __future__ import annotations

import click

from backend import devservices


@click.group("services")
def services() -> None:
    """Start, stop and check Elasticsearch, Redis and PostgreSQL on loopback."""


_NAMES = click.Choice(sorted(devservices.SERVICES))


@services.command("up")
@click.argument("names", nargs=-1, type=_NAMES)
def up(names: tuple[str, ...]) -> None:
    """Start (or reuse) the named services (default: all)."""
    for name in names or tuple(devservices.SERVICES):
        try:
            url = devservices.SERVICES[name][0]()
        except devservices.ServiceError as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        click.echo(f"{name}: up at {url}")


@services.command("down")
@click.argument("names", nargs=-1, type=_NAMES)
def down(names: tuple[str, ...]) -> None:
    """Stop the named services (default: all)."""
    for name in names or tuple(devservices.SERVICES):
        devservices.SERVICES[name][1]()
        click.echo(f"{name}: down")


@services.command("status")
def status() -> None:
    """Print whether each service answers."""
    for name, (_, _, ready) in devservices.SERVICES.items():
        click.echo(f"{name}: {'up' if ready() else 'down'}")


commands = [services]
