import pytest

from backend.auth.scopes import ADMIN, PUBLIC, grants, parse_scopes, public, require_scope, scope_for


def test_declared_scope_wins_over_blueprint():
    @require_scope("ingest")
    def view():
        pass

    assert scope_for("search.some_view", view) == "ingest"


def test_blueprint_mapping_and_deny_by_default():
    assert scope_for("search.search", lambda: None) == "search"
    assert scope_for("jobs.retry_job", lambda: None) == "ingest"
    assert scope_for("mystery.view", lambda: None) == ADMIN
    assert scope_for("health.healthz", lambda: None) == PUBLIC
    assert scope_for("openapi.spec", None) == PUBLIC
    assert scope_for("ui.index", lambda: None) == PUBLIC


def test_public_decorator():
    @public
    def view():
        pass

    assert scope_for("admin.anything", view) == PUBLIC


def test_admin_grants_everything_and_scopes_are_exact_otherwise():
    assert grants(("admin",), "ingest") and grants(("admin",), "search")
    assert grants(("search",), "search") and not grants(("search",), "ingest")
    assert not grants(("ingest",), "admin")
    assert grants((), PUBLIC)


def test_parse_scopes():
    assert parse_scopes("search, ingest,search") == ["search", "ingest"]
    with pytest.raises(ValueError, match="'write'"):
        parse_scopes("search,write")
    with pytest.raises(ValueError, match="at least one"):
        parse_scopes(" , ")


def test_require_scope_rejects_unknown_scope():
    with pytest.raises(ValueError, match="unknown scope"):
        require_scope("root")
