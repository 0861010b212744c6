"""Issue 15, defects 2 and 6: hostile input on the search and watch endpoints answers 4xx, never 500,
and an image upload to /search is checked like one to /documents (pixels from the header, before
decoding)."""
from __future__ import annotations

import io

import pytest

from tests.ingest.test_image_faults import bilevel_png, g4_tiff, garble_strip

PROBLEM = "application/problem+json"
DEEP = "[" * 5000 + "]" * 5000
HUGE_INT = "1" * 4301


@pytest.fixture
def client(make_settings):
    from backend.app import create_app
    from backend.cli_db import upgrade_database

    settings = make_settings(max_image_pixels=1_000_000)
    upgrade_database(settings.resolved_database_url)
    app = create_app(settings)
    app.config["TESTING"] = True
    return app.test_client()


def _image_post(client, path, data: bytes):
    form = {"image": (io.BytesIO(data), "drawing.png")}
    if path != "/search/embed":
        form["request"] = '{"text": "chair"}'
    return client.post(path, data=form, content_type="multipart/form-data")


@pytest.mark.parametrize("path", ["/search", "/search/export", "/search/embed"])
def test_a_search_image_over_the_pixel_limit_is_413_before_decoding(client, path):
    # 2.25 M pixels: above the 1 M limit but below Pillow's own error threshold (twice its limit), so
    # before the fix it was decoded in full and searched (200)
    resp = _image_post(client, path, bilevel_png(1500, 1500))
    assert resp.status_code == 413 and resp.mimetype == PROBLEM
    assert "1000000" in resp.json["detail"] and "PRISM_MAX_IMAGE_PIXELS" in resp.json["detail"]


def test_a_search_image_with_a_garbled_g4_strip_is_400(client):
    resp = _image_post(client, "/search", garble_strip(g4_tiff()))
    assert resp.status_code == 400 and resp.mimetype == PROBLEM
    assert "damaged image data" in resp.json["detail"]


def test_a_gif_on_search_is_415_as_on_documents(client):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "GIF")
    resp = _image_post(client, "/search", buf.getvalue())
    assert resp.status_code == 415 and "GIF images are not accepted" in resp.json["detail"]


@pytest.mark.parametrize("path", ["/search", "/search/export", "/watches"])
@pytest.mark.parametrize("body, message", [
    ('{"text": "x", "filters": ' + DEEP + "}", "nested too deeply"),
    ('{"text": "x", "filters": ' + "[" * 40 + "]" * 40 + "}", "nested too deeply (more than 32 levels)"),
    ('{"text": "chair", "size": ' + HUGE_INT + "}", "a number has too many digits"),
    ('{"text": "chair", "weights": {"text": NaN}}', "NaN is not a JSON number"),
    ('{"text": "chair"', "not valid JSON"),
])
def test_hostile_json_bodies_are_400(client, path, body, message):
    resp = client.post(path, data=body, content_type="application/json")
    assert resp.status_code == 400 and resp.mimetype == PROBLEM, resp.get_data(as_text=True)[:300]
    assert resp.json["detail"].startswith("body: ") and message in resp.json["detail"]


@pytest.mark.parametrize("path, field", [("/search", "request"), ("/search/export", "request"),
                                         ("/documents", "metadata")])
def test_hostile_json_form_fields_are_400(client, path, field):
    resp = client.post(path, data={field: '{"a": ' + DEEP + "}"}, content_type="multipart/form-data")
    assert resp.status_code == 400 and resp.mimetype == PROBLEM
    assert resp.json["detail"].startswith(f"{field}: JSON nested too deeply")


def test_ordinary_requests_still_pass(client):
    resp = client.post("/search", json={"text": "chair", "filters": {"dates": {"filing": {"gte": "2019-01-01"}}}})
    assert resp.status_code == 200, resp.json
