"""An Elasticsearch index prefix that ES would refuse stops everything at settings
time (API, CLI, worker) with one line naming PRISM_ES_INDEX_PREFIX, before anything is written."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from backend.settings import REPO_ROOT, SettingsError, load_settings


@pytest.mark.parametrize("prefix", ["Prism", "PRISM", "-prism", "_prism", "+prism", ".prism", "pri sm", "pri,sm",
                                    "pri*sm", "pri/sm", 'pri"sm', "pri:sm", "pri#sm", "", "p" * 201])
def test_an_index_prefix_elasticsearch_refuses_is_a_settings_error(prefix):
    with pytest.raises(SettingsError, match=r"^PRISM_ES_INDEX_PREFIX: an Elasticsearch index name prefix must be"):
        load_settings(es_index_prefix=prefix)


@pytest.mark.parametrize("prefix", ["prism", "prism-2", "office_a.v2", "t0123456789"])
def test_valid_prefixes_pass(prefix):
    assert load_settings(es_index_prefix=prefix).es_index_prefix == prefix


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRISM_")}
    env.update({"PRISM_DATA_DIR": str(tmp_path / "var"), "PRISM_ES_INDEX_PREFIX": "Prism", **extra})
    return env


def test_prism_check_and_ingest_stop_with_one_line(tmp_path):
    for args in (["check"], ["ingest", str(tmp_path)]):
        proc = subprocess.run([sys.executable, "-m", "backend", *args], cwd=REPO_ROOT, env=_env(tmp_path),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "PRISM_ES_INDEX_PREFIX" in lines[0] and "'Prism'" in lines[0]
    assert not (tmp_path / "var" / "prism.db").exists()   # nothing was written


def test_a_worker_refuses_to_start(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", "ingest"],
                          cwd=REPO_ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "PRISM_ES_INDEX_PREFIX: an Elasticsearch index name prefix" in proc.stdout + proc.stderr
