"""The HTTP layer through the Flask test client (embedded backend, the `client` fixture)."""
from __future__ import annotations

import csv
import hashlib
import io
import json

import numpy as np
import pytest

from backend.app import app_settings
from tests.search.conftest import DIMS, corpus_docs

PROBLEM = "application/problem+json"


@pytest.fixture
def indexed(app):
    from backend.search import get_backend

    with app.app_context():
        settings = app_settings(app)
    backend = get_backend(settings)
    docs = corpus_docs()
    from backend.ingest import blobstore

    store = blobstore.get_blob_store(settings)
    image, thumb = b"\x89PNG\r\n\x1a\nfake-image", b"\x89PNG\r\n\x1a\nfake-thumb"
    store.put(blobstore.figure_key(hashlib.sha256(image).hexdigest()), image)
    store.put(blobstore.thumb_key(hashlib.sha256(image).hexdigest()), thumb)
    docs[0].update(image_key=blobstore.figure_key(hashlib.sha256(image).hexdigest()),
                   thumb_key=blobstore.thumb_key(hashlib.sha256(image).hexdigest()))
    docs[1].update(image_key=blobstore.figure_key("0" * 64))        # a key, but nothing stored
    docs[2].update(image_key="../../etc/passwd")                     # not a blob key at all
    backend.index_figures(docs)
    return docs


def test_search_json(client, indexed):
    resp = client.post("/search", json={"text": "chair", "facets": True, "explain": True,
                                        "filters": {"cpc": {"include": ["A47C"]}}})
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    assert {h["publication_number"] for h in data["hits"]} == {"USD0000001", "USD0000002"}
    hit = data["hits"][0]
    assert hit["image_url"] == f"/figures/{hit['figure_id']}/image" and hit["explain"]["bm25"]["rank"] == 1
    assert [(b["key"], b["count"]) for b in data["facets"]["cpc_subclass"]] == [("A47C", 2)]
    assert data["facets"]["cpc_subclass"][0]["title"] in (None, "CHAIRS (seats specially adapted for vehicles "
                                                          "B60N2/00); SOFAS; BEDS (upholstery in general B68G)")


