import subprocess
import sys

import pytest

from backend.settings import SettingsError, load_settings


def test_defaults_are_embedded_and_documented(monkeypatch):
    for var in ("PRISM_SEARCH_BACKEND", "PRISM_TASK_MODE", "PRISM_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.search_backend == "embedded"
    assert s.task_mode == "eager"
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.resolved_broker_url == s.redis_url


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("PRISM_SEARCH_BACKEND", "solr")
    with pytest.raises(SettingsError) as err:
        load_settings()
    msg = str(err.value)
    assert msg.startswith("PRISM_SEARCH_BACKEND:")
    assert "\n" not in msg


def test_cli_reports_bad_setting_in_one_line(tmp_path):
    env = {"PRISM_EMBED_BATCH_SIZE": "-3", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "backend", "check"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and "PRISM_EMBED_BATCH_SIZE" in lines[0]


def test_cli_reports_unreachable_service(tmp_path):
    env = {"PRISM_SEARCH_BACKEND": "elasticsearch", "PRISM_ES_URL": "http://127.0.0.1:9",
           "PRISM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "backend", "check"], env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert '"elasticsearch"' in proc.stdout and '"ok": false' in proc.stdout
