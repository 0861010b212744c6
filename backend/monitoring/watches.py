"""Watches: saved search requests re-run over newly ingested filings (service layer)."""
from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.auth.keys import Principal
from backend.db.models import Patent, Watch, WatchRun, utcnow
from backend.errors import ProblemError
from backend.monitoring.search_adapter import check_references, validate_query
from backend.settings import Settings

MAX_SCHEDULE_S = 366 * 24 * 3600
SECRET_PREFIX = "whsec_"
UPDATABLE = ("name", "query", "min_score", "max_rank", "schedule_s", "webhook_url", "webhook_secret",
             "active", "shortlist")
MAX_SHORTLIST = 1000


def new_webhook_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def current_high_water(session: Session) -> int:
    """The latest ingest sequence: a new watch reports filings ingested after it was created."""
    return int(session.scalar(select(func.max(Patent.ingest_seq))) or 0)


def _check_url(url: str, settings: Settings) -> str:
    from backend.monitoring.webhook_targets import TargetRefused, check_url

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProblemError(400, f"webhook_url: must be an absolute http(s) URL (got {url!r})")
    try:   # no webhooks to loopback / private / link-local / metadata addresses (SSRF)
        check_url(url, settings, unresolvable_ok=True)
    except TargetRefused as exc:
        raise ProblemError(400, f"webhook_url: {exc}") from None
    return url


def _check(settings: Settings, data: dict) -> dict:
    out = dict(data)
    if "name" in out:
        name = (out["name"] or "").strip()
        if not name:
            raise ProblemError(400, "name: must not be empty")
        out["name"] = name
    if out.get("query") is not None:
        out["query"] = validate_query(out["query"], settings)
        check_references(settings, out["query"])
    if out.get("schedule_s") is not None:
        if not settings.watch_min_schedule_s <= out["schedule_s"] <= MAX_SCHEDULE_S:
            raise ProblemError(400, f"schedule_s: must be between {settings.watch_min_schedule_s} and "
                                    f"{MAX_SCHEDULE_S} seconds (got {out['schedule_s']})")
    if out.get("webhook_url"):
        out["webhook_url"] = _check_url(out["webhook_url"], settings)
    if out.get("webhook_secret") is not None and len(out["webhook_secret"]) < 16:
        raise ProblemError(400, "webhook_secret: must be at least 16 characters")
    if out.get("shortlist") is not None:
        out["shortlist"] = _shortlist(out["shortlist"])
    return out


def _shortlist(numbers: list[str]) -> list[str]:
    """Canonical publication numbers, each once, in the order given (400 naming the first bad one)."""
    from backend.patent_numbers import InvalidNumber, normalise

    if len(numbers) > MAX_SHORTLIST:
        raise ProblemError(400, f"shortlist: at most {MAX_SHORTLIST} publication numbers "
                                f"(got {len(numbers)})")
    out: dict[str, None] = {}
    for raw in numbers:
        try:
            out[normalise(raw)] = None
        except InvalidNumber as exc:
            raise ProblemError(400, f"shortlist: {raw!r} is not a publication number ({exc})") from None
    return list(out)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def watch_to_dict(watch: Watch, last_run: WatchRun | None = None, secret: str | None = None) -> dict:
    out = {
        "id": watch.id, "name": watch.name, "owner": watch.owner, "query": watch.query or {},
        "min_score": watch.min_score, "max_rank": watch.max_rank, "schedule_s": watch.schedule_s,
        "webhook_url": watch.webhook_url, "has_webhook_secret": bool(watch.webhook_secret),
        "active": bool(watch.active), "high_water_seq": watch.high_water_seq,
        "next_run_at": aware(watch.next_run_at), "created_at": aware(watch.created_at),
        "updated_at": aware(watch.updated_at), "shortlist": list(watch.shortlist or []),
        "last_run": None,
    }
    if last_run is not None:
        out["last_run"] = {"status": last_run.status, "from_seq": last_run.from_seq,
                           "to_seq": last_run.to_seq, "alerts_created": last_run.alerts_created,
                           "error": last_run.error, "started_at": aware(last_run.started_at),
                           "finished_at": aware(last_run.finished_at)}
    if secret is not None:
        out["webhook_secret"] = secret  # shown once, when generated or set
    return out


