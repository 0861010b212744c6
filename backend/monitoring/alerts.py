"""Alerts: one per (watch, patent), created with insert-on-conflict-do-nothing so a patent is never
reported twice to the same watch, however many runs, workers or re-ingests see it."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.auth.keys import Principal
from backend.db.models import Alert, AlertDelivery, Watch, utcnow
from backend.errors import ProblemError
from backend.monitoring.watches import aware


def _insert_for(session: Session):
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"alerts need PostgreSQL or SQLite, not {dialect}")  # pragma: no cover


def insert_alerts(session: Session, watch: Watch, hits: list[dict], *,
                  seq_by_pub: dict[str, int] | None = None, origin: str = "scheduled",
                  now: dt.datetime | None = None) -> list[int]:
    """Create alerts for ``hits`` (search hits with ``rank``); returns the ids of the rows actually
    inserted — hits already alerted for this watch are skipped by the unique constraint."""
    if not hits:
        return []
    now = now or utcnow()
    seq_by_pub = seq_by_pub or {}
    rows = []
    for hit in hits:
        pub = hit["publication_number"]
        rows.append({
            "watch_id": watch.id, "publication_number": pub,
            "score": _float(hit.get("score")), "rank": hit.get("rank"),
            "reason": {"origin": origin, "figure_id": hit.get("figure_id"), "title": hit.get("title"),
                       "ingest_seq": seq_by_pub.get(pub), "explain": hit.get("explain")},
            "read": False, "delivered": False, "delivery_attempts": 0,
            "next_attempt_at": now if watch.webhook_url else None, "created_at": now,
        })
    insert = _insert_for(session)
    stmt = (insert(Alert).values(rows)
            .on_conflict_do_nothing(index_elements=["watch_id", "publication_number"])
            .returning(Alert.id))
    return [row[0] for row in session.execute(stmt)]


def _float(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def alert_to_dict(alert: Alert, watch_name: str | None = None) -> dict:
    state = ("delivered" if alert.delivered else "pending" if alert.next_attempt_at is not None
             else "failed" if alert.delivery_attempts else "none")
    return {
        "id": alert.id, "watch_id": alert.watch_id, "watch_name": watch_name,
        "publication_number": alert.publication_number, "score": alert.score, "rank": alert.rank,
        "reason": alert.reason or {}, "read": bool(alert.read), "delivery": state,
        "delivery_attempts": alert.delivery_attempts or 0,
        "created_at": aware(alert.created_at),
    }


def _visible(stmt, principal: Principal):
    stmt = stmt.join(Watch, Watch.id == Alert.watch_id)
    return stmt if principal.is_admin else stmt.where(Watch.owner == principal.owner)


def list_alerts(session: Session, principal: Principal, *, watch_id: int | None = None,
                unread: bool | None = None, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
    stmt = _visible(select(Alert, Watch.name), principal)
    count = _visible(select(func.count(Alert.id)), principal)
    if watch_id is not None:
        stmt, count = stmt.where(Alert.watch_id == watch_id), count.where(Alert.watch_id == watch_id)
    if unread is not None:
        stmt, count = stmt.where(Alert.read == (not unread)), count.where(Alert.read == (not unread))
    stmt = stmt.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
    rows = session.execute(stmt)
    return [alert_to_dict(a, name) for a, name in rows], int(session.scalar(count) or 0)


def get_alert(session: Session, principal: Principal, alert_id: int) -> tuple[Alert, str]:
    row = session.execute(_visible(select(Alert, Watch.name), principal).where(Alert.id == alert_id)).first()
    if row is None:
        raise ProblemError(404, f"no alert {alert_id}")
    return row[0], row[1]


def mark_read(session: Session, principal: Principal, alert_id: int, read: bool = True) -> dict:
    alert, name = get_alert(session, principal, alert_id)
    alert.read = read
    session.flush()
    return alert_to_dict(alert, name)


def deliveries(session: Session, alert_id: int) -> list[AlertDelivery]:
    return list(session.scalars(select(AlertDelivery).where(AlertDelivery.alert_id == alert_id)
                                .order_by(AlertDelivery.attempt, AlertDelivery.id)))
