"""Plain data carried through the ingest pipeline (JSON-serialisable, so a job payload can hold one)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any


class IngestError(Exception):
    """A permanent problem with one document (bad input); retrying will not help."""

    status = 422

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class ParseError(IngestError):
    """A source document could not be parsed."""


class UnsupportedFormat(IngestError):
    """A recognised but unsupported format (e.g. pre-2001 Green Book text); skipped with this reason."""


@dataclass
class ImageRef:
    """Where a figure's image lives: a file, a zip member, a PDF page, or a blob-store key (API uploads). With
    ``tar_offset`` the zip is itself a member of the tar ``zip`` (USPTO's weekly archive), the one whose
    header starts at that byte."""

    path: str | None = None
    zip: str | None = None
    member: str | None = None
    blob: str | None = None
    name: str | None = None  # original file name, for messages
    tar_offset: int | None = None
    page: int | None = None  # a page (0-based) of the PDF ``path``: a scanned drawing sheet

    def describe(self) -> str:
        if self.page is not None:
            return f"{self.path}#page{self.page + 1}"
        if self.blob:
            return f"upload {self.name or self.blob}"
        if self.zip and self.tar_offset is not None:
            return f"{self.zip}@{self.tar_offset}!{self.member}"
        if self.zip:
            return f"{self.zip}!{self.member}"
        return str(self.path)


@dataclass
class FigureRecord:
    number: int
    label: str = ""                 # "FIG. 1A" as written
    description: str = ""
    viewpoint: str | None = None
    object_name: str | None = None
    image: ImageRef | None = None
    keys: list[str] = field(default_factory=list)   # the figure labels on the sheet ("3A", "3B"), when known
    region: int = 0                 # a figure split from its sheet: 1, 2 ... in reading order (0: the sheet)
    box: list[float] | None = None  # that figure's [left, top, right, bottom] on the sheet's display image, shares


@dataclass
class PatentRecord:
    publication_number: str
    kind: str | None = None
    country: str | None = None
    application_number: str | None = None
    filing_date: str | None = None        # YYYY-MM-DD
    publication_date: str | None = None
    priority_date: str | None = None
    title: str = ""
    abstract: str = ""
    claims: str = ""
    applicants: list[str] = field(default_factory=list)
    inventors: list[str] = field(default_factory=list)
    cpc: list[str] = field(default_factory=list)
    ipc: list[str] = field(default_factory=list)
    locarno: list[str] = field(default_factory=list)
    figures: list[FigureRecord] = field(default_factory=list)
    source: str = ""                      # format name, e.g. "uspto-xml-v4.5"
    family_id: str | None = None          # the patent family (backend/ingest/family.py)
    language: str | None = None           # the publication's own language (en, de, fr), when the source says
    #: per language (en/de/fr): {"title", "abstract", "claims"} in that language (EPO publications)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)   # what the source did not tell for sure (job notes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PatentRecord:
        data = dict(data)
        figures = []
        for fig in data.pop("figures", None) or []:
            fig = dict(fig)
            image = fig.pop("image", None)
            figures.append(FigureRecord(**fig, image=ImageRef(**image) if image else None))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ParseError(f"unknown patent field(s): {', '.join(sorted(unknown))}")
        return cls(**data, figures=figures)


def normalise_publication_number(raw: str, country: str | None = "US", kind: str | None = None) -> str:
    """The canonical spelling (:mod:`backend.patent_numbers`): ``D0907292`` / ``USD907292`` ->
    ``USD0907292``; ``08926509`` + kind B2 -> ``US8926509B2``; ``EP 49154`` + B2 -> ``EP0049154B2``."""
    from backend.patent_numbers import InvalidNumber, normalise

    try:
        return normalise(raw, country, kind)
    except InvalidNumber as exc:
        raise ParseError(str(exc)) from None


def party_name(organisation: str, first: str, last: str) -> str:
    """A party as shown: the organisation's name, else ``first last``."""
    return organisation or " ".join(p for p in (first, last) if p)


def iso_date(raw: str | None) -> str | None:
    """``20210105`` -> ``2021-01-05``; a day or month of 00 (cited-document style) is clamped to 01."""
    if not raw:
        return None
    text = re.sub(r"\D", "", str(raw))
    if len(text) != 8:
        return None
    year, month, day = int(text[:4]), int(text[4:6]) or 1, int(text[6:8]) or 1
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


@dataclass
class Summary:
    """What a bulk ingest did (the CLI prints it; tests read it)."""

    ingested: int = 0
    updated: int = 0
    failed: int = 0
    skipped: int = 0
    resumed: int = 0     # already done: stored with the same content, or an archive member done before
    figures: int = 0
    seconds: float = 0.0
    job_ids: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)   # (source, reason)
    skips: list[tuple[str, str]] = field(default_factory=list)      # (source, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)      # (source, what was not read for sure)
    publication_numbers: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.ingested + self.updated + self.failed + self.skipped

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        resumed = f", already done {self.resumed}" if self.resumed else ""
        return (f"ingested {self.ingested}, updated {self.updated}, failed {self.failed}, "
                f"skipped {self.skipped}{resumed} ({self.figures} figures, {self.seconds:.1f}s)")
