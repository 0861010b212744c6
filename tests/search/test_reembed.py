"""Encoder versions of an index, both backends, real encoders: drawings ingested with encoder A
(prism-tiny, packaged) make a current index; switching to encoder B (prism-draw: its packaged
checkpoint when there is one, else seeded random weights; 512 dims: its 256-dim embedding and the 16 px
sheet thumbnail) makes it stale, ingest refuses to mix B's vectors in, ``prism index reembed`` converts it (atomically: a missing image stops it and leaves
the old index), and afterwards the index is current with B, 512 dims, and search by drawing works."""
from __future__ import annotations

import json
import shutil
import uuid

import numpy as np
import pytest

from backend.api.problems import status_of
from backend.cli_db import upgrade_database
from backend.search.errors import SearchError
from backend.settings import SHARED_DATA
from tests.search.conftest import drop_es_indices, run_cli

pytestmark = [pytest.mark.slow]

ENCODER_A, ENCODER_B = "prism-tiny", "prism-draw"
IMPACT = ("USD0910059-20210209", "USD0937858-20211207", "USD0937859-20211207")   # 2 drawings each
LATE = "USD0913312-20210316"


def _patent_folders(root) -> list:
    """Three small real design patents (shared data), or generated ones when it is absent; plus one more
    to ingest after the switch."""
    if (SHARED_DATA / "impact").is_dir():
        out = []
        for name in (*IMPACT, LATE):
            shutil.copytree(SHARED_DATA / "impact" / name, root / name)   # ingest reads them; tmp copy
            out.append(root / name)
        return out
    from tests.ingest.helpers import write_patent_folder

    titles = ("Chair", "Lamp", "Table", "Stool")
    return [write_patent_folder(root, f"D09990{i:02d}", titles[i], figures=2, seed=i) for i in range(4)]


@pytest.fixture(params=["embedded", "elasticsearch"])
def switch(request, make_settings, tmp_path):
    """``switch(model_name)`` -> settings of the same deployment (database, blobs, index) with that encoder."""
    from backend.search import reset_backends

    common = {"task_mode": "eager"}
    if request.param == "elasticsearch":
        common.update(search_backend="elasticsearch", es_url=request.getfixturevalue("es_url"),
                      es_index_prefix=f"reemb{uuid.uuid4().hex[:10]}")

    def _switch(model_name: str):
        from backend.model.encoder import clear_cache

        clear_cache()
        reset_backends()
        return make_settings(model_name=model_name, **common)

    yield _switch
    reset_backends()
    if request.param == "elasticsearch":
        drop_es_indices(common["es_url"], common["es_index_prefix"])




def _status() -> tuple[int, dict, str]:
    out = run_cli("index", "status", "--json")
    return out.exit_code, json.loads(out.stdout), out.stderr


def test_stale_index_refuses_mixing_and_reembeds(switch, tmp_path):
    from backend.ingest.bulk import ingest_paths
    from backend.search import get_backend
    from backend.search.index.index_encoder import current_encoder

    *first, late = _patent_folders(tmp_path / "patents")
    settings = switch(ENCODER_A)
    upgrade_database(settings.resolved_database_url)
    summary = ingest_paths(first, settings, progress=False)
    assert (summary.ingested, summary.failed) == (3, 0), summary.failures
    a = current_encoder(settings)
    n = get_backend(settings).count()
    code, info, _ = _status()
    assert code == 0 and info["stale"] is False
    assert info["encoder"]["index"] == {"model_ids": {a.model_id: n}, "unknown_model_id": 0, "dims": 128}

    settings = switch(ENCODER_B)
    b = current_encoder(settings)
    assert b.dims == 512 and b.model_id != a.model_id
    code, info, err = _status()
    assert code == 1 and info["stale"] is True and info["encoder"]["current"] == {"model_id": b.model_id,
                                                                                   "dims": 512}
    assert "STALE" in err and "prism index reembed" in err and a.model_id in err
    checked = run_cli("check")
    assert checked.exit_code == 1 and "STALE index" in checked.stdout and "prism index reembed" in checked.stdout

    # ingest with B into A's index: the job fails naming both encoders and the command; nothing is written
    refused = ingest_paths([late], settings, progress=False)
    assert refused.failed == 1 and refused.ingested == 0
    message = refused.failures[0][1]
    assert a.model_id in message and b.model_id in message and "prism index reembed" in message
    assert get_backend(settings).count() == n

    # a drawing uploaded meanwhile is encoded by B: 503 (the index is not ready for it), naming the command
    from backend.search import service

    drawing = sorted(first[0].glob("*-D00001.TIF"))[0].read_bytes()
    with pytest.raises(SearchError) as exc:
        service.search({}, settings, image=drawing)
    assert status_of(exc.value) == 503 and "128-dim" in exc.value.detail and "prism index reembed" in exc.value.detail

    # a figure whose stored image went missing stops the re-embedding; the old index stays as it was
    backend = get_backend(settings)
    figures = [f for p in _pubs(backend) for f in backend.get_patent_figures(p)]
    victim = figures[0]
    blob = settings.resolved_blob_dir / victim["image_key"]
    saved = blob.read_bytes()
    blob.unlink()
    out = run_cli("index", "reembed")
    assert out.exit_code == 1 and victim["figure_id"] in out.stderr and "--drop-missing" in out.stderr
    code, info, _ = _status()
    assert info["stale"] and info["encoder"]["index"]["model_ids"] == {a.model_id: n}
    blob.write_bytes(saved)

    out = run_cli("index", "reembed")
    assert out.exit_code == 0, out.output
    assert f"re-embedded with {b.model_id} (dims 512)" in out.stdout
    code, info, _ = _status()
    assert code == 0 and info["stale"] is False
    assert info["encoder"]["index"] == {"model_ids": {b.model_id: n}, "unknown_model_id": 0, "dims": 512}

    backend = get_backend(settings)
    probe = backend.get_figure(victim["figure_id"])
    assert probe["model_id"] == b.model_id and len(probe["image_vector"]) == 512
    assert probe["text_vector"] is None and probe["captions"]   # caption vectors: PRISM_INGEST_CAPTION_VECTORS
    # search by drawing: the figure's own vector finds its patent first
    hits = backend.search({"image_figure_id": victim["figure_id"], "group_by_patent": True}).hits
    assert hits[0].publication_number == victim["publication_number"]
    # search by an uploaded drawing (encoded by B): its own patent comes first for most of them
    firsts = []
    for folder in first:
        drawing = sorted(folder.glob("*-D00001.TIF"))[0].read_bytes()
        found = service.search({"group_by_patent": True, "size": 3}, settings, image=drawing)["hits"]
        firsts.append(found[0]["publication_number"] == _number(folder))
    assert sum(firsts) >= 2, firsts
    # a query vector of the old dims is a 400 naming both dims
    with pytest.raises(SearchError) as exc:
        backend.search({"vector": [1.0] * 128})
    assert status_of(exc.value) == 400 and "128 dimensions" in exc.value.detail and "expects 512" in exc.value.detail

    # now B's ingest goes in
    again = ingest_paths([late], settings, progress=False)
    assert (again.ingested, again.failed) == (1, 0), again.failures
    code, info, _ = _status()
    assert code == 0 and list(info["encoder"]["index"]["model_ids"]) == [b.model_id]


