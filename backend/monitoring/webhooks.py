"""Webhook delivery of alerts: one signed POST per attempt, every attempt logged in AlertDelivery,
exponential backoff between attempts, the schedule kept on the alert row (an outbox).

An attempt first *claims* the alert with a conditional UPDATE that pushes ``next_attempt_at`` a
lease into the future; only the caller that wins the claim posts. A worker that dies mid-attempt
leaves the lease to expire and :func:`due_alert_ids` (the sweep) hands the alert out again.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import cast

import requests
from sqlalchemy import CursorResult, select, update

from backend import __version__
from backend.db.models import Alert, AlertDelivery, Watch, utcnow
from backend.db.session import session_factory
from backend.monitoring.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from backend.monitoring.watches import aware
from backend.observability import metrics as observed
from backend.settings import Settings, get_settings

log = logging.getLogger(__name__)

EVENT_TYPE = "prism.alert.created"
CLAIM_SLACK_S = 2.0               # an attempt may start this much before it is due (timer jitter)
SWEEP_GRACE_S = 60.0              # the sweep leaves alone what a queued retry should pick up itself
GONE = 410                        # the receiver says: stop
REFUSED = "target refused"        # the webhook URL points at a non-public address: stop (webhook_targets.py)


@dataclass(frozen=True)
class Outcome:
    alert_id: int
    status: str                   # delivered | retry | gave_up | skipped
    attempt: int | None = None
    status_code: int | None = None
    retry_in_s: float | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def backoff_s(settings: Settings, attempts: int) -> float:
    """Delay after the ``attempts``-th failure: base, 2×base, 4×base … capped at an hour and below the
    broker's visibility timeout (a longer countdown would be redelivered early)."""
    cap = min(3600.0, settings.visibility_timeout_s / 2)
    return min(cap, settings.webhook_backoff_s * (2 ** max(0, attempts - 1)))


def lease_s(settings: Settings) -> float:
    return 2 * settings.webhook_timeout_s + 30


def payload(alert: Alert, watch: Watch, attempt: int) -> bytes:
    body = {
        "type": EVENT_TYPE,
        "id": f"alert-{alert.id}",             # stable across attempts: receivers deduplicate on it
        "attempt": attempt,
        "watch": {"id": watch.id, "name": watch.name, "owner": watch.owner},
        "alert": {
            "id": alert.id, "publication_number": alert.publication_number, "score": alert.score,
            "rank": alert.rank, "reason": alert.reason or {},
            "created_at": created.isoformat() if (created := aware(alert.created_at)) else None,
            "url": f"/patents/{alert.publication_number}",
        },
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")


@observed.delivery_observed
def attempt_delivery(alert_id: int, settings: Settings | None = None, *, session_http=None,
                     now: dt.datetime | None = None) -> Outcome:
    """Make one delivery attempt for ``alert_id`` if it is due and nobody else is making it."""
    settings = settings or get_settings()
    factory = session_factory(settings.resolved_database_url)
    now = now or utcnow()
    # 1. claim: only one caller gets past this for a given due attempt
    with factory() as session, session.begin():
        claimed = cast(CursorResult, session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.delivered.is_(False), Alert.next_attempt_at.is_not(None),
                   Alert.next_attempt_at <= now + dt.timedelta(seconds=CLAIM_SLACK_S))
            .values(next_attempt_at=now + dt.timedelta(seconds=lease_s(settings)))
            .execution_options(synchronize_session=False)
        )).rowcount
        alert = session.get(Alert, alert_id) if claimed == 1 else None
        if alert is None:
            return Outcome(alert_id, "skipped")
        watch = session.get(Watch, alert.watch_id)
        if watch is None or not watch.webhook_url:
            alert.next_attempt_at = None
            return Outcome(alert_id, "skipped", error="watch has no webhook")
        attempt = (alert.delivery_attempts or 0) + 1
        url, secret = watch.webhook_url, watch.webhook_secret or ""
        body = payload(alert, watch, attempt)
    # 2. post, outside any transaction, with short timeouts
    status_code, error = _post(session_http, url, secret, body, attempt, alert_id, settings)
    ok = status_code is not None and 200 <= status_code < 300
    # 3. record the attempt and schedule what comes next
    finished = utcnow()
    with factory() as session, session.begin():
        alert = session.get(Alert, alert_id)
        if alert is None:  # watch deleted meanwhile
            return Outcome(alert_id, "skipped", attempt=attempt, status_code=status_code, error=error)
        session.add(AlertDelivery(alert_id=alert_id, attempt=attempt, url=url, status_code=status_code,
                                  error=error, succeeded=ok, attempted_at=finished))
        alert.delivery_attempts = attempt
        if ok:
            alert.delivered, alert.next_attempt_at = True, None
            return Outcome(alert_id, "delivered", attempt, status_code)
        if attempt >= settings.webhook_max_attempts or status_code == GONE or (error or "").startswith(REFUSED):
            alert.next_attempt_at = None
            log.warning("giving up on alert %s after %s attempts (last: %s)", alert_id, attempt,
                        error or status_code)
            return Outcome(alert_id, "gave_up", attempt, status_code, error=error)
        delay = backoff_s(settings, attempt)
        alert.next_attempt_at = finished + dt.timedelta(seconds=delay)
        return Outcome(alert_id, "retry", attempt, status_code, retry_in_s=delay, error=error)


