"""The publication-number normaliser (backend/patent_numbers.py), as a table."""
from __future__ import annotations

import pytest

from backend.patent_numbers import InvalidNumber, lookup_keys, normalise, normalise_lenient, pick


@pytest.mark.parametrize("raw, canonical", [
    ("EP0049154B2", "EP0049154B2"),
    ("EP 0 049 154 B2", "EP0049154B2"),
    ("EP49154B2", "EP0049154B2"),            # what older ingests stored
    ("ep-0049154-b2", "EP0049154B2"),
    ("EP49154", "EP0049154"),
    ("US 7,537,926 B2", "US7537926B2"),
    ("US7537926", "US7537926"),
    ("7537926", "US7537926"),
    ("US08926509B2", "US8926509B2"),         # USPTO file-name padding
    ("USRE34586", "USRE034586"),
    ("USR34586", "USRE034586"),
    ("RE34586", "USRE034586"),
    ("RE 34,586 E", "USRE034586"),
    ("D907292", "USD0907292"),
    ("US D907292 S", "USD0907292"),
    ("USD0907292", "USD0907292"),
    ("PP12345", "USPP012345"),
    ("US20080016626A1", "US20080016626A1"),
    ("US 2008/0016626 A1", "US20080016626A1"),
    ("WO 2020/123456 A1", "WO2020123456A1"),
    ("DE0000006U1", "DE0000006U1"),
])
def test_canonical_form(raw, canonical):
    assert normalise(raw) == canonical
    assert normalise(canonical) == canonical           # idempotent


def test_country_and_kind_from_the_record():
    assert normalise("49154", country="EP", kind="B2") == "EP0049154B2"
    assert normalise("08926509", kind="b2") == "US8926509B2"
    assert normalise("US7537926B2", kind="B1") == "US7537926B2"     # the number's own kind wins


@pytest.mark.parametrize("raw", ["", "   ", "EP", "US-ABC", "EPD123", "US7537926B22"])
def test_not_a_number_is_named(raw):
    with pytest.raises(InvalidNumber, match="publication number"):
        normalise(raw)


def test_lenient_keeps_other_numberings():
    assert normalise_lenient("kr 10-2019-0012345") == "KR1020190012345"
    assert normalise_lenient("ABC/123-x") == "ABC123X"


def test_lookup_keys_cover_every_kind_and_the_old_ep_spelling():
    keys = lookup_keys("EP 49154")
    assert keys[0] == "EP0049154" and {"EP0049154B2", "EP0049154A1", "EP49154B2", "EP49154"} <= set(keys)
    assert lookup_keys("EP0049154B2") == ["EP0049154B2", "EP49154B2"]
    assert lookup_keys("US7537926B2") == ["US7537926B2"]
    assert "US7537926B2" in lookup_keys("US 7,537,926") and "US75379261B2" not in lookup_keys("US7537926")
    assert lookup_keys("D907292") == ["USD0907292"]
    assert lookup_keys("EP0049154", any_kind=False) == ["EP0049154", "EP49154"]


def test_pick_prefers_the_exact_spelling_then_the_latest_kind():
    assert pick(["EP0049154A1", "EP0049154B2"], lookup_keys("EP49154")) == "EP0049154B2"
    assert pick(["EP0049154A1", "EP0049154B2"], lookup_keys("EP0049154A1")) == "EP0049154A1"
    assert pick(["EP49154B2"], lookup_keys("EP0049154B2")) == "EP49154B2"
    assert pick([], ["X"]) is None


@pytest.mark.parametrize("raw, url", [
    ("USD0907292", "https://patents.google.com/patent/USD907292/en"),
    ("US 7,537,926 B2", "https://patents.google.com/patent/US7537926B2/en"),
    ("US 2008/0016626 A1", "https://patents.google.com/patent/US20080016626A1/en"),
    ("EP 0 049 154 B2", "https://worldwide.espacenet.com/patent/search?q=pn%3DEP0049154"),
    ("KR1020180012345", "https://worldwide.espacenet.com/patent/search?q=pn%3DKR1020180012345"),
    ("WO2020123456A1", "https://worldwide.espacenet.com/patent/search?q=pn%3DWO2020123456"),
    ("IMPACT-17", None),          # a collection's own identifier: no public page
    ("", None),
])
def test_the_public_page_of_a_publication(raw, url):
    from backend.patent_numbers import source_url

    assert source_url(raw) == url
