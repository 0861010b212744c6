"""Part queries (``crop`` on an upload or on an indexed figure) and multi-view queries (several drawings in one
query, fused per patent) through POST /search with the real encoder (embedded backend); engine-level multi-view
on both backends."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.search.conftest import indexed, unit

PROBLEM = "application/problem+json"


def drawing(i: int) -> Image.Image:
    """A 200 x 100 sheet: a distinct shape left (by ``i``) and a fixed cross right."""
    im = Image.new("L", (200, 100), 255)
    im.paste(0, (10 + 8 * i, 10, 30 + 8 * i, 90 - 5 * i))
    im.paste(0, (140, 45, 190, 55))
    im.paste(0, (160, 10, 170, 90))
    return im


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def app_with_drawings(make_settings):
    from backend.app import create_app
    from backend.cli_db import upgrade_database
    from backend.ingest import blobstore
    from backend.model.encoder import get_encoder
    from backend.search import get_backend

    settings = make_settings(search_verify_top_k=0)
    upgrade_database(settings.resolved_database_url)
    app = create_app(settings)
    encoder = get_encoder(settings)
    sheets = [drawing(i) for i in range(4)]
    parts = [im.crop((100, 0, 200, 100)) for im in sheets[:1]] + [im.crop((0, 0, 100, 100)) for im in sheets]
    store = blobstore.get_blob_store(settings)
    data = png(sheets[2])
    key = blobstore.figure_key(blobstore_hash(data))
    store.put(key, data)
    vectors = encoder.encode_images(sheets + parts)
    docs = [{"figure_id": f"S{i}-F1", "publication_number": f"S{i}", "figure_number": 1, "title": "sheet",
             "image_vector": vectors[i].tolist(), "image_key": key if i == 2 else None} for i in range(4)]
    docs += [{"figure_id": f"P{i}-F1", "publication_number": f"P{i}", "figure_number": 1, "title": "part",
              "image_vector": vectors[4 + i].tolist()} for i in range(len(parts))]
    get_backend(settings).index_figures(docs)
    return app.test_client(), encoder, sheets


def blobstore_hash(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def post(client, body: dict, *images: bytes):
    files = [("image", (io.BytesIO(b), f"v{i}.png")) for i, b in enumerate(images)]
    return client.post("/search", data={"request": json.dumps(body), **({"image": files[0][1]} if len(files) == 1
                                                                          else {})} if len(files) <= 1 else
                       _multi(body, files), content_type="multipart/form-data")


def _multi(body, files):
    from werkzeug.datastructures import MultiDict

    return MultiDict([("request", json.dumps(body)), *files])


def test_crop_on_an_upload_searches_the_part_as_a_drawing(app_with_drawings):
    client, encoder, sheets = app_with_drawings
    body = {"group_by_patent": False, "explain": True, "crop": {"x": 0.5, "y": 0, "width": 0.5, "height": 1}}
    resp = post(client, body, png(sheets[3]))
    assert resp.status_code == 200, resp.get_json()
    hits = resp.get_json()["hits"]
    part = encoder.encode_images([sheets[3].crop((100, 0, 200, 100))])[0]
    assert hits[0]["figure_id"] == "P0-F1"           # the right half alone (the cross) is that indexed part
    assert hits[0]["explain"]["vector"]["similarity"] == pytest.approx(float(np.dot(part, part)), abs=1e-3)


def test_crop_on_an_indexed_figure(app_with_drawings):
    client, encoder, sheets = app_with_drawings
    resp = client.post("/search", json={"image_figure_id": "S2-F1", "group_by_patent": False, "explain": True,
                                        "crop": {"x": 0, "y": 0, "width": 0.5, "height": 1}})
    assert resp.status_code == 200, resp.get_json()
    part = encoder.encode_images([sheets[2].crop((0, 0, 100, 100))])[0]
    top = resp.get_json()["hits"][0]
    assert top["figure_id"] == "P3-F1"             # P0: a right half; P1-P4: the left halves of sheets 0-3
    assert top["explain"]["vector"]["similarity"] == pytest.approx(1.0, abs=1e-3) and part is not None


@pytest.mark.parametrize("crop, words", [
    ({"x": 0.6, "y": 0, "width": 0.5, "height": 1}, "reaches past the drawing"),
    ({"x": 0, "y": 0, "width": 0.05, "height": 1}, "at least 16 pixels"),
    ({"x": -0.1, "y": 0, "width": 0.5, "height": 1}, "crop.x"),
    ({"x": 0, "y": 0, "width": 0.5}, "crop.height"),
    ([0, 0, 1, 1], "crop"),
])
def test_bad_crop_boxes_are_400_problems(app_with_drawings, crop, words):
    client, _encoder, sheets = app_with_drawings
    resp = post(client, {"crop": crop}, png(sheets[0]))
    assert resp.status_code == 400 and resp.content_type == PROBLEM
    assert words in resp.get_json()["detail"]


def test_crop_needs_a_drawing_to_cut(app_with_drawings):
    client, _encoder, _sheets = app_with_drawings
    resp = client.post("/search", json={"vector": unit(np.random.default_rng(1), 512),
                                        "crop": {"x": 0, "y": 0, "width": 0.5, "height": 1}})
    assert resp.status_code == 400 and "crop" in resp.get_json()["detail"]
    no_image = client.post("/search", json={"image_figure_id": "S1-F1", "crop": {"x": 0, "y": 0, "width": 1, "height": 1}})
    assert no_image.status_code == 404 and "image" in no_image.get_json()["detail"]


def test_several_uploads_are_views_fused_per_patent(app_with_drawings):
    client, _encoder, sheets = app_with_drawings
    resp = post(client, {"explain": True}, png(sheets[1]), png(sheets[1].crop((0, 0, 100, 100))))
    assert resp.status_code == 200, resp.get_json()
    hits = resp.get_json()["hits"]
    views = {h["publication_number"]: h["explain"]["views"] for h in hits}
    assert hits[0]["publication_number"] in {"S1", "P2"}
    assert [v["view"] for v in views["S1"]] == [1, 2]
    assert views["S1"][0]["figure_id"] == "S1-F1" and views["P2"][1]["figure_id"] == "P2-F1"
    too_many = post(client, {}, *[png(sheets[0])] * 8)
    assert too_many.status_code == 400 and "at most 7" in too_many.get_json()["detail"]


def test_multi_view_fuses_per_patent_on_both_backends(backend):
    """Patent A matches both views fairly; B matches view 1 best but not view 2: A goes first, and explain
    names the figure of each patent that matched each view."""
    rng = np.random.default_rng(11)
    v1, v2, other = (np.asarray(unit(rng)) for _ in range(3))

    def near(v, eps):
        w = v + eps * other
        return (w / np.linalg.norm(w)).tolist()

    from tests.search.conftest import figure

    docs = [figure("A", 1, near(v1, 0.3)), figure("A", 2, near(v2, 0.3)),
            figure("B", 1, near(v1, 0.05)), figure("B", 2, near(-v2, 0.2))]
    docs += [figure(f"Z{i}", 1, unit(rng)) for i in range(10)]
    indexed(backend, docs)
    res = backend.search({"vectors": [v1.tolist(), v2.tolist()], "explain": True, "size": 20})
    pubs = [h.publication_number for h in res.hits]
    assert pubs[0] == "A" and pubs.index("A") < pubs.index("B")
    a = res.hits[0].explain.views
    assert [(m.view, m.figure_id) for m in a] == [(1, "A-F1"), (2, "A-F2")]
    assert res.total == 12 and len(set(pubs)) == len(pubs) == 12
    ids = backend.search({"image_figure_ids": ["A-F1", "A-F2"], "size": 3})
    assert ids.hits[0].publication_number == "A"
    from backend.errors import ProblemError
    from backend.search.errors import InvalidQuery, NotFound

    with pytest.raises((ProblemError, NotFound)) as err:
        backend.search({"image_figure_ids": ["A-F1", "nope"]})
    assert getattr(err.value, "status", 404) == 404 and "image_figure_ids.1" in err.value.detail
    with pytest.raises((ProblemError, InvalidQuery)) as err:
        backend.search({"vectors": [v1.tolist()], "vector": v2.tolist()})
    assert getattr(err.value, "status", 400) == 400 and "not several" in err.value.detail


def two_figure_sheet() -> Image.Image:
    """Two different figures of comparable size side by side, a wide whitespace gutter between them."""
    from PIL import ImageDraw

    im = Image.new("L", (600, 300), 255)
    d = ImageDraw.Draw(im)
    d.ellipse((40, 50, 240, 250), outline=0, width=6)             # a ring
    d.line((140, 50, 140, 250), fill=0, width=6)
    d.polygon((360, 250, 460, 50, 560, 250), outline=0, width=6)  # a triangle
    return im


@pytest.fixture
def app_with_figures(make_settings):
    """Patents L and R hold the sheet's left and right figure, W the whole sheet, Z0-Z5 other drawings."""
    from backend.app import create_app
    from backend.cli_db import upgrade_database
    from backend.model.encoder import get_encoder
    from backend.search import get_backend

    def _make(**overrides):
        settings = make_settings(search_verify_top_k=0, **overrides)
        upgrade_database(settings.resolved_database_url)
        app = create_app(settings)
        sheet = two_figure_sheet()
        images = [sheet.crop((0, 0, 300, 300)), sheet.crop((300, 0, 600, 300)), sheet] + [drawing(i) for i in range(6)]
        names = ["L", "R", "W"] + [f"Z{i}" for i in range(6)]
        vectors = get_encoder(settings).encode_images(images)
        get_backend(settings).index_figures([
            {"figure_id": f"{n}-F1", "publication_number": n, "figure_number": 1, "title": "drawing",
             "image_vector": v.tolist()} for n, v in zip(names, vectors)])
        return app.test_client(), sheet

    return _make


