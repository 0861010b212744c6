"""Relational record of documents, jobs, watches, alerts and keys (SQLAlchemy 2.x)."""
from backend.db.models import (  # noqa: F401
    Alert,
    AlertDelivery,
    ApiKey,
    AuditEvent,
    Base,
    Figure,
    IngestJob,
    Patent,
    Watch,
    WatchRun,
)
from backend.db.session import get_engine, session_scope  # noqa: F401
