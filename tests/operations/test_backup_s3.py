"""``prism backup`` / ``prism restore`` with the blobs in an S3 bucket (moto's S3 server on loopback, the way
MinIO or Ceph would be reached): every object saved into the set and put into the new installation's bucket."""
from __future__ import annotations

import hashlib

import pytest

from backend.backup import backup, restore
from backend.cli_db import upgrade_database
from backend.ingest import blobstore
from tests.ingest.test_blobstore_s3 import s3_endpoint  # noqa: F401 - the module's fixture
from tests.operations.test_backup_embedded import ingest_three, results

boto3 = pytest.importorskip("boto3", reason="boto3 is part of the test extra (pip install -e '.[test]')")


def _bucket(endpoint: str, name: str) -> str:
    bucket = f"prism-{hashlib.sha256(name.encode()).hexdigest()[:10]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket


def test_a_set_with_s3_blobs_restores_into_a_new_bucket(make_settings, s3_endpoint, monkeypatch,  # noqa: F811
                                                        tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "prism-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "prism-test-secret")
    office = make_settings(data_dir=tmp_path / "office", blob_store="s3", s3_endpoint_url=s3_endpoint,
                           s3_bucket=_bucket(s3_endpoint, f"office{tmp_path}"))
    upgrade_database(office.resolved_database_url)
    ingest_three(office)
    before = results(office)
    made = backup(office, tmp_path / "set")
    keys = sorted(k for k, _ in blobstore.get_blob_store(office).list())
    assert made.manifest["blobs"]["kind"] == "s3" and made.manifest["blobs"]["count"] == len(keys) > 0

    fresh = make_settings(data_dir=tmp_path / "restored", blob_store="s3", s3_endpoint_url=s3_endpoint,
                          s3_bucket=_bucket(s3_endpoint, f"restored{tmp_path}"))
    upgrade_database(fresh.resolved_database_url)
    restore(fresh, made.folder)
    assert results(fresh) == before
    store = blobstore.get_blob_store(fresh)
    assert sorted(k for k, _ in store.list()) == keys
    assert not (tmp_path / "restored" / "blobs").exists()   # the bucket, not the filesystem
    assert store.get(keys[0]) == blobstore.get_blob_store(office).get(keys[0])
