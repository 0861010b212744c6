"""RFC 9457 problem details: every error the API returns is application/problem+json."""
from __future__ import annotations

from typing import Any

from flask import Response, json
from werkzeug.exceptions import HTTPException

PROBLEM_MIME = "application/problem+json"


class ProblemError(Exception):
    """Raise anywhere below the HTTP layer to answer with a problem document."""

    def __init__(self, status: int, detail: str, title: str | None = None, type_: str = "about:blank",
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.type = type_
        self.headers = headers or {}
        self.extra = extra


def problem(status: int, detail: str, title: str | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> Response:
    from http import HTTPStatus

    body = {"type": "about:blank", "title": title or HTTPStatus(status).phrase, "status": status,
            "detail": detail, **extra}
    resp = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def register_error_handlers(app) -> None:
    @app.errorhandler(ProblemError)
    def _problem(exc: ProblemError):
        return problem(exc.status, exc.detail, exc.title, exc.headers, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        detail = exc.description or exc.name
        extra = {}
        data = getattr(exc, "data", None) or {}
        if isinstance(data, dict) and data.get("messages"):
            extra["errors"] = data["messages"]
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}  # e.g. Allow on 405
        return problem(exc.code or 500, detail, exc.name, headers=headers, **extra)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # pragma: no cover - exercised by schemathesis runs
        app.logger.exception("unhandled error")
        return problem(500, "internal error; see server logs", "Internal Server Error")
