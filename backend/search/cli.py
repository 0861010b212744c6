"""``prism index create|reindex|status``: manage the search index (alias + versioned concrete index)."""
from __future__ import annotations

import json
import sys

import click

from backend.settings import get_settings


def _fail(message: str) -> None:
    click.echo(f"prism index: {message}", err=True)
    sys.exit(1)


@click.group("index")
def index_group() -> None:
    """Create, rebuild (zero downtime) or inspect the search index."""


@index_group.command("create")
@click.option("--dims", type=click.IntRange(1, 4096), default=None,
              help="Vector dimension (default: the encoder's embedding dimension).")
def create(dims: int | None) -> None:
    """Create the index behind the alias if it does not exist yet."""
    settings = get_settings()
    if settings.search_backend != "elasticsearch":
        from backend.search.embedded_backend import EmbeddedBackend

        backend = EmbeddedBackend(settings)
        click.echo(f"embedded index ready at {backend.path} ({backend.count()} figures)")
        return
    from elasticsearch import ApiError, TransportError

    from backend.search import index_admin
    from backend.search.errors import SearchBackendError

    es = index_admin.make_client(settings)
    try:
        index = index_admin.ensure_index(es, settings, dims)
    except (SearchBackendError, TransportError, ApiError, ValueError) as exc:
        _fail(str(exc))
    click.echo(f"{index_admin.alias_name(settings.es_index_prefix)} -> {index}")


@index_group.command("reindex")
@click.option("--dims", type=click.IntRange(1, 4096), default=None,
              help="Vector dimension of the new index (default: the current index's, else the encoder's).")
@click.option("--break-lock", is_flag=True, help="Remove a lock left behind by a crashed reindex first.")
def reindex(dims: int | None, break_lock: bool) -> None:
    """Rebuild into a new index of the current mapping version and swap the alias atomically."""
    settings = get_settings()
    if settings.search_backend != "elasticsearch":
        from backend.search.embedded_backend import EmbeddedBackend

        n = EmbeddedBackend(settings).rebuild()
        click.echo(f"embedded full-text index rebuilt ({n} figures)")
        return
    from elasticsearch import ApiError, TransportError
    from rich.progress import Progress

    from backend.search import index_admin
    from backend.search.errors import SearchBackendError

    es = index_admin.make_client(settings)
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("copying documents", total=None)
            result = index_admin.reindex(es, settings, dims=dims, break_lock=break_lock,
                                         progress=lambda done, total: bar.update(task, completed=done,
                                                                                  total=total or None))
    except (SearchBackendError, TransportError, ApiError, ValueError) as exc:
        _fail(str(exc))
    old = ", ".join(result["old"]) or "(none)"
    click.echo(f"{result['alias']}: {old} -> {result['new']} ({result['documents']} documents, "
               f"mapping v{result['mapping_version']}, dims {result['dims']})")


@index_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Show the alias, its index, mapping version and document count; exit 1 if not usable."""
    settings = get_settings()
    if settings.search_backend != "elasticsearch":
        from backend.search.embedded_backend import EmbeddedBackend

        backend = EmbeddedBackend(settings)
        info = {"backend": "embedded", "path": str(backend.path), "documents": backend.count(),
                "dims": backend.dims(), "ok": True}
    else:
        from elasticsearch import ApiError, TransportError

        from backend.search import index_admin

        try:
            info = {"backend": "elasticsearch", **index_admin.status(index_admin.make_client(settings), settings)}
        except TransportError as exc:
            _fail(f"Elasticsearch at {settings.es_url} is unreachable: {exc}")
        except ApiError as exc:
            _fail(f"Elasticsearch at {settings.es_url} refused the status request: {exc}")
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            click.echo(f"{key}: {value}")
    if not info.get("ok"):
        if info.get("backend") == "elasticsearch" and info.get("indices"):
            click.echo("the index is not usable by this version: run `prism index reindex`", err=True)
        elif info.get("backend") == "elasticsearch":
            click.echo("no index yet: run `prism index create` (or index documents)", err=True)
        sys.exit(1)


commands = [index_group]
