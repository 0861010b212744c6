"""USPTO weekly "grant full text with embedded images" archives: a tar of per-patent ZIPs, read in place
(backend/ingest/parsers/weekly_tar.py), resumed after an interruption (backend/ingest/archive_resume.py)."""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.db.models import Figure, Patent
from backend.db.session import session_scope
from backend.ingest.bulk import ingest_paths
from backend.ingest.parsers import load
from backend.ingest.parsers.discover import discover

from .conftest import faked_pipeline

GRANTS = "uspto_grants_2025"


@pytest.fixture
def one_doc_batches(make_settings):
    """Eager SQLite settings with fake encoder/backend; an embed batch of 8 makes every patent its own
    batch, so an interruption leaves a known prefix of the archive finished."""
    with faked_pipeline(make_settings, embed_batch_size=8) as pair:
        yield pair


def _zips(shared_data: Path) -> list[Path]:
    zips = sorted((shared_data / GRANTS).glob("US*-20251021.ZIP"))
    if len(zips) != 9:
        pytest.skip(f"expected the 9 USPTO grant ZIPs in {shared_data / GRANTS}, found {len(zips)}")
    return zips


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def _weekly_tar(path: Path, zips: list[Path], extra: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w") as tf:
        folder = tarfile.TarInfo("20251021/UTIL0448")
        folder.type = tarfile.DIRTYPE
        tf.addfile(folder)
        for z in zips:
            tf.add(z, arcname=f"20251021/UTIL0448/{z.name}")
        for name, data in (extra or {}).items():
            _add_bytes(tf, name, data)
    return path


def _patents(settings) -> dict[str, tuple[int, int]]:
    """publication number -> (ingest_seq, figures)"""
    with session_scope(settings.resolved_database_url) as s:
        return {p.publication_number: (p.ingest_seq, len(p.figures)) for p in s.scalars(select(Patent))}


def test_nine_grants_in_a_tar_ingest_with_their_drawing_sheets(one_doc_batches, shared_data, tmp_path):
    settings, pipe = one_doc_batches
    tar = _weekly_tar(tmp_path / "I20251021.tar", _zips(shared_data))
    summary = ingest_paths([tar], settings, progress=False)
    counts = (summary.ingested, summary.failed, summary.skipped, summary.resumed)
    assert counts == (9, 0, 0, 0), summary.failures
    # the same as the nine ZIPs ingested from a folder: 43 drawing sheets, 55 figures once the sheets that hold
    # several described figures are split into them (docs/ingest.md, "Figures, not sheets")
    assert summary.figures == 55
    with session_scope(settings.resolved_database_url) as s:
        rows = s.execute(select(Figure.image_key, Figure.number, Figure.region, Figure.patent_id)).all()
    assert len(rows) == 55 and all(r.image_key for r in rows)
    assert len({(r.patent_id, r.number) for r in rows}) == 43      # every sheet, once split or whole
    # drawing sheets only: the chemical (-C...) and math (-M...) images of US12448385 are not figures
    numbers = _patents(settings)
    # US12448254: 12 sheets, two of them with three described figures each (split into them)
    assert numbers["US12448385B2"][1] == 1 and numbers["US12448254B2"][1] == 15


def test_figures_point_into_the_tar_and_chemistry_images_are_not_figures(shared_data, tmp_path):
    tar = _weekly_tar(tmp_path / "weekly.tar", _zips(shared_data))
    items = list(discover([tar]))
    assert len(items) == 9 and all(i.locator and i.locator["tar_offset"] is not None for i in items)
    record = load.load_source(next(i.locator for i in items if "US12448385" in i.origin))
    names = [f.image.member for f in record.figures]
    assert names == ["US12448385-20251021/US12448385-20251021-D00001.TIF"]
    assert record.figures[0].image.zip == str(tar.resolve())


def test_junk_members_are_skipped_with_the_reason(one_doc_batches, shared_data, tmp_path):
    settings, _ = one_doc_batches
    no_xml = io.BytesIO()
    with zipfile.ZipFile(no_xml, "w") as zf:
        zf.writestr("US0000001-20251021/US0000001-20251021-D00001.TIF", b"II*\x00")
    tar = _weekly_tar(tmp_path / "weekly.tar", _zips(shared_data)[:2], extra={
        "20251021/README.txt": b"USPTO weekly archive\n",
        "20251021/UTIL0448/US0000001-20251021.ZIP": no_xml.getvalue(),
        "20251021/UTIL0448/US0000002-20251021.ZIP": b"PK\x03\x04 this is not really a zip",
    })
    summary = ingest_paths([tar], settings, progress=False)
    assert (summary.ingested, summary.skipped, summary.failed) == (2, 2, 1)
    skips = dict((origin.rsplit("/", 1)[-1], why) for origin, why in summary.skips)
    assert skips["README.txt"].startswith("not a ZIP")
    assert skips["US0000001-20251021.ZIP"] == "ZIP without an XML document"
    (origin, why), = summary.failures
    assert origin.endswith("US0000002-20251021.ZIP") and why.startswith("corrupt ZIP")


def test_truncated_tar_ingests_the_complete_members_and_names_the_cut(one_doc_batches, shared_data,
                                                                      tmp_path):
    settings, _ = one_doc_batches
    zips = _zips(shared_data)
    tar = _weekly_tar(tmp_path / "weekly.tar", zips)
    with tarfile.open(tar) as tf:
        fifth = [m for m in tf.getmembers() if m.isfile()][4]
    with tar.open("r+b") as fh:
        fh.truncate(fifth.offset_data + fifth.size // 2)
    summary = ingest_paths([tar], settings, progress=False)
    assert summary.ingested == 4 and summary.failed == 1
    (origin, why), = summary.failures
    assert origin == str(tar.resolve())
    assert why.startswith("truncated: member 20251021/UTIL0448/" + zips[4].name)


@pytest.mark.parametrize("name, content, reason", [
    ("weekly.tar.gz", b"\x1f\x8b\x08\x00", "compressed tar"),
    ("weekly.tar", b"this is no tar archive at all" * 40, "not a tar archive"),
])
def test_an_unreadable_archive_is_one_clear_failure(one_doc_batches, tmp_path, name, content, reason):
    settings, _ = one_doc_batches
    path = tmp_path / name
    path.write_bytes(content)
    summary = ingest_paths([path], settings, progress=False)
    assert summary.ingested == 0 and summary.failed == 1
    assert summary.failures[0][1].startswith(reason)


def test_interrupted_archive_resumes_without_redoing_finished_members(one_doc_batches, shared_data,
                                                                     tmp_path, monkeypatch):
    settings, _ = one_doc_batches
    zips = _zips(shared_data)
    tar = _weekly_tar(tmp_path / "weekly.tar", zips)
    with tarfile.open(tar) as tf:
        sixth = [m for m in tf.getmembers() if m.isfile()][5].offset
    real_open_zip = load.open_zip

    def dies_at_the_sixth(path, tar_offset=None):
        if tar_offset == sixth:
            raise KeyboardInterrupt("operator pressed ^C")
        return real_open_zip(path, tar_offset)

    monkeypatch.setattr(load, "open_zip", dies_at_the_sixth)
    load._documents.cache_clear()
    with pytest.raises(KeyboardInterrupt):
        ingest_paths([tar], settings, progress=False)
    first = _patents(settings)
    assert 1 <= len(first) <= 5 and "US12448527B2" not in first   # the sixth member never finished

    monkeypatch.setattr(load, "open_zip", real_open_zip)
    again = ingest_paths([tar], settings, progress=False)
    assert again.resumed == len(first) and again.ingested == 9 - len(first) and again.failed == 0
    second = _patents(settings)
    assert len(second) == 9
    assert {p: second[p] for p in first} == first     # finished ones not redone: same ingest_seq

    nothing_left = ingest_paths([tar], settings, progress=False)
    assert (nothing_left.resumed, nothing_left.ingested, nothing_left.updated) == (9, 0, 0)
    assert _patents(settings) == second

    redo = ingest_paths([tar], settings, progress=False, resume=False)
    assert (redo.resumed, redo.updated) == (0, 9)


def test_a_replaced_archive_is_not_taken_for_the_finished_one(one_doc_batches, shared_data, tmp_path):
    settings, _ = one_doc_batches
    zips = _zips(shared_data)
    tar = _weekly_tar(tmp_path / "weekly.tar", zips[:2])
    assert ingest_paths([tar], settings, progress=False).ingested == 2
    _weekly_tar(tar, zips[:3])     # same path, another size: a new archive
    summary = ingest_paths([tar], settings, progress=False)
    # its third member is ingested; the first two are already stored with the same content
    assert (summary.resumed, summary.updated, summary.ingested) == (2, 0, 1)


def test_prism_ingest_of_a_weekly_tar_summarises_skips_and_resumes(fake_pipeline, tmp_path):
    """Synthetic patents (no shared data needed): the CLI names the skipped member and, run again,
    says how many documents it did not redo."""
    from click.testing import CliRunner

    from backend.cli import _register, cli

    from .helpers import write_patent_folder

    zips = []
    for number, seed in (("D0999301", 1), ("D0999302", 2)):
        folder = write_patent_folder(tmp_path / "src", number, "Stool", figures=2, seed=seed)
        zpath = tmp_path / f"{folder.name}.ZIP"
        with zipfile.ZipFile(zpath, "w") as zf:
            for f in sorted(folder.iterdir()):
                zf.write(f, f"{folder.name}/{f.name}")
        zips.append(zpath)
    tar = _weekly_tar(tmp_path / "weekly.tar", zips, extra={"20210105/notes.txt": b"not a patent"})
    _register()
    first = CliRunner().invoke(cli, ["ingest", "--quiet", str(tar)])
    assert first.exit_code == 0, first.output
    assert any(line.startswith(f"skipped: {tar.resolve()}!20210105/notes.txt: not a ZIP")
               for line in first.output.splitlines()), first.output
    assert sorted(fake_pipeline[1].backend.docs) == ["USD0999301-F1", "USD0999301-F2", "USD0999302-F1",
                                                     "USD0999302-F2"]
    again = CliRunner().invoke(cli, ["ingest", "--quiet", str(tar)])
    assert again.exit_code == 0, again.output
    lines = again.output.splitlines()
    assert any(line.startswith("already done: 2 document(s)") for line in lines), again.output


def test_progress_names_the_archive_member_reached():
    from backend.ingest.progress_bar import TerminalBar

    out = io.StringIO()
    origins = ["/data/I20251021.tar!20251021/UTIL0448/US12448135-20251021.ZIP",
               "/data/I20251021.tar!20251021/UTIL0448/US12448249-20251021.ZIP", "/data/one.xml"]
    with TerminalBar(file=out, ncols=200, mininterval=0, dynamic_ncols=False) as bar:
        bar(1, 3, origins[0])
        assert "1/3" in out.getvalue() and "US12448135-20251021.ZIP" in out.getvalue()
        bar(3, 3, origins[2])
    assert "3/3" in out.getvalue() and out.getvalue().rstrip().endswith("one.xml]")


def test_walking_an_archive_holds_one_member_at_a_time(tmp_path):
    """The archive is never loaded: walking 120 members of 256 KB (30 MB) allocates well under one
    member's size at its peak, and reading one member's document reads that member only."""
    import os
    import tracemalloc

    from backend.ingest.parsers import weekly_tar

    zip_bytes = []
    for n in range(120):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(f"US{n:07d}-20251021/US{n:07d}-20251021.XML", b"<us-patent-grant/>")
            zf.writestr(f"US{n:07d}-20251021/US{n:07d}-20251021-D00001.TIF", os.urandom(256 * 1024))
        zip_bytes.append(buf.getvalue())
    tar = tmp_path / "big.tar"
    with tarfile.open(tar, "w") as tf:
        for n, data in enumerate(zip_bytes):
            _add_bytes(tf, f"20251021/US{n:07d}-20251021.ZIP", data)
    del zip_bytes
    tracemalloc.start()
    try:
        found = list(weekly_tar.members(tar))
        _, walk_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with weekly_tar.open_zip(str(tar), found[77].offset) as zf:
            xml = zf.read(weekly_tar.xml_members(zf)[0])
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(found) == 120 and not any(m.skip or m.error for m in found)
    assert xml == b"<us-patent-grant/>"
    assert walk_peak < 256 * 1024 and read_peak < 256 * 1024, (walk_peak, read_peak)
