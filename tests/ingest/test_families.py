"""Family ids from the data (backend/ingest/family.py): DOCDB id, listed members, earliest filing."""
from __future__ import annotations

import pytest

from backend.ingest import family
from backend.ingest.metadata import record_from_metadata
from backend.ingest.parsers.uspto_xml import parse_document
from backend.ingest.records import ParseError

from .helpers import grant_xml


def test_earliest_filing_rules():
    claims = [("EP", "06 012 345.6", "2006-06-15"), ("JP", "2006-123456", "2006-01-20"), ("DE", None, "2005-01-01")]
    assert family.from_filings(claims, ("US", "11/765,432")) == "JP2006123456"
    assert family.from_filings([], ("US", "11/765,432")) == "US11765432"     # nothing claimed: itself
    assert family.from_filings([], None) is None


def test_uspto_grant_takes_its_oldest_priority_claim():
    rec = parse_document(grant_xml("D0999401", "Chair"))      # claims EP 1 (2018-09-25) and EP 2 (2018-03-01)
    assert rec.family_id == "EP2"


def test_metadata_family_fields():
    def fam(**meta):
        return record_from_metadata({"publication_number": "EP1870505A2", **meta}, lambda n, i: None).family_id

    assert fam(family_id=38137284) == "docdb:38137284"
    # every member computes the same id from the same list
    assert fam(family_members=["US 2008/0016626 A1", "JP2008021234A"]) == "pn:EP1870505A2"
    assert fam(**{"Family Members": "US20080016626A1; EP1870505A2"}) == "pn:EP1870505A2"
    assert record_from_metadata({"publication_number": "US20080016626A1", "family_members": ["EP1870505A2"]},
                                lambda n, i: None).family_id == "pn:EP1870505A2"
    assert fam(application_number="06012345.6") == "EP060123456"
    assert fam() is None
    with pytest.raises(ParseError, match="family_members"):
        fam(family_members=[1, 2])
