"""Refuse hostile JSON before any view or schema parses it: 400 instead of a 500.

Python's ``json`` raises ``RecursionError`` on documents nested some thousand levels deep and
``ValueError`` on integers of more than 4,300 digits (``sys.get_int_max_str_digits``); both escaped as
"internal error" from webargs, Flask and the multipart views. :func:`install` checks every JSON body and
the JSON form fields of multipart requests (``request`` of ``/search``, ``metadata`` of ``/documents``)
once, up front: not JSON, nested deeper than :data:`MAX_DEPTH`, an integer too long to convert, or
``NaN``/``Infinity`` (not JSON) answer 400 problem+json naming the problem.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import request

from backend.errors import ProblemError

MAX_DEPTH = 32                       # a search request nests 5 levels, a watch 6
JSON_FORM_FIELDS = ("request", "metadata")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def check_json(text: str | bytes, what: str) -> None:
    """Raise a 400 :class:`ProblemError` naming ``what`` when ``text`` is hostile or not JSON."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ProblemError(400, f"{what}: JSON nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError as exc:   # also UnicodeDecodeError and the integer digit limit
        message = str(exc)
        if "integer string conversion" in message:
            message = "a number has too many digits"
        raise ProblemError(400, f"{what}: not valid JSON ({message[:200]})") from None
    if _deeper_than(value, MAX_DEPTH):
        raise ProblemError(400, f"{what}: JSON nested too deeply (more than {MAX_DEPTH} levels)")


def _deeper_than(value, limit: int) -> bool:
    """Whether lists/objects nest more than ``limit`` levels (without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False


def _guard() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    if request.is_json:
        data = request.get_data(cache=True)
        if data.strip():
            check_json(data, "body")
    elif request.mimetype == "multipart/form-data":
        for field in JSON_FORM_FIELDS:
            raw = request.form.get(field)
            if raw and raw.strip():
                check_json(raw, field)


def install(app) -> None:
    """Run the check before every view (after the auth gate, which the caller installs first)."""
    app.before_request(_guard)
