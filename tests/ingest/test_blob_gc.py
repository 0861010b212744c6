"""Blob garbage collection after re-ingest (real ingest, filesystem store; the S3 store in
test_blobstore_s3.py): old renditions go, everything a figure or a pending upload names stays."""
from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from backend.cli_db import upgrade_database
from backend.ingest import blobstore
from backend.ingest.blob_gc import collect
from tests.ingest.helpers import blob_keys as _keys
from tests.ingest.helpers import reingest_with_new_drawings


@pytest.fixture
def reingested(make_settings, tmp_path):
    settings = make_settings(task_mode="eager")
    before, current = reingest_with_new_drawings(settings, tmp_path)
    return settings, before, current


def test_gc_deletes_old_renditions_only(reingested):
    from backend.app import create_app

    settings, before, current = reingested
    assert before and current and not before & current
    kept = collect(settings)                                   # default: 24 h of grace for ingests in flight
    assert kept.deleted == [] and kept.kept_recent == len(before)
    dry = collect(settings, older_than=dt.timedelta(0), dry_run=True)
    assert set(dry.deleted) == before and _keys(settings) == before | current
    done = collect(settings, older_than=dt.timedelta(0))
    assert set(done.deleted) == before and done.referenced == len(current)
    assert _keys(settings) == current
    client = create_app(settings.model_copy(update={"auth_required": False})).test_client()
    for figure in client.get("/patents/USD0999021").get_json()["figures"]:
        assert client.get(figure["image_url"]).status_code == 200
        assert client.get(figure["thumbnail_url"]).status_code == 200


def test_gc_keeps_uploads_of_unfinished_jobs(make_settings):
    from backend.db.models import IngestJob, JobStatus
    from backend.db.session import session_scope

    settings = make_settings(task_mode="eager")
    upgrade_database(settings.resolved_database_url)
    store = blobstore.get_blob_store(settings)
    pending, finished = blobstore.upload_key("a" * 64), blobstore.upload_key("b" * 64)
    for key in (pending, finished):
        store.put(key, b"upload")
    with session_scope(settings.resolved_database_url) as s:
        s.add(IngestJob(id="job-queued", status=JobStatus.queued, payload={"images": [{"blob": pending}]}))
        s.add(IngestJob(id="job-done", status=JobStatus.done, payload={"images": [{"blob": finished}]}))
    report = collect(settings, older_than=dt.timedelta(0))
    assert report.deleted == [finished] and _keys(settings) == {pending}


def test_cli_blobs_gc(reingested):
    from backend.cli import _register, cli

    settings, before, current = reingested    # make_settings exported them to the environment
    _register()
    runner = CliRunner()
    out = runner.invoke(cli, ["blobs", "gc", "--older-than-hours", "0", "--dry-run", "-v"])
    assert out.exit_code == 0, out.output
    assert f"would delete {len(before)}" in out.output and all(k in out.output for k in before)
    out = runner.invoke(cli, ["blobs", "gc", "--older-than-hours", "0"])
    assert out.exit_code == 0 and f"deleted {len(before)}" in out.output
    assert _keys(settings) == current
    bad = runner.invoke(cli, ["blobs", "gc", "--older-than-hours", "-1"])
    assert bad.exit_code == 2 and "--older-than-hours" in bad.output


def test_gc_keeps_the_renditions_of_live_figures_only(reingested):
    """A viewer's cached sizes (renditions/<h>.w800 ...) live as long as their figure."""
    from backend.search.renditions import rendition_key

    settings, before, current = reingested
    store = blobstore.get_blob_store(settings)
    live = {blobstore.hash_of_key(k) for k in current if k.startswith("figures/")}
    dead = {blobstore.hash_of_key(k) for k in before if k.startswith("figures/")}
    assert live and dead
    kept = {rendition_key(h, size) for h in live for size in ("800", "full")}
    gone = {rendition_key(h, "800") for h in dead}
    for key in kept | gone:
        store.put(key, b"png")
    report = collect(settings, older_than=dt.timedelta(0))
    assert gone <= set(report.deleted) and not kept & set(report.deleted)
    assert _keys(settings) == current | kept
