"""Flask (APIFlask) application factory. The HTTP layer parses and renders; services do the work."""
from __future__ import annotations

import importlib

from apiflask import APIFlask

from backend import __version__
from backend.errors import problem, register_error_handlers
from backend.settings import Settings, get_settings

# Modules exposing a blueprint ``bp``. Each area appends its own line.
BLUEPRINTS: list[str] = [
    "backend.api.health",
    "backend.api.watches",
    "backend.api.alerts",
    "backend.ui.routes",
    "backend.api.documents",
    "backend.api.jobs",
    "backend.api.search",
    "backend.api.patents",
    "backend.api.classifications",
    "backend.api.figures",
]


def create_app(settings: Settings | None = None) -> APIFlask:
    settings = settings or get_settings()
    app = APIFlask("prism", title="Prism patent search API", version=__version__, spec_path="/openapi.json",
                   docs_path="/docs")
    app.config.update(
        OPENAPI_VERSION="3.1.0",
        SPEC_FORMAT="json",
        MAX_CONTENT_LENGTH=int(settings.max_upload_mb * 1024 * 1024),
        JSON_SORT_KEYS=False,
        VALIDATION_ERROR_STATUS_CODE=400,
    )
    app.extensions["prism.settings"] = settings

    @app.error_processor
    def _apiflask_errors(error):
        extra = {"errors": error.detail} if error.detail else {}
        return problem(error.status_code, _first_message(error), headers=error.headers, **extra)

    register_error_handlers(app)
    importlib.import_module("backend.api.problems").install(app)   # the search core's errors as problems
    importlib.import_module("backend.observability").install(app)   # request ids, /metrics; before auth
    importlib.import_module("backend.auth").install(app)
    importlib.import_module("backend.api.body_limit").install(app)   # after the auth gate, before any read
    importlib.import_module("backend.api.json_guard").install(app)   # after the auth gate
    for module in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(module).bp)
    return app


def _first_message(error) -> str:
    detail = error.detail or {}
    # apiflask validation detail: {"json": {"field": ["msg"]}}
    for location, fields in (detail.items() if isinstance(detail, dict) else []):
        if isinstance(fields, dict):
            for field, msgs in fields.items():
                msg = msgs[0] if isinstance(msgs, list) and msgs else msgs
                return f"{location}.{field}: {msg}"
    return error.message


def app_settings(app=None) -> Settings:
    from flask import current_app

    return (app or current_app).extensions["prism.settings"]
