"""Small helpers the monitoring blueprints share: a database session from the app's settings, and a
path id that cannot exist in the database answered as 404 before it reaches SQL."""
from __future__ import annotations

from backend.app import app_settings
from backend.db.session import session_scope
from backend.errors import ProblemError
from backend.monitoring.schemas import MAX_DB_INT


def db_session():
    return session_scope(app_settings().resolved_database_url)


def row_id(value: int, what: str) -> int:
    """``value`` if a database integer key can hold it, else 404 ``no <what> <value>``."""
    if value > MAX_DB_INT:
        raise ProblemError(404, f"no {what} {value}")
    return value