def _number(folder) -> str:
    return folder.name.split("-")[0]


def _pubs(backend) -> list[str]:
    hits = backend.search({"text": "ornamental design", "group_by_patent": True}).hits
    return sorted({h.publication_number for h in hits})


def test_reembedding_the_display_rendition_reproduces_ingest(make_settings, tmp_path):
    """Re-encoding a figure's stored display PNG with the same encoder gives (almost) the ingest vector:
    the model input is derived from it the way ingest derives it from the original."""
    from backend.ingest.bulk import ingest_paths
    from backend.search import get_backend, reset_backends
    from backend.search.index.reembed import Reembedder

    reset_backends()
    settings = make_settings(task_mode="eager", model_name=ENCODER_A, ingest_caption_vectors=True)
    upgrade_database(settings.resolved_database_url)
    folders = _patent_folders(tmp_path / "patents")[:2]
    assert ingest_paths(folders, settings, progress=False).ingested == 2
    backend = get_backend(settings)
    stored = [f for p in _pubs(backend) for f in backend.get_patent_figures(p)]
    assert stored and all(f["image_vector"] and f["text_vector"] for f in stored)
    again = Reembedder(settings)([{**f, "model_id": "older-encoder@0"} for f in stored])
    for before, after in zip(stored, again):
        assert after["model_id"] == before["model_id"] != "older-encoder@0"
        image_cos = float(np.dot(before["image_vector"], after["image_vector"]))
        assert image_cos > 0.98, (before["figure_id"], image_cos)
        np.testing.assert_allclose(after["text_vector"], before["text_vector"], atol=1e-5)
    reset_backends()


def test_embedded_reembed_resumes_after_an_interruption(make_settings, tmp_path):
    from backend.model import registry
    from backend.search import reset_backends
    from backend.search.backends.embedded.embedded_backend import EmbeddedBackend
    from backend.search.index.index_encoder import index_state
    from backend.search.index.reembed import Reembedder
    from tests.search.conftest import figure

    reset_backends()
    # these figures' vectors after re-embedding come from their captions alone (no stored images)
    settings = make_settings(model_name=ENCODER_B, ingest_caption_vectors=True)
    rng = np.random.default_rng(3)
    docs = [figure(f"US000{i:04d}B2", 1, (rng.normal(size=128)).tolist(), captions=[f"FIG. 1 is a view {i}"],
                   model_id="prism-tiny@0") for i in range(12)]
    docs.append(figure("US0009999B2", 0, None, figure_id="US0009999B2-TEXT", model_id="prism-tiny@0",
                       title="text only"))
    backend = EmbeddedBackend(settings)
    backend.index_figures(docs)
    transform = Reembedder(settings, drop_missing=True)   # made-up image vectors: no stored images to encode
    calls = []

    def flaky(batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("interrupted")
        return transform(batch)

    with pytest.raises(RuntimeError, match="interrupted"):
        backend.reembed(flaky, transform.model_id, registry.vector_dims(ENCODER_B), batch=5)
    assert index_state(backend, settings)["stale"]          # nothing swapped in yet
    result = backend.reembed(transform, transform.model_id, registry.vector_dims(ENCODER_B), batch=5)
    assert result["resumed"] == 5 and result["documents"] == 13
    state = index_state(backend, settings)
    assert not state["stale"] and state["index"]["model_ids"] == {transform.model_id: 12}
    text_only = backend.get_figure("US0009999B2-TEXT")
    assert text_only["model_id"] == "prism-tiny@0" and text_only["image_vector"] is None   # kept as it was
    reset_backends()
