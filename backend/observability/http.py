"""The API's side: a request id per request (``X-Request-ID``, taken from the caller or made), one log line
and the request metrics per request, and ``GET /metrics`` (admin scope)."""
from __future__ import annotations

import time

from apiflask import APIBlueprint
from flask import Response, g, request

from backend.auth.scopes import ADMIN, require_scope
from backend.observability import logs, metrics

REQUEST_ID_HEADER = "X-Request-ID"

bp = APIBlueprint("observability", __name__, tag="operations")


@bp.get("/metrics")
@require_scope(ADMIN)
@bp.doc(summary="Prometheus metrics (admin scope)",
        description="The text exposition format: request counts and latency by endpoint, searches by kind, "
                    "ingest documents and figures by outcome, job states, Celery queue depth, watch runs, "
                    "webhook deliveries, rate-limit refusals, model load time, index size or cluster status. "
                    "See docs/operations.md.",
        responses={200: {"description": "metrics", "content": {"text/plain": {}}}})
def scrape():
    from backend.app import app_settings

    body, content_type = metrics.render(app_settings())
    return Response(body, content_type=content_type)


def install(app) -> None:
    """Register the hooks before the auth gate's, so a refused request has its id and its line too."""

    @app.before_request
    def _start():
        g.prism_started = time.perf_counter()
        g.prism_request_id = logs.accepted_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.prism_log_token = logs.bind(request_id=g.prism_request_id)

    @app.after_request
    def _finish(response):
        started = g.pop("prism_started", None)
        rid = g.get("prism_request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        if started is None:
            return response
        seconds = time.perf_counter() - started
        endpoint = request.endpoint or "unmatched"
        metrics.HTTP_REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(endpoint, request.method).observe(seconds)
        decision = g.get("prism_ratelimit")
        if response.status_code == 429 and decision is not None and not decision.allowed:
            metrics.RATE_LIMITED.inc()
        principal = g.get("prism_principal")
        logs.request_line(request.method, request.path, request.endpoint, response.status_code, seconds,
                          key=getattr(principal, "name", None), search_kind=g.get("prism_search_kind"))
        return response

    @app.teardown_request
    def _unbind(_exc=None):
        token = g.pop("prism_log_token", None)
        if token is not None:
            try:
                logs.unbind(token)
            except ValueError:   # bound in another context (a streamed response's generator)
                pass

    app.register_blueprint(bp)
