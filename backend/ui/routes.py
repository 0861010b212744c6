"""Serve the examiner UI: the search page at ``/``, the patent view at ``/ui/patents/<id>``, watches and
alerts at ``/ui/watches``, and
its static files under ``/ui/static/``. The pages are public; the data they show comes from the
API, called from the browser with the user's key (``Authorization: Bearer``)."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import render_template

from backend.app import app_settings

#: the blueprint name "ui" is one of backend.auth.scopes.PUBLIC_BLUEPRINTS
bp = APIBlueprint("ui", __name__, enable_openapi=False, static_folder="static", static_url_path="/ui/static",
                  template_folder="templates")


def _page(view: str, publication_number: str = ""):
    settings = app_settings()
    html = render_template("ui_index.html", view=view, publication_number=publication_number,
                           auth_required=settings.auth_required, max_upload_mb=settings.max_upload_mb)
    return html, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
                       "X-Content-Type-Options": "nosniff",
                       "Content-Security-Policy": CSP}


#: everything the page needs is served from this origin (works offline; no CDN)
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


@bp.get("/")
def search_page():
    return _page("search")


@bp.get("/ui/watches")
def watches_page():
    return _page("watches")


@bp.get("/ui/patents/<path:publication_number>")
def patent_page(publication_number: str):
    return _page("patent", publication_number)
