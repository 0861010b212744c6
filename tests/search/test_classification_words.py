"""Classification suggestions by everyday words and their synonyms (shoe -> footwear, chair -> seats), and
IPC suggestions (from the CPC titles, IPC-shaped symbols only)."""
from __future__ import annotations

import pytest

from backend.classification import cpc_catalog, suggest
from backend.classification.synonyms import alternatives
from backend.settings import SHARED_DATA, Settings


def _symbols(q, scheme, limit=20):
    catalog = cpc_catalog(str(Settings().cpc_titles_dir))
    return [item["symbol"] for item in suggest(q, scheme, catalog, limit)]


def test_alternatives_stand_for_one_another():
    assert {"shoe", "footwear"} <= alternatives("Shoes")
    assert {"chair", "seat"} <= alternatives("seat")
    assert "brush" in alternatives("brushes")          # not in the table: tried singular


@pytest.mark.parametrize("q, wanted", [("shoe", "02-04"), ("sneakers", "02-04"), ("chair", "06-01"),
                                       ("sofa", "06-01"), ("lamp", "26"), ("footwear", "02-04")])
def test_locarno_by_everyday_words(q, wanted):
    assert wanted in _symbols(q, "locarno")[:5], _symbols(q, "locarno")


needs_cpc = pytest.mark.skipif(not (SHARED_DATA / "cpc_titles").is_dir(),
                               reason=f"CPC title lists not found at {SHARED_DATA / 'cpc_titles'}")


@needs_cpc
@pytest.mark.parametrize("scheme", ["cpc", "ipc"])
def test_cpc_and_ipc_by_words_and_synonyms(scheme):
    assert "A43B" in _symbols("shoe", scheme)          # "footwear" in the title, not "shoe"
    assert "A47C" in _symbols("chair", scheme)
    assert "A47C4/04" in _symbols("folding chair", scheme)


@needs_cpc
def test_ipc_suggestions_are_ipc_shaped():
    symbols = _symbols("A47C1/02", "ipc", 100)
    assert symbols and all(len(s.split("/")[1]) <= 3 for s in symbols if "/" in s)
    assert "A47C1/0242" in _symbols("A47C1/02", "cpc", 100) and "A47C1/0242" not in symbols   # CPC-only


def test_the_api_suggests_ipc(client):
    response = client.get("/classifications/suggest?q=shoe&scheme=ipc")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scheme"] == "ipc"
