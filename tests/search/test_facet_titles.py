"""Facet buckets carry their class's title (Locarno class heading, CPC subclass title) on both backends."""
from __future__ import annotations

import pytest

from backend.settings import SHARED_DATA
from tests.search.conftest import figure

pytestmark = pytest.mark.services


def test_facets_are_titled(backend):
    backend.index_figures([figure("US3000001S1", 1, None, title="Shoe", locarno=["02-04"], cpc=["A43B 1/00"]),
                           figure("US3000002S1", 1, None, title="Shoe lace", locarno=["02-04"])])
    backend.refresh()
    facets = backend.search({"text": "shoe", "facets": True}).facets
    [locarno] = facets["locarno_class"]
    assert (locarno.key, locarno.count, locarno.title) == ("02", 2, "Articles of clothing and haberdashery")
    [cpc] = facets["cpc_subclass"]
    assert (cpc.key, cpc.count) == ("A43B", 1)
    if (SHARED_DATA / "cpc_titles").is_dir():
        assert cpc.title and "FOOTWEAR" in cpc.title
