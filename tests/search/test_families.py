"""Patent families: one hit per family (its best member) with one_per_family, through every page and in
the total, on both backends; the other members listed with the patent (GET /patents/<n>)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.search.conftest import figure, unit

WINDOW = 10


@pytest.fixture
def families(backend):
    rng = np.random.default_rng(5)
    docs = [  # the pair: same family, same text
        figure("EP1870505A2", 1, unit(rng), title="Water purification cartridge", family_id="JP2006123456"),
        figure("US20080016626A1", 1, unit(rng), title="Water purification cartridge", family_id="JP2006123456"),
        figure("US7000001B2", 1, unit(rng), title="Water purification pitcher"),     # its own family
    ]
    for i in range(60):           # 20 families of 3 members, every member about water
        fam = f"US{20000 + i // 3}"
        docs.append(figure(f"US{8000000 + i}B2", 1, unit(rng), title="water " * (1 + i % 4) + "tank",
                           family_id=fam))
        docs.append(figure(f"US{8000000 + i}B2", 2, unit(rng), title="water " * (1 + i % 4) + "tank",
                           family_id=fam))
    backend.index_figures(docs)
    backend.refresh()
    return backend


def test_one_per_family_keeps_the_best_member(families):
    plain = families.search({"text": "purification cartridge", "size": 10}).hits
    assert [h.publication_number for h in plain[:2]] == ["EP1870505A2", "US20080016626A1"]
    one = families.search({"text": "purification cartridge", "size": 10, "one_per_family": True}).hits
    assert [h.publication_number for h in one] == ["EP1870505A2", "US7000001B2"]
    assert one[0].family_id == "JP2006123456" and one[1].family_id == "US7000001B2"


@pytest.mark.parametrize("hybrid", [False, True], ids=["text", "hybrid"])
def test_one_per_family_pages_through_every_family(families, hybrid):
    body = {"text": "water", "one_per_family": True, "size": 7}
    if hybrid:
        body["vector"] = unit(np.random.default_rng(9))
    seen, totals, cursor = [], set(), None
    while True:
        resp = families.search({**body, "cursor": cursor}, window=WINDOW)
        totals.add(resp.total)
        seen.extend(h.family_id for h in resp.hits)
        cursor = resp.next_cursor
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 22             # 20 + the pair's family + the pitcher
    assert totals == {22}


def test_patent_lists_its_family_members(families):
    from backend.search import service

    data = service.patent("EP 1870505 A2", families.settings)
    assert data["family_id"] == "JP2006123456"
    assert [m["publication_number"] for m in data["family_members"]] == ["US20080016626A1"]
    assert data["family_members"][0]["title"] == "Water purification cartridge"
    assert service.patent("US7000001B2", families.settings)["family_members"] == []


def test_es_refuses_one_per_family_over_documents_without_family(families):
    """A reindex copies documents of an older index as they are: without family_id they would all
    collapse into one group, so one_per_family says to re-ingest them instead."""
    if families.name != "elasticsearch":
        pytest.skip("the embedded backend treats a figure without family_id as its own family")
    from backend.search.errors import SearchError
    from backend.search.index import documents

    old = documents.prepare(figure("US6000001B1", 1, None, title="Water wheel"), None)
    old.pop("family_id")
    families.es.index(index=families.alias, id=old["figure_id"], refresh=True,
                      document={k: v for k, v in old.items() if v is not None})
    with pytest.raises(SearchError, match="1 figures in the index have no family_id"):
        families.search({"text": "water", "one_per_family": True})
    assert families.search({"text": "water wheel"}).hits[0].publication_number == "US6000001B1"
