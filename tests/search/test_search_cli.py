"""``prism search``: the query language and filter options through the API's service, on both backends."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.search.test_query_language import P1, P2, P4, P5, ql_corpus  # noqa: F401 - fixture

pytestmark = pytest.mark.services


def run(*args: str):
    from backend.cli import _register, cli

    _register()
    return CliRunner().invoke(cli, ["search", *args])


def test_query_language_and_filters(backend, ql_corpus):  # noqa: F811
    out = run("bubble AND (washer OR laundry)", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [h["publication_number"] for h in data["hits"]] == [P1]
    assert data["parsed_query"] == "bubble AND (washer OR laundry)"
    out = run("bubble OR chair OR washer", "--json", "--cpc", "A47C", "--from", "2019-01-01")
    assert {h["publication_number"] for h in json.loads(out.stdout)["hits"]} == {P1}
    out = run("washer", "--json", "--applicant", "ACME corporation", "--country", "us", "--cpc", "H01L")
    assert [h["publication_number"] for h in json.loads(out.stdout)["hits"]] == [P4]
    out = run("chair", "--json", "--locarno", "06", "--to", "2018-12-31", "--date", "publication")
    assert [h["publication_number"] for h in json.loads(out.stdout)["hits"]] == [P5]
    out = run("ab:shade")
    assert out.exit_code == 0
    assert out.output.splitlines()[:3] == ["query: ab:shade", "1 results", f"  1. {P2} fig 1  " +
                                           out.output.splitlines()[2].split("  ")[2] + "  Bubble lamp"]
    assert "abstract: A lamp with a glass bubble [shade] <b> & co" in out.output


@pytest.mark.parametrize("args, message", [
    (["(bubble"], "prism search: text: unbalanced parenthesis: '(' is never closed (at position 1)"),
    (["title:bubble"], "prism search: text: unknown field title:"),
    (["bubble", "--cpc", "Z99"], "prism search: filters.cpc: CPC symbol 'Z99'"),
])
def test_errors_are_one_line_and_exit_2(backend, ql_corpus, args, message):  # noqa: F811
    out = run(*args)
    assert out.exit_code == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(message)
