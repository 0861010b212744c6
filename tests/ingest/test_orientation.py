"""Sideways drawing sheets (backend/ingest/orientation.py) and their upright renditions
(backend/search/renditions.py, GET /figures/<id>/rendition with X-Prism-Rotation)."""
from __future__ import annotations

import hashlib
import io
import logging
import zipfile

import pytest
from PIL import Image

from backend.ingest import orientation
from tests.drawings import labelled_sheet

GRANT = "uspto_grants_2025/US12448254-20251021.ZIP"

needs_tesseract = pytest.mark.skipif(not orientation.available(),
                                     reason="tesseract with its osd model is not installed (`make ocr`)")


def _sheet_of(shared_data, sheet: int) -> Image.Image:
    path = shared_data / GRANT
    if not path.is_file():
        pytest.skip(f"{path} is not in the shared data")
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(f"-D{sheet:05d}.TIF"))
        return Image.open(io.BytesIO(zf.read(name))).convert("L")


def _drawing() -> Image.Image:
    return labelled_sheet("FIG. 1")


@needs_tesseract
def test_a_real_sideways_sheet_is_turned_upright(shared_data):
    # US 12,448,254 sheet 4: FIG. 4A and 4B drawn landscape, their labels reading upwards
    found = orientation.detect(_sheet_of(shared_data, 4))
    assert found.rotation == 90, found
    assert orientation.detect(_sheet_of(shared_data, 1)).rotation == 0    # sheet 1: FIG. 1, upright


@needs_tesseract
@pytest.mark.parametrize("turned_ccw, expected", [(0, 0), (90, 90), (270, 270)])
def test_a_drawing_printed_turned_is_found_by_its_label(turned_ccw, expected):
    sheet = _drawing().rotate(turned_ccw, expand=True, fillcolor=255)
    found = orientation.detect(sheet)
    assert found.rotation == expected, found
    upright = orientation.turn(sheet, found.rotation)
    assert upright.size == (1100, 1500)


def test_a_turn_is_clockwise_and_lossless():
    im = Image.new("L", (30, 20), 255)
    im.putpixel((0, 0), 0)                     # top-left
    turned = orientation.turn(im, 90)          # clockwise: the top-left goes to the top-right
    assert turned.size == (20, 30) and turned.getpixel((19, 0)) == 0
    assert orientation.turn(im, 270).getpixel((0, 29)) == 0
    assert orientation.turn(im, 0) is im
    with pytest.raises(ValueError, match="0, 90, 180 or 270"):
        orientation.turn(im, 45)


def test_without_tesseract_nothing_is_turned_and_a_line_says_why(monkeypatch, caplog):
    monkeypatch.setattr(orientation, "available", lambda: False)
    orientation._warn_missing.cache_clear()
    with caplog.at_level(logging.WARNING, logger="backend.ingest.orientation"):
        found = orientation.detect(_drawing().rotate(90, expand=True, fillcolor=255))
    assert found.rotation == 0 and found.reason == "tesseract unavailable"
    assert "orientation detection unavailable" in caplog.text and "make ocr" in caplog.text
    orientation._warn_missing.cache_clear()


# -- renditions --------------------------------------------------------------------------------------------

@pytest.fixture
def sideways_figure(app):
    """A figure whose original is the drawing printed turned (its label reading upwards)."""
    from backend.app import app_settings
    from backend.ingest import blobstore
    from backend.search import get_backend
    from tests.search.conftest import figure

    with app.app_context():
        settings = app_settings(app)
    buf = io.BytesIO()
    _drawing().rotate(90, expand=True, fillcolor=255).convert("1").save(buf, "TIFF", compression="group4")
    original = buf.getvalue()
    digest = hashlib.sha256(original).hexdigest()
    store = blobstore.get_blob_store(settings)
    store.put(blobstore.figure_key(digest), original)
    store.put(blobstore.original_key(digest, "tif"), original)
    get_backend(settings).index_figures([figure("USD0000011", 1, None, image_key=blobstore.figure_key(digest))])
    return store, digest


@needs_tesseract
def test_a_sideways_figure_is_rendered_upright_and_says_so(client, sideways_figure, monkeypatch):
    from backend.search import renditions

    store, digest = sideways_figure
    resp = client.get("/figures/USD0000011-F1/rendition?w=800")
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["X-Prism-Rotation"] == "90"
    width, height = Image.open(io.BytesIO(resp.data)).size
    assert height > width, "portrait again, as drawn"
    assert store.get(renditions.turn_key(digest)) == b"90\n"
    assert store.get(renditions.rendition_key(digest, "800", 90)) == resp.data

    def no_detection(image):
        raise AssertionError("the turn was decided once and kept")

    monkeypatch.setattr(orientation, "detect", no_detection)
    again = client.get("/figures/USD0000011-F1/rendition?w=400")
    assert again.status_code == 200 and again.headers["X-Prism-Rotation"] == "90"
    assert Image.open(io.BytesIO(again.data)).size[1] == 400


def test_without_tesseract_a_figure_is_rendered_as_scanned(client, sideways_figure, monkeypatch):
    from backend.search import renditions

    store, digest = sideways_figure
    monkeypatch.setattr(orientation, "available", lambda: False)
    resp = client.get("/figures/USD0000011-F1/rendition?w=800")
    assert resp.status_code == 200 and resp.headers["X-Prism-Rotation"] == "0"
    width, height = Image.open(io.BytesIO(resp.data)).size
    assert width > height, "left as scanned"
    assert not store.exists(renditions.turn_key(digest)), "nothing kept: decided once tesseract is there"
