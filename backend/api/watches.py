"""Watches API: saved searches that alert on new filings (the service does the work)."""
from __future__ import annotations

from apiflask import APIBlueprint

from backend.api.common import db_session, row_id
from backend.app import app_settings
from backend.auth import current_principal, require_scope
from backend.monitoring import alerts as alert_service
from backend.monitoring import run_now as run_service
from backend.monitoring import watches as service
from backend.monitoring.schemas import (
    AlertList,
    PageQuery,
    WatchIn,
    WatchList,
    WatchListQuery,
    WatchOut,
    WatchPatch,
)

bp = APIBlueprint("watches", __name__, tag="watches")


@bp.post("/watches")
@require_scope("search")
@bp.input(WatchIn, arg_name="data")
@bp.output(WatchOut, status_code=201)
@bp.doc(summary="Create a watch", description="The webhook secret is shown once, in this answer, when "
        "Prism generates it. A new watch reports filings ingested after its creation.",
        responses={400: "invalid watch or query", 403: "owner of someone else"})
def create_watch(data: dict):
    with db_session() as session:
        out = service.create_watch(session, app_settings(), current_principal(), data)
    return out, 201, {"Location": f"/watches/{out['id']}"}


@bp.get("/watches")
@require_scope("search")
@bp.input(WatchListQuery, location="query", arg_name="params")
@bp.output(WatchList)
@bp.doc(summary="List watches (your own; all for admin keys)")
def list_watches(params: dict):
    with db_session() as session:
        items, total = service.list_watches(session, current_principal(), limit=params["limit"],
                                            offset=params["offset"], owner=params.get("owner"))
    return {"items": items, "total": total, "limit": params["limit"], "offset": params["offset"]}


@bp.get("/watches/<int:watch_id>")
@require_scope("search")
@bp.output(WatchOut)
@bp.doc(summary="Get a watch", responses={404: "no such watch"})
def get_watch(watch_id: int):
    with db_session() as session:
        return service.get_watch_dict(session, current_principal(), row_id(watch_id, "watch"))


@bp.patch("/watches/<int:watch_id>")
@require_scope("search")
@bp.input(WatchPatch, arg_name="data")
@bp.output(WatchOut)
@bp.doc(summary="Change a watch", description="Send only the fields to change; webhook_url null removes "
        "the webhook.", responses={400: "invalid change", 404: "no such watch"})
def patch_watch(watch_id: int, data: dict):
    with db_session() as session:
        return service.update_watch(session, app_settings(), current_principal(), row_id(watch_id, "watch"),
                                    data)


@bp.delete("/watches/<int:watch_id>")
@require_scope("search")
@bp.output({}, status_code=204)
@bp.doc(summary="Delete a watch and its alerts", responses={404: "no such watch"})
def delete_watch(watch_id: int):
    with db_session() as session:
        service.delete_watch(session, current_principal(), row_id(watch_id, "watch"))
    return "", 204


@bp.post("/watches/<int:watch_id>/run")
@require_scope("search")
@bp.doc(summary="Run a watch now", description="Runs the watch over the filings ingested since its last run, "
        "paused or not and whatever its schedule. With a worker (task_mode=celery) the run is queued: 202 "
        "{status: queued}; in task_mode=eager it runs in the request: 200 with the run's summary (status, "
        "examined, alerts).", responses={200: "the run's summary", 202: "queued", 404: "no such watch"})
def run_watch_now(watch_id: int):
    with db_session() as session:
        service.get_watch(session, current_principal(), row_id(watch_id, "watch"))
    summary, status = run_service.run_now(watch_id, app_settings())
    return summary, status


@bp.get("/watches/<int:watch_id>/alerts")
@require_scope("search")
@bp.input(PageQuery, location="query", arg_name="params")
@bp.output(AlertList)
@bp.doc(summary="Alerts of a watch, newest first", responses={404: "no such watch"})
def watch_alerts(watch_id: int, params: dict):
    principal = current_principal()
    with db_session() as session:
        service.get_watch(session, principal, row_id(watch_id, "watch"))
        items, total = alert_service.list_alerts(session, principal, watch_id=watch_id, limit=params["limit"],
                                                 offset=params["offset"])
    return {"items": items, "total": total, "limit": params["limit"], "offset": params["offset"]}
