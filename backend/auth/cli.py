"""``prism keys create|revoke|list`` — API keys (the token is printed once, only its hash is stored)."""
from __future__ import annotations

import json

import click

from backend.settings import get_settings


def _session():
    from backend.db.session import session_scope

    return session_scope(get_settings().resolved_database_url)


def _db_errors(fn):
    import functools

    from sqlalchemy.exc import OperationalError, ProgrammingError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (OperationalError, ProgrammingError) as exc:
            first = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
            raise click.ClickException(
                f"database not ready ({first}); run `prism db upgrade` first") from None

    return wrapper


@click.group("keys")
def keys() -> None:
    """API keys for the HTTP API (scopes: search, ingest, admin)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for (watches are owned by this name).")
@click.option("--scopes", default="search", show_default=True, help="Comma-separated: search,ingest,admin.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
@_db_errors
def create(name: str, scopes: str, as_json: bool) -> None:
    """Create a key and print its token (shown only this once)."""
    from backend.auth.audit import record
    from backend.auth.keys import create_key

    try:
        with _session() as session:
            key, token = create_key(session, name, scopes)
            record(session, action="keys.create", method="CLI", path="prism keys create", status_code=201,
                   api_key_id=key.id, detail={"name": key.name, "prefix": key.prefix, "scopes": key.scopes})
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"prefix": key.prefix, "name": key.name, "scopes": key.scopes, "token": token}))
        return
    click.echo(f"created key {key.prefix} ({key.name}; scopes: {','.join(key.scopes)})")
    click.echo(token)
    click.echo("store this token now: it is not kept and cannot be shown again", err=True)


@keys.command("revoke")
@click.argument("prefix")
@_db_errors
def revoke(prefix: str) -> None:
    """Revoke the key with PREFIX (the 8 characters after ``prism_``)."""
    from backend.auth.audit import record
    from backend.auth.keys import KeyNotFound, revoke_key

    try:
        with _session() as session:
            key = revoke_key(session, prefix)
            record(session, action="keys.revoke", method="CLI", path="prism keys revoke", status_code=200,
                   api_key_id=key.id, detail={"name": key.name, "prefix": key.prefix})
    except KeyNotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked key {key.prefix} ({key.name})")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@_db_errors
def list_(as_json: bool) -> None:
    """List keys (never their tokens)."""
    from backend.auth.keys import list_keys

    with _session() as session:
        rows = [{"prefix": k.prefix, "name": k.name, "scopes": list(k.scopes or []),
                 "revoked": bool(k.revoked), "created_at": k.created_at.isoformat() if k.created_at else None,
                 "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None}
                for k in list_keys(session)]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo("no API keys")
        return
    for r in rows:
        state = "revoked" if r["revoked"] else "active"
        click.echo(f"{r['prefix']}  {state:7}  {','.join(r['scopes']):20}  {r['name']}  "
                   f"(last used: {r['last_used_at'] or 'never'})")


commands = [keys]
