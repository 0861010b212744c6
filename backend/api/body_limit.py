"""413 for a streamed (chunked) body over the size limit, as for one that declares its length.

Werkzeug enforces ``MAX_CONTENT_LENGTH`` on a declared ``Content-Length`` at once; a chunked body
(``wsgi.input_terminated``, gunicorn and the dev server) is only cut at the limit when read, and
``request.get_data()`` then returns the first ``limit`` bytes as if they were all: a 100 MB JSON body came
back as "not valid JSON". Before any view reads it, a streamed body is read (once, cached for the views
and the form parser) and refused with 413 when it reaches the limit.
"""
from __future__ import annotations

from flask import current_app, request

from backend.errors import ProblemError


def _check_streamed_body() -> None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None or request.content_length is not None or "wsgi.input_terminated" not in request.environ:
        return
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if len(request.get_data(cache=True)) >= limit:
        raise ProblemError(413, f"body: larger than the limit of {limit} bytes (PRISM_MAX_UPLOAD_MB)")


def install(app) -> None:
    app.before_request(_check_streamed_body)
