"""ORM models. Alembic migrations in ``alembic/versions`` must agree with these
(tests/foundation/test_migrations.py checks an empty autogenerate diff)."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict: JSON, list: JSON}  # noqa: RUF012 - SQLAlchemy reads it off the class


class JobStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Patent(Base):
    __tablename__ = "patents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication_number: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    kind: Mapped[str | None] = mapped_column(String(8))
    country: Mapped[str | None] = mapped_column(String(4), index=True)
    application_number: Mapped[str | None] = mapped_column(String(32))
    filing_date: Mapped[dt.date | None] = mapped_column(Date)
    publication_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    priority_date: Mapped[dt.date | None] = mapped_column(Date)
    title: Mapped[str] = mapped_column(Text, default="")
    abstract: Mapped[str] = mapped_column(Text, default="")
    claims: Mapped[str] = mapped_column(Text, default="")
    applicants: Mapped[list] = mapped_column(JSON, default=list)
    inventors: Mapped[list] = mapped_column(JSON, default=list)
    cpc: Mapped[list] = mapped_column(JSON, default=list)
    ipc: Mapped[list] = mapped_column(JSON, default=list)
    locarno: Mapped[list] = mapped_column(JSON, default=list)
    source: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # monotonically increasing sequence stamped at each (re)ingest; watches use it as high-water mark
    ingest_seq: Mapped[int | None] = mapped_column(Integer, index=True)
    # the patent family (backend/ingest/family.py): DOCDB id, listed members or the earliest filing
    family_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # the publication's own language, and per language its title, abstract and claims (EPO: en/de/fr)
    language: Mapped[str | None] = mapped_column(String(8))
    texts: Mapped[dict | None] = mapped_column(JSON)

    figures: Mapped[list[Figure]] = relationship(
        back_populates="patent", cascade="all, delete-orphan", order_by="Figure.number"
    )


class Figure(Base):
    __tablename__ = "figures"
    __table_args__ = (UniqueConstraint("patent_id", "number", "region", name="uq_figures_patent_number_region"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    figure_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # e.g. USD0907292-F3
    patent_id: Mapped[int] = mapped_column(ForeignKey("patents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    viewpoint: Mapped[str | None] = mapped_column(String(64))
    object_name: Mapped[str | None] = mapped_column(String(255))
    image_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    image_key: Mapped[str | None] = mapped_column(String(255))
    thumb_key: Mapped[str | None] = mapped_column(String(255))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    captions: Mapped[list] = mapped_column(JSON, default=list)
    # a figure split from a multi-figure sheet (backend/ingest/figure_split.py): its place on the sheet
    # (1, 2 ... in reading order; 0: the whole sheet), its box as shares of the sheet's display image, that image
    region: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    box: Mapped[list | None] = mapped_column(JSON)
    sheet_key: Mapped[str | None] = mapped_column(String(255))

    patent: Mapped[Patent] = relationship(back_populates="figures")


class IngestJob(Base):
    __tablename__ = "ingest_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, name="job_status", native_enum=False, length=16), default=JobStatus.queued, index=True
    )
    source: Mapped[str] = mapped_column(String(512), default="")
    publication_number: Mapped[str | None] = mapped_column(String(32), index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))  # ingested | updated | skipped
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Watch(Base):
    __tablename__ = "watches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(255), index=True)
    query: Mapped[dict] = mapped_column(JSON, default=dict)  # a search request (see backend.search)
    query_image_key: Mapped[str | None] = mapped_column(String(255))
    shortlist: Mapped[list | None] = mapped_column(JSON)   # publication numbers picked from the results
    min_score: Mapped[float | None] = mapped_column(Float)
    max_rank: Mapped[int | None] = mapped_column(Integer)
    schedule_s: Mapped[int] = mapped_column(Integer, default=7 * 24 * 3600)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    high_water_seq: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class WatchRun(Base):
    __tablename__ = "watch_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"), index=True)
    from_seq: Mapped[int] = mapped_column(Integer)
    to_seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")
    alerts_created: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("watch_id", "publication_number", name="uq_alerts_watch_patent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"), index=True)
    publication_number: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[dict] = mapped_column(JSON, default=dict)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    # webhook outbox (monitoring): attempts made so far; when the next attempt is due (NULL = nothing to do)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertDelivery(Base):
    """One webhook delivery attempt (every attempt is logged)."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    attempted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
