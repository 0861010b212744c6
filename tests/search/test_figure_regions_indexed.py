"""Figures split from a multi-figure sheet (docs/contracts.md: figure_region, figure_box, sheet_key) on both
backends: stored and read back with the sheet's box, a bad box refused naming the figure."""
from __future__ import annotations

import numpy as np
import pytest

from backend.search.index.documents import InvalidDocument, prepare
from tests.search.conftest import figure, indexed, unit

pytestmark = pytest.mark.services


def test_regions_of_one_sheet_are_figures_of_their_own_with_their_box(backend):
    rng = np.random.default_rng(3)
    sheet = dict(figure_number=2, sheet_key="figures/" + "a" * 64 + ".png")
    docs = [figure("US0000009B2", 1, unit(rng)),
            {**figure("US0000009B2", 2, unit(rng), figure_region=1, figure_box=[0.1, 0.0, 0.9, 0.45], **sheet),
             "figure_id": "US0000009B2-F2.1"},
            {**figure("US0000009B2", 2, unit(rng), figure_region=2, figure_box=[0.0, 0.55, 1.0, 1.0], **sheet),
             "figure_id": "US0000009B2-F2.2"}]
    indexed(backend, docs)
    top, bottom = backend.get_figure("US0000009B2-F2.1"), backend.get_figure("US0000009B2-F2.2")
    assert (top["figure_region"], bottom["figure_region"]) == (1, 2)
    assert top["figure_box"] == pytest.approx([0.1, 0.0, 0.9, 0.45]) and bottom["sheet_key"] == sheet["sheet_key"]
    whole = backend.get_figure("US0000009B2-F1")
    assert whole["figure_region"] == 0 and whole["figure_box"] is None and whole["sheet_key"] is None
    # a drawing query finds the patent once, by its best figure
    hits = backend.search({"vector": docs[2]["image_vector"], "size": 10}).hits
    assert len(hits) == 1 and hits[0].figure_id == "US0000009B2-F2.2"
    # the hit carries its box on the sheet, so the UI can outline the part that matched
    assert hits[0].figure_region == 2 and hits[0].figure_box == pytest.approx([0.0, 0.55, 1.0, 1.0])
    whole_hit = backend.search({"vector": docs[0]["image_vector"], "size": 10}).hits[0]
    assert (whole_hit.figure_id, whole_hit.figure_region, whole_hit.figure_box) == ("US0000009B2-F1", 0, None)


@pytest.mark.parametrize("box", [[0.5, 0.1, 0.4, 0.9], [0, 0, 1.2, 1], [0.1, 0.1, 0.2], "top"])
def test_a_bad_box_is_refused_naming_the_figure(box):
    with pytest.raises(InvalidDocument, match="US0000009B2-F2.1: figure_box"):
        prepare({**figure("US0000009B2", 2, None, figure_region=1, figure_box=box), "figure_id": "US0000009B2-F2.1"})
