"""GET /patents/<publication_number> and the figure images (bytes from the blob store)."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, request

from backend.api.openapi import responses
from backend.app import app_settings
from backend.search import service

bp = APIBlueprint("patents", __name__, tag="patents")


@bp.get("/patents/<path:publication_number>")
@bp.doc(summary="A patent and all its figures", responses={404: "unknown publication number"})
def get_patent(publication_number: str):
    return service.patent(publication_number, app_settings())


def _blob(figure_id: str, which: str):
    data, mime, key = service.figure_blob(figure_id, which, app_settings())
    response = Response(data, mimetype=mime)
    response.set_etag(key.rsplit("/", 1)[-1])    # content-addressed: the key names the bytes
    response.cache_control.max_age = 86400
    response.cache_control.private = True
    return response.make_conditional(request)


@bp.get("/figures/<path:figure_id>/image")
@bp.doc(summary="The figure's drawing",
        responses=responses({200: {"description": "image bytes", "content": {"image/*": {}}},
                             404: "unknown figure or no stored image"}))
def figure_image(figure_id: str):
    return _blob(figure_id, "image")


@bp.get("/figures/<path:figure_id>/thumbnail")
@bp.doc(summary="The figure's thumbnail",
        responses=responses({200: {"description": "image bytes", "content": {"image/*": {}}},
                             404: "unknown figure or no stored thumbnail"}))
def figure_thumbnail(figure_id: str):
    return _blob(figure_id, "thumbnail")