def last_run(session: Session, watch_id: int) -> WatchRun | None:
    return session.scalar(select(WatchRun).where(WatchRun.watch_id == watch_id)
                          .order_by(WatchRun.id.desc()).limit(1))


def create_watch(session: Session, settings: Settings, principal: Principal, data: dict) -> dict:
    data = _check(settings, data)
    owner = (data.get("owner") or "").strip() or principal.owner
    if owner != principal.owner and not principal.is_admin:
        raise ProblemError(403, "owner: only an admin key may create watches for someone else")
    secret = data.get("webhook_secret")
    generated = None
    if data.get("webhook_url") and not secret:
        secret = generated = new_webhook_secret()
    now = utcnow()
    schedule = data.get("schedule_s") or max(settings.watch_min_schedule_s, 24 * 3600)
    watch = Watch(name=data["name"], owner=owner, query=data["query"], min_score=data.get("min_score"),
                  max_rank=data.get("max_rank"), schedule_s=schedule,
                  webhook_url=data.get("webhook_url") or None,
                  webhook_secret=secret if data.get("webhook_url") else None, active=data.get("active", True),
                  high_water_seq=current_high_water(session), shortlist=data.get("shortlist") or None,
                  next_run_at=now + dt.timedelta(seconds=schedule), created_at=now, updated_at=now)
    session.add(watch)
    session.flush()
    return watch_to_dict(watch, secret=generated)


def get_watch(session: Session, principal: Principal, watch_id: int, *, lock: bool = False) -> Watch:
    stmt = select(Watch).where(Watch.id == watch_id)
    if not principal.is_admin:
        stmt = stmt.where(Watch.owner == principal.owner)
    watch = session.scalar(stmt)
    if watch is None:
        raise ProblemError(404, f"no watch {watch_id}")
    return watch


def get_watch_dict(session: Session, principal: Principal, watch_id: int) -> dict:
    watch = get_watch(session, principal, watch_id)
    return watch_to_dict(watch, last_run(session, watch.id))


def list_watches(session: Session, principal: Principal, *, limit: int = 100, offset: int = 0,
                 owner: str | None = None) -> tuple[list[dict], int]:
    stmt, count = select(Watch), select(func.count(Watch.id))
    if not principal.is_admin:
        owner = principal.owner
    if owner:
        stmt, count = stmt.where(Watch.owner == owner), count.where(Watch.owner == owner)
    rows = session.scalars(stmt.order_by(Watch.id).limit(limit).offset(offset)).all()
    return [watch_to_dict(w, last_run(session, w.id)) for w in rows], int(session.scalar(count) or 0)


def update_watch(session: Session, settings: Settings, principal: Principal, watch_id: int,
                 data: dict) -> dict:
    watch = get_watch(session, principal, watch_id)
    data = _check(settings, {k: v for k, v in data.items() if k in UPDATABLE})
    if "name" in data and data["name"] is None:
        raise ProblemError(400, "name: must not be null")
    if "query" in data and data["query"] is None:
        raise ProblemError(400, "query: must not be null")
    generated = None
    for key, value in data.items():
        if key in ("schedule_s", "active") and value is None:
            continue
        setattr(watch, key, value)
    if "webhook_url" in data:
        if not data["webhook_url"]:
            watch.webhook_url, watch.webhook_secret = None, None
        elif not watch.webhook_secret:
            watch.webhook_secret = generated = new_webhook_secret()
    if data.get("schedule_s"):
        watch.next_run_at = utcnow() + dt.timedelta(seconds=watch.schedule_s)
    watch.updated_at = utcnow()
    session.flush()
    return watch_to_dict(watch, last_run(session, watch.id), secret=generated)


def delete_watch(session: Session, principal: Principal, watch_id: int) -> None:
    session.delete(get_watch(session, principal, watch_id))
    session.flush()
