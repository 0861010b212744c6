"""``prism index create|reindex|reembed|status``: manage the search index (alias + versioned concrete index)."""
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
        from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

        backend = EmbeddedBackend(settings)
        click.echo(f"embedded index ready at {backend.path} ({backend.count()} figures)")
        return
    from elasticsearch import ApiError, TransportError

    from backend.search.errors import SearchBackendError
    from backend.search.index import index_admin

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
        from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

        n = EmbeddedBackend(settings).rebuild()
        click.echo(f"embedded full-text index rebuilt ({n} figures)")
        return
    from elasticsearch import ApiError, TransportError
    from rich.progress import Progress

    from backend.search.errors import SearchBackendError
    from backend.search.index import index_admin

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
        from backend.search.backends.embedded.embedded_backend import EmbeddedBackend

        backend = EmbeddedBackend(settings)
        info = {"backend": "embedded", "path": str(backend.path), "documents": backend.count(),
                "dims": backend.dims(), "ok": True}
    else:
        from elasticsearch import ApiError, TransportError

        from backend.search.index import index_admin

        try:
            info = {"backend": "elasticsearch", **index_admin.status(index_admin.make_client(settings), settings)}
        except TransportError as exc:
            _fail(f"Elasticsearch at {settings.es_url} is unreachable: {exc}")
        except ApiError as exc:
            _fail(f"Elasticsearch at {settings.es_url} refused the status request: {exc}")
    info["encoder"] = _encoder_state(settings)
    info["stale"] = bool(info["encoder"].get("stale"))
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            if key != "encoder":
                click.echo(f"{key}: {value}")
        _echo_encoder(info["encoder"])
    if info["stale"]:
        enc = info["encoder"]
        click.echo(f"STALE: {enc['reason']}; run `{enc['command']}` to re-embed it with "
                   f"{enc['current']['model_id']}", err=True)
        sys.exit(1)
    if not info.get("ok"):
        if info.get("backend") == "elasticsearch" and info.get("indices"):
            click.echo("the index is not usable by this version: run `prism index reindex`", err=True)
        elif info.get("backend") == "elasticsearch":
            click.echo("no index yet: run `prism index create` (or index documents)", err=True)
        sys.exit(1)


def _encoder_state(settings) -> dict:
    """``index_encoder.index_state`` of the configured backend ({"error": ...} when it cannot be read)."""
    from backend.search import get_backend
    from backend.search.errors import SearchBackendError
    from backend.search.index.index_encoder import index_state

    try:
        return index_state(get_backend(settings), settings)
    except (SearchBackendError, OSError, RuntimeError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "stale": False}


def _echo_encoder(enc: dict) -> None:
    if "error" in enc:
        click.echo(f"encoder: cannot tell ({enc['error']})")
        return
    present = ", ".join(f"{m} ({n} figures)" for m, n in enc["index"]["model_ids"].items()) or "(no vectors)"
    if enc["index"]["unknown_model_id"]:
        present += f", unrecorded ({enc['index']['unknown_model_id']} figures)"
    click.echo(f"index encoder: {present}, dims {enc['index']['dims']}")
    click.echo(f"current encoder: {enc['current']['model_id']}, dims {enc['current']['dims']}")
    click.echo(f"encoder status: {'STALE' if enc['stale'] else 'current'}")


@index_group.command("reembed")
@click.option("--drop-missing", is_flag=True,
              help="Index figures whose stored image is missing without an image vector (default: stop).")
@click.option("--break-lock", is_flag=True, help="Elasticsearch: remove a lock left behind by a crashed run.")
@click.option("--split-sheets/--no-split-sheets", default=None,
              help="Then split stored sheets whose description names several figures into one figure per "
                   "region, as ingest does (default: PRISM_INGEST_SPLIT_FIGURES, on).")
def reembed_cmd(drop_missing: bool, break_lock: bool, split_sheets: bool | None) -> None:
    """Re-embed every figure with the current encoder (PRISM_MODEL_NAME / PRISM_CHECKPOINT).

    Images are encoded again from their stored display renditions, captions into text vectors; the
    figures get the encoder's model_id. Elasticsearch: a new index of the encoder's dims, alias swapped
    at the end. Embedded: staged in batches (an interrupted run resumes), swapped in one transaction.
    Then multi-figure sheets are split into their figures (one write per sheet; a second run changes
    nothing)."""
    from rich.progress import Progress

    from backend.search.errors import SearchBackendError
    from backend.search.index.reembed import reembed

    settings = get_settings()
    try:
        from elasticsearch import ApiError, TransportError
        errors: tuple = (SearchBackendError, TransportError, ApiError, ValueError, OSError)
    except ImportError:  # pragma: no cover - elasticsearch is a declared dependency
        errors = (SearchBackendError, ValueError, OSError)
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("re-embedding figures", total=None)
            sheets = bar.add_task("splitting multi-figure sheets", total=None, visible=False)
            result = reembed(settings, drop_missing=drop_missing, break_lock=break_lock, split=split_sheets,
                             progress=lambda done, total: bar.update(task, completed=done, total=total or None),
                             split_progress=lambda done, total: bar.update(sheets, completed=done, total=total,
                                                                           visible=True))
    except errors as exc:
        _fail(str(exc))
    where = f"{result['alias']}: {', '.join(result['old']) or '(none)'} -> {result['new']}" \
        if result["backend"] == "elasticsearch" else f"embedded index {result['path']}"
    click.echo(f"{where}: {result['encoded']} figures re-embedded with {result['model_id']} "
               f"(dims {result['dims']}), {result['documents']} documents"
               + (f", {result['dropped']} without their missing image" if result["dropped"] else ""))
    if "split" in result:
        split = result["split"]
        click.echo(f"multi-figure sheets: {split['split']} of {split['sheets']} split into {split['regions']} "
                   f"figures ({split['sheets'] - split['split']} stay whole: their image shows fewer regions)")


commands = [index_group]
