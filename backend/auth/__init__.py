"""Access control: API keys with scopes, per-key rate limit, audit log of ingest and admin calls.

``install(app)`` is called once by the app factory. Views declare their scope with
``@require_scope(...)``/``@public`` or inherit it from their blueprint (see :mod:`backend.auth.scopes`).
"""
from __future__ import annotations

from backend.auth.keys import ANONYMOUS, Principal
from backend.auth.scopes import ADMIN, INGEST, SCOPES, SEARCH, public, require_scope


def install(app) -> None:
    from backend.auth.middleware import install as _install

    _install(app)


def current_principal() -> Principal:
    from backend.auth.middleware import current_principal as _current

    return _current()


__all__ = ["ADMIN", "ANONYMOUS", "INGEST", "SCOPES", "SEARCH", "Principal", "current_principal", "install",
           "public", "require_scope"]
