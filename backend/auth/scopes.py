"""Scopes and the one place that says which scope each endpoint needs.

A view declares its scope with ``@require_scope("ingest")`` (or ``@public``). A view that declares
nothing gets the scope of its blueprint from :data:`BLUEPRINT_SCOPES`; anything else needs
``admin`` (deny by default, so a new endpoint is never accidentally open).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

SEARCH, INGEST, ADMIN = "search", "ingest", "admin"
SCOPES: tuple[str, ...] = (SEARCH, INGEST, ADMIN)
#: scopes whose calls are written to the audit log
AUDITED_SCOPES = frozenset({INGEST, ADMIN})
PUBLIC = "public"

#: Endpoints reachable without a key (liveness, readiness, the API description, static files).
PUBLIC_ENDPOINTS = frozenset({
    "health.healthz", "health.readyz", "openapi.spec", "openapi.docs", "openapi.swagger_ui_oauth_redirect",
    "static",
})
#: Blueprints serving the static web UI (its pages call the API with a key).
PUBLIC_BLUEPRINTS = frozenset({"ui", "web", "static_ui"})

#: Blueprint name -> scope, for views that do not declare one themselves.
BLUEPRINT_SCOPES: dict[str, str] = {
    "health": PUBLIC,
    "search": SEARCH,
    "patents": SEARCH,
    "figures": SEARCH,
    "classifications": SEARCH,
    "export": SEARCH,
    "watches": SEARCH,
    "alerts": SEARCH,
    "ingest": INGEST,
    "documents": INGEST,
    "jobs": INGEST,
    "admin": ADMIN,
}

_ATTR = "_prism_scope"
F = TypeVar("F", bound=Callable)


def require_scope(scope: str) -> Callable[[F], F]:
    """Declare the scope a view needs (place it above or below the route decorator)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")

    def mark(view: F) -> F:
        setattr(view, _ATTR, scope)
        return view

    return mark


def public(view: F) -> F:
    """Declare a view that needs no key."""
    setattr(view, _ATTR, PUBLIC)
    return view


def scope_for(endpoint: str | None, view: Callable | None) -> str:
    """The scope an endpoint needs: ``public``, ``search``, ``ingest`` or ``admin``."""
    declared = getattr(view, _ATTR, None) if view is not None else None
    if declared is None and view is not None:
        # apiflask/flask may wrap views; look through functools.wraps chains
        inner = getattr(view, "__wrapped__", None)
        while declared is None and inner is not None:
            declared = getattr(inner, _ATTR, None)
            inner = getattr(inner, "__wrapped__", None)
    if declared:
        return declared
    if not endpoint:
        return ADMIN
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    blueprint = endpoint.rsplit(".", 1)[0] if "." in endpoint else ""
    if blueprint in PUBLIC_BLUEPRINTS:
        return PUBLIC
    return BLUEPRINT_SCOPES.get(blueprint, ADMIN)


def grants(scopes: list[str] | tuple[str, ...] | frozenset[str], needed: str) -> bool:
    """Whether a key holding ``scopes`` may call an endpoint needing ``needed`` (admin grants all)."""
    return needed == PUBLIC or needed in scopes or ADMIN in scopes


def parse_scopes(text: str | list[str]) -> list[str]:
    """``"search, ingest"`` -> ``["search", "ingest"]``; raises ValueError naming an unknown scope."""
    items = text.split(",") if isinstance(text, str) else list(text)
    scopes = []
    for item in (s.strip().lower() for s in items):
        if not item:
            continue
        if item not in SCOPES:
            raise ValueError(f"unknown scope {item!r}; expected some of {', '.join(SCOPES)}")
        if item not in scopes:
            scopes.append(item)
    if not scopes:
        raise ValueError(f"at least one scope is needed ({', '.join(SCOPES)})")
    return scopes
