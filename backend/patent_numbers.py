"""Publication numbers: one canonical spelling, used at ingest, lookup, filters, URLs and watches.

Accepted: an optional country code, for US an optional series (``D`` design, ``PP`` plant, ``RE`` or
``R`` reissue, ``H`` SIR, ``T`` defensive publication), the serial number, an optional WIPO ST.16 kind
code (a letter and an optional digit), with any spaces, commas, dots, slashes or dashes::

    EP0049154B2, EP 0 049 154 B2, EP49154          -> EP0049154B2, EP0049154B2, EP0049154
    US 7,537,926 B2, US7537926                     -> US7537926B2, US7537926
    USRE34586, USR34586, RE34586 E                 -> USRE034586
    D907292, US D907292 S                          -> USD0907292
    US 2008/0016626 A1                             -> US20080016626A1

Canonical form: country + series + serial (+ kind). US serials lose their leading zeros, except the
series numbers, which keep the zero-padded width of the USPTO file names (``USD0907292``,
``USRE049123``) and carry no kind code (the ``kind`` field has it); EP serials are zero-padded to 7
digits as the EPO writes them; other countries keep the digits as written. Without a country, US is
assumed (bare ``D907292``, ``RE34586``, ``7537926``).

A number typed without kind code finds the document whatever its kind: :func:`lookup_keys` gives
every stored spelling it may have (each ST.16 kind, and the unpadded EP spelling that indexes
written before this module hold).
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

__all__ = ["InvalidNumber", "PublicationNumber", "lookup_keys", "normalise", "normalise_lenient", "parse",
           "source_url"]

#: US series and the zero-padded width of their serials in USPTO file names; ``R`` is a reissue too
US_SERIES = {"D": 7, "PP": 6, "RE": 6, "H": 7, "T": 7}
_SERIES_ALIASES = {"R": "RE"}
EP_DIGITS = 7
#: every WIPO ST.16 kind code shape: a letter, or a letter and a digit
KIND_CODES = tuple(string.ascii_uppercase) + tuple(f"{c}{d}" for c in string.ascii_uppercase for d in range(10))

_SEPARATORS = re.compile(r"[\s,./\-'_]+")
_NUMBER = re.compile(r"^(?P<cc>[A-Z]{2})?(?P<series>PP|RE|R|D|H|T)?(?P<serial>\d+)(?P<kind>[A-Z]\d?)?$")


class InvalidNumber(ValueError):
    """Not a publication number; the message names it."""


@dataclass(frozen=True)
class PublicationNumber:
    country: str
    series: str        # "" for utility numbers and applications
    serial: str
    kind: str          # "" when not given (or dropped: series numbers)

    @property
    def base(self) -> str:
        """The canonical number without kind code."""
        return f"{self.country}{self.series}{self.serial}"

    @property
    def canonical(self) -> str:
        return self.base + self.kind


def _clean(raw: object) -> str:
    return _SEPARATORS.sub("", str(raw or "")).upper()


def parse(raw: str, country: str | None = None, kind: str | None = None) -> PublicationNumber:
    """``raw`` as a :class:`PublicationNumber`; ``country`` / ``kind`` fill in what ``raw`` lacks."""
    text = _clean(raw)
    if not text:
        raise InvalidNumber("publication number is empty")
    cc_default = _clean(country) or "US"
    match = _NUMBER.match(text)
    # a bare series number (RE34586, PP12345) reads "RE"/"PP" as the series, not as a country
    if match and match["cc"] in ("RE", "PP") and not match["series"]:
        match = _NUMBER.match(cc_default + text)
    if not match:
        raise InvalidNumber(f"{str(raw)!r} is not a publication number (country code, serial number, optional "
                            f"kind code, e.g. EP0049154B2, US7537926B2, USD0907292)")
    cc = match["cc"] or cc_default
    series = _SERIES_ALIASES.get(match["series"] or "", match["series"] or "")
    serial = match["serial"]
    kind_out = match["kind"] or _clean(kind)
    if kind_out and not re.fullmatch(r"[A-Z]\d?", kind_out):
        raise InvalidNumber(f"{str(raw)!r} is not a publication number: kind code {kind!r} is not a letter "
                            f"with an optional digit")
    if series:
        if cc != "US":
            raise InvalidNumber(f"{str(raw)!r} is not a publication number: the series {series} exists for "
                                f"US numbers only")
        return PublicationNumber(cc, series, serial.lstrip("0").zfill(US_SERIES[series]), "")
    if cc == "US":
        serial = serial.lstrip("0") or "0"
    elif cc == "EP":
        serial = serial.lstrip("0").zfill(EP_DIGITS)
    return PublicationNumber(cc, "", serial, kind_out)


def normalise(raw: str, country: str | None = None, kind: str | None = None) -> str:
    """The canonical spelling of ``raw`` (raises :class:`InvalidNumber`)."""
    return parse(raw, country, kind).canonical


def pick(numbers: list[str], keys: list[str]) -> str | None:
    """Of the stored ``numbers`` found for ``keys`` (from :func:`lookup_keys`), the one a lookup shows:
    the exact spelling if present, else the latest kind (B2 after B1 after A1), else the first."""
    found = set(numbers)
    if not found:
        return None
    if keys and keys[0] in found:
        return keys[0]
    return max(found, key=lambda n: (_kind(n), n))


def _kind(number: str) -> str:
    match = re.search(r"\d([A-Z]\d?)$", number)
    return match[1] if match else ""


def normalise_lenient(raw: str) -> str:
    """The canonical spelling, or for something that is not a publication number (an identifier of a
    collection with its own numbering) the text upper-cased without separators."""
    try:
        return normalise(raw)
    except InvalidNumber:
        return _clean(raw)


def lookup_keys(raw: str, any_kind: bool = True) -> list[str]:
    """Every stored spelling ``raw`` may have, canonical first: with each ST.16 kind when typed without
    one (utility and application numbers; not with ``any_kind=False``), and for EP also the unpadded
    serial of older indexes."""
    try:
        number = parse(raw)
    except InvalidNumber:
        return [_clean(raw)] if _clean(raw) else []
    bases = [number.base]
    if number.country == "EP":
        bases.append(f"EP{number.serial.lstrip('0') or '0'}")
    keys: list[str] = []
    for base in dict.fromkeys(bases):
        if number.kind:
            keys.append(base + number.kind)
        else:
            keys.append(base)
            if any_kind and not number.series:
                keys.extend(base + k for k in KIND_CODES)
    return keys


#: the public page of a publication: Espacenet searches every office's numbers (pn= the number without
#: kind code); Google Patents shows US publications, kind code included, or with the base number alone
ESPACENET_URL = "https://worldwide.espacenet.com/patent/search?q=pn%3D{number}"
GOOGLE_PATENTS_URL = "https://patents.google.com/patent/{number}/en"
_OFFICE = re.compile(r"^[A-Z]{2}$")


def source_url(raw: str, country: str | None = None) -> str | None:
    """The office's public page of a publication (Google Patents for US, Espacenet for the others), or None
    for a number that does not parse (a collection's own identifier: there is no public page to link)."""
    try:
        number = parse(raw, country)
    except InvalidNumber:
        return None
    if not _OFFICE.match(number.country):
        return None
    if number.country == "US":
        serial = number.serial
        if number.series:   # Google writes design, plant and reissue numbers unpadded: USD907292
            serial = serial.lstrip("0") or "0"
        return GOOGLE_PATENTS_URL.format(number=f"US{number.series}{serial}{number.kind}")
    return ESPACENET_URL.format(number=number.base)
