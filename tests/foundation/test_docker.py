"""No Docker engine runs here: check the compose file and Dockerfile against the project instead."""
import importlib
import re
import shutil
from pathlib import Path

import yaml

from backend.settings import REPO_ROOT, Settings

DOCKER = REPO_ROOT / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


def test_compose_has_the_whole_stack_with_healthchecks():
    services = _compose()["services"]
    assert {"elasticsearch", "redis", "postgres", "api", "worker", "beat"} <= set(services)
    for name in ("elasticsearch", "redis", "postgres", "api", "worker"):
        assert "healthcheck" in services[name], name
    for name in ("api", "worker", "beat"):
        deps = services[name]["depends_on"]
        assert all(d in services for d in deps)
        assert all(v["condition"] in {"service_healthy", "service_completed_successfully", "service_started"}
                   for v in deps.values())


def test_every_prism_variable_is_a_setting():
    fields = set(Settings.model_fields)
    seen = set()
    for svc in _compose()["services"].values():
        for key in (svc.get("environment") or {}):
            if key.startswith("PRISM_"):
                seen.add(key)
                assert key[len("PRISM_"):].lower() in fields, f"{key} is not a Settings field"
    assert "PRISM_SEARCH_BACKEND" in seen


def test_every_command_exists_in_the_project():
    import sys

    venv_bin = Path(sys.executable).parent
    for name, svc in _compose()["services"].items():
        cmd = svc.get("command")
        if not cmd or svc.get("image", "").startswith(("docker.elastic", "redis", "postgres")):
            continue
        program = cmd[0]
        assert (venv_bin / program).exists() or shutil.which(program), f"{name}: {program} not installed"
        for arg in cmd:
            if re.fullmatch(r"[a-z_.]+:[a-z_]+", arg):  # module:attribute (gunicorn)
                module, attr = arg.split(":")
                assert hasattr(importlib.import_module(module), attr), arg
        if "-A" in cmd:
            importlib.import_module(cmd[cmd.index("-A") + 1])
        if program == "prism":
            from click.testing import CliRunner

            from backend.cli import _register, cli

            _register()
            result = CliRunner().invoke(cli, [*cmd[1:], "--help"])
            assert result.exit_code == 0, result.output


def test_dockerfile_copies_existing_paths():
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (REPO_ROOT / src).exists(), src
