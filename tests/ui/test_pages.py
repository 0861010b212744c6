"""The UI blueprint over the Flask test client: pages, static files, offline, public without a key."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import backend.ui
from backend.app import BLUEPRINTS

UI_DIR = Path(backend.ui.__file__).parent
STATIC = sorted(p for p in (UI_DIR / "static").iterdir() if p.suffix in {".js", ".css", ".svg"})


def test_blueprint_is_registered():
    assert "backend.ui.routes" in BLUEPRINTS


def test_search_page_is_served_with_its_assets(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert 'data-view="search"' in html
    assert 'data-auth-required="false"' in html
    # every asset the page links is served by the app itself
    assets = re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', html)
    assert {"/ui/static/app.js", "/ui/static/prism.css"} <= set(assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    for label_for in ("image-input", "q-text", "cls-input", "date-from", "date-to", "applicants", "countries",
                      "kinds"):
        assert f'for="{label_for}"' in html, f"no <label> for #{label_for}"


def test_patent_page_carries_the_publication_number(client):
    resp = client.get("/ui/patents/USD0907292")
    assert resp.status_code == 200
    assert 'data-view="patent"' in resp.get_data(as_text=True)
    assert 'data-publication-number="USD0907292"' in resp.get_data(as_text=True)


def test_patent_page_escapes_the_number(client):
    html = client.get('/ui/patents/X"><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)" not in html


def test_page_forbids_third_party_resources(client):
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp


@pytest.mark.parametrize("path", STATIC, ids=lambda p: p.name)
def test_static_files_load_nothing_from_the_network(path):
    text = path.read_text(encoding="utf-8")
    urls = re.findall(r"https?://[^\s\"'`)]+", text)
    allowed = {"http://www.w3.org/2000/svg", "https://example.org/hooks/prism"}
    assert not [u for u in urls if u not in allowed], f"{path.name} references the network: {urls}"
    assert "@import url(" not in text


def test_template_loads_nothing_from_the_network():
    html = (UI_DIR / "templates" / "ui_index.html").read_text(encoding="utf-8")
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)


def test_pages_are_public_when_keys_are_required(make_settings):
    from backend.app import create_app

    app = create_app(make_settings(auth_required=True))
    client = app.test_client()
    resp = client.get("/")
    assert resp.status_code == 200
    assert 'data-auth-required="true"' in resp.get_data(as_text=True)
    assert client.get("/ui/static/app.js").status_code == 200
    assert client.get("/ui/patents/USD0907292").status_code == 200
    # ... while the API itself still asks for a key
    api = client.get("/watches")
    assert api.status_code == 401
    assert api.mimetype == "application/problem+json"


def test_ui_routes_stay_out_of_the_api_description(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "/" not in paths and not any(p.startswith("/ui") for p in paths)