def test_an_uploaded_sheet_of_two_figures_is_searched_as_its_views(app_with_figures):
    client, sheet = app_with_figures(search_split_views=True)
    resp = post(client, {"explain": True, "size": 9}, png(sheet))
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()
    views = out["query_views"]
    assert [v["view"] for v in views] == [0, 1, 2] and views[2]["box"] is None
    left, right = views[0]["box"], views[1]["box"]
    assert left[2] < 0.5 < right[0] and left[0] < 0.1 and right[2] > 0.9
    hits = {h["publication_number"]: h for h in out["hits"]}
    assert [m["view"] for m in hits["W"]["explain"]["views"]] == [1, 2, 3]
    assert out["hits"][0]["publication_number"] in {"W", "L", "R"}
    # both figures' patents come before every other drawing (each matches one view exactly)
    order = [h["publication_number"] for h in out["hits"]]
    assert max(order.index("L"), order.index("R"), order.index("W")) == 2, order

    whole = post(client, {"explain": True, "split_views": False}, png(sheet))
    assert whole.status_code == 200 and "query_views" not in whole.get_json()
    assert whole.get_json()["hits"][0]["publication_number"] == "W"
    one = post(client, {"split_views": True}, png(drawing(1)))   # one drawing (a bar and a cross apart)
    assert one.status_code == 200 and "query_views" not in one.get_json()
    bad = post(client, {"split_views": "yes"}, png(sheet))
    assert bad.status_code == 400 and bad.content_type == PROBLEM and "split_views" in bad.get_json()["detail"]
    part = post(client, {"split_views": True, "crop": {"x": 0, "y": 0, "width": 0.5, "height": 1}}, png(sheet))
    assert part.status_code == 200 and "query_views" not in part.get_json()


def test_the_split_is_off_by_default_and_a_request_turns_it_on(app_with_figures):
    client, sheet = app_with_figures()
    assert "query_views" not in post(client, {}, png(sheet)).get_json()
    turned_on = post(client, {"split_views": True}, png(sheet)).get_json()
    assert len(turned_on["query_views"]) == 3
