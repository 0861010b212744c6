"""Structured logs: JSON lines in production, readable lines on a terminal (``PRISM_LOG_FORMAT``).

Every record carries the ids of what it belongs to, from a context variable bound by the request hooks
(``request_id``, ``key``), the Celery task hooks (``task_id``, ``task``, ``job_ids``, and the
``request_id`` that published the task) and the CLI (a ``request_id`` per command). So an ingest can be
followed from the API or the CLI through the worker: ``grep <request id>`` over both logs.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
import uuid
from contextlib import contextmanager

# the default is never mutated: binding a field sets a new dict (copy-on-write), so one shared {} is safe
_CONTEXT: contextvars.ContextVar[dict] = contextvars.ContextVar("prism_log_context", default={})  # noqa: B039
REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
HANDLER_NAME = "prism"
#: LogRecord attributes that are not extra fields
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName",
                                                                          "prism_context"}
log = logging.getLogger("prism")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str:
    """A caller's ``X-Request-ID`` when it is a sane token, else a new one."""
    value = (value or "").strip()
    return value if REQUEST_ID.fullmatch(value) else new_request_id()


def current() -> dict:
    return _CONTEXT.get()


def bind(**fields) -> contextvars.Token:
    """Add ids to this context (returns the token :func:`unbind` takes)."""
    return _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})


def unbind(token: contextvars.Token) -> None:
    _CONTEXT.reset(token)


@contextmanager
def bound(**fields):
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.prism_context = _CONTEXT.get()
        return True


def _fields(record: logging.LogRecord) -> dict:
    out = dict(getattr(record, "prism_context", None) or {})
    out.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        out.update(_fields(record))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``12:00:01 INFO  prism.request  POST /search 200 12.3ms  request_id=... key=...``"""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-5s %(name)s  %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if fields:
            text += "  " + " ".join(f"{k}={v}" for k, v in fields.items())
        return text


def configure(settings=None, stream=None) -> None:
    """Install Prism's handler on the root logger (idempotent). ``auto``: readable on a terminal, JSON
    otherwise."""
    from backend.settings import get_settings

    settings = settings or get_settings()
    stream = stream or sys.stderr
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "text" if getattr(stream, "isatty", lambda: False)() else "json"
    handler = logging.StreamHandler(stream)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())


def request_line(method: str, path: str, endpoint: str | None, status: int, seconds: float, **extra) -> None:
    log.getChild("request").info("%s %s %s %.1fms", method, path, status, seconds * 1000, extra={
        "method": method, "path": path, "endpoint": endpoint, "status": status,
        "duration_ms": round(seconds * 1000, 1), **{k: v for k, v in extra.items() if v is not None}})


def job_line(result, seconds: float | None) -> None:
    """One line per finished ingest job."""
    level = logging.INFO if result.status == "done" else logging.WARNING
    extra = {"job_id": result.job_id, "job_status": result.status, "outcome": result.outcome,
             "publication_number": result.publication_number, "figures": result.figures}
    if seconds is not None:
        extra["duration_ms"] = round(seconds * 1000, 1)
    if result.error:
        extra["error"] = result.error[:500]
    log.getChild("job").log(level, "ingest job %s %s", result.job_id, result.outcome or result.status, extra=extra)


def task_line(task: str, task_id: str, state: str, seconds: float) -> None:
    level = logging.INFO if state == "success" else logging.WARNING
    log.getChild("task").log(level, "task %s %s %.1fms", task, state, seconds * 1000,
                             extra={"task_state": state, "duration_ms": round(seconds * 1000, 1)})
