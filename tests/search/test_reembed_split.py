"""``prism index reembed`` splits stored multi-figure sheets (an index made before ingest split them, or with
the split off), both backends, real encoder: the sheet's one document becomes one per figure region with
``figure_box``/``figure_region``/``sheet_key`` (the sheet's image kept), in the index and the database; a
failed write leaves the sheet; a second run changes nothing."""
from __future__ import annotations

import json
import shutil
import uuid
import zipfile

import numpy as np
import pytest
from sqlalchemy import select

from backend.cli_db import upgrade_database
from backend.db.models import Figure, Patent
from backend.db.session import session_scope
from backend.search.errors import SearchBackendError
from backend.settings import SHARED_DATA
from tests.search.conftest import drop_es_indices, run_cli

pytestmark = [pytest.mark.slow]

ENCODER = "prism-tiny"
NUMBER = "D0999101"
PUB = f"US{NUMBER}"


@pytest.fixture(params=["embedded", "elasticsearch"])
def settings_for(request, make_settings):
    """``settings_for(**overrides)`` -> eager settings on the backend of the parameter, prism-tiny."""
    from backend.model.encoder import clear_cache
    from backend.search import reset_backends

    common: dict = {"task_mode": "eager", "model_name": ENCODER}
    if request.param == "elasticsearch":
        common.update(search_backend="elasticsearch", es_url=request.getfixturevalue("es_url"),
                      es_index_prefix=f"split{uuid.uuid4().hex[:10]}")

    def _make(**overrides):
        clear_cache()
        reset_backends()
        settings = make_settings(**common, **overrides)
        upgrade_database(settings.resolved_database_url)
        return settings

    yield _make
    reset_backends()
    if request.param == "elasticsearch":
        drop_es_indices(common["es_url"], common["es_index_prefix"])




def _figures(settings, pub: str) -> dict[str, dict]:
    from backend.search import get_backend

    return {f["figure_id"]: f for f in get_backend(settings).get_patent_figures(pub)}


def _rows(settings, pub: str) -> dict[str, Figure]:
    with session_scope(settings.resolved_database_url) as session:
        rows = session.scalars(select(Figure).where(Figure.figure_id.like(f"{pub}-%"))).all()
        session.expunge_all()
    return {r.figure_id: r for r in rows}


def _ingest_whole(settings_for, tmp_path):
    """The synthetic grant (sheet 2 holds FIGS. 2A and 2B) ingested with the split off: a whole sheet."""
    from backend.ingest.bulk import ingest_paths
    from tests.ingest.test_figure_split import _write

    _write(tmp_path / "data", NUMBER)
    settings = settings_for(ingest_split_figures=False)
    summary = ingest_paths([tmp_path / "data"], settings, progress=False)
    assert summary.ingested == 1, summary.failures
    return settings_for(ingest_split_figures=True)


def test_reembed_splits_a_stored_multi_figure_sheet_once(settings_for, tmp_path):
    settings = _ingest_whole(settings_for, tmp_path)
    before = _figures(settings, PUB)
    sheet = before[f"{PUB}-F2"]
    assert sheet["figure_region"] == 0 and "2A" in sheet["description"]

    out = run_cli("index", "reembed")
    assert out.exit_code == 0, out.output
    assert "multi-figure sheets: 1 of 1 split into 2 figures" in out.stdout
    after = _figures(settings, PUB)
    assert set(after) == (set(before) - {f"{PUB}-F2"}) | {f"{PUB}-F2.1", f"{PUB}-F2.2"}
    first, second = after[f"{PUB}-F2.1"], after[f"{PUB}-F2.2"]
    for r, region in enumerate((first, second), start=1):
        assert region["figure_region"] == r and region["sheet_key"] == sheet["image_key"]
        assert region["image_key"] != sheet["image_key"] and region["figure_number"] == 2
        assert region["description"] == sheet["description"] and len(region["image_vector"]) == 128
        settings.resolved_blob_dir.joinpath(region["image_key"]).stat()   # rendered and stored
    top, bottom = first["figure_box"], second["figure_box"]
    assert top[3] <= bottom[1] + 0.05 and top[3] < 0.6 < bottom[3]   # FIG. 2A above FIG. 2B
    assert not np.allclose(first["image_vector"], second["image_vector"])
    rows = _rows(settings, PUB)
    assert f"{PUB}-F2" not in rows and rows[f"{PUB}-F2.2"].box == bottom
    assert rows[f"{PUB}-F2.1"].sheet_key == sheet["image_key"] and rows[f"{PUB}-F2.1"].region == 1
    for other in set(before) - {f"{PUB}-F2"}:   # the other sheets as they were
        assert after[other]["image_vector"] == pytest.approx(before[other]["image_vector"], abs=1e-6)

    # search by a region's vector finds that region first
    from backend.search import get_backend

    hits = get_backend(settings).search({"image_figure_id": f"{PUB}-F2.2", "size": 3}).hits
    assert hits[0].figure_id == f"{PUB}-F2.2"

    again = run_cli("index", "reembed")
    assert again.exit_code == 0, again.output
    assert "multi-figure sheets: 0 of 0 split into 0 figures" in again.stdout
    final = _figures(settings, PUB)
    assert set(final) == set(after)
    for fid, doc in final.items():
        assert doc["image_vector"] == pytest.approx(after[fid]["image_vector"], abs=1e-6), fid
        assert (doc["figure_box"], doc["image_key"]) == (after[fid]["figure_box"], after[fid]["image_key"])
    assert set(_rows(settings, PUB)) == set(rows)