def test_search_pages_over_http(client, indexed):
    body = {"text": "chair lamp semiconductor wafer", "group_by_patent": False, "size": 2}
    seen, cursor = [], None
    while True:
        data = client.post("/search", json={**body, "cursor": cursor}).get_json()
        seen += [h["figure_id"] for h in data["hits"]]
        cursor = data["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == data["total"]


@pytest.mark.parametrize("body, status, needle", [
    ({"text": "chair", "filters": {"cpc": {"include": ["A47Q 1/00"]}}}, 400, "A47Q 1/00"),
    ({"text": "chair", "filters": {"locarno": {"exclude": ["99-99x"]}}}, 400, "99-99x"),
    ({"vector": [0.1] * (DIMS + 2)}, 400, "10 dimensions"),
    ({"image_figure_id": "NOPE-F9"}, 404, "NOPE-F9"),
    ({"text": "x", "size": 1000}, 400, "size"),
    ({}, 400, "give text"),
    ({"text": "x", "cursor": "garbage"}, 400, "cursor"),
])
def test_search_errors_are_problems(client, indexed, body, status, needle):
    resp = client.post("/search", json=body)
    assert resp.status_code == status and resp.mimetype == PROBLEM
    assert needle in resp.get_json()["detail"]


def test_search_needs_json_or_multipart(client, indexed):
    resp = client.post("/search", data="text=chair", content_type="text/plain")
    assert resp.status_code == 415 and resp.mimetype == PROBLEM
    resp = client.post("/search", data=b"{not json", content_type="application/json")
    assert resp.status_code == 400


def test_multipart_image_upload_is_encoded(make_settings):
    """An uploaded drawing goes through the real encoder (default model config) into a kNN query."""
    from PIL import Image

    from backend.app import create_app
    from backend.cli_db import upgrade_database
    from backend.model.encoder import get_encoder
    from backend.search import get_backend

    settings = make_settings()
    upgrade_database(settings.resolved_database_url)
    app = create_app(settings)
    encoder = get_encoder(settings)
    images = [Image.new("L", (96, 96), 255) for _ in range(3)]
    for i, im in enumerate(images):
        im.paste(0, (10 + 20 * i, 10, 40 + 20 * i, 80))
    vectors = encoder.encode_images(images)
    get_backend(settings).index_figures([
        {"figure_id": f"IMG{i}-F1", "publication_number": f"IMG{i}", "figure_number": 1, "title": "drawing",
         "image_vector": v.tolist()} for i, v in enumerate(vectors)])
    buf = io.BytesIO()
    images[1].save(buf, format="PNG")
    resp = app.test_client().post("/search", data={
        "request": json.dumps({"group_by_patent": False, "explain": True}),
        "image": (io.BytesIO(buf.getvalue()), "query.png")}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    query = encoder.encode_images([images[1]])[0]
    hits = resp.get_json()["hits"]
    assert len(hits) == 3
    for hit in hits:  # similarities are those of the encoded upload (random weights: values close together)
        expected = float(np.dot(query, vectors[int(hit["figure_id"][3])]))
        assert hit["explain"]["vector"]["similarity"] == pytest.approx(expected, abs=1e-4)
    assert {h["figure_id"]: h["explain"]["vector"]["similarity"] for h in hits}["IMG1-F1"] == pytest.approx(1, abs=1e-4)
    bad = app.test_client().post("/search", data={"request": "{}", "image": (io.BytesIO(b"not an image"), "x.png")},
                                 content_type="multipart/form-data")
    assert bad.status_code == 400 and "image" in bad.get_json()["detail"]


def test_embed_gives_the_vector_a_watch_keeps(make_settings):
    """POST /search/embed encodes an upload like a search does; a watch saved with that vector finds the
    drawing; bad uploads and wrong dimensions are 4xx problems."""
    from PIL import Image

    from backend.app import create_app
    from backend.cli_db import upgrade_database
    from backend.model.encoder import get_encoder
    from backend.search import get_backend

    settings = make_settings()
    upgrade_database(settings.resolved_database_url)
    client = create_app(settings).test_client()
    encoder = get_encoder(settings)
    image = Image.new("L", (96, 96), 255)
    image.paste(0, (20, 10, 60, 80))
    get_backend(settings).index_figures([{"figure_id": "IMG0-F1", "publication_number": "IMG0", "figure_number": 1,
                                          "title": "drawing", "image_vector": encoder.encode_images([image])[0].tolist()}])
    buf = io.BytesIO()
    image.save(buf, format="PNG")

    resp = client.post("/search/embed", data={"image": (io.BytesIO(buf.getvalue()), "q.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["dims"] == len(body["vector"]) == encoder.dim and body["model"] == encoder.model_id
    assert np.linalg.norm(body["vector"]) == pytest.approx(1, abs=1e-3)
    found = client.post("/search", json={"vector": body["vector"], "explain": True}).get_json()["hits"]
    assert found[0]["figure_id"] == "IMG0-F1" and found[0]["explain"]["vector"]["similarity"] == pytest.approx(1, abs=1e-3)

    watch = client.post("/watches", json={"name": "drawing", "query": {"vector": body["vector"]}})
    assert watch.status_code == 201, watch.get_json()
    assert watch.get_json()["query"]["vector"] == pytest.approx(body["vector"])
    wrong = client.post("/watches", json={"name": "drawing", "query": {"vector": body["vector"][:-1]}})
    assert wrong.status_code == 400 and wrong.content_type == PROBLEM
    assert "query.vector" in wrong.get_json()["detail"]

    for data, status, needle in (({}, 400, "'image'"), ({"image": (io.BytesIO(b"no image"), "x.png")}, 400, "image")):
        bad = client.post("/search/embed", data=data, content_type="multipart/form-data")
        assert bad.status_code == status and bad.content_type == PROBLEM and needle in bad.get_json()["detail"]
    not_multipart = client.post("/search/embed", json={})
    assert not_multipart.status_code == 415 and not_multipart.content_type == PROBLEM


def test_patent_and_figures(client, indexed):
    data = client.get("/patents/USD0000001").get_json()
    assert data["title"] == "Folding chair with armrest" and data["cpc"] == ["A47C4/04"]
    assert [f["figure_id"] for f in data["figures"]] == ["USD0000001-F1", "USD0000001-F2"]
    assert client.get("/patents/NOPE").status_code == 404
    img = client.get("/figures/USD0000001-F1/image")
    assert img.status_code == 200 and img.data.startswith(b"\x89PNG") and img.mimetype == "image/png"
    assert img.headers["ETag"] and "max-age=86400" in img.headers["Cache-Control"]
    again = client.get("/figures/USD0000001-F1/image", headers={"If-None-Match": img.headers["ETag"]})
    assert again.status_code == 304
    thumb = client.get("/figures/USD0000001-F1/thumbnail")
    assert thumb.status_code == 200 and thumb.data.endswith(b"fake-thumb")
    assert client.get(f"/figures/{indexed[2]['figure_id']}/image").status_code == 404
    assert client.get("/figures/USD0000001-F2/image").status_code == 404       # key, but no file
    assert client.get("/figures/USD0000002-F1/thumbnail").status_code == 404   # no key at all
    assert client.get("/figures/NOPE-F1/image").status_code == 404


def test_export_csv(client, indexed):
    resp = client.post("/search/export?limit=3", json={"text": "chair lamp semiconductor", "size": 1})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    # absolute links (they open from a spreadsheet); the filing and priority dates beside the publication date
    assert rows[0]["publication_number"] and rows[0]["image_url"].startswith("http://localhost/figures/")
    assert rows[0]["patent_url"] == f"http://localhost/ui/patents/{rows[0]['publication_number']}"
    assert {"filing_date", "priority_date", "publication_date"} <= set(rows[0])
    assert client.post("/search/export", json={"text": "x", "filters": {"cpc": {"include": ["Z"]}}}).status_code == 400


def test_suggest_locarno(client):
    data = client.get("/classifications/suggest?q=furn&scheme=locarno").get_json()
    assert data["items"][0] == {"symbol": "06", "title": "Furnishing", "level": "class"}
    # then the subclasses whose titles say it (13th-edition list), each with its class's title
    subclasses = data["items"][1:]
    assert {"symbol": "06-04", "title": "Storage furniture", "level": "subclass", "class_title": "Furnishing"} \
        in subclasses
    assert all(i["level"] == "subclass" and "furn" in i["title"].lower() and i["class_title"] for i in subclasses)
    assert client.get("/classifications/suggest?q=x&scheme=ipc").status_code == 200   # from the CPC titles
    assert client.get("/classifications/suggest?q=x&scheme=wipo").status_code == 400
    assert client.get("/classifications/suggest").status_code == 400


@pytest.mark.shared_data
def test_suggest_cpc_with_titles(client, shared_data):
    items = client.get("/classifications/suggest?q=A47C%204/0&scheme=cpc").get_json()["items"]
    assert items[0]["symbol"] == "A47C4/00" and "chairs" in items[0]["title"]
    assert "A47C4/04" in [i["symbol"] for i in items]


def test_openapi_documents_the_search_api(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/search", "/search/export", "/patents/{publication_number}", "/classifications/suggest",
                 "/figures/{figure_id}/image"):
        assert path in spec["paths"], path


def test_query_language_over_http(client, indexed):
    resp = client.post("/search", json={"text": 'ti:chair AND NOT castors AND pd:>=2020', "explain": True})
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    assert data["parsed_query"] == "ti:chair AND pd:[2020-01-01 TO *] AND NOT castors"
    assert [h["publication_number"] for h in data["hits"]] == ["USD0000001"]
    hit = data["hits"][0]
    assert hit["snippets"] == {"title": "Folding <mark>chair</mark> with armrest"}
    assert hit["explain"]["matched_fields"] == ["title"]
    resp = client.post("/search", json={"text": "chair AND (lamp OR"})
    assert resp.status_code == 400 and resp.mimetype == PROBLEM
    problem = resp.get_json()
    assert problem["detail"] == "text: unbalanced parenthesis: '(' is never closed (at position 11)"
    assert problem["errors"][0]["field"] == "text"
