"""The S3 blob store against a real S3-compatible HTTP server on loopback (moto's server, the way MinIO or
Ceph would be reached): the store's calls, then a whole ingest with PRISM_BLOB_STORE=s3 whose drawings
the API serves back from the bucket, with nothing written to the filesystem blob folder."""
from __future__ import annotations

import hashlib
import socket

import pytest

from backend.cli_db import upgrade_database
from backend.ingest import blobstore
from tests.ingest.helpers import reingest_with_new_drawings, write_patent_folder

boto3 = pytest.importorskip("boto3", reason="boto3 is part of the test extra (pip install -e '.[test]')")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is part of the test extra")


@pytest.fixture(scope="module")
def s3_endpoint():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_settings(make_settings, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "prism-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "prism-test-secret")
    bucket = f"prism-{hashlib.sha256(str(id(monkeypatch)).encode()).hexdigest()[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return make_settings(blob_store="s3", s3_endpoint_url=s3_endpoint, s3_bucket=bucket, task_mode="eager")


def test_s3_store_round_trip(s3_settings):
    store = blobstore.get_blob_store(s3_settings)
    assert isinstance(store, blobstore.S3BlobStore)
    data = b"\x89PNG\r\n\x1a\nline drawing"
    key = blobstore.figure_key(hashlib.sha256(data).hexdigest())
    assert not store.exists(key)
    with pytest.raises(blobstore.BlobNotFound):
        store.get(key)
    store.put(key, data, "image/png")
    assert store.exists(key) and store.get(key) == data
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(ValueError, match="invalid blob key"):
        store.put("../escape", data)


def test_a_wrong_bucket_is_an_error_not_a_missing_blob(s3_settings):
    store = blobstore.get_blob_store(s3_settings.model_copy(update={"s3_bucket": "no-such-bucket"}))
    key = blobstore.thumb_key("0" * 64)
    with pytest.raises(Exception) as err:
        store.get(key)
    assert not isinstance(err.value, blobstore.BlobNotFound)


def test_ingest_stores_drawings_in_the_bucket_and_the_api_serves_them(s3_settings, tmp_path):
    from backend.app import create_app
    from backend.ingest.bulk import ingest_paths

    settings = s3_settings.model_copy(update={"auth_required": False})
    upgrade_database(settings.resolved_database_url)
    folder = write_patent_folder(tmp_path / "docs", "D0999011", "Garden chair", figures=2, seed=11)
    summary = ingest_paths([folder], settings, progress=False)
    assert (summary.ingested, summary.failed) == (1, 0), summary.failures

    client = create_app(settings).test_client()
    patent = client.get("/patents/USD0999011").get_json()
    assert len(patent["figures"]) == 2
    bucket = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name="us-east-1")
    keys = {o["Key"] for o in bucket.list_objects_v2(Bucket=settings.s3_bucket).get("Contents", [])}
    for figure in patent["figures"]:
        assert {figure["image_key"], figure["thumb_key"]} <= keys
        for url in (figure["image_url"], figure["thumbnail_url"]):
            resp = client.get(url)
            assert resp.status_code == 200 and resp.mimetype == "image/png" and resp.data.startswith(b"\x89PNG")
        stored = bucket.get_object(Bucket=settings.s3_bucket, Key=figure["thumb_key"])["Body"].read()
        assert client.get(figure["thumbnail_url"]).data == stored
    assert any(k.startswith("originals/") for k in keys)
    blob_dir = settings.resolved_blob_dir
    assert not blob_dir.exists() or not any(p.is_file() for p in blob_dir.rglob("*")), "nothing on local disk"


def test_gc_on_the_bucket(s3_settings, tmp_path):
    import datetime as dt

    from backend.ingest.blob_gc import collect

    before, current = reingest_with_new_drawings(s3_settings, tmp_path)
    assert before and current and not before & current
    assert collect(s3_settings).deleted == []
    report = collect(s3_settings, older_than=dt.timedelta(0))
    assert set(report.deleted) == before
    assert {key for key, _ in blobstore.get_blob_store(s3_settings).list()} == current
