"""The request's filters and list weights, validated with pydantic: classification symbols normalised
(``H01L0021020000`` -> ``H01L21/02``; a malformed symbol, or a CPC symbol missing from the official title
list, fails validation naming it), applicants, codes and publication numbers in their canonical forms."""
from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.classification import SymbolError, validate
from backend.patent_numbers import normalise_lenient
from backend.search.index.documents import normalise_applicant, normalise_code


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Weights(_Strict):
    text: float = Field(1.0, ge=0, le=100, description="Weight of the BM25 text ranking.")
    image: float = Field(1.0, ge=0, le=100, description="Weight of the vector (image) ranking.")


def _symbols(values: list[str], scheme: str) -> list[str]:
    out: list[str] = []
    for raw in values:
        try:
            symbol = validate(raw, scheme).symbol
        except SymbolError as exc:
            raise ValueError(str(exc)) from None
        if symbol not in out:
            out.append(symbol)
    return out


class _SchemeFilter(_Strict):
    include: list[str] = Field(default_factory=list, max_length=200)
    exclude: list[str] = Field(default_factory=list, max_length=200)
    _scheme: ClassVar[str] = "cpc"

    @model_validator(mode="after")
    def _normalise(self):
        self.include = _symbols(self.include, self._scheme)
        self.exclude = _symbols(self.exclude, self._scheme)
        return self


class CpcFilter(_SchemeFilter):
    _scheme: ClassVar[str] = "cpc"


class IpcFilter(_SchemeFilter):
    _scheme: ClassVar[str] = "ipc"


class LocarnoFilter(_SchemeFilter):
    _scheme: ClassVar[str] = "locarno"


class DateRange(_Strict):
    gte: dt.date | None = None
    lte: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.gte and self.lte and self.gte > self.lte:
            raise ValueError(f"gte {self.gte} is after lte {self.lte}")
        return self


class Dates(_Strict):
    filing: DateRange = Field(default_factory=DateRange)
    publication: DateRange = Field(default_factory=DateRange)
    priority: DateRange = Field(default_factory=DateRange)


class Filters(_Strict):
    cpc: CpcFilter = Field(default_factory=CpcFilter)
    locarno: LocarnoFilter = Field(default_factory=LocarnoFilter)
    ipc: IpcFilter = Field(default_factory=IpcFilter)
    dates: Dates = Field(default_factory=Dates)
    applicants: list[str] = Field(default_factory=list, max_length=200)
    countries: list[str] = Field(default_factory=list, max_length=200)
    kinds: list[str] = Field(default_factory=list, max_length=200)
    publication_numbers: list[str] = Field(default_factory=list, max_length=10000)

    @field_validator("applicants")
    @classmethod
    def _applicants(cls, v: list[str]) -> list[str]:
        keys = [normalise_applicant(a) for a in v]
        empty = [a for a, k in zip(v, keys) if not k]
        if empty:
            raise ValueError(f"applicant {empty[0]!r} has no letters or digits")
        return list(dict.fromkeys(keys))

    @field_validator("countries", "kinds")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(c for c in (normalise_code(x) for x in v) if c))

    @field_validator("publication_numbers")
    @classmethod
    def _pubs(cls, v: list[str]) -> list[str]:
        """Canonical spellings (what is not a publication number is kept, as the index keeps it: another
        numbering); one typed without kind code matches every kind (filters.build)."""
        return list(dict.fromkeys(p for p in (normalise_lenient(x) for x in v) if p))
