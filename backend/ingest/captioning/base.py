"""The captioner interface: figures in, several search captions per figure out."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class CaptioningError(Exception):
    """Captions could not be produced (an LLM endpoint answered garbage or refused the request)."""


class CaptioningUnavailable(CaptioningError):
    """The captioning endpoint kept failing (connection, timeout, 429/5xx): worth retrying later."""


@dataclass
class FigureContext:
    publication_number: str
    number: int
    title: str = ""
    label: str = ""
    description: str = ""
    viewpoint: str | None = None
    object_name: str | None = None
    kind: str | None = None
    cpc: list[str] = field(default_factory=list)
    locarno: list[str] = field(default_factory=list)
    abstract: str = ""


class Captioner(Protocol):
    name: str

    def caption(self, figures: list[FigureContext]) -> list[list[str]]:
        """One list of distinct captions per figure, in order."""
        ...


def figure_contexts(record) -> list[FigureContext]:
    """What a captioner reads of each figure of a parsed :class:`~backend.ingest.records.PatentRecord`."""
    return [FigureContext(record.publication_number, f.number, record.title, f.label, f.description, f.viewpoint,
                          f.object_name, record.kind, record.cpc, record.locarno, record.abstract)
            for f in record.figures]
