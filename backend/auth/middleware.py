"""The request gate: key → principal → scope → rate limit, plus the audit log and the OpenAPI
security description. Installed once by :func:`backend.auth.install`."""
from __future__ import annotations

import re

from flask import g, request
from sqlalchemy.exc import SQLAlchemyError

from backend.auth import audit
from backend.auth.keys import ANONYMOUS, Principal, authenticate
from backend.auth.ratelimit import FixedWindowLimiter
from backend.auth.scopes import ADMIN, AUDITED_SCOPES, PUBLIC, grants, scope_for
from backend.errors import PROBLEM_MIME, ProblemError

PROBLEM_SCHEMA = {
    "type": "object", "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "errors": {}},
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY = [{"BearerAuth": []}, {"ApiKeyAuth": []}]
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def presented_token() -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return (request.headers.get("X-API-Key") or "").strip() or None


def current_principal() -> Principal:
    """Who is calling; ``anonymous`` (all scopes) when keys are not required."""
    return g.get("prism_principal") or ANONYMOUS


def install(app) -> None:
    settings = app.extensions["prism.settings"]
    limiter = FixedWindowLimiter(settings.redis_url, settings.rate_limit_per_minute)
    database_url = settings.resolved_database_url

    @app.before_request
    def _gate():
        endpoint = request.endpoint
        needed = scope_for(endpoint, app.view_functions.get(endpoint) if endpoint else None)
        g.prism_scope = needed
        if endpoint is None or needed == PUBLIC or request.method == "OPTIONS":
            return None
        if not settings.auth_required:
            g.prism_principal = ANONYMOUS
            return None
        token = presented_token()
        if token is None:
            raise ProblemError(401, "an API key is required: send 'Authorization: Bearer <key>' or "
                                    "'X-API-Key: <key>'",
                               headers={"WWW-Authenticate": 'Bearer realm="prism"'})
        from backend.db.session import session_scope

        try:
            with session_scope(database_url) as session:
                principal = authenticate(session, token)
        except SQLAlchemyError as exc:
            app.logger.error("API key check failed: %s", exc)
            raise ProblemError(503, "the key store is unavailable; try again shortly",
                               headers={"Retry-After": "5"}) from None
        if principal is None:
            raise ProblemError(401, "the API key is unknown or revoked",
                               headers={"WWW-Authenticate": 'Bearer realm="prism", error="invalid_token"'})
        g.prism_principal = principal
        if not grants(principal.scopes, needed):
            raise ProblemError(403, f"this API key lacks the '{needed}' scope "
                                    f"(it has: {', '.join(principal.scopes) or 'none'})")
        decision = limiter.hit(principal.rate_key or str(principal.key_id))
        g.prism_ratelimit = decision
        if not decision.allowed:
            raise ProblemError(429, f"rate limit of {decision.limit} calls per minute exceeded for this key; "
                                    f"retry after {decision.retry_after_s} s",
                               headers={"Retry-After": str(decision.retry_after_s)})
        return None

    @app.after_request
    def _after(response):
        decision = g.get("prism_ratelimit")
        if decision is not None:
            response.headers["X-RateLimit-Limit"] = str(decision.limit)
            response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
        needed = g.get("prism_scope")
        if needed in AUDITED_SCOPES and (needed == ADMIN or request.method not in SAFE_METHODS):
            principal = g.get("prism_principal")
            audit.record_safely(
                database_url, action=request.endpoint or "unknown", method=request.method,
                path=request.full_path.rstrip("?"), status_code=response.status_code,
                api_key_id=principal.key_id if principal else None,
                detail={"scope": needed, "key": principal.name if principal else None,
                        "remote_addr": request.remote_addr},
            )
        return response

    @app.spec_processor
    def _describe_security(spec: dict) -> dict:
        components = spec.setdefault("components", {})
        components.setdefault("securitySchemes", {}).update({
            "BearerAuth": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
            "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        })
        paths = spec.get("paths", {})
        for rule in app.url_map.iter_rules():
            operations = paths.get(_RULE_ARG.sub(r"{\1}", rule.rule))
            if not operations:
                continue
            scope = scope_for(rule.endpoint, app.view_functions.get(rule.endpoint))
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                op = operations.get(method.lower())
                if op is None:
                    continue
                if scope == PUBLIC:
                    op["security"] = []
                    continue
                op["security"] = SECURITY
                op["x-prism-scope"] = scope
                responses = op.setdefault("responses", {})
                for code, text in (("401", "missing, unknown or revoked API key"),
                                   ("403", f"the key lacks the '{scope}' scope"),
                                   ("429", "rate limit exceeded; see Retry-After")):
                    responses.setdefault(code, {"description": text})
        # every error the API sends is a problem document (backend.errors); say so
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for operations in paths.values():
            for op in operations.values():
                if not isinstance(op, dict):
                    continue
                for code, response in (op.get("responses") or {}).items():
                    if str(code)[:1] in ("4", "5") and isinstance(response, dict):
                        response["content"] = {PROBLEM_MIME: {"schema": PROBLEM_REF}}
        return spec
