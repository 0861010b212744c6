"""One publication-number spelling everywhere: documents are stored canonical, and every accepted
spelling finds them - lookups (GET /patents/<n>), the publication_numbers filter, deletes - also
without kind code and for numbers an older index holds in their old spelling (EP without padding)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.search.conftest import figure, unit

STORED = [  # (as ingest or a client sends it, canonical)
    ("EP 0 049 154 B2", "EP0049154B2"), ("EP49154A1", "EP0049154A1"), ("US 7,537,926 B2", "US7537926B2"),
    ("USR34586", "USRE034586"), ("US D907292 S", "USD0907292"), ("US 2008/0016626 A1", "US20080016626A1"),
]


@pytest.fixture
def numbered(backend):
    rng = np.random.default_rng(1)
    docs = [figure(raw, n, unit(rng), title=f"pump {canonical}") for raw, canonical in STORED for n in (1, 2)]
    for d in docs:
        d["figure_id"] = d["figure_id"].replace(" ", "")
    backend.index_figures(docs)
    _store_legacy(backend, figure("EP123456B1", 1, unit(rng), title="pump legacy"))
    backend.refresh()
    return backend


def _store_legacy(backend, doc: dict) -> None:
    """Write a document the way an index built before the normaliser holds it (unpadded EP number)."""
    from backend.search.index import documents

    prepared = documents.prepare(doc, backend.dims())
    prepared["publication_number"] = "EP123456B1"
    if backend.name == "elasticsearch":
        backend.es.index(index=backend.alias, id=prepared["figure_id"], refresh=True,
                         document={k: v for k, v in prepared.items() if v is not None})
        return
    backend.index_figures([doc])
    with backend._write() as conn:
        conn.execute("UPDATE figures SET publication_number = 'EP123456B1', doc = json_set(doc, "
                     "'$.publication_number', 'EP123456B1') WHERE figure_id = ?", (doc["figure_id"],))
        keys = json.loads(conn.execute("SELECT keys FROM figures WHERE figure_id = ?",
                                       (doc["figure_id"],)).fetchone()[0])
        keys["publication_number"] = "EP123456B1"
        conn.execute("UPDATE figures SET keys = ? WHERE figure_id = ?", (json.dumps(keys), doc["figure_id"]))
        backend._bump(conn)


def test_documents_are_stored_canonical(numbered):
    pubs = {h.publication_number for h in numbered.search({"text": "pump", "size": 50}).hits}
    assert pubs == {c for _raw, c in STORED} | {"EP123456B1"}


@pytest.mark.parametrize("typed, found", [
    ("EP0049154B2", "EP0049154B2"), ("EP 0 049 154 B2", "EP0049154B2"), ("EP49154B2", "EP0049154B2"),
    ("EP49154", "EP0049154B2"),                    # no kind: the latest kind of that number
    ("EP0049154A1", "EP0049154A1"), ("US 7,537,926 B2", "US7537926B2"), ("US7537926", "US7537926B2"),
    ("USRE34586", "USRE034586"), ("USR34586", "USRE034586"), ("D907292", "USD0907292"),
    ("US D907292 S", "USD0907292"), ("US20080016626A1", "US20080016626A1"),
    ("US20080016626", "US20080016626A1"), ("EP0123456B1", "EP123456B1"),   # old spelling in the index
])
def test_lookup_by_any_spelling(numbered, typed, found):
    figures = numbered.get_patent_figures(typed)
    assert figures and {f["publication_number"] for f in figures} == {found}


def test_unknown_number_finds_nothing(numbered):
    assert numbered.get_patent_figures("US7537927") == [] and numbered.get_patent_figures("EP49155") == []


def test_filter_by_any_spelling(numbered):
    def pubs(numbers):
        resp = numbered.search({"text": "pump", "size": 50, "filters": {"publication_numbers": numbers}})
        return {h.publication_number for h in resp.hits}

    assert pubs(["EP 49154"]) == {"EP0049154B2", "EP0049154A1"}
    assert pubs(["ep0049154b2", "US 7,537,926"]) == {"EP0049154B2", "US7537926B2"}
    assert pubs(["USR34586", "D907292"]) == {"USRE034586", "USD0907292"}
    assert pubs(["EP0123456B1"]) == {"EP123456B1"}
    assert pubs(["US7537927"]) == set()


def test_delete_by_another_spelling_removes_that_publication_only(numbered):
    assert numbered.delete_patent("EP 0049154 B2") == 2
    numbered.refresh()
    assert numbered.get_patent_figures("EP0049154B2") == []
    assert {f["publication_number"] for f in numbered.get_patent_figures("EP49154")} == {"EP0049154A1"}
    assert numbered.delete_patent("EP0123456B1") == 1
