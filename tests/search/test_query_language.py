"""The examiner query language (docs/search.md, "Query language"): every construct on both backends
(embedded and the real Elasticsearch), over a small corpus built here, compared to the expected hits."""
from __future__ import annotations

import pytest

from backend.api.problems import status_of
from backend.search.errors import SearchError
from tests.search.conftest import figure

pytestmark = pytest.mark.services

# (publication number, patent fields): every word below is in its base form, so the embedded
# backend's Porter stemming and the development ES (no stemmer) agree on what matches
PATENTS = [
    ("US1000001B1", dict(title="Bubble washer", abstract="A washer that makes foam for laundry",
                         claims="A drum and a pump", description="FIG. 1 is a front view",
                         captions=["bubble washer front view"], cpc=["A47C 4/04"], applicants=["Acme Corp."],
                         publication_date="2020-06-01", filing_date="2019-05-01",
                         priority_date="2019-01-01")),
    ("EP1000002A1", dict(title="Bubble lamp", abstract="A lamp with a glass bubble shade <b> & co",
                         claims="A shade and a bulb", cpc=["F21S 6/00"], locarno=["26-05"],
                         applicants=["Globex GmbH"], publication_date="2021-03-01",
                         filing_date="2020-02-01")),
    ("US1000003B2", dict(title="Laundry dryer", abstract="A dryer for laundry with a drum",
                         claims="The drum rotates on a bolt", cpc=["A47B 3/00"], ipc=["A47B 3/00"],
                         applicants=["Initech"], publication_date="2019-01-10", filing_date="2018-01-10")),
    ("DE1000004U1", dict(title="Window washer", abstract="Washing robot for glass windows",
                         claims="A robot arm holding a sponge", cpc=["H01L 21/02"], applicants=["Acme Inc"],
                         publication_date="2022-01-01")),
    ("US1000005S1", dict(title="Folding chair", abstract="A chair with armrest that folds flat",
                         claims="The armrest pivots on the frame",
                         description="FIG. 1 shows the chair folded",
                         cpc=["A47C 4/28"], locarno=["06-01"], applicants=["Globex"],
                         publication_date="2018-03-03")),
    ("EP1000006B1", dict(title="Razor blade unit", abstract="A blade unit with a strip for women",
                         claims="The strip holds the blade", captions=["belt drive detail"],
                         cpc=["B26B 21/4068"], publication_date="2020-01-01")),
]
# one more patent whose claims hold 201 different words starting with "zq" (truncation limits)
MANY = ("US1000007B1", dict(title="Word list", claims=" ".join(f"zq{i:03d}" for i in range(201))))
P1, P2, P3, P4, P5, P6 = (p for p, _ in PATENTS)


@pytest.fixture
def ql_corpus(backend):
    docs = [figure(pub, 1, None, **fields) for pub, fields in [*PATENTS, MANY]]
    backend.index_figures(docs)
    backend.refresh()
    return docs


def hits(backend, text: str, **kw) -> set[str]:
    response = backend.search({"text": text, "size": 100, **kw})
    assert response.next_cursor is None
    return {h.publication_number for h in response.hits}


