"""A real multi-node Elasticsearch cluster on loopback, for the fault tests and scale-out checks.

``prism services up --es-nodes 3`` starts nodes ``es-node-0..N-1`` of cluster ``prism-cluster`` from the
same 8.19 distribution as the single dev node (``backend.devservices``), each with its own config
directory (``ES_PATH_CONF``), data, logs and a small heap (``PRISM_ES_CLUSTER_JAVA_OPTS``, default 512 MiB):
HTTP on 127.0.0.1:9211.., transport on 9311... The single dev node on 9200 is left alone. Point Prism at
the cluster with ``PRISM_ES_URL=http://127.0.0.1:9211,http://127.0.0.1:9212,http://127.0.0.1:9213``; the
figure indices carry ``auto_expand_replicas: 0-1``, so on a cluster every shard has a replica.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import requests

from backend import devservices
from backend.devservices import CACHE, ServiceError, _as_user, _chown, _ensure_user, _es_home, _wait

CLUSTER = "prism-cluster"
HTTP_BASE = int(os.environ.get("PRISM_ES_CLUSTER_HTTP_PORT", "9211"))
TRANSPORT_BASE = int(os.environ.get("PRISM_ES_CLUSTER_TRANSPORT_PORT", "9311"))
ROOT = CACHE / "services" / "es-cluster"


def url(i: int) -> str:
    return f"http://127.0.0.1:{HTTP_BASE + i}"


def urls(nodes: int) -> list[str]:
    return [url(i) for i in range(nodes)]


def _node_dir(i: int) -> Path:
    return ROOT / f"node-{i}"


def _pidfile(i: int) -> Path:
    return _node_dir(i) / "es.pid"


def node_alive(i: int) -> bool:
    return devservices._pid_alive(_pidfile(i))


def health(nodes: int, timeout_s: float = 2) -> dict | None:
    for u in urls(nodes):
        try:
            r = requests.get(f"{u}/_cluster/health", timeout=timeout_s)
            if r.ok:
                return r.json()
        except (requests.RequestException, ValueError):
            continue
    return None


def _configure(i: int, nodes: int, home: Path) -> Path:
    node = _node_dir(i)
    conf = node / "config"
    if not conf.exists():
        shutil.copytree(home / "config", conf)
    (node / "data").mkdir(parents=True, exist_ok=True)
    (node / "logs").mkdir(parents=True, exist_ok=True)
    seeds = ", ".join(f'"127.0.0.1:{TRANSPORT_BASE + j}"' for j in range(nodes))
    masters = ", ".join(f'"es-node-{j}"' for j in range(nodes))
    (conf / "elasticsearch.yml").write_text(
        f"cluster.name: {CLUSTER}\n"
        f"node.name: es-node-{i}\n"
        "network.host: 127.0.0.1\n"
        f"http.port: {HTTP_BASE + i}\n"
        f"transport.port: {TRANSPORT_BASE + i}\n"
        f"discovery.seed_hosts: [{seeds}]\n"
        f"cluster.initial_master_nodes: [{masters}]\n"
        f"path.data: {node / 'data'}\n"
        f"path.logs: {node / 'logs'}\n"
        f"path.repo: {devservices.ES_SNAPSHOTS}\n"
        "xpack.security.enabled: false\n"
        "xpack.ml.enabled: false\n"
        "cluster.routing.allocation.disk.threshold_enabled: false\n"
        "action.destructive_requires_name: false\n"
    )
    _chown(node)
    return conf


def start_node(i: int, nodes: int) -> None:
    """Start node ``i`` (idempotent: a live node is left alone)."""
    if node_alive(i):
        return
    if not shutil.which("java"):
        devservices._apt_install("openjdk-17-jre-headless")
    _ensure_user()
    home = _es_home()
    _chown(home)
    ROOT.mkdir(parents=True, exist_ok=True)
    _chown(ROOT)
    devservices.ES_SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    _chown(devservices.ES_SNAPSHOTS)
    conf = _configure(i, nodes, home)
    java_home = Path(os.path.realpath(shutil.which("java"))).parent.parent
    env = dict(os.environ, ES_JAVA_HOME=str(java_home), ES_PATH_CONF=str(conf),
               ES_JAVA_OPTS=os.environ.get("PRISM_ES_CLUSTER_JAVA_OPTS", "-Xms512m -Xmx512m"))
    started = subprocess.run(_as_user([str(home / "bin" / "elasticsearch"), "-d", "-p", str(_pidfile(i))]),
                             check=False, env=env, capture_output=True, text=True)
    if started.returncode != 0:
        raise ServiceError(f"es-node-{i} failed to start: {(started.stdout + started.stderr)[-2000:]}")


def kill_node(i: int, sig: int = signal.SIGKILL) -> None:
    """Stop node ``i`` abruptly (SIGKILL) or cleanly (SIGTERM)."""
    if node_alive(i):
        pid = int(_pidfile(i).read_text().split()[0])
        os.kill(pid, sig)
        _wait(lambda: not node_alive(i), f"es-node-{i} exit", 60)


def wait_for(nodes: int, status: tuple[str, ...] = ("green",), timeout: float = 300) -> dict:
    def ready():
        h = health(nodes)
        return bool(h) and h.get("number_of_nodes") == nodes and h.get("status") in status

    try:
        _wait(ready, f"Elasticsearch cluster of {nodes} nodes", timeout)
    except ServiceError:
        tails = []
        for i in range(nodes):
            log = _node_dir(i) / "logs" / f"{CLUSTER}.log"
            tails.append(f"es-node-{i}: " + (log.read_text()[-800:] if log.exists() else "(no log)"))
        raise ServiceError(f"cluster not ready: {health(nodes)}\n" + "\n".join(tails)) from None
    return health(nodes) or {}


def up(nodes: int = 3, timeout: float = 420) -> str:
    """Start (or reuse) an ``nodes``-node cluster; returns the comma-separated URLs for PRISM_ES_URL."""
    if nodes < 1:
        raise ServiceError("--es-nodes must be at least 1")
    for i in range(nodes):
        start_node(i, nodes)
    wait_for(nodes, ("green", "yellow"), timeout)
    return ",".join(urls(nodes))


def down(nodes: int = 3) -> None:
    for i in range(nodes):
        kill_node(i, signal.SIGTERM)
