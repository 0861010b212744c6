"""Liveness and readiness."""
from __future__ import annotations

from apiflask import APIBlueprint

from backend.app import app_settings
from backend.readiness import check_all

bp = APIBlueprint("health", __name__, tag="health")


@bp.get("/healthz")
@bp.doc(summary="Liveness: the process answers")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@bp.doc(summary="Readiness: status of each dependency (database, search backend, Redis) and of the models",
        responses={200: "all dependencies up, models loaded", 503: "a dependency is down, or models still loading "
                                                                    "(status warming)"})
def readyz():
    checks = check_all(app_settings())
    ok = all(c["ok"] for c in checks.values())
    warming = checks.get("models", {}).get("status") == "warming"   # backend/warmup.py
    return {"status": "ok" if ok else "warming" if warming else "degraded", "checks": checks}, (200 if ok else 503)
