"""``prism watches run-due|run`` on a real SQLite database and the embedded search backend."""
import json

from click.testing import CliRunner

from backend.auth.keys import ANONYMOUS
from backend.cli import _register, cli
from backend.cli_db import upgrade_database
from backend.db.session import session_scope
from backend.monitoring.watches import create_watch


def _run(*args):
    _register()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_commands(make_settings):
    settings = make_settings(watch_min_schedule_s=1)
    upgrade_database(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as s:
        wid = create_watch(s, settings, ANONYMOUS, {"name": "w", "query": {"text": "chair"},
                                                    "schedule_s": 3600})["id"]
    assert "no watch is due" in _run("watches", "run-due").output
    out = _run("watches", "run", str(wid))
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output.strip().splitlines()[-1])
    assert summary["watch_id"] == wid and summary["status"] == "done" and summary["alerts"] == 0
    missing = _run("watches", "run", "999")
    assert missing.exit_code == 1 and '"missing"' in missing.output
