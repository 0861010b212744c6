"""Per-dependency readiness checks used by /readyz and ``prism check``."""
from __future__ import annotations

import time
from collections.abc import Callable

from backend.settings import Settings


def _timed(fn: Callable[[], str | None]) -> dict:
    start = time.perf_counter()
    try:
        info = fn()
        return {"ok": True, "latency_ms": round((time.perf_counter() - start) * 1000, 1), "info": info}
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported verbatim
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}


def check_database(settings: Settings) -> str:
    import sqlalchemy as sa

    from backend.db.session import get_engine

    with get_engine(settings.resolved_database_url).connect() as conn:
        conn.execute(sa.text("select 1"))
    return settings.resolved_database_url.split("@")[-1]


def check_redis(settings: Settings) -> str:
    import redis

    redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2).ping()
    return settings.redis_url.split("@")[-1]


def check_elasticsearch(settings: Settings) -> str:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(settings.es_hosts, request_timeout=2)
    health = es.cluster.health()
    if health["status"] == "red":
        raise RuntimeError("cluster status red")
    return f"{settings.es_url} ({health['status']})"


def check_index_encoder(settings: Settings) -> str:
    """The index's vectors come from the current encoder; a stale index fails with the command to run."""
    from backend.search import get_backend
    from backend.search.index.index_encoder import index_state

    state = index_state(get_backend(settings), settings)
    if state["stale"]:
        raise RuntimeError(f"STALE index: {state['reason']}; run `{state['command']}` "
                           f"(current encoder {state['current']['model_id']})")
    return f"current: {state['current']['model_id']}, dims {state['current']['dims']}"


def check_llm(settings: Settings) -> str:
    """The captioning endpoint (``PRISM_CAPTIONER=llm``) lists its models; says which it serves."""
    import requests

    from backend.ingest.captioning.llm import endpoint_url

    url = endpoint_url(settings.llm_base_url, "models")
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    try:
        resp = requests.get(url, headers=headers, timeout=10)
    except requests.Timeout:   # llama.cpp's server answers /models only between two completions
        api = requests.get(url.rsplit("/v1/", 1)[0] + "/openapi.json", timeout=10)
        if api.ok and "/v1/chat/completions" in api.json().get("paths", {}):
            return f"{url}: busy generating (its API answers); captions ask for {settings.llm_model}"
        raise
    resp.raise_for_status()
    served = [m.get("id") for m in resp.json().get("data") or []]
    return f"{url} serves {', '.join(map(str, served[:5])) or 'no model'}; captions ask for {settings.llm_model}"


def check_all(settings: Settings, index_encoder: bool = False) -> dict[str, dict]:
    """Every dependency; with ``index_encoder`` (``prism check``) also whether the index is stale (not in
    /readyz: a stale index still serves text search, re-embedding is an operator's step)."""
    checks = {"database": _timed(lambda: check_database(settings))}
    if settings.search_backend == "elasticsearch":
        checks["elasticsearch"] = _timed(lambda: check_elasticsearch(settings))
    else:
        checks["embedded_index"] = _timed(lambda: str(settings.resolved_embedded_dir))
    if settings.task_mode == "celery":
        checks["redis"] = _timed(lambda: check_redis(settings))
    if index_encoder:
        checks["index_encoder"] = _timed(lambda: check_index_encoder(settings))
    if index_encoder and settings.captioner == "llm":   # ingest needs it; search does not (not in /readyz)
        checks["llm"] = _timed(lambda: check_llm(settings))
    models = check_models()
    if models is not None:
        checks["models"] = models
    return checks


def check_models() -> dict | None:
    """The models of a process that warms up when it starts (backend/warmup.py): not ok while ``warming``;
    None for a process that loads them on first use (no warm-up started)."""
    from backend.warmup import state

    warm = state()
    if warm["status"] == "cold":
        return None
    if warm["status"] == "ready":
        return {"ok": True, "info": {k: v for k, v in warm.items() if k != "status"}}
    return {"ok": False, "status": warm["status"], "error": warm.get("error") or "models loading"}
