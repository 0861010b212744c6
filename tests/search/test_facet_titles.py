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


def test_applicant_country_and_year_facets(backend):
    backend.index_figures([
        figure("US3000011S1", 1, None, title="Shoe", applicants=["Nike, Inc."], publication_date="2021-05-04"),
        figure("US3000011S1", 2, None, title="Shoe sole", applicants=["Nike, Inc."], publication_date="2021-05-04"),
        figure("EP3000012A1", 1, None, title="Shoe", applicants=["Adidas AG"], publication_date="2020-02-01",
               country="EP"),
        figure("US3000013S1", 1, None, title="Shoe", applicants=["Nike Inc"], publication_date="2021-09-01")])
    backend.refresh()
    for grouped in (True, False):
        facets = backend.search({"text": "shoe", "facets": True, "group_by_patent": grouped}).facets
        per = 1 if grouped else 2   # the first patent has two figures
        assert [(b.key, b.count) for b in facets["applicant_keys"]] == [("nike", 1 + per), ("adidas", 1)]
        assert [(b.key, b.count) for b in facets["country"]] == [("US", 1 + per), ("EP", 1)]
        assert [(b.key, b.count) for b in facets["year"]] == [("2021", 1 + per), ("2020", 1)]