CASES = [
    # boolean operators, grouping, exclusion
    ("bubble AND (washer OR laundry)", {P1}),
    ("bubble washer laundry", {P1, P2, P3, P4}),                  # plain words: ranked OR, as before
    ("bubble OR laundry", {P1, P2, P3}),
    ("bubble NOT washer", {P2}),
    ("bubble -washer", {P2}),
    ("(bubble OR chair) AND NOT (lamp OR armrest)", {P1}),
    ("washer AND drum AND NOT pump", {P3} - {P3}),                # P1 has the pump, P3 has no washer
    # phrases, proximity, order
    ('"bubble washer"', {P1}),
    ('"washer bubble"', set()),
    ('"lamp shade"~4', {P2}),                                     # lamp with a glass bubble shade: 4 between
    ('"lamp shade"~3', set()),
    ('"shade lamp"~4', {P2}),                                     # ~n: any order
    ("armrest NEAR/1 folds", {P5}),
    ("folds NEAR/1 armrest", {P5}),
    ("armrest NEAR/0 folds", set()),
    ("washer ADJ/4 laundry", {P1}),                               # washer that makes foam for laundry
    ("washer ADJ/3 laundry", set()),
    ("laundry ADJ/4 washer", set()),                              # ADJ: in this order only
    ("laundry NEAR/4 washer", {P1}),
    ('"glass bubble" ADJ/0 shade', {P2}),
    ("ti:(bubble ADJ washer)", {P1}),
    # truncation and single-character wildcard
    ("wash*", {P1, P4}),
    ("ti:wash*", {P1, P4}),
    ("lamp*", {P2}),
    ("b?lt", {P3, P6}),
    ("wom?n", {P6}),
    ("zq00*", {MANY[0]}),
    ("rob* NEAR/3 sponge", {P4}),
    # text fields
    ("ti:bubble", {P1, P2}),
    ("ab:bubble", {P2}),
    ("cl:drum", {P1, P3}),
    ("desc:chair", {P5}),
    ("fig:front", {P1}),
    ("fig:belt", {P6}),
    ("ti:(bubble OR chair)", {P1, P2, P5}),
    ('ti:"window washer"', {P4}),
    # applicants, classifications (children included), numbers
    ("pa:acme", {P1, P4}),
    ('pa:"Globex GmbH"', {P2, P5}),
    ("pa:glob*", {P2, P5}),
    ("cpc:A47C", {P1, P5}),
    ("cpc:A47C4/04", {P1}),
    ("cpc:A47C4/00", {P1, P5}),
    ('cpc:"A47C 4/28"', {P5}),
    ("cpc:B26B21/00", {P6}),
    ("cpc:(F21S OR H01L)", {P2, P4}),
    ("chair AND cpc:A47C", {P5}),
    ("bubble NOT cpc:F21S", {P1}),
    ("ipc:A47B", {P3}),
    ("loc:06", {P5}),
    ("loc:26-05", {P2}),
    ("pn:US1000003B2", {P3}),
    ('pn:"EP 1000002 A1"', {P2}),
    ("pn:EP100000*", {P2, P6}),
    # dates and ranges
    ("pd:2020", {P1, P6}),
    ("pd:>=2021", {P2, P4}),
    ("pd:>2020", {P2, P4}),
    ("pd:[2019-01-01 TO 2020-01-31]", {P3, P6}),
    ("pd:[* TO 2018-12-31]", {P5}),
    ("pd:<2019", {P5}),
    ("pd:2020-06", {P1}),
    ("ad:2019", {P1}),
    ("prd:<=2019", {P1}),
    ("(bubble OR chair) AND pd:>=2020", {P1, P2}),
    # a field term beside plain words restricts them (AND); an explicit OR keeps the OR
    ("bubble pd:>=2021", {P2}),
    ("pd:>=2021-03-02 bubble washer", {P4}),
    ("bubble OR pd:>=2021", {P1, P2, P4}),
    ("chair cpc:A47C", {P5}),
    ("washer laundry pa:acme", {P1, P4}),
    ("pd:2020 cpc:A47C", {P1}),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0] for c in CASES])
def test_construct(backend, ql_corpus, text, expected):
    assert hits(backend, text) == expected


ERRORS = [
    ("(bubble AND washer", "unbalanced parenthesis", 1),
    ("bubble) OR washer", "unbalanced parenthesis", 7),
    ("title:bubble", "unknown field title", 1),
    ("NOT", "ends after 'NOT'", 3),
    ("bubble AND ()", "empty group", 13),
    ("bubble AND", "ends after 'AND'", 10),
    ("in:smith", "inventor", 1),
    ("-bubble", "only excludes", 2),
    ("cpc:Z99", "CPC symbol", 5),
    ("pd:2020-13", "not a date", 4),
    ("pd:[2021 TO 2020]", "is empty", 5),
    ('"bubble washer', "unterminated quote", 1),
    ("*ash", "truncates on the right", 1),
    ("a NEAR/2 bubble", "NEAR/2 joins two words", 3),
    ("bubble NEAR/2 lamp NEAR/2 shade", "cannot be chained", 20),
    ("ti:(bubble OR ab:lamp)", "inside the field group", 15),
]


