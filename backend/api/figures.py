"""Drawings at the size the viewer needs: ``GET /figures/<id>/rendition?w=`` (400, 800, 1600 or full) and
``POST /search/preview`` (an uploaded drawing, TIFF included, as a PNG). See backend/search/renditions.py."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import String
from apiflask.validators import OneOf
from flask import Response, request

from backend.api.openapi import responses
from backend.app import app_settings
from backend.errors import ProblemError
from backend.search import renditions

#: blueprint "figures" has the search scope (backend.auth.scopes.BLUEPRINT_SCOPES)
bp = APIBlueprint("figures", __name__, tag="figures")

_SIZE_DOC = "Longer side in px (400, 800, 1600) or `full` (the original's resolution); never enlarged."


def _size(default: str) -> String:
    return String(load_default=default, validate=OneOf(list(renditions.SIZES)),
                  metadata={"description": _SIZE_DOC})


class RenditionQuery(Schema):
    w = _size("800")


class PreviewQuery(Schema):
    w = _size("1600")


def _png(data: bytes) -> Response:
    return Response(data, mimetype="image/png")


@bp.get("/figures/<path:figure_id>/rendition")
@bp.input(RenditionQuery, location="query", arg_name="params")
@bp.doc(summary="The figure's drawing at a viewer's size",
        description="Cropped to the drawing, grey PNG, longer side at most `w` px, made from the original "
                    "file and cached; never upscaled (a size above the original's answers the original's).",
        responses=responses({200: {"description": "PNG", "content": {"image/png": {}}}, 400: "bad w",
                             404: "unknown figure or no stored image"}))
def figure_rendition(figure_id: str, params: dict):
    data, etag, rotation = renditions.figure_rendition(figure_id, params["w"], app_settings())
    response = _png(data)
    response.headers["X-Prism-Rotation"] = str(rotation)   # turned upright by this many degrees clockwise
    response.set_etag(etag)
    response.cache_control.max_age = 86400
    response.cache_control.private = True
    return response.make_conditional(request)


@bp.post("/search/preview")
@bp.input(PreviewQuery, location="query", arg_name="params")
@bp.doc(summary="An uploaded drawing as a PNG (TIFF included), as the viewer shows it",
        description="multipart/form-data with an `image` file; the same size and pixel limits as a search's "
                    "upload. Answers the drawing cropped to its ink, grey, longer side at most `w` px.",
        responses=responses({200: {"description": "PNG", "content": {"image/png": {}}},
                             400: "no image, or not a readable image", 413: "upload or image too large",
                             415: "not multipart/form-data, or an image format that is not accepted"}))
def preview(params: dict):
    if request.mimetype != "multipart/form-data":
        raise ProblemError(415, "send multipart/form-data with the drawing in an 'image' file field")
    upload = request.files.get("image")
    data = upload.read() if upload is not None else None
    response = _png(renditions.preview_png(data, app_settings(), renditions.SIZES[params["w"]]))
    response.cache_control.no_store = True
    return response
