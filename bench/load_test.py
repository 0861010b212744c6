"""Bounded load test (not a test in CI): the real API under gunicorn on loopback, 1-8 concurrent clients.

For each backend, N synthetic figures (``bench/search_bench.py``'s corpus) are indexed, the API is
started with ``gunicorn backend.wsgi:app -w 1 --threads 8`` on a free 127.0.0.1 port (keys not required; one
worker, so the warm-up below reaches the process that is measured), and for each
client count every client sends a fixed number of POST /search requests (hybrid text + vector; every
other one with a CPC + date filter), bounded by ``--max-seconds`` per step. Reported per step: requests,
throughput, p50/p95/p99 latency, status counts. **Checked result**: no 5xx and no connection error in
any step (exit status 1 otherwise).

    .venv/bin/python bench/load_test.py --figures 5000 --clients 1 2 4 8 --requests 40
    # results: bench/results/load.json

The worker is warmed up first (its first searches load models and indices; not measured): under heavy
machine load a cold worker's first search took more than 60 s.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search_bench import FILTERS, make_corpus, queries  # noqa: E402

from backend.settings import Settings  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2) if ordered else 0.0


def _index(kind: str, n: int, dims: int, workdir: Path) -> tuple[dict, callable, list[dict]]:
    from backend.search import get_backend
    from backend.search.index import index_admin

    env = {"PRISM_DATA_DIR": str(workdir / "var"), "PRISM_SEARCH_BACKEND": kind, "PRISM_AUTH_REQUIRED": "false",
           "PRISM_TASK_MODE": "eager"}
    cleanup = lambda: None  # noqa: E731
    if kind == "elasticsearch":
        env["PRISM_ES_INDEX_PREFIX"] = f"load{uuid.uuid4().hex[:8]}"
        env["PRISM_ES_URL"] = os.environ.get("PRISM_ES_URL", "http://127.0.0.1:9200")
    settings = Settings(**{k[6:].lower(): v for k, v in env.items()})
    docs, _vecs, centers = make_corpus(n, dims)
    backend = get_backend(settings)
    if kind == "elasticsearch":
        es = index_admin.make_client(settings)
        index_admin.create_index(es, settings.es_index_prefix, dims)
        cleanup = lambda: index_admin.delete_all(es, settings.es_index_prefix)  # noqa: E731
    for i in range(0, len(docs), 2000):
        backend.index_figures(docs[i:i + 2000])
    backend.refresh()
    return env, cleanup, queries(400, centers)


def _serve(env: dict, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "backend.wsgi:app", "-b", f"127.0.0.1:{port}",
                             "-w", "1", "--threads", "8", "--timeout", "300"],
                            cwd=ROOT, env={**os.environ, **env}, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                return proc
        except requests.RequestException:
            pass
        assert proc.poll() is None, log.read_text()[-2000:]
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer: {log.read_text()[-2000:]}")


def _warm_up(base: str, qs: list[dict], workers: int = 1) -> float:
    """The gunicorn worker loads its models and indices on its first searches (not measured)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2 * workers) as pool:
        list(pool.map(lambda i: requests.post(f"{base}/search", json=dict(qs[i], size=20), timeout=600),
                      range(4 * workers)))
    return round(time.perf_counter() - started, 1)


def _step(base: str, qs: list[dict], clients: int, per_client: int, max_s: float) -> dict:
    deadline = time.monotonic() + max_s
    latencies: list[float] = []
    statuses: Counter = Counter()

    def client(c: int) -> None:
        session = requests.Session()
        for i in range(per_client):
            if time.monotonic() > deadline:
                return
            body = dict(qs[(c * per_client + i) % len(qs)], size=20)
            if i % 2:
                body["filters"] = FILTERS
            start = time.perf_counter()
            try:
                resp = session.post(f"{base}/search", json=body, timeout=120)
                statuses[str(resp.status_code)] += 1
            except requests.RequestException as exc:
                statuses[f"error:{type(exc).__name__}"] += 1
                continue
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - started
    total = sum(statuses.values())
    server_errors = sum(n for s, n in statuses.items() if s.startswith("5") or s.startswith("error"))
    return {"clients": clients, "requests": total, "seconds": round(wall, 2),
            "throughput_rps": round(total / wall, 1) if wall else 0.0, "p50_ms": _pct(latencies, 0.50),
            "p95_ms": _pct(latencies, 0.95), "p99_ms": _pct(latencies, 0.99), "statuses": dict(statuses),
            "server_errors": server_errors}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["embedded", "elasticsearch"])
    parser.add_argument("--figures", type=int, default=5000)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--requests", type=int, default=40, help="requests per client per step")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="bound on each step")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    args = parser.parse_args(argv)
    results = []
    for kind in args.backends:
        with tempfile.TemporaryDirectory(prefix="prism-load-") as tmp:
            env, cleanup, qs = _index(kind, args.figures, args.dims, Path(tmp))
            port = _free_port()
            server = _serve(env, port, Path(tmp) / "gunicorn.log")
            try:
                warm = _warm_up(f"http://127.0.0.1:{port}", qs)
                print(f"{kind}: warm-up {warm} s", flush=True)
                for clients in args.clients:
                    row = {"backend": kind, "figures": args.figures, **_step(f"http://127.0.0.1:{port}", qs, clients,
                                                                                args.requests, args.max_seconds)}
                    print(json.dumps(row), flush=True)
                    results.append(row)
            finally:
                server.terminate()
                server.wait(timeout=60)
                cleanup()
    errors = sum(r["server_errors"] for r in results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": f"{os.cpu_count()} CPU, {platform.platform()}",
                                    "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                    "server": "gunicorn -w 1 --threads 8", "results": results,
                                    "server_errors": errors}, indent=2))
    print(f"server errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