@pytest.mark.parametrize("text, fault, position", ERRORS, ids=[e[0] for e in ERRORS])
def test_malformed_query_is_a_400_naming_position_and_fault(backend, ql_corpus, text, fault, position):
    with pytest.raises(SearchError) as err:
        backend.search({"text": text})
    assert status_of(err.value) == 400
    assert fault in err.value.detail and f"position {position})" in err.value.detail
    assert err.value.detail.startswith("text: ")


def test_truncation_expanding_to_too_many_words_is_a_400(backend, ql_corpus):
    with pytest.raises(SearchError) as err:
        backend.search({"text": "zq*"})
    assert status_of(err.value) == 400 and "zq* matches more than 200 different words" in err.value.detail
    assert "position 1" in err.value.detail
    with pytest.raises(SearchError) as err:
        backend.search({"text": "bubble OR cl:zq???"})
    assert "zq??? matches more than 200" in err.value.detail and "position 14" in err.value.detail
    assert hits(backend, "cl:zq?0*") == {MANY[0]}        # 21 words: zq000-zq009, zq100-zq109, zq200


def test_parsed_query_is_echoed(backend, ql_corpus):
    echoed = backend.search({"text": "bubble  AND (washer OR laundry)"}).parsed_query
    assert echoed == "bubble AND (washer OR laundry)"
    assert backend.search({"text": "Bubble -Washer pd:>=2020"}).parsed_query == (
        "pd:[2020-01-01 TO *] AND bubble AND NOT washer")
    assert backend.search({"text": "bubble washer"}).parsed_query == "bubble OR washer"


def test_snippets_mark_matched_words_and_explain_names_fields(backend, ql_corpus):
    response = backend.search({"text": "bubble AND shade", "explain": True})
    [hit] = response.hits
    assert hit.publication_number == P2
    assert "<mark>Bubble</mark>" in hit.snippets["title"]
    assert "<mark>shade</mark>" in hit.snippets["abstract"]
    assert "&lt;b&gt; &amp; co" in hit.snippets["abstract"]
    assert "<mark>shade</mark>" in hit.snippets["claims"]
    assert hit.explain.matched_fields == ["title", "abstract", "claims"]
    assert hit.explain.matched_words == ["bubble", "shade"]
    plain = backend.search({"text": "frame", "explain": True}).hits[0]
    assert plain.snippets == {"claims": "The armrest pivots on the <mark>frame</mark>"}
    assert plain.explain.matched_fields == ["claims"]
    # a negated word is not marked; a figure found by its fields only has no snippet
    assert "<mark>" not in backend.search({"text": "bubble -washer"}).hits[0].snippets["title"].replace(
        "<mark>Bubble</mark>", "")
    assert backend.search({"text": "cpc:F21S"}).hits[0].snippets is None


def test_pages_past_the_rank_window_keep_the_query(backend):
    # 30 patents: "bubble" in all, "dryer" in every third; window 5, pages of 4, grouped and not
    docs = [figure(f"US20{i:05d}B1", n, None, title=f"bubble {'dryer' if i % 3 == 0 else 'washer'} {i}",
                   abstract="bubble") for i in range(30) for n in (1, 2)]
    backend.index_figures(docs)
    backend.refresh()
    for grouped, expected in ((True, 20), (False, 40)):
        seen, cursor = [], None
        for _ in range(30):
            page = backend.search({"text": "bubble AND NOT dryer", "size": 4, "cursor": cursor,
                                   "group_by_patent": grouped}, window=5)
            assert page.total == expected
            seen += [h.publication_number if grouped else h.figure_id for h in page.hits]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == expected
        assert all(int(x[4:9]) % 3 for x in seen)


