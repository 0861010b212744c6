"""The query-language parser alone (no backend): normalised forms, plain-word detection, faults."""
from __future__ import annotations

import pytest

from backend.search.errors import InvalidQuery
from backend.search.query_language import QueryError, ast, parse, query_words
from backend.search.query_language.to_es import to_es
from backend.search.query_language.to_fts5 import expr, score_expr


@pytest.mark.parametrize("text, rendered", [
    ("bubble AND (washer OR laundry)", "bubble AND (washer OR laundry)"),
    ("bubble -washer", "bubble AND NOT washer"),
    ("bubble NOT washer", "bubble AND NOT washer"),
    ("a OR bubble NOT washer", "bubble AND NOT washer"),             # "a" is a stop word
    ("bubble OR lamp NOT (washer OR glass)", "(bubble OR lamp) AND NOT (washer OR glass)"),
    ("NOT washer AND bubble", "bubble AND NOT washer"),
    ("bubble washer AND laundry", "bubble OR (washer AND laundry)"),  # AND binds tighter
    ('"Bubble  Washer"', '"bubble washer"'),
    ('"the lamp and a shade"~3', '"lamp shade"~3'),                   # stop words leave ~n
    ("washer NEAR laundry", "washer NEAR/10 laundry"),
    ("washer ADJ laundry", "washer ADJ/0 laundry"),
    ('ti:("glass bubble" ADJ/2 shade)', 'ti:("glass bubble" ADJ/2 shade)'),
    ("Wash* wom?n", "wash* OR wom?n"),
    ("fig:belt desc:chair cl:drum ab:lamp ti:bubble",
     "fig:belt AND desc:chair AND cl:drum AND ab:lamp AND ti:bubble"),   # field terms restrict
    ('pa:"ACME Corp." pa:glob*', "pa:acme AND pa:glob*"),
    ("cpc:A47C0004040000 ipc:H01L21/02 loc:06-01", "cpc:A47C4/04 AND ipc:H01L21/02 AND loc:06-01"),
    ("pd:2020 ad:2020-02 prd:20200105", "pd:[2020-01-01 TO 2020-12-31] AND ad:[2020-02-01 TO 2020-02-29] AND "
                                          "prd:[2020-01-05 TO 2020-01-05]"),
    ("pd:>2020 pd:<2020 pd:<=2020-06 pd:[* TO 2019]", "pd:[2021-01-01 TO *] AND pd:[* TO 2019-12-31] AND "
                                                      "pd:[* TO 2020-06-30] AND pd:[* TO 2019-12-31]"),
    ("pd:>=2021-06-01 shoe", "pd:[2021-06-01 TO *] AND shoe"),       # a field term beside plain words
    ("shoe lamp ti:chair", "ti:chair AND (shoe OR lamp)"),
    ("e-mail", '"e mail"'),
    ("chair - table -- lamp", "chair OR table OR lamp"),                # a lone dash is punctuation
])
def test_normalised_form(text, rendered):
    assert parse(text).render() == rendered


@pytest.mark.parametrize("text, plain", [
    ("bubble washer laundry", True), ("bubble OR washer", True), ("ratio 3:1 e-mail", True),
    ("chair - table", True),
    ("bubble AND washer", False), ('"bubble washer"', False), ("wash*", False), ("ti:bubble", False),
    ("(bubble washer)", False), ("bubble -washer", False),
])
def test_plain_words_keep_the_plain_path(text, plain):
    assert parse(text).plain is plain


def test_only_stop_words_leave_nothing():
    assert parse("the and of").node is None and parse("the and of").plain


@pytest.mark.parametrize("text, fault, position", [
    ("(bubble", "unbalanced parenthesis", 1),
    ("bubble)", "unbalanced parenthesis", 7),
    ("((bubble) OR (washer)", "unbalanced parenthesis", 1),
    ("title:bubble", "unknown field title", 1),
    ("bubble AND wasser:x", "unknown field wasser", 12),
    ("NOT", "ends after 'NOT'", 3),
    ("()", "empty group", 2),
    ("AND bubble", "AND needs a term on both sides", 1),
    ("bubble OR OR washer", "OR needs a term on both sides", 11),
    ("in:smith", "inventor", 1),
    ("-washer", "only excludes", 2),
    ("NOT washer AND NOT lamp", "only excludes", 5),
    ("pd:2020-02-30", "not a date", 4),
    ("pd:[2021 TO 2020]", "is empty", 5),
    ("ti:[2020 TO 2021]", "only applies to the date fields", 5),
    ("bubble~2", "only follows a quoted phrase", 7),
    ('"wash* machine"', "wildcards inside quotes", 1),
    ("w*", "at least 2", 1),
    ("?ash", "truncates on the right", 1),
    ("wa*sh", "truncates on the right", 1),
    ("wom?n NEAR/2 shade", "? wildcard cannot be used", 1),
    ("ti:bubble NEAR/2 shade", "same fields", 11),
    ('"lamp"~2', "at least two words", 1),
    ("cpc:A47C*", "no wildcards in classifications", 5),
    ("loc:40", "not a Locarno class", 5),
    ("washer NEAR/5000 laundry", "at most 1000", 8),
    ("bubble AND pd:=2020", "unexpected '=2020'", 15),
])
def test_faults_name_the_problem_and_position(text, fault, position):
    with pytest.raises(QueryError) as err:
        parse(text)
    assert fault in str(err.value), str(err.value)
    assert err.value.position == position, str(err.value)
    assert isinstance(err.value, InvalidQuery) and err.value.detail == f"text: {err.value}"


def test_translations():
    node = parse('bubble AND ti:"glass bubble" AND NOT wash* AND cpc:A47C').node
    assert expr(node) is None            # the cpc leaf is evaluated beside FTS5
    assert score_expr(node) == '("bubble") OR ({title} : ("glass bubble"))'
    es = to_es(node)
    assert es["bool"]["must_not"] == [{"bool": {"should": [
        {"intervals": {f: {"prefix": {"prefix": "wash"}, "boost": es_boost}}} for f, es_boost in
        zip(ast.ALL_TEXT, (to_es_boost(f) for f in ast.ALL_TEXT))], "minimum_should_match": 1}}]
    assert es["bool"]["must"][-1] == {"constant_score": {"filter": {"term": {"cpc_subclass": "A47C"}},
                                                         "boost": 0.0}}
    assert expr(parse("bubble AND (lamp OR shade) NOT glass").node) == (
        '(("bubble") AND (("lamp") OR ("shade"))) NOT ("glass")')
    assert expr(parse('"a lamp shade"~2').node) == 'NEAR("lamp" "shade", 2)'
    assert expr(parse('"lamp glass shade"~2').node) == 'NEAR("lamp" "glass" "shade", 3)'
    words = query_words(parse("bubble AND NOT washer AND ti:(lamp ADJ/2 shade*)").node)
    assert words == ["bubble", "lamp", "shade*"]
    assert query_words(parse("cpc:A47C").node) == ["cpc:A47C"]


def to_es_boost(field: str) -> float:
    from backend.search.text.text_fields import FIELD_WEIGHTS

    return FIELD_WEIGHTS[field]
