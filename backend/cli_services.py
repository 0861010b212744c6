"""``prism services up|down|status`` — the real services for tests and local runs."""
from __future__ import annotations

import click

from backend import devservices


@click.group("services")
def services() -> None:
    """Start, stop and check Elasticsearch, Redis and PostgreSQL on loopback (and, by name, the local LLM
    server for ``PRISM_CAPTIONER=llm``: ``prism services up llm``)."""


_NAMES = click.Choice(sorted(devservices.SERVICES))


@services.command("up")
@click.argument("names", nargs=-1, type=_NAMES)
@click.option("--es-nodes", type=click.IntRange(min=1, max=9), default=1, show_default=True,
              help="Elasticsearch nodes; more than 1 starts a cluster on 127.0.0.1:9211.. (backend/devcluster.py) "
                   "instead of the single node on 9200.")
def up(names: tuple[str, ...], es_nodes: int) -> None:
    """Start (or reuse) the named services (default: es, redis, postgres; the LLM server by name)."""
    for name in names or devservices.DEFAULT_SERVICES:
        try:
            if name == "es" and es_nodes > 1:
                from backend import devcluster

                url = devcluster.up(es_nodes)
            else:
                url = devservices.SERVICES[name][0]()
        except devservices.ServiceError as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        click.echo(f"{name}: up at {url}")


@services.command("down")
@click.argument("names", nargs=-1, type=_NAMES)
@click.option("--es-nodes", type=click.IntRange(min=1, max=9), default=1, show_default=True,
              help="Stop the cluster of this many nodes instead of the single Elasticsearch node.")
def down(names: tuple[str, ...], es_nodes: int) -> None:
    """Stop the named services (default: es, redis, postgres; the LLM server by name)."""
    for name in names or devservices.DEFAULT_SERVICES:
        if name == "es" and es_nodes > 1:
            from backend import devcluster

            devcluster.down(es_nodes)
        else:
            devservices.SERVICES[name][1]()
        click.echo(f"{name}: down")


@services.command("status")
def status() -> None:
    """Print whether each service answers."""
    for name, (_, _, ready) in devservices.SERVICES.items():
        click.echo(f"{name}: {'up' if ready() else 'down'}")


commands = [services]
