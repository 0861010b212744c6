"""OpenAPI descriptions from the pydantic models the services validate with, never from a copy.

APIFlask documents a pydantic model given to ``@bp.input`` / ``@bp.output`` (``model_json_schema()``, its
``$defs`` registered under ``#/components/schemas``). A search body is validated by the search service, not
by APIFlask (its 400 names the field; a multipart request carries the JSON in its ``request`` field), so
:func:`json_body` only documents the model as the operation's JSON body.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from apiflask.scaffold import _annotate
from pydantic import BaseModel

View = TypeVar("View", bound=Callable)


def json_body(model: type[BaseModel]) -> Callable[[View], View]:
    """Describe ``model`` as the view's ``application/json`` request body, as ``@bp.input(model)`` would,
    without validating the request with it (the view reads the body itself)."""

    def decorator(view: View) -> View:
        _annotate(view, body=model, body_example=None, body_examples=None, content_type="application/json")
        return view

    return decorator


def responses(described: dict[int, str | dict[str, Any]]) -> Any:
    """``@bp.doc(responses=...)`` that mixes descriptions (an error status gets the error schema) with whole
    response objects (a CSV or PNG answer): APIFlask takes both in one dict, its type hint only one kind."""
    return described
