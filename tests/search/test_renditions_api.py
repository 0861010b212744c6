"""GET /figures/<id>/rendition (sizes a viewer needs, cached, never upscaled) and POST /search/preview (an
upload, TIFF included, as a PNG) through the Flask test client; embedded backend, filesystem blobs."""
from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from backend.app import app_settings
from tests.search.conftest import figure

PROBLEM = "application/problem+json"


def _sheet(width: int, height: int) -> Image.Image:
    """A drawing sheet: white margins (cropped away) around a framed box with a 1 px diagonal."""
    im = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(im)
    box = (width // 10, height // 10, width - width // 10, height - height // 10)
    draw.rectangle(box, outline=0, width=max(2, width // 200))
    draw.line((box[0], box[1], box[2], box[3]), fill=0, width=1)
    return im


def _encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _g4_tiff(im: Image.Image) -> bytes:
    return _encoded(im.convert("1"), "TIFF", compression="group4")


def _png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return im.size


@pytest.fixture
def figures(app):
    """F1: a 2000x1500 G4 TIFF original + its display PNG; F2: a small 300x200 original; F3: only a display
    image (no original stored); F4: no image at all."""
    from backend.ingest import blobstore
    from backend.search import get_backend

    with app.app_context():
        settings = app_settings(app)
    store = blobstore.get_blob_store(settings)
    docs = []
    sheets = (((2000, 1500), True), ((300, 200), True), ((900, 600), False))
    for n, (size, with_original) in enumerate(sheets, 1):
        original = _g4_tiff(_sheet(*size))
        digest = hashlib.sha256(original).hexdigest()
        display = _encoded(_sheet(*size).resize((size[0] // 2, size[1] // 2)), "PNG")
        store.put(blobstore.figure_key(digest), display)
        if with_original:
            store.put(blobstore.original_key(digest, "tif"), original)
        docs.append(figure("USD0000009", n, None, image_key=blobstore.figure_key(digest)))
    docs.append(figure("USD0000009", 4, None))
    get_backend(settings).index_figures(docs)
    return store, docs


def test_sizes_from_the_original_cropped_and_never_upscaled(client, figures):
    # the ink of the 2000x1500 sheet spans 1600x1200 (+ a 3 % margin): the longer side is ~1650
    full = client.get("/figures/USD0000009-F1/rendition?w=full")
    assert full.status_code == 200 and full.mimetype == "image/png"
    full_w, full_h = _png_size(full.data)
    assert 1600 < full_w < 1700 and 1200 < full_h < 1300, "full: the original's resolution, cropped to ink"
    for w in (400, 800, 1600):
        resp = client.get(f"/figures/USD0000009-F1/rendition?w={w}")
        assert resp.status_code == 200, resp.get_json()
        width, height = _png_size(resp.data)
        assert width == w and abs(width / height - full_w / full_h) < 0.01, (w, width, height)
    # a small original is answered at its own size, whatever the request
    small_full = _png_size(client.get("/figures/USD0000009-F2/rendition?w=full").data)
    assert max(small_full) < 300
    assert _png_size(client.get("/figures/USD0000009-F2/rendition?w=1600").data) == small_full
    # no original stored: made from the display image (half the size), still not enlarged
    display_only = _png_size(client.get("/figures/USD0000009-F3/rendition?w=1600").data)
    assert 360 < max(display_only) < 400   # its ink: 360 px (+ the margin)


def test_thin_lines_survive_a_large_reduction(client, figures):
    data = client.get("/figures/USD0000009-F1/rendition?w=400").data
    arr = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    h, w = arr.shape
    # the 1 px diagonal crosses the middle of the box: some pixel near the centre is clearly dark
    centre = arr[h // 2 - 3:h // 2 + 4, w // 2 - 3:w // 2 + 4]
    assert centre.min() < 160, centre


def test_renditions_are_cached_and_conditional(client, figures):
    from backend.ingest import blobstore
    from backend.search.renditions import rendition_key

    store, docs = figures
    first = client.get("/figures/USD0000009-F1/rendition?w=800")
    digest = blobstore.hash_of_key(docs[0]["image_key"])
    assert store.get(rendition_key(digest, "800")) == first.data, "the rendition is kept in the blob store"
    assert first.headers["ETag"] and "max-age=86400" in first.headers["Cache-Control"]
    again = client.get("/figures/USD0000009-F1/rendition?w=800",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    other = client.get("/figures/USD0000009-F1/rendition?w=400")
    assert other.headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize("url, status, needle", [
    ("/figures/USD0000009-F1/rendition?w=1000", 400, "w"),
    ("/figures/USD0000009-F1/rendition?w=", 400, "w"),
    ("/figures/NOPE-F1/rendition?w=400", 404, "NOPE-F1"),
    ("/figures/USD0000009-F4/rendition?w=400", 404, "no stored image"),
])
def test_rendition_errors_are_problems(client, figures, url, status, needle):
    resp = client.get(url)
    assert resp.status_code == status and resp.content_type == PROBLEM
    assert needle in resp.get_json()["detail"]


def test_preview_renders_a_tiff_upload(client):
    tiff = _g4_tiff(_sheet(1200, 1800))
    resp = client.post("/search/preview?w=800", data={"image": (io.BytesIO(tiff), "sheet.tif")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert "no-store" in resp.headers["Cache-Control"]
    width, height = _png_size(resp.data)
    assert height == 800 and 500 < width < 560, (width, height)   # ink 960x1440 (+margin) scaled to 800 high
    default = client.post("/search/preview", data={"image": (io.BytesIO(tiff), "sheet.tif")},
                          content_type="multipart/form-data")
    assert max(_png_size(default.data)) < 1600, "the default (1600) does not enlarge a smaller drawing"


def test_preview_errors_are_problems(client, make_settings):
    cases = [
        ({}, 400, "'image'"),
        ({"image": (io.BytesIO(b""), "empty.png")}, 400, "empty"),
        ({"image": (io.BytesIO(b"not an image"), "x.png")}, 400, "readable"),
        ({"image": (io.BytesIO(_encoded(_sheet(50, 50), "GIF")), "x.gif")}, 415, "GIF"),
    ]
    for data, status, needle in cases:
        resp = client.post("/search/preview", data=data, content_type="multipart/form-data")
        assert resp.status_code == status and resp.content_type == PROBLEM, (needle, resp.status_code)
        assert needle in resp.get_json()["detail"]
    not_multipart = client.post("/search/preview", json={})
    assert not_multipart.status_code == 415 and not_multipart.content_type == PROBLEM
    bad_size = client.post("/search/preview?w=7", data={"image": (io.BytesIO(b"x"), "x.png")},
                           content_type="multipart/form-data")
    assert bad_size.status_code == 400 and bad_size.content_type == PROBLEM


def test_preview_has_the_upload_limits(make_settings):
    from backend.app import create_app
    from backend.cli_db import upgrade_database

    settings = make_settings(max_image_pixels=1_000_000, max_upload_mb=0.05)
    upgrade_database(settings.resolved_database_url)
    client = create_app(settings).test_client()
    bomb = _g4_tiff(_sheet(2000, 1000))   # 2 M pixels, a few kB
    resp = client.post("/search/preview", data={"image": (io.BytesIO(bomb), "big.tif")},
                       content_type="multipart/form-data")
    assert resp.status_code == 413 and resp.content_type == PROBLEM and "1000000" in resp.get_json()["detail"]
    noise = np.random.default_rng(0).integers(0, 256, (300, 300), dtype=np.uint8)
    heavy = _encoded(Image.fromarray(noise, "L"), "PNG")   # ~90 kB, over the 0.05 MB upload limit
    resp = client.post("/search/preview", data={"image": (io.BytesIO(heavy), "heavy.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 413 and resp.content_type == PROBLEM