def test_every_hit_of_a_page_has_its_snippets(backend):
    """A page's highlighting may be split into several requests (ES: HIGHLIGHT_PARTS): each hit gets its own."""
    from .conftest import figure

    backend.index_figures([figure(f"US{1000 + i}B2", 1, None, title=f"lamp number {i}", claims=f"a lamp shade {i}")
                           for i in range(7)])
    backend.refresh()
    hits = backend.search({"text": "lamp", "size": 7}).hits
    assert len(hits) == 7
    for hit in hits:     # the title and claims of the hit's own figure (same number in both)
        assert hit.snippets["title"].startswith("<mark>lamp</mark> number "), hit.snippets
        assert hit.snippets["title"].split()[-1] == hit.snippets["claims"].split()[-1], hit.snippets


def test_a_hit_found_by_its_drawing_alone_has_its_fields_and_no_snippets(backend):
    """The page's snippets and display fields come together (ES: one _msearch by figure id): a figure on
    the page that the words do not match (found by its vector) keeps its title and gets no snippets."""
    from .conftest import DIMS, figure

    lamp = [1.0] + [0.0] * (DIMS - 1)
    chair = [0.0, 1.0] + [0.0] * (DIMS - 2)
    backend.index_figures([figure("US2000001B2", 1, chair, title="Lamp shade", claims="a lamp"),
                           figure("US2000002B2", 1, lamp, title="Folding chair", claims="a chair")])
    backend.refresh()
    hits = {h.publication_number: h for h in backend.search({"text": "lamp", "vector": lamp, "size": 5}).hits}
    assert set(hits) == {"US2000001B2", "US2000002B2"}
    assert hits["US2000002B2"].title == "Folding chair" and hits["US2000002B2"].snippets is None
    assert hits["US2000001B2"].title == "Lamp shade"
    assert hits["US2000001B2"].snippets["title"] == "<mark>Lamp</mark> shade"


def test_a_page_figure_gone_from_the_index_is_left_without_fields(backend):
    """A figure deleted between the ranking and the page: its snippets and fields are simply absent (ES
    looks the missing ones up by mget)."""
    from backend.search.pipeline.candidates import Query
    from backend.search.pipeline.filters import FilterSpec

    from .conftest import figure

    backend.index_figures([figure("US2000003B2", 1, None, title="Lamp base")])
    backend.refresh()
    query = Query("lamp", ["lamp"], None, FilterSpec(), 10, True, None)
    snippets, sources = backend.page_details(query, ["US2000003B2-F1", "US9999999B2-F1"],
                                              ["US2000003B2-F1", "US9999999B2-F1"])
    assert set(snippets) == {"US2000003B2-F1"} and set(sources) == {"US2000003B2-F1"}
    assert sources["US2000003B2-F1"]["title"] == "Lamp base"


def test_the_page_is_highlighted_in_one_request_on_an_index_of_several_shards(backend, monkeypatch):
    """ES: a one-shard index highlights the page in HIGHLIGHT_PARTS requests run side by side; with several
    shards (they run side by side already) in one. The snippets are the same."""
    from backend.search.pipeline.candidates import Query
    from backend.search.pipeline.filters import FilterSpec

    from .conftest import figure

    if backend.name != "elasticsearch":
        pytest.skip("Elasticsearch only: the embedded backend marks words in SQLite")
    from backend.search.backends.elasticsearch import es_backend

    backend.index_figures([figure(f"US{3000 + i}B2", 1, None, title=f"lamp number {i}") for i in range(6)])
    backend.refresh()
    ids = [f"US{3000 + i}B2-F1" for i in range(6)]
    sent, msearch = [], backend.es.msearch
    monkeypatch.setattr(backend.es, "msearch", lambda **kw: sent.append(len(kw["searches"]) // 2) or msearch(**kw))
    found = []
    for shards in (1, 3):
        query = Query("lamp", ["lamp"], None, FilterSpec(), 10, True, None)
        query.shards.total = shards
        found.append(backend.page_details(query, ids, ids))
    assert sent == [es_backend.HIGHLIGHT_PARTS, 1] and es_backend.HIGHLIGHT_PARTS > 1
    assert found[0] == found[1] and len(found[0][0]) == len(found[0][1]) == 6
