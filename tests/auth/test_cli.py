"""``prism keys create|list|revoke`` through click, on a migrated SQLite database."""
import json

from click.testing import CliRunner
from sqlalchemy import select

from backend.cli import _register, cli
from backend.cli_db import upgrade_database
from backend.db.models import ApiKey, AuditEvent
from backend.db.session import session_scope


def _run(*args):
    _register()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_create_list_revoke(make_settings):
    settings = make_settings()
    upgrade_database(settings.resolved_database_url)
    out = _run("keys", "create", "--name", "ops", "--scopes", "search,admin", "--json")
    assert out.exit_code == 0, out.output
    created = json.loads(out.output.strip().splitlines()[-1])
    assert created["token"].startswith(f"prism_{created['prefix']}_")
    assert created["scopes"] == ["search", "admin"]

    listed = _run("keys", "list", "--json")
    rows = [json.loads(line) for line in listed.output.strip().splitlines()]
    assert [(r["prefix"], r["revoked"]) for r in rows] == [(created["prefix"], False)]
    assert created["token"] not in listed.output

    revoked = _run("keys", "revoke", created["prefix"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    with session_scope(settings.resolved_database_url) as s:
        assert s.scalar(select(ApiKey.revoked)) is True
        assert [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
            "keys.create", "keys.revoke"]


def test_errors_are_one_line(make_settings):
    settings = make_settings()
    bad = _run("keys", "list")
    assert bad.exit_code != 0 and "prism db upgrade" in bad.output
    upgrade_database(settings.resolved_database_url)
    out = _run("keys", "create", "--name", "x", "--scopes", "search,root")
    assert out.exit_code == 2 and "unknown scope 'root'" in out.output
    out = _run("keys", "revoke", "nope1234")
    assert out.exit_code == 1 and "no API key with prefix 'nope1234'" in out.output
