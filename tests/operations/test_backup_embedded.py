"""``prism backup`` / ``prism restore`` on the embedded default: a set restored into a fresh data folder
answers the same searches; a damaged, truncated, foreign or mismatched set is refused in one line and
nothing is written."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from backend.backup import BackupError, backup, restore, verify
from backend.cli_db import upgrade_database
from backend.search import reset_backends
from tests.ingest.helpers import image_bytes
from tests.operations.helpers import metadata

QUERIES = ({"text": "chair"}, {"image_figure_id": "USD0999502-F1"},
           {"text": "teapot", "image_figure_id": "USD0999502-F1"})


def ingest_three(settings) -> None:
    from backend.ingest.upload import submit_document

    for i, (pub, title) in enumerate((("USD0999501", "Chair"), ("USD0999502", "Teapot"), ("USD0999503", "Lamp"))):
        job = submit_document(json.dumps(metadata(pub, title)),
                              [("f1.png", image_bytes("PNG", seed=10 * i)),
                               ("f2.png", image_bytes("PNG", seed=10 * i + 1))], settings)
        assert job["status"] == "done", job


def results(settings) -> list[list[tuple[str, float]]]:
    from backend.search import service

    reset_backends()
    return [[(h["figure_id"], round(h["score"], 6)) for h in service.search(q, settings)["hits"]] for q in QUERIES]


def nothing_in(settings) -> bool:
    root = settings.data_dir
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    db = settings.resolved_database_url.removeprefix("sqlite:///")
    # only the empty database the installation made for itself (and SQLite's -wal/-shm beside it)
    return all(str(p).startswith(db) for p in files) and not list(root.glob(".*restoring*"))


@pytest.fixture(scope="module")
def made_set(tmp_path_factory):
    """An installation holding three patents, its search results and its backup set (made once: the tests
    only read it)."""
    from backend.settings import Settings

    root = tmp_path_factory.mktemp("office")
    settings = Settings(data_dir=root / "var", auth_required=False, search_class_consensus_k=0)
    upgrade_database(settings.resolved_database_url)
    ingest_three(settings)
    before = results(settings)
    result = backup(settings, root / "set")
    return settings, before, result


def _fresh(make_settings, tmp_path, name="restored"):
    settings = make_settings(data_dir=tmp_path / name)
    upgrade_database(settings.resolved_database_url)   # an installed, empty Prism
    return settings


def test_restore_into_a_fresh_data_dir_answers_the_same_searches(made_set, make_settings, tmp_path):
    settings, before, result = made_set
    manifest = result.manifest
    assert manifest["record"]["counts"]["patents"] == 3 and manifest["record"]["counts"]["figures"] >= 6
    assert manifest["index"]["figures"] >= 6 and manifest["blobs"]["count"] > 0
    assert list(manifest["index"]["encoders"]) == [manifest["encoder"]]
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert all(hits for hits in before)

    fresh = _fresh(make_settings, tmp_path)
    restore(fresh, result.folder)
    after = results(fresh)
    assert after == before
    assert not list(tmp_path.glob("restored/.*restoring*"))
    # the restored installation is a whole one: its figures' images are there
    from backend.search import service

    data, _mime, _key = service.figure_blob("USD0999502-F1", "image", fresh)
    assert data[:4] in (b"\x89PNG", b"II*\x00", b"MM\x00*")


def test_a_restore_needs_an_empty_installation(made_set):
    settings, _, result = made_set
    with pytest.raises(BackupError, match="already holds data"):
        restore(settings, result.folder)


@pytest.mark.parametrize("damage, message", [
    ("truncate-record", "truncated or damaged"),
    ("flip-index-byte", "checksum differs"),
    ("drop-blob", "is missing from the set"),
    ("add-file", "is not in the manifest"),
    ("no-manifest", "no manifest.json"),
    ("bad-manifest", "not valid JSON"),
    ("other-encoder", "holds vectors of other-model@abc"),
    ("other-setup", "the set's record is postgresql"),
    ("swapped-counts", "does not match the manifest"),
])
def test_a_bad_set_is_refused_in_one_line_and_nothing_is_written(made_set, make_settings, tmp_path, damage,
                                                                 message):
    _, _, result = made_set
    src = tmp_path / "damaged"
    shutil.copytree(result.folder, src)
    manifest_path = src / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    blob = next(name for name in manifest["files"] if name.startswith("blobs/"))
    if damage == "truncate-record":
        path = src / "record" / "prism.db"
        path.write_bytes(path.read_bytes()[:4096])
    elif damage == "flip-index-byte":
        path = src / "index" / "figures.sqlite3"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "drop-blob":
        (src / blob).unlink()
    elif damage == "add-file":
        (src / "blobs" / "stray.bin").write_bytes(b"x")
    elif damage == "no-manifest":
        manifest_path.unlink()
    elif damage == "bad-manifest":
        manifest_path.write_text(manifest_path.read_text()[:200])
    elif damage in ("other-encoder", "other-setup", "swapped-counts"):
        if damage == "other-encoder":
            manifest["index"]["encoders"] = {"other-model@abc": 6}
        elif damage == "other-setup":
            manifest["record"]["kind"] = "postgresql"
        else:   # a manifest from another set: its counts do not match these files
            manifest["record"]["counts"]["patents"] += 1
        manifest_path.write_text(json.dumps(manifest))

    fresh = _fresh(make_settings, tmp_path)
    from backend.backup.cli import restore_command

    out = CliRunner().invoke(restore_command, [str(src)])
    assert out.exit_code == 1
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prism: restore refused: ") and message in lines[0], out.output
    assert nothing_in(fresh), sorted(str(p) for p in fresh.data_dir.rglob("*"))


def test_verify_and_backup_refuse_what_they_cannot_do(made_set, tmp_path):
    settings, _, result = made_set
    assert verify(result.folder)["encoder"] == result.manifest["encoder"]
    with pytest.raises(BackupError, match="not an empty folder"):
        backup(settings, result.folder)
