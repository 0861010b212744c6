"""Caption text vectors (opt-in) and the pipeline's per-stage timing."""
import numpy as np

from backend.ingest.bulk import ingest_paths
from backend.ingest.pipeline import caption_vectors

from .conftest import faked_pipeline
from .helpers import FakeEncoder, write_patent_folder


def test_caption_vectors_encode_each_distinct_caption_once_in_one_batch():
    enc = FakeEncoder()
    seen = []
    original = enc.encode_texts
    enc.encode_texts = lambda texts: seen.append(list(texts)) or original(texts)
    captions = [["a chair", "front view of a chair"], [], ["a chair", "a chair seen from the top"], ["a chair"]]
    out = caption_vectors(enc, captions)
    assert seen == [["a chair", "front view of a chair", "a chair seen from the top"]]
    assert out[1] is None
    for got, caps in zip(out, captions):
        if caps:   # the normalised mean of the figure's own caption vectors
            want = original(caps).sum(axis=0)
            np.testing.assert_allclose(got, want / np.linalg.norm(want), atol=1e-6)
    assert caption_vectors(enc, [[], []]) == [None, None]


def test_caption_vectors_at_ingest_when_the_setting_is_on(make_settings, tmp_path):
    with faked_pipeline(make_settings, ingest_caption_vectors=True) as (settings, pipe):
        write_patent_folder(tmp_path / "data", "D0999011", "Chair", figures=2, seed=1)
        assert ingest_paths([tmp_path / "data"], settings, progress=False).ingested == 1
        d = pipe.backend.docs["USD0999011-F1"]
        assert len(d["text_vector"]) == 16 and abs(np.linalg.norm(d["text_vector"]) - 1) < 1e-5
        assert pipe.encoder.text_calls == 1


def test_the_pipeline_times_each_stage(fake_pipeline, tmp_path):
    settings, pipe = fake_pipeline
    write_patent_folder(tmp_path / "data", "D0999012", "Lamp", figures=3, seed=2)
    assert ingest_paths([tmp_path / "data"], settings, progress=False).ingested == 1
    times = pipe.times.snapshot()
    for stage in ("parse", "decode", "verification features", "blobs", "drawing encoder", "captions",
                  "dense text", "store", "index"):
        assert times[stage]["seconds"] > 0, stage
    assert "caption vectors" not in times
    assert times["drawing encoder"]["items"] == 3 and times["decode"]["items"] == 3
