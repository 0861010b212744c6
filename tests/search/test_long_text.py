"""A pasted claim (tens of thousands of characters, with colons, brackets and quotes) is searched as plain
words on both backends; past the limit the request is a 400 naming the field."""
from __future__ import annotations

import pytest

from backend.api.problems import status_of
from backend.search.errors import SearchError
from backend.search.query_language import parse
from backend.search.query_language.long_text import LONG_TEXT, MAX_TEXT, MAX_WORDS, as_plain_words, key_words
from tests.search.conftest import figure

CLAIM = ("1. A shoe comprising: (a) an upper; (b) a sole \"attached\" to the upper, wherein pd: the sole has "
         "a tread [near] the heel, and the heel NEAR/2 the toe; ")


def test_key_words_are_the_most_frequent_words_in_first_seen_order():
    text = "heel sole sole upper heel sole lace " * 3 + " ".join(f"w{i}" for i in range(400))
    words = key_words(text, limit=3)
    assert words == ["heel", "sole", "upper"]          # 9, 6, 3 times; "lace" (3) appears later
    assert len(key_words(text)) == MAX_WORDS
    assert as_plain_words("pd:>=2021 shoe") == "pd:>=2021 shoe"   # a short text is the query language


def test_a_long_claim_parses_as_plain_words():
    claim = CLAIM * 200
    assert len(claim) > 20_000 and len(claim) > LONG_TEXT
    reduced = as_plain_words(claim)
    assert parse(reduced).plain
    assert {"shoe", "sole", "heel", "tread", "near", "pd"} <= set(reduced.split())
    assert "and" not in reduced.split() and "a" not in reduced.split()


@pytest.mark.services
def test_a_pasted_claim_finds_the_shoe_on_both_backends(backend):
    backend.index_figures([figure("US2000001S1", 1, None, title="Shoe", abstract="A shoe with a sole and a heel"),
                           figure("US2000002S1", 1, None, title="Lamp", abstract="A lamp with a shade")])
    backend.refresh()
    response = backend.search({"text": CLAIM * 200, "size": 10})
    assert [h.publication_number for h in response.hits] == ["US2000001S1"]
    with pytest.raises(SearchError) as err:
        backend.search({"text": "shoe " * (MAX_TEXT // 5 + 1)})
    assert status_of(err.value) == 400 and "text" in err.value.detail