def _post(session_http, url: str, secret: str, body: bytes, attempt: int, alert_id: int,
          settings: Settings) -> tuple[int | None, str | None]:
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"prism-webhooks/{__version__}",
        SIGNATURE_HEADER: sign(secret, body, ts),
        TIMESTAMP_HEADER: str(ts),
        "X-Prism-Event": EVENT_TYPE,
        "X-Prism-Event-Id": f"alert-{alert_id}",
        "X-Prism-Delivery-Attempt": str(attempt),
    }
    from backend.monitoring.webhook_targets import TargetRefused, check_url, guarded_session

    try:   # resolved again now (DNS may have changed since the watch was saved)
        check_url(url, settings, unresolvable_ok=False)
    except TargetRefused as exc:
        return None, f"{REFUSED}: {exc}"
    http = session_http or guarded_session(settings)   # the peer address is checked again on connect
    try:
        resp = http.post(url, data=body, headers=headers, timeout=(settings.webhook_timeout_s,
                                                                  settings.webhook_timeout_s),
                         allow_redirects=False)   # a 3xx is a failed attempt: redirects are never followed
        code = resp.status_code
        return code, None if 200 <= code < 300 else f"HTTP {code}: {resp.text[:200]}"
    except requests.RequestException as exc:
        if _refused(exc):
            return None, f"{REFUSED}: {_refused(exc)}"
        return None, f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        if session_http is None:
            http.close()


def _refused(exc: BaseException) -> str | None:
    """The refusal of the connection-level target check, wherever requests/urllib3 wrapped it."""
    from backend.monitoring.webhook_targets import TargetRefused

    seen = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, TargetRefused):
            return str(item)
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None)]
                     + [a for a in getattr(item, "args", ()) if isinstance(a, BaseException)])
    return None


def due_alert_ids(settings: Settings | None = None, *, now: dt.datetime | None = None,
                  grace_s: float = SWEEP_GRACE_S, limit: int = 1000) -> list[int]:
    """Alerts whose next attempt is overdue by more than ``grace_s``: lost enqueues (a crash between
    commit and enqueue), expired leases, or retries whose task was lost."""
    settings = settings or get_settings()
    cutoff = (now or utcnow()) - dt.timedelta(seconds=grace_s)
    with session_factory(settings.resolved_database_url)() as session:
        return list(session.scalars(
            select(Alert.id).where(Alert.delivered.is_(False), Alert.next_attempt_at.is_not(None),
                                   Alert.next_attempt_at <= cutoff)
            .order_by(Alert.next_attempt_at).limit(limit)))
