"""Alerts API: list (``?unread=1``), inspect with delivery log, mark read."""
from __future__ import annotations

from apiflask import APIBlueprint

from backend.api.common import db_session, row_id
from backend.auth import current_principal, require_scope
from backend.monitoring import alerts as service
from backend.monitoring.schemas import AlertDetail, AlertList, AlertOut, AlertQuery
from backend.monitoring.watches import aware

bp = APIBlueprint("alerts", __name__, tag="alerts")


@bp.get("/alerts")
@require_scope("search")
@bp.input(AlertQuery, location="query", arg_name="params")
@bp.output(AlertList)
@bp.doc(summary="Alerts of your watches, newest first")
def list_alerts(params: dict):
    with db_session() as session:
        items, total = service.list_alerts(session, current_principal(), watch_id=params.get("watch_id"),
                                           unread=params.get("unread"), limit=params["limit"],
                                           offset=params["offset"])
    return {"items": items, "total": total, "limit": params["limit"], "offset": params["offset"]}


@bp.get("/alerts/<int:alert_id>")
@require_scope("search")
@bp.output(AlertDetail)
@bp.doc(summary="An alert with its webhook delivery attempts", responses={404: "no such alert"})
def get_alert(alert_id: int):
    with db_session() as session:
        alert, name = service.get_alert(session, current_principal(), row_id(alert_id, "alert"))
        out = service.alert_to_dict(alert, name)
        out["deliveries"] = [{"attempt": d.attempt, "url": d.url, "status_code": d.status_code,
                              "error": d.error, "succeeded": d.succeeded,
                              "attempted_at": aware(d.attempted_at)}
                             for d in service.deliveries(session, alert.id)]
    return out


@bp.post("/alerts/<int:alert_id>/read")
@require_scope("search")
@bp.output(AlertOut)
@bp.doc(summary="Mark an alert read", responses={404: "no such alert"})
def mark_read(alert_id: int):
    with db_session() as session:
        return service.mark_read(session, current_principal(), row_id(alert_id, "alert"))
