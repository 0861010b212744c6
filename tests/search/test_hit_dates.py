"""A hit carries its filing and priority dates beside the publication date (the CSV export writes them), on
both backends."""
from __future__ import annotations

import pytest

from tests.search.conftest import figure

pytestmark = pytest.mark.services


def test_hits_carry_filing_and_priority_dates(backend):
    backend.index_figures([figure("US4000001S1", 1, None, title="Shoe", publication_date="2021-06-29",
                                  filing_date="2020-01-15", priority_date="2019-07-01")])
    backend.refresh()
    [hit] = backend.search({"text": "shoe"}).hits
    assert (hit.publication_date, hit.filing_date, hit.priority_date) == ("2021-06-29", "2020-01-15", "2019-07-01")
