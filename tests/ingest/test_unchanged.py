"""Re-ingest of an unchanged document is a no-op ("already done", by content hash: unchanged.py)."""
from sqlalchemy import select

from backend.db.models import IngestJob
from backend.db.session import session_scope
from backend.ingest.bulk import ingest_paths

from .helpers import write_patent_folder


def _outcomes(settings) -> list[str]:
    with session_scope(settings.resolved_database_url) as s:
        return [j.outcome for j in s.scalars(select(IngestJob).order_by(IngestJob.created_at))]


def test_the_same_document_again_is_already_done_and_nothing_is_redone(fake_pipeline, tmp_path):
    settings, pipe = fake_pipeline
    folder = write_patent_folder(tmp_path / "data", "D0999031", "Chair", figures=2, seed=31)
    first = ingest_paths([folder], settings, progress=False)
    assert (first.ingested, first.resumed, first.figures) == (1, 0, 2)
    calls, seq = pipe.encoder.image_calls, pipe.backend.docs["USD0999031-F1"]["ingest_seq"]
    again = ingest_paths([folder], settings, progress=False)
    assert (again.ingested, again.updated, again.resumed, again.failed, again.figures) == (0, 0, 1, 0, 0)
    assert pipe.encoder.image_calls == calls and pipe.backend.docs["USD0999031-F1"]["ingest_seq"] == seq
    assert _outcomes(settings) == ["ingested", "unchanged"]
    # --no-resume does it again
    redo = ingest_paths([folder], settings, progress=False, resume=False)
    assert (redo.updated, redo.resumed) == (1, 0) and pipe.encoder.image_calls > calls
    # still the same content after the redo: already done again
    assert ingest_paths([folder], settings, progress=False).resumed == 1


def test_a_changed_text_or_drawing_or_a_patent_gone_from_the_index_is_ingested_again(fake_pipeline, tmp_path):
    settings, pipe = fake_pipeline
    folder = write_patent_folder(tmp_path / "v1", "D0999032", "Lamp", figures=2, seed=32)
    assert ingest_paths([folder], settings, progress=False).ingested == 1
    retitled = write_patent_folder(tmp_path / "v2", "D0999032", "Desk lamp", figures=2, seed=32)
    assert ingest_paths([retitled], settings, progress=False).updated == 1
    assert pipe.backend.docs["USD0999032-F1"]["title"] == "Desk lamp"
    redrawn = write_patent_folder(tmp_path / "v3", "D0999032", "Desk lamp", figures=2, seed=33)
    assert ingest_paths([redrawn], settings, progress=False).updated == 1
    pipe.backend.delete_patent("USD0999032")     # the index lost it (a new index, a deletion)
    assert ingest_paths([redrawn], settings, progress=False).updated == 1
    assert "USD0999032-F1" in pipe.backend.docs


def test_the_hash_covers_the_encoder_the_settings_and_the_drawing_bytes_not_the_file_paths(make_settings):
    from backend.ingest import unchanged
    from backend.ingest.records import FigureRecord, ImageRef, PatentRecord

    settings = make_settings()
    rec = PatentRecord("USD0999033", title="Vase", figures=[FigureRecord(1, image=ImageRef(path="/a/f1.tif"))])
    moved = PatentRecord("USD0999033", title="Vase", figures=[FigureRecord(1, image=ImageRef(path="/b/f1.tif"))])
    sig = unchanged.signature(settings, "enc@1")
    base = unchanged.content_sha256(rec, [b"drawing"], sig)
    assert unchanged.content_sha256(moved, [b"drawing"], sig) == base
    assert unchanged.content_sha256(rec, [b"drawing!"], sig) != base
    assert unchanged.content_sha256(rec, [b"drawing"], unchanged.signature(settings, "enc@2")) != base
    other = make_settings(ingest_caption_vectors=True)
    assert unchanged.content_sha256(rec, [b"drawing"], unchanged.signature(other, "enc@1")) != base
