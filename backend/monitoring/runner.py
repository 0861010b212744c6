"""Watch runs: re-run each due watch over the filings ingested since its high-water mark.

Guarantees (see docs/monitoring.md):
* a watch is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two workers or two beat
  ticks never run the same watch at once — the loser skips it;
* alerts are inserted with ON CONFLICT DO NOTHING on (watch_id, publication_number): a patent is
  reported once per watch, even when it is re-ingested or a run is repeated;
* the high-water mark advances in the same transaction as the alerts, so a worker dying mid-run
  leaves the watch exactly as it was and the next run redoes the batch.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from backend.db.models import Patent, Watch, WatchRun, utcnow
from backend.db.session import session_factory
from backend.monitoring.alerts import insert_alerts
from backend.monitoring.search_adapter import search_candidates
from backend.monitoring.watches import aware
from backend.observability import metrics as observed
from backend.search import SearchBackend, get_backend
from backend.settings import Settings, get_settings

log = logging.getLogger(__name__)

BATCH = 100                       # publication numbers per restricted search
INDEX_SETTLE_S = 600              # candidates (re)ingested this recently are checked to be indexed
INDEX_RETRY_S = 30                # a run that met a not-yet-indexed filing comes back this soon
FAILED_RETRY_S = 600              # a failed run is retried after at most this long
MAX_ERROR_CHARS = 2000


@dataclass
class RunSummary:
    watch_id: int
    status: str                   # done | not_due | locked | missing | failed
    from_seq: int | None = None
    to_seq: int | None = None
    examined: int = 0
    alert_ids: list[int] = field(default_factory=list)
    error: str | None = None
    webhook: bool = False         # whether the new alerts have a webhook to be delivered to

    def as_dict(self) -> dict:
        return {"watch_id": self.watch_id, "status": self.status, "from_seq": self.from_seq,
                "to_seq": self.to_seq, "examined": self.examined, "alerts": len(self.alert_ids),
                "alert_ids": self.alert_ids, "error": self.error, "webhook": self.webhook}


def select_hits(hits: list[dict], watch: Watch) -> list[dict]:
    """The hits that pass the watch's thresholds (rank is 1-based among the run's candidates)."""
    out = []
    for hit in hits:
        if watch.max_rank is not None and (hit.get("rank") or 0) > watch.max_rank:
            continue
        score = hit.get("score")
        if watch.min_score is not None and (score is None or float(score) < watch.min_score):
            continue
        out.append(hit)
    return out


def _claim(session: Session, watch_id: int) -> Watch | None:
    stmt = select(Watch).where(Watch.id == watch_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def _candidates(session: Session, after_seq: int) -> tuple[list[tuple[str, int, dt.datetime | None]], bool]:
    """Up to about BATCH (publication_number, ingest_seq, updated_at) after ``after_seq`` in sequence
    order, never splitting equal sequence numbers; and whether they are the last ones."""
    base = select(Patent.ingest_seq).where(Patent.ingest_seq > after_seq)
    cut = session.scalar(base.order_by(Patent.ingest_seq).offset(BATCH - 1).limit(1))
    stmt = (select(Patent.publication_number, Patent.ingest_seq, Patent.updated_at)
            .where(Patent.ingest_seq > after_seq))
    if cut is not None:
        stmt = stmt.where(Patent.ingest_seq <= cut)
    rows: list[tuple[str, int, dt.datetime | None]] = [
        (pub, seq or 0, updated)    # seq > after_seq: never 0
        for pub, seq, updated in session.execute(stmt.order_by(Patent.ingest_seq, Patent.id))]
    last = cut is None or not session.scalar(select(exists().where(Patent.ingest_seq > cut)))
    return rows, last


def _indexed(backend: SearchBackend, publication_number: str, seq: int) -> bool:
    """Whether the search index holds ``publication_number`` as stamped with ``seq`` (or later)."""
    docs = backend.get_patent_figures(publication_number)
    if not docs:
        return False
    seqs = [d["ingest_seq"] for d in docs if d.get("ingest_seq") is not None]
    return not seqs or max(seqs) >= seq


def first_unindexed(backend: SearchBackend, rows: list[tuple[str, int, dt.datetime | None]], hit_pubs: set[str],
                    now: dt.datetime) -> int | None:
    """The lowest sequence number among recently (re)ingested candidates that the index does not show
    yet. Ingest commits the database row before it writes the index; a run must not move its mark past
    a filing it could not see. Hits are visible by definition; older rows are long indexed."""
    horizon = now - dt.timedelta(seconds=INDEX_SETTLE_S)
    for pub, seq, updated in rows:
        if pub in hit_pubs:
            continue
        stamped = aware(updated)
        if stamped is not None and stamped < horizon:
            continue
        if not _indexed(backend, pub, seq):
            return seq
    return None


def _is_due(watch: Watch, now: dt.datetime) -> bool:
    if not watch.active:
        return False
    nxt = watch.next_run_at
    if nxt is None:
        return True
    if nxt.tzinfo is None:
        nxt = nxt.replace(tzinfo=dt.UTC)
    return nxt <= now


@observed.watch_run_observed
def run_watch(watch_id: int, settings: Settings | None = None, *, force: bool = False,
              backend: SearchBackend | None = None, now: dt.datetime | None = None) -> RunSummary:
    """Run one watch over everything ingested since its high-water mark, batch by batch; each batch
    is one transaction (claim, search, alerts, high-water mark, run record). Never raises for a
    failing search: the failure is recorded on a WatchRun and the watch retried later."""
    settings = settings or get_settings()
    factory = session_factory(settings.resolved_database_url)
    summary = RunSummary(watch_id, "done")
    first = True
    while True:
        now = now or utcnow()
        try:
            with factory() as session, session.begin():
                watch = _claim(session, watch_id)
                if watch is None:
                    exists_ = session.scalar(select(Watch.id).where(Watch.id == watch_id)) is not None
                    if first:
                        summary.status = "locked" if exists_ else "missing"
                    return summary
                if first and not force and not _is_due(watch, now):
                    summary.status = "not_due"
                    return summary
                summary.webhook = bool(watch.webhook_url)
                from_seq = watch.high_water_seq or 0
                rows, last = _candidates(session, from_seq)
                hits, pending = [], False
                if rows:
                    backend = backend or get_backend(settings)
                    hits = search_candidates(settings, watch.query or {}, [r[0] for r in rows], backend)
                    cut = first_unindexed(backend, rows, {h["publication_number"] for h in hits}, now)
                    if cut is not None:  # stop just before it; the next run starts there
                        rows, last, pending = [r for r in rows if r[1] < cut], True, True
                seq_by_pub = {pub: seq for pub, seq, _updated in rows}
                selected = select_hits([h for h in hits if h["publication_number"] in seq_by_pub], watch)
                ids = insert_alerts(session, watch, selected, seq_by_pub=seq_by_pub, now=now)
                to_seq = max([from_seq, *seq_by_pub.values()])
                watch.high_water_seq = to_seq
                if last:
                    delay = min(watch.schedule_s, INDEX_RETRY_S) if pending else watch.schedule_s
                    watch.next_run_at = now + dt.timedelta(seconds=delay)
                session.add(WatchRun(watch_id=watch.id, from_seq=from_seq, to_seq=to_seq, status="done",
                                     alerts_created=len(ids), started_at=now, finished_at=utcnow()))
        except Exception as exc:  # noqa: BLE001 - record, reschedule, go on with other watches
            log.exception("watch %s run failed", watch_id)
            _record_failure(factory, watch_id, exc, now)
            summary.status, summary.error = "failed", f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            return summary
        if summary.from_seq is None:
            summary.from_seq = from_seq
        summary.to_seq = to_seq
        summary.examined += len(rows)
        summary.alert_ids.extend(ids)
        first = False
        if last:
            return summary


def _record_failure(factory, watch_id: int, exc: Exception, now: dt.datetime) -> None:
    try:
        with factory() as session, session.begin():
            watch = session.get(Watch, watch_id)
            if watch is None:
                return
            retry = min(watch.schedule_s or FAILED_RETRY_S, FAILED_RETRY_S)
            watch.next_run_at = now + dt.timedelta(seconds=retry)
            session.add(WatchRun(watch_id=watch_id, from_seq=watch.high_water_seq or 0,
                                 to_seq=watch.high_water_seq or 0, status="failed",
                                 error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], started_at=now,
                                 finished_at=utcnow()))
    except Exception:  # noqa: BLE001
        log.exception("could not record the failure of watch %s", watch_id)


def due_watch_ids(settings: Settings | None = None, *, now: dt.datetime | None = None,
                  limit: int = 500) -> list[int]:
    settings = settings or get_settings()
    now = now or utcnow()
    with session_factory(settings.resolved_database_url)() as session:
        stmt = (select(Watch.id).where(Watch.active.is_(True))
                .where(or_(Watch.next_run_at.is_(None), Watch.next_run_at <= now))
                .order_by(Watch.next_run_at, Watch.id).limit(limit))
        return list(session.scalars(stmt))


def run_due(settings: Settings | None = None, *, backend: SearchBackend | None = None,
            now: dt.datetime | None = None, limit: int = 500) -> list[RunSummary]:
    """Run every due watch (what beat's ``prism.watches.run_due`` does). Safe to call concurrently."""
    settings = settings or get_settings()
    ids = due_watch_ids(settings, now=now, limit=limit)
    if ids and backend is None:
        backend = _refreshed_backend(settings)
    return [run_watch(watch_id, settings, backend=backend, now=now) for watch_id in ids]


def _refreshed_backend(settings: Settings) -> SearchBackend:
    """The search backend, refreshed once so the run sees everything ingest has written."""
    backend = get_backend(settings)
    try:
        backend.refresh()
    except Exception:  # noqa: BLE001 - a failing refresh surfaces again in the search itself
        log.warning("search backend refresh failed before watch runs", exc_info=True)
    return backend


def check_new_document(publication_number: str, settings: Settings | None = None, *,
                       backend: SearchBackend | None = None) -> list[int]:
    """Ingest-time check: evaluate ``publication_number`` against every active watch that has not yet
    passed its ingest sequence and has no rank threshold (a rank only means something among a run's
    candidates). Creates alerts (deduplicated) without moving high-water marks, enqueues their
    webhooks, and returns the new alert ids. Never raises: ingest must not fail because of a watch."""
    settings = settings or get_settings()
    factory = session_factory(settings.resolved_database_url)
    new_ids: list[int] = []
    deliver_ids: list[int] = []
    try:
        with factory() as session:
            seq = session.scalar(select(Patent.ingest_seq)
                                 .where(Patent.publication_number == publication_number))
            if seq is None:
                return []
            watch_ids = list(session.scalars(
                select(Watch.id).where(Watch.active.is_(True), Watch.max_rank.is_(None),
                                       Watch.high_water_seq < seq)))
        for watch_id in watch_ids:
            try:
                with factory() as session, session.begin():
                    watch = session.get(Watch, watch_id)
                    if watch is None:
                        continue
                    hits = search_candidates(settings, watch.query or {}, [publication_number], backend)
                    ids = insert_alerts(session, watch, select_hits(hits, watch),
                                        seq_by_pub={publication_number: seq}, origin="ingest")
                new_ids += ids
                if watch.webhook_url:
                    deliver_ids += ids
            except Exception:  # noqa: BLE001
                log.exception("ingest-time check of %s against watch %s failed", publication_number, watch_id)
    except Exception:  # noqa: BLE001
        log.exception("ingest-time watch check of %s failed", publication_number)
        return new_ids
    if deliver_ids:
        from backend.monitoring.dispatch import enqueue_deliveries

        enqueue_deliveries(deliver_ids, settings)
    return new_ids