def test_no_split_sheets_keeps_them_and_a_failed_write_leaves_the_sheet(settings_for, tmp_path, monkeypatch):
    settings = _ingest_whole(settings_for, tmp_path)
    before = _figures(settings, PUB)
    out = run_cli("index", "reembed", "--no-split-sheets")
    assert out.exit_code == 0, out.output
    assert "multi-figure sheets" not in out.stdout and set(_figures(settings, PUB)) == set(before)

    from backend.search import get_backend

    backend_class = type(get_backend(settings))
    original = backend_class.index_figures

    def failing(self, docs, remove=()):
        if remove and any(d.get("figure_region") for d in docs):
            original(self, docs[:1])            # half written, then the write fails
            raise SearchBackendError("disk full")
        return original(self, docs, remove)

    monkeypatch.setattr(backend_class, "index_figures", failing)
    out = run_cli("index", "reembed", "--split-sheets")
    assert out.exit_code == 1 and "disk full" in out.stderr
    monkeypatch.setattr(backend_class, "index_figures", original)
    from backend.search import reset_backends

    reset_backends()
    assert set(_figures(settings, PUB)) == set(before)          # the index as it was
    assert set(_rows(settings, PUB)) == set(before)             # the database rolled back


def _grant_with_lettered_sheet(tmp_path):
    """US12448749 (shared data): its sheet 4 holds FIGS. 3A and 3B, one above the other."""
    path = SHARED_DATA / "uspto_grants_2025" / "US12448749-20251021.ZIP"
    if not path.is_file():
        pytest.skip(f"{path} not in the shared data")
    target = tmp_path / "grants"
    target.mkdir()
    shutil.copy(path, target / path.name)
    with zipfile.ZipFile(path) as zf:
        assert any(n.endswith("-D00004.TIF") for n in zf.namelist())
    return target


def test_a_real_sheet_with_figs_3a_and_3b_is_split(settings_for, tmp_path):
    from backend.ingest.bulk import ingest_paths

    folder = _grant_with_lettered_sheet(tmp_path)
    settings = settings_for(ingest_split_figures=False)
    summary = ingest_paths([folder], settings, progress=False)
    assert summary.ingested == 1, summary.failures
    with session_scope(settings.resolved_database_url) as session:
        pub = session.scalar(select(Patent.publication_number))   # the stored spelling of US12448749
    before = _figures(settings, pub)
    sheet = before[f"{pub}-F4"]
    assert sheet["figure_region"] == 0

    settings = settings_for(ingest_split_figures=True)
    out = run_cli("index", "reembed")
    assert out.exit_code == 0, out.output
    after = _figures(settings, pub)
    assert f"{pub}-F4" not in after and {f"{pub}-F4.1", f"{pub}-F4.2"} <= set(after)
    top, bottom = after[f"{pub}-F4.1"]["figure_box"], after[f"{pub}-F4.2"]["figure_box"]
    assert top[3] <= bottom[1] + 0.02          # FIG. 3A above FIG. 3B
    assert all(after[f"{pub}-F4.{r}"]["sheet_key"] == sheet["image_key"] for r in (1, 2))
    assert json.loads(json.dumps(after[f"{pub}-F4.1"]["figure_box"])) == top
    again = run_cli("index", "reembed")
    assert again.exit_code == 0 and set(_figures(settings, pub)) == set(after)
