"""Bounded schemathesis run against the whole API, served by a real werkzeug server on loopback
with keys required and an admin key: no operation may answer with a server error (5xx).

The whole API is fuzzed with ``not_a_server_error``; the monitoring endpoints (tags watches, alerts)
additionally with the response conformance and auth checks. Counts are printed (``-s`` shows them).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = [pytest.mark.services, pytest.mark.slow]

MAX_EXAMPLES = int(os.environ.get("PRISM_SCHEMATHESIS_MAX_EXAMPLES", "20"))
MONITORING_CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
                     "response_schema_conformance,ignored_auth,use_after_free")


@pytest.fixture
def live_api(make_settings, pg_database, redis_db_url, tmp_path):
    """The app served by werkzeug on 127.0.0.1 (a thread), keys required; yields (base_url, admin_token)."""
    from werkzeug.serving import make_server

    from backend.app import create_app
    from backend.auth.keys import create_key
    from backend.cli_db import upgrade_database
    from backend.db.session import session_scope

    settings = make_settings(auth_required=True, database_url=pg_database, redis_url=redis_db_url,
                             rate_limit_per_minute=1_000_000, task_mode="eager")
    upgrade_database(pg_database)
    with session_scope(pg_database) as session:
        _, token = create_key(session, "schemathesis", "admin")
        _seed_monitoring(session, settings)
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", token
    server.shutdown()
    server.server_close()


def _seed_monitoring(session, settings) -> None:
    """Watch 1 with alerts 1 and 2, so that operations on ids are exercised on real rows too."""
    from backend.auth.keys import Principal
    from backend.db.models import Watch
    from backend.monitoring.alerts import insert_alerts
    from backend.monitoring.watches import create_watch

    admin = Principal(key_id=None, name="schemathesis", prefix=None, scopes=("admin",))
    watch_id = create_watch(session, settings, admin, {"name": "seed", "query": {"text": "chair"},
                                                       "schedule_s": 3600})["id"]
    insert_alerts(session, session.get(Watch, watch_id), [{"publication_number": "USD0907292", "rank": 1},
                                                          {"publication_number": "USD0907293", "rank": 2}])


def _schemathesis(base_url: str, token: str, report: Path, checks: str, *extra: str) -> tuple[int, dict, str]:
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{base_url}/openapi.json",
           "--checks", checks, "--max-examples", str(MAX_EXAMPLES), "--workers", "1", "--seed", "42",
           "--phases", "examples,coverage,fuzzing", "--request-timeout", "60",
           "-H", f"Authorization: Bearer {token}", "--report", "json", "--report-json-path", str(report),
           "--suppress-health-check", "all", *extra]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"}
    proc = subprocess.run(cmd, cwd=report.parent, capture_output=True, text=True, timeout=1200, env=env)
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


def test_whole_api_has_no_server_errors(live_api, tmp_path):
    base_url, token = live_api
    code, report, output = _schemathesis(base_url, token, tmp_path / "all.json", "not_a_server_error")
    print(output[-6000:])
    assert code == 0, output[-8000:]


def test_monitoring_endpoints_conform(live_api, tmp_path):
    base_url, token = live_api
    code, report, output = _schemathesis(base_url, token, tmp_path / "monitoring.json", MONITORING_CHECKS,
                                         "--include-tag", "watches", "--include-tag", "alerts")
    print(output[-6000:])
    assert code == 0, output[-8000:]
