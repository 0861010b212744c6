"""A patent without figures is one text-only document: found by text, never by vector, has_image false."""
from __future__ import annotations

import numpy as np

from backend.ingest.pipeline import PreparedJob, figure_documents
from backend.ingest.records import PatentRecord
from tests.search.conftest import figure, unit


def test_text_only_patent_is_found_by_text_on_both_backends(backend):
    """The text document is searchable by text, never by vector, and reports has_image false."""
    record = PatentRecord(publication_number="US7537926B2", kind="B2", country="US", title="Water valve",
                          abstract="A valve for water mains.", claims="1. A valve.")
    docs = figure_documents(PreparedJob("job", record, []), seq=3)
    rng = np.random.default_rng(0)
    backend.index_figures(docs + [figure("USD0000009", 1, unit(rng), title="Valve handle")])
    backend.refresh()
    hits = backend.search({"text": "water valve", "explain": True}).hits
    assert [h.figure_id for h in hits] == ["US7537926B2-TEXT", "USD0000009-F1"]
    assert hits[0].has_image is False and hits[0].figure_number == 0 and hits[1].has_image is False
    by_vector = backend.search({"vector": unit(rng), "size": 10}).hits
    assert "US7537926B2-TEXT" not in {h.figure_id for h in by_vector}
