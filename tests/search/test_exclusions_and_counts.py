"""On both backends: one count for the list, its pages and the CSV export (text,
drawing, hybrid and more-like-this queries, grouped or not); ``exclude_patents`` / ``exclude_families``
(validated, applied before ranking); a warning when a classification filter names a scheme or a symbol
that no document of the index carries."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from backend.api.problems import status_of
from backend.search.errors import SearchError
from tests.search.conftest import figure, unit

WINDOW = 10


@pytest.fixture
def mixed(backend):
    """60 patents of 1-3 figures; two of three mention a pump; families of two; Locarno only (no CPC)."""
    rng = np.random.default_rng(11)
    docs = []
    for i in range(60):
        pub = f"USD{9100000 + i:07d}"
        title = ("pump " * (1 + i % 2) + "housing") if i % 3 else "garden chair"
        for n in range(1, 2 + i % 3):
            docs.append(figure(pub, n, unit(rng), title=title, locarno=["15-02" if i % 3 else "06-01"],
                               family_id=f"FAM{i // 2}"))
    backend.index_figures(docs)
    backend.refresh()
    return backend, docs


def walk(backend, body: dict, size: int = 15) -> tuple[int, list]:
    """(total of the first page, every hit reached by following next_cursor)."""
    first = backend.search({**body, "size": size}, window=WINDOW)
    hits, cursor = list(first.hits), first.next_cursor
    while cursor:
        page = backend.search({**body, "size": size, "cursor": cursor}, window=WINDOW)
        assert page.total == first.total, "every page reports the same total"
        hits.extend(page.hits)
        cursor = page.next_cursor
    return first.total, hits


def exported(backend, body: dict) -> list[dict]:
    from backend.search import service

    settings = backend.settings.model_copy(update={"search_rank_window": WINDOW, "search_drawing_window": WINDOW})
    return list(csv.DictReader(io.StringIO("".join(service.export_csv(body, settings, limit=10_000)))))


def queries(docs) -> dict[str, dict]:
    vector = docs[5]["image_vector"]
    return {"text": {"text": "pump"}, "drawing": {"vector": vector},
            "hybrid": {"text": "pump", "vector": vector},
            "more-like-this": {"image_figure_id": docs[5]["figure_id"]}}


def test_status_count_pages_and_export_agree(mixed):
    """For each kind of query, grouped and not: the total, the hits reached by the cursor and the
    exported rows are the same list (one index per backend for all eight cases)."""
    backend, docs = mixed
    for kind, query in queries(docs).items():
        for group in (True, False):
            body = {**query, "group_by_patent": group}
            total, hits = walk(backend, body)
            rows = exported(backend, body)
            key = "publication_number" if group else "figure_id"
            case = f"{kind}, {'patents' if group else 'figures'}"
            assert total == len(hits) == len(rows), f"{case}: total {total}, reachable {len(hits)}, exported {len(rows)}"
            assert [getattr(h, key) for h in hits] == [r[key] for r in rows], f"{case}: the export is the list"
            assert len({getattr(h, key) for h in hits}) == len(hits), case
            if kind in ("text", "hybrid"):
                assert total > WINDOW, f"{case}: the text tail past the window is counted and reached too"


def test_more_like_this_excludes_its_own_patent_and_family(mixed):
    backend, docs = mixed
    fig = docs[5]
    body = {"image_figure_id": fig["figure_id"]}
    plain = backend.search(body, window=WINDOW)
    assert plain.hits[0].publication_number == fig["publication_number"], "a figure is nearest to itself"
    without = backend.search({**body, "exclude_patents": [fig["publication_number"]]}, window=WINDOW)
    assert fig["publication_number"] not in {h.publication_number for h in without.hits}
    assert without.hits[0].publication_number != fig["publication_number"]
    family = {d["publication_number"] for d in docs if d["family_id"] == fig["family_id"]}
    assert len(family) == 2
    no_family = backend.search({**body, "exclude_families": [fig["family_id"]], "group_by_patent": False},
                               window=400)
    assert not family & {h.publication_number for h in no_family.hits}
    assert no_family.total == sum(1 for d in docs if d["family_id"] != fig["family_id"])


def test_excluded_patents_leave_text_pages_and_the_count(mixed):
    backend, docs = mixed
    pumps = sorted({d["publication_number"] for d in docs if "pump" in d["title"]})
    gone = pumps[:3]
    total, hits = walk(backend, {"text": "pump", "exclude_patents": gone})
    assert total == len(hits) == len(pumps) - 3
    assert not set(gone) & {h.publication_number for h in hits}
    # any spelling of the number: without leading zeros and with a kind code
    other = backend.search({"text": "pump", "exclude_patents": [gone[0].replace("USD0", "USD") + "S1"],
                            "size": 100}, window=WINDOW)
    assert gone[0] not in {h.publication_number for h in other.hits}


@pytest.mark.parametrize("body, field", [
    ({"text": "pump", "exclude_patents": [""]}, "exclude_patents"),
    ({"text": "pump", "exclude_patents": "USD0910001"}, "exclude_patents"),
    ({"text": "pump", "exclude_families": ["  "]}, "exclude_families"),
    ({"text": "pump", "exclude_families": ["F" * 201]}, "exclude_families"),
    ({"text": "pump", "exclude_patents": ["USD0910001"] * 1001}, "exclude_patents"),
])
def test_bad_exclusions_are_400_naming_the_field(mixed, body, field):
    backend, _docs = mixed
    with pytest.raises(SearchError) as info:
        backend.search(body, window=WINDOW)
    assert status_of(info.value) == 400 and str(info.value).startswith(field)


def test_filter_on_a_scheme_no_document_carries_says_so(mixed):
    backend, _docs = mixed
    resp = backend.search({"text": "pump", "filters": {"cpc": {"include": ["A47C"]}}}, window=WINDOW)
    assert resp.total == 0
    assert resp.warnings and "no document in this index carries a CPC classification" in resp.warnings[0]
    absent = backend.search({"text": "pump", "filters": {"locarno": {"include": ["02-04"]}}}, window=WINDOW)
    assert absent.total == 0 and absent.warnings == ["filters.locarno: no document in this index carries Locarno 02-04"]
    present = backend.search({"text": "pump", "filters": {"locarno": {"include": ["15-02"]}}}, window=WINDOW)
    assert present.total > 0 and not present.warnings
    # a carried symbol that the other filters rule out is no warning: the filter itself is fine
    both = backend.search({"text": "chair", "filters": {"locarno": {"include": ["15-02"]}}}, window=WINDOW)
    assert both.total == 0 and not both.warnings
    assert "warnings" not in present.to_json()


def test_es_trusts_a_found_classification_for_a_few_seconds(backend, monkeypatch):
    """Elasticsearch: the warning checks beside a filtered search (scheme carried? symbol carried?) ask the
    node once per FOUND_RECHECK_S when the answer is yes; a no (the examiner's warning) is asked every time."""
    from backend.search.backends.elasticsearch import client

    if backend.name != "elasticsearch":
        pytest.skip("Elasticsearch only: the embedded backend answers from memory")
    from .conftest import figure

    backend.index_figures([figure("US0000001B2", 1, None, title="chair", cpc=["A47C 4/04"])])
    backend.refresh()
    monkeypatch.setattr(client, "FOUND_RECHECK_S", 600.0)   # a first search may load the MiniLM model
    asked = []
    real = backend.es.count
    monkeypatch.setattr(backend.es, "count", lambda **kw: asked.append(kw) or real(**kw))
    body = {"text": "chair", "filters": {"cpc": {"include": ["A47C"]}}}
    assert backend.search(body).warnings is None and len(asked) == 2
    assert backend.search(body).warnings is None and len(asked) == 2       # trusted: not asked again
    missing = {"text": "chair", "filters": {"cpc": {"include": ["H01L"]}}}
    assert backend.search(missing).warnings and backend.search(missing).warnings
    assert len(asked) == 2 + 2                                              # the miss: asked both times
    monkeypatch.setattr(client, "FOUND_RECHECK_S", 0.0)
    backend.search(body)
    assert len(asked) == 4 + 2                                              # expired: asked again
