"""The ingest reconciler: re-drive jobs that are ``queued`` or ``running`` with no live owner.

Who owns an unfinished job:

* a process recorded on the job (``payload.worker = {host, pid}``): the worker running it, or in eager
  mode the process that created it (the API worker or ``prism ingest``). On this host the owner is live
  while the pid exists; on another host while the job is younger than ``PRISM_JOB_STALE_AFTER_S``;
* a queued job in celery mode with no process recorded: the broker message that carries it. The Redis
  broker's ``ingest`` queue and its unacknowledged-message hash are read; a job older than
  ``PRISM_JOB_ENQUEUE_GRACE_S`` (commit happens before enqueue) that no message names was lost (a Redis
  restart without persistence, a flushed database). When the broker cannot be read, age decides.

:func:`reconcile` re-drives the stale jobs: in celery mode it marks them queued and enqueues them again;
in eager mode it runs them in this process. It is idempotent (the pipeline is: a job that finished
meanwhile is skipped, a patent stored twice is replaced) and cheap to call often: at worker start, on
beat (``prism.ingest.reconcile``) and from ``prism jobs recover``. ``POST /jobs/<id>/retry`` accepts a
stale job as it does a failed one.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import re
import socket
from dataclasses import dataclass, field

from sqlalchemy import select, update

from backend.db.models import IngestJob, JobStatus, utcnow
from backend.db.session import session_scope
from backend.settings import Settings

log = logging.getLogger(__name__)

INGEST_QUEUE = "ingest"
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KOMBU_PRIORITY_SEP = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


def this_process() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Stale:
    job_id: str
    status: str
    attempts: int
    why: str


@dataclass
class ReconcileReport:
    examined: int = 0
    stale: list[Stale] = field(default_factory=list)
    redriven: list[str] = field(default_factory=list)
    broker_checked: bool = False

    def as_dict(self) -> dict:
        return {"examined": self.examined, "stale": [s.__dict__ for s in self.stale], "redriven": self.redriven,
                "broker_checked": self.broker_checked}


def broker_job_ids(settings: Settings) -> set[str] | None:
    """Job ids named by a message in the broker's ingest queue or among its unacknowledged messages;
    ``None`` when the broker is not Redis or cannot be read."""
    url = settings.resolved_broker_url
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        raw: list[bytes] = []
        for step in _KOMBU_PRIORITY_STEPS:
            name = INGEST_QUEUE if step == 0 else f"{INGEST_QUEUE}{_KOMBU_PRIORITY_SEP}{step}"
            raw.extend(client.lrange(name, 0, -1))
        raw.extend(client.hvals("unacked"))
    except redis.RedisError as exc:
        log.warning("reconcile: cannot read the broker (%s); deciding by age", exc)
        return None
    found: set[str] = set()
    for item in raw:
        found.update(m.decode() for m in _UUID.findall(item))
        found.update(m.decode() for m in _UUID.findall(_message_body(item)))
    return found


def _message_body(raw: bytes) -> bytes:
    """The decoded body of a kombu Redis message (the queue holds the message; ``unacked`` holds
    ``[message, exchange, routing_key]``)."""
    try:
        value = json.loads(raw)
        message = value[0] if isinstance(value, list) else value
        body = message.get("body", "")
        if (message.get("properties") or {}).get("body_encoding") == "base64":
            return base64.b64decode(body)
        return body.encode() if isinstance(body, str) else b""
    except (ValueError, TypeError, AttributeError, IndexError):
        return b""


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def staleness(job: IngestJob, settings: Settings, *, now: dt.datetime, in_broker: set[str] | None,
              host: str | None = None) -> str | None:
    """Why ``job`` (queued or running) has no live owner, or ``None`` when it has one."""
    host = host or socket.gethostname()
    stale_after = dt.timedelta(seconds=settings.job_stale_after_s)
    since = _aware(job.started_at if job.status == JobStatus.running else None) or _aware(job.created_at) or now
    age = now - since
    owner = (job.payload or {}).get("worker") or {}
    if isinstance(owner.get("pid"), int) and owner.get("host"):
        if owner["host"] == host:
            return None if pid_alive(owner["pid"]) else f"its process {owner['pid']} on {host} is gone"
        return f"no news from {owner['host']} for {int(age.total_seconds())} s" if age > stale_after else None
    if job.status == JobStatus.queued and settings.task_mode == "celery" and in_broker is not None:
        if age.total_seconds() > settings.job_enqueue_grace_s and job.id not in in_broker:
            return "no broker message carries it (lost with the broker)"
        return None
    return f"{job.status.value} for {int(age.total_seconds())} s with no owner" if age > stale_after else None


def find_stale(settings: Settings, *, now: dt.datetime | None = None, job_ids: list[str] | None = None,
               report: ReconcileReport | None = None) -> list[Stale]:
    now = now or utcnow()
    in_broker = broker_job_ids(settings) if settings.task_mode == "celery" else None
    if report is not None:
        report.broker_checked = in_broker is not None
    stale = []
    with session_scope(settings.resolved_database_url) as session:
        query = select(IngestJob).where(IngestJob.status.in_([JobStatus.queued, JobStatus.running]))
        if job_ids is not None:
            query = query.where(IngestJob.id.in_(job_ids))
        for job in session.scalars(query.order_by(IngestJob.created_at)):
            if report is not None:
                report.examined += 1
            why = staleness(job, settings, now=now, in_broker=in_broker)
            if why:
                stale.append(Stale(job.id, job.status.value, job.attempts or 0, why))
    return stale


def claim(settings: Settings, stale: list[Stale], *, owner: dict | None) -> list[str]:
    """Mark these jobs queued again (owned by ``owner``, or by nobody: a broker message) unless someone
    changed them since they were found stale; returns the ids this caller claimed."""
    claimed = []
    with session_scope(settings.resolved_database_url) as session:
        for item in stale:
            job = session.get(IngestJob, item.job_id)
            if job is None:
                continue
            payload = {k: v for k, v in (job.payload or {}).items() if k != "worker"}
            if owner:
                payload["worker"] = owner
            payload["redriven"] = int(payload.get("redriven") or 0) + 1
            done = session.execute(
                update(IngestJob)
                .where(IngestJob.id == item.job_id, IngestJob.status == JobStatus(item.status),
                       IngestJob.attempts == item.attempts)
                .values(status=JobStatus.queued, payload=payload, last_error=f"re-driven: {item.why}"[:4000])
                .execution_options(synchronize_session=False)).rowcount
            if done == 1:
                claimed.append(item.job_id)
    return claimed


def reconcile(settings: Settings, *, dry_run: bool = False, now: dt.datetime | None = None) -> ReconcileReport:
    """Find and re-drive the stale ingest jobs (see the module docstring)."""
    from backend.ingest import runners

    report = ReconcileReport()
    report.stale = find_stale(settings, now=now, report=report)
    if dry_run or not report.stale:
        return report
    eager = settings.task_mode == "eager"
    report.redriven = claim(settings, report.stale, owner=this_process() if eager else None)
    if report.redriven:
        log.warning("reconcile: re-driving %d ingest job(s) with no live owner", len(report.redriven))
        groups = runners.batches([(j, 8) for j in report.redriven], max(settings.embed_batch_size, 8))
        for group in groups:
            if eager:
                runners.run_eager(group, settings)
            else:
                runners.enqueue(group, settings)
    return report
