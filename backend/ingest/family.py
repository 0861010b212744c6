"""The patent family of a record, from what the source data says (docs/ingest.md, "Families").

In order of preference:

1. a DOCDB family id given with the data (``family_id`` in JSON metadata) -> ``docdb:<id>``;
2. the family members listed with the data (``family_members`` / ``Family Members`` in JSON metadata)
   -> ``pn:<the smallest canonical publication number among the members and the patent itself>``, the
   same for every member when the lists agree;
3. the earliest filing: the oldest priority claim (USPTO ``priority-claims``, EPO/ST.32 ``B300``), or
   the application itself when nothing is claimed -> ``<country><application digits>``. An application's
   grant and pre-grant publication, and the foreign filings claiming the same first application, share it
   (a simple family in the DOCDB sense, approximated from the first filing).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from backend.patent_numbers import normalise_lenient


def filing_key(country: str | None, number: str | None) -> str | None:
    """``("EP", "06 012 345.6")`` -> ``EP060123456``: a filing's country and digits (check digit included)."""
    digits = re.sub(r"\D", "", number or "")
    cc = (country or "").strip().upper()
    if not digits or not re.fullmatch(r"[A-Z]{2}", cc):
        return None
    return f"{cc}{digits}"


def from_filings(priorities: Iterable[tuple[str | None, str | None, str | None]],
                 application: tuple[str | None, str | None] | None) -> str | None:
    """The family of the earliest filing: the oldest dated priority claim ``(country, number, date)``,
    else the application ``(country, number)``."""
    claims = sorted((date or "9999", key) for cc, number, date in priorities
                    if (key := filing_key(cc, number)) is not None)
    if claims:
        return claims[0][1]
    return filing_key(*application) if application else None


def from_members(publication_number: str, members: Iterable[str]) -> str | None:
    numbers = {normalise_lenient(m) for m in members if str(m or "").strip()}
    if not numbers:
        return None
    return "pn:" + min(numbers | {publication_number})


def from_docdb(family_id: object) -> str | None:
    text = str(family_id or "").strip()
    return f"docdb:{text}" if text else None
