import io
import json

import pytest
from PIL import Image
from sqlalchemy import func, select

from backend.app import create_app
from backend.db.models import Patent
from backend.db.session import session_scope

from .helpers import image_bytes

META = {"publication_number": "USD0999100", "kind": "S1", "title": "Teapot", "locarno": ["07-01"],
        "publication_date": "2021-02-02", "applicants": ["Acme Corp"],
        "figures": [{"number": 1, "description": "FIG. 1 is a front view of a teapot;", "image": "f1.png"},
                    {"number": 2, "description": "FIG. 2 is a top plan view thereof.", "image": "f2.tif"}]}


@pytest.fixture
def api(fake_pipeline):
    settings, pipe = fake_pipeline
    app = create_app(settings)
    app.config["TESTING"] = True
    return app.test_client(), settings, pipe


def _post(client, meta=META, files=None):
    files = files if files is not None else [("f1.png", image_bytes("PNG")), ("f2.tif", image_bytes("TIFF", seed=3))]
    data = {"metadata": json.dumps(meta) if not isinstance(meta, str) else meta,
            "images": [(io.BytesIO(b), name) for name, b in files]}
    return client.post("/documents", data=data, content_type="multipart/form-data")


def _nothing_written(settings):
    with session_scope(settings.resolved_database_url) as s:
        assert s.scalar(select(func.count()).select_from(Patent)) == 0
    blobs = settings.resolved_blob_dir
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]


def test_submit_then_job_status(api):
    client, settings, pipe = api
    resp = _post(client)
    assert resp.status_code == 202, resp.json
    job = resp.json
    assert resp.headers["Location"] == f"/jobs/{job['job_id']}"
    assert job["status"] == "done" and job["outcome"] == "ingested" and job["publication_number"] == "USD0999100"
    assert client.get(f"/jobs/{job['job_id']}").json["status"] == "done"
    assert sorted(pipe.backend.docs) == ["USD0999100-F1", "USD0999100-F2"]
    assert pipe.backend.docs["USD0999100-F2"]["object_name"] == "teapot"
    # the staged upload became originals/...; no uploads/ left behind
    assert not list(settings.resolved_blob_dir.glob("uploads/*/*"))
    assert len(list(settings.resolved_blob_dir.glob("originals/*/*"))) == 2
    again = _post(client)   # the same document again: stored and indexed with this content already
    assert again.json["outcome"] == "unchanged" and len(pipe.backend.docs) == 2
    changed = _post(client, files=[("f1.png", image_bytes("PNG")), ("f2.tif", image_bytes("TIFF", seed=4))])
    assert changed.json["outcome"] == "updated" and len(pipe.backend.docs) == 2
    assert client.post(f"/jobs/{job['job_id']}/retry").status_code == 409
    assert client.get("/jobs/nope").status_code == 404
    listed = client.get("/jobs?status=done").json   # ingested, unchanged, updated
    assert listed["total"] == 3 and all(j["status"] == "done" for j in listed["items"])
    assert client.get("/jobs?status=bogus").status_code == 400


@pytest.mark.parametrize("files, status, message", [
    ([("f1.png", b"not an image"), ("f2.tif", image_bytes("TIFF"))], 400, "f1.png: not a readable image"),
    ([("f1.png", image_bytes("PNG")[:200]), ("f2.tif", image_bytes("TIFF"))], 400, "corrupt or truncated"),
    ([("f1.png", image_bytes("PNG"))], 400, "no uploaded file named 'f2.tif'"),
    ([("f1.png", image_bytes("PNG")), ("f2.tif", image_bytes("TIFF")), ("x.png", image_bytes("PNG"))], 400,
     "not referenced by any figure: x.png"),
])
def test_bad_images_are_refused_and_nothing_is_written(api, files, status, message):
    client, settings, _ = api
    resp = _post(client, files=files)
    assert resp.status_code == status and resp.mimetype == "application/problem+json"
    assert message in resp.json["detail"]
    _nothing_written(settings)


def test_decompression_bomb_is_413(api, make_settings):
    client, settings, _ = api
    buf = io.BytesIO()
    Image.new("1", (9000, 9000), 1).save(buf, "PNG")
    resp = _post(client, files=[("f1.png", buf.getvalue()), ("f2.tif", image_bytes("TIFF"))])
    assert resp.status_code == 413 and "decompression bomb" in resp.json["detail"]
    _nothing_written(settings)


@pytest.mark.parametrize("meta, message", [
    ("{not json", "metadata: not valid JSON"),
    ({"title": "x"}, "publication_number: required"),
    ({**META, "colour": "red"}, "unknown metadata field(s): colour"),
    ({**META, "filing_date": "yesterday"}, "filing_date: 'yesterday' is not a date"),
    ({**META, "figures": [{"number": 1, "image": "f1.png"}, {"number": 1, "image": "f2.tif"}]}, "appears twice"),
])
def test_bad_metadata(api, meta, message):
    client, settings, _ = api
    resp = _post(client, meta=meta)
    assert resp.status_code == 400 and message in resp.json["detail"], resp.json
    _nothing_written(settings)


def test_oversize_upload_is_413(fake_pipeline, make_settings):
    settings = make_settings(task_mode="eager", max_upload_mb=0.001)
    client = create_app(settings).test_client()
    resp = _post(client, files=[("f1.png", b"x" * 5000), ("f2.tif", image_bytes("TIFF"))])
    assert resp.status_code == 413 and resp.mimetype == "application/problem+json"


def test_needs_multipart(api):
    client, _, _ = api
    assert client.post("/documents", json=META).status_code == 415
