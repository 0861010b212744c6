"""The bounded text count of Elasticsearch (``search_exact_total_up_to`` = N): at most N matching
figures per shard the count is exact ("eq"); past that it counts the first N + 1 matches only
(``terminate_after``) and is a lower bound ("gte"); N = 0 always counts exactly. The check which keys
match stays exact. On the real node, with the paging corpus (400 patents of 1-3 figures, 300 of them "wet")."""
from __future__ import annotations

import math

import pytest

from backend.search.pipeline import filters as filters_mod
from backend.search.pipeline.candidates import Query
from backend.search.request import Filters

from .conftest import elasticsearch_with
from .test_paging import paging_corpus

MAX_FIGURES = 3   # a patent of the paging corpus has at most this many figures


@pytest.fixture
def es(backend):
    return elasticsearch_with(backend, paging_corpus(), "the embedded backend always counts exactly (docs/search.md)")


def wet(group: bool, country: str | None = None) -> tuple[set[str], list[str], set[str]]:
    """(matching keys, keys to check - 3 matching and 3 not -, the matching ones among them)."""
    docs = paging_corpus()
    field = "publication_number" if group else "figure_id"
    want = {d[field] for d in docs if "water" in d["title"] and (country is None or d["country"] == country)}
    dry = {d[field] for d in docs if "water" not in d["title"]}
    return want, sorted(want)[:3] + sorted(dry)[:3], set(sorted(want)[:3])


def count(es, monkeypatch, bound: int, group: bool, keys: list[str], country: str | None = None):
    monkeypatch.setattr(es.settings, "search_exact_total_up_to", bound)
    spec = filters_mod.build(Filters.model_validate({"countries": [country]} if country else {}))
    return es.text_count(Query("water", ["water"], None, spec, 10, group, None), keys)


@pytest.mark.parametrize("group", [False, True], ids=["figures", "patents"])
@pytest.mark.parametrize("country", [None, "EP"])
def test_below_the_bound_the_total_is_exact(es, monkeypatch, group, country):
    want, keys, matching = wet(group, country)
    exact = count(es, monkeypatch, 0, group, keys, country)          # the unbounded count (as before)
    assert exact == (len(want), "eq", matching)
    assert count(es, monkeypatch, 10_000, group, keys, country) == exact
    figures = len(wet(False, country)[0])
    assert count(es, monkeypatch, figures, group, keys, country) == exact   # exactly N matches: still exact


@pytest.mark.parametrize("group", [False, True], ids=["figures", "patents"])
def test_past_the_bound_the_total_is_a_lower_bound(es, monkeypatch, group):
    want, keys, matching = wet(group)
    for bound in (1, 50, 200):
        n, relation, found = count(es, monkeypatch, bound, group, keys)
        assert relation == "gte"
        assert found == matching                                     # the key check is not bounded
        assert n <= len(want)
        # figures: counted up to the bound; patents: those of the bound + 1 figures collected
        assert n >= (bound if not group else math.ceil((bound + 1) / MAX_FIGURES))


def test_zero_counts_exactly_however_many_match(es, monkeypatch):
    for group in (False, True):
        want, keys, matching = wet(group)
        assert count(es, monkeypatch, 0, group, keys) == (len(want), "eq", matching)


@pytest.mark.parametrize("group", [False, True], ids=["figures", "patents"])
def test_search_total_past_the_bound(es, make_settings, monkeypatch, group):
    """Through the pipeline: "gte" and a total no larger than the exact one; pages still follow."""
    body = {"text": "water", "group_by_patent": group, "size": 5}
    exact = es.search(body, window=10)
    assert exact.total_relation == "eq"
    assert exact.total == len(wet(group)[0])
    monkeypatch.setattr(es.settings, "search_exact_total_up_to", 40)
    bounded = es.search(body, window=10)
    assert bounded.total_relation == "gte"
    assert 10 <= bounded.total <= exact.total
    assert [h.figure_id for h in bounded.hits] == [h.figure_id for h in exact.hits]
    assert bounded.next_cursor is not None
    page2 = es.search({**body, "cursor": bounded.next_cursor}, window=10)
    page2_exact = es.search({**body, "cursor": exact.next_cursor}, window=10)
    assert [h.figure_id for h in page2.hits] == [h.figure_id for h in page2_exact.hits]


def test_cli_marks_a_lower_bound(es, make_settings):
    """``prism search`` prints a lower-bound total as "N+ results" (the UI: "at least N")."""
    from click.testing import CliRunner

    from backend.cli import _register, cli

    make_settings(search_backend="elasticsearch", es_url=es.settings.es_url, es_index_prefix=es.prefix,
                  search_exact_total_up_to=40, search_dense_text=False)
    _register()
    out = CliRunner().invoke(cli, ["search", "water"])
    assert out.exit_code == 0, out.output
    line = out.output.splitlines()[1]
    assert line.endswith("+ results") and int(line.split("+")[0]) < len(wet(False)[0])


@pytest.mark.parametrize("group", [False, True], ids=["figures", "patents"])
def test_pages_go_past_a_lower_bound(es, monkeypatch, group):
    """A "gte" total does not end the pages: they walk every match, as with the exact count."""
    def walk(bound: int) -> tuple[list[str], list[tuple[int, str]]]:
        monkeypatch.setattr(es.settings, "search_exact_total_up_to", bound)
        ids, totals, cursor = [], [], None
        for _ in range(200):
            resp = es.search({"text": "water", "group_by_patent": group, "size": 50, "cursor": cursor}, window=10)
            ids += [h.figure_id for h in resp.hits]
            totals.append((resp.total, resp.total_relation))
            cursor = resp.next_cursor
            if cursor is None:
                return ids, totals
        raise AssertionError("the pages did not end")

    exact_ids, exact_totals = walk(0)
    bounded_ids, bounded_totals = walk(20)
    assert bounded_ids == exact_ids and len(exact_ids) == len(wet(group)[0])
    assert all(t == len(exact_ids) and r == "eq" for t, r in exact_totals)
    assert bounded_totals[0][1] == "gte" and bounded_totals[0][0] < len(exact_ids)
    for page, (total, relation) in enumerate(bounded_totals):
        assert relation == "gte"
        assert min(len(exact_ids), (page + 1) * 50) <= total <= len(exact_ids)   # what was shown .. the truth
