"""Warm start: load the models a process serves with when it starts, not on its first request.

An API worker (``backend/wsgi.py``) and each Celery worker process (``workers/celery_app.py``,
``worker_process_init``) call :func:`start_background`: the drawing encoder, the MiniLM text model and
OpenCV load in a thread, each run once on a tiny input (torch's first call is slow too), while the
process already answers ``/healthz``. ``/readyz`` says ``warming`` (503) until they are in, so a load
balancer sends no search to a worker that would spend 15-25 s loading them inside the request
(gunicorn's timeout kills such a worker). A serving process (``search=True``) also builds the CPC
title-word index of the classification suggestions in a thread of its own (done before the models, and
``ready`` waits for it), so the first suggestion is not the one that builds it. A process that never started
a warm-up (the dev server, a test app, the CLI) loads them on first use, as before. One log line says what
was loaded from where.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict = {"status": "cold"}      # cold (never asked) | warming | ready | failed


def state() -> dict:
    with _lock:
        return dict(_state)


def _set(**values) -> None:
    with _lock:
        _state.clear()
        _state.update(values)


def warm_up(settings, pipeline=None, search: bool = False) -> dict:
    """Load and run once everything a search or an ingest of ``settings`` needs; returns what it loaded
    ({"drawing_encoder": model id, "dense_text": MiniLM folder, "seconds": ...}). ``search``: then one
    search (drawing + words) through the service, so the search path's own first-call costs are paid too."""
    from PIL import Image

    started = time.perf_counter()
    loaded: dict = {}
    drawing = Image.new("L", (64, 64), 255)
    drawing.paste(0, (16, 16, 48, 20))
    if pipeline is not None:
        encoder = pipeline.encoder
    else:
        from backend.model.encoder import get_encoder

        encoder = get_encoder(settings)
    encoder.encode_images([drawing.convert("RGB")])
    # the batch shapes a search uses (an uploaded drawing and its two turns): torch's first run of a new
    # shape prepares its kernels, which took a second or two inside the first search
    encoder.encode_images([im.convert("RGB") for im in (drawing, drawing.rotate(90), drawing.rotate(270))])
    encoder.encode_texts(["warm-up"])
    loaded["drawing_encoder"] = encoder.model_id
    if settings.search_dense_text or settings.dense_text_at_ingest:
        from backend.model.registry import minilm_dir
        from backend.search.text import dense_text

        dense_text.encode(["warm-up"], settings)
        dense_text.encode(["a chair with armrests and a tall back, seen from the front"], settings)
        loaded["dense_text"] = str(minilm_dir())
    if settings.search_verify_top_k > 0:
        from backend.search.ranking.verification import extract

        extract(drawing)
        loaded["verification"] = "OpenCV ORB"
    if search:
        _first_search(settings, drawing)
    loaded["seconds"] = round(time.perf_counter() - started, 2)
    return loaded


def _first_search(settings, drawing) -> None:
    import io

    from backend.search import service

    png = io.BytesIO()
    drawing.save(png, "PNG")
    try:
        service.search({"text": "chair with armrests", "size": 5}, settings, image=png.getvalue())
    except Exception as exc:  # noqa: BLE001 - the index may not exist yet; the models are in either way
        log.info("warm-up search skipped: %s: %s", type(exc).__name__, exc)


def start_background(settings, pipeline_factory=None, search: bool = False) -> threading.Thread:
    """Warm up in a daemon thread; :func:`state` says ``warming`` until it is done."""

    def _run() -> None:
        try:
            loaded = warm_up(settings, pipeline_factory(settings) if pipeline_factory else None, search)
        except Exception as exc:  # noqa: BLE001 - the process still serves; models load on first use
            log.warning("warm-up failed (models load on first use): %s: %s", type(exc).__name__, exc)
            _set(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
            return
        if suggestions is not None:   # ready means nothing is being built beside the first search
            suggestions.join()
        _set(status="ready", **loaded)
        log.info("models ready in %.1f s: %s", loaded["seconds"],
                 ", ".join(f"{k} {v}" for k, v in loaded.items() if k != "seconds"))

    _set(status="warming")
    suggestions = prepare_suggestions_in_background(settings) if search else None
    thread = threading.Thread(target=_run, name="prism-warm-up", daemon=True)
    thread.start()
    return thread


def prepare_suggestions(settings) -> float | None:
    """Read the CPC titles and build their word index (``/classifications/suggest`` by title words: about
    7 s for the whole CPC), so that the first suggestion does not; the seconds it took, None without titles."""
    from backend.classification.catalog import cpc_catalog

    directory = getattr(settings, "cpc_titles_dir", None)
    catalog = cpc_catalog(str(directory) if directory else None)
    if not catalog.available:
        return None
    seconds = catalog.prepare()
    log.info("classification suggestions ready in %.1f s (%s)", seconds, directory)
    return seconds


def prepare_suggestions_in_background(settings) -> threading.Thread:
    """:func:`prepare_suggestions` in its own daemon thread: ready in seconds, before the models are."""

    def _run() -> None:
        try:
            prepare_suggestions(settings)
        except Exception as exc:  # noqa: BLE001 - the first suggestion builds the index instead
            log.warning("preparing the classification suggestions failed: %s: %s", type(exc).__name__, exc)

    thread = threading.Thread(target=_run, name="prism-suggestions", daemon=True)
    thread.start()
    return thread
