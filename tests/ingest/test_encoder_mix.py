"""Ingest never mixes vectors of two encoders in one index (unit level, fakes; both real backends in
tests/search/test_reembed.py): the job fails naming both encoders and the command, nothing is stored."""
import numpy as np
from sqlalchemy import func, select

from backend.db.models import IngestJob, JobStatus, Patent
from backend.db.session import session_scope
from backend.ingest.bulk import ingest_paths

from .helpers import FakeEncoder, write_patent_folder


class OtherEncoder(FakeEncoder):
    model_id = "other-encoder@1234"


class WiderEncoder(FakeEncoder):
    dim = 32
    model_id = None   # no id recorded: the dims still tell

    def encode_images(self, images):
        return np.tile(super().encode_images(images), 2) / 2 ** 0.5

    def encode_texts(self, texts):
        return np.tile(super().encode_texts(texts), 2) / 2 ** 0.5


def test_another_encoder_or_other_dims_fail_the_job(fake_pipeline, tmp_path):
    settings, pipe = fake_pipeline
    first = ingest_paths([write_patent_folder(tmp_path / "a", "D0999001", "Chair", figures=2, seed=1)], settings,
                         progress=False)
    assert first.ingested == 1
    before = dict(pipe.backend.docs)

    pipe._encoder = OtherEncoder()
    refused = ingest_paths([write_patent_folder(tmp_path / "b", "D0999002", "Lamp", figures=2, seed=2)], settings,
                           progress=False)
    assert (refused.ingested, refused.failed) == (0, 1)
    message = refused.failures[0][1]
    assert "fake-encoder" in message and "other-encoder@1234" in message and "prism index reembed" in message
    assert pipe.backend.docs == before
    with session_scope(settings.resolved_database_url) as s:
        assert s.scalar(select(func.count()).select_from(Patent)) == 1          # nothing stored either
        assert s.scalar(select(func.count()).where(IngestJob.status == JobStatus.failed)) == 1

    pipe._encoder = WiderEncoder()
    refused = ingest_paths([tmp_path / "b"], settings, progress=False)
    assert refused.failed == 1 and "made for 16-dim vectors" in refused.failures[0][1] and "(32 dims)" in refused.failures[0][1]

    pipe._encoder = FakeEncoder()   # the index's own encoder again: accepted
    assert ingest_paths([tmp_path / "b"], settings, progress=False).ingested == 1
