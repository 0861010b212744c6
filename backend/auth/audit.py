"""Audit log of ingest and admin calls (and of key management on the CLI)."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from backend.db.models import AuditEvent

log = logging.getLogger(__name__)


def record(session: Session, *, action: str, method: str, path: str, status_code: int,
           api_key_id: int | None = None, detail: dict | None = None) -> AuditEvent:
    event = AuditEvent(api_key_id=api_key_id, action=action[:64], method=method[:8], path=path[:2048],
                       status_code=status_code, detail=detail or {})
    session.add(event)
    return event


def record_safely(database_url: str, **fields) -> None:
    """Write one event in its own transaction; a failure is logged, never raised into a response."""
    from backend.db.session import session_scope

    try:
        with session_scope(database_url) as session:
            record(session, **fields)
    except Exception:  # noqa: BLE001 - auditing must not turn a served request into an error
        log.exception("could not write audit event %s %s", fields.get("method"), fields.get("path"))
