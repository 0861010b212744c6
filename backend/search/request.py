"""The search request (docs/contracts.md), validated with pydantic; its filters (:mod:`.request_filters`)
and part-query box (:mod:`.crop`) have modules of their own, the response is :mod:`.response`.

``vector`` is a query vector in the encoder's space (what an uploaded image is encoded to; clients may
also send one).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from backend.patent_numbers import normalise_lenient
from backend.search.crop import Crop
from backend.search.request_filters import Filters, Weights, _Strict
from backend.search.unit_vector import unit_vector

MAX_PAGE_SIZE = 100
MAX_EXPORT = 10_000
MAX_EXCLUDED = 1000

__all__ = ["MAX_EXCLUDED", "MAX_EXPORT", "MAX_PAGE_SIZE", "Crop", "Filters", "SearchRequest", "Weights", "unit_vector"]


class SearchRequest(_Strict):
    text: str | None = Field(None, max_length=100_000, description="Free text (BM25 over title, abstract, "
                             "claims, figure description and captions). Past 1,000 characters (a pasted claim) "
                             "it is searched as its 256 most frequent words, never as the query language.")
    image_figure_id: str | None = Field(None, max_length=200, description="More like this: the stored "
                                        "image vector of this figure is the query vector.")
    vector: list[float] | None = Field(None, max_length=8192, description="A query vector in the encoder "
                                       "space (an uploaded image is encoded to this).")
    weights: Weights = Field(default_factory=Weights)
    fusion: Literal["rrf", "weighted"] = "rrf"
    filters: Filters = Field(default_factory=Filters)
    group_by_patent: bool = True
    one_per_family: bool = Field(False, description="One hit per patent family (its best-ranked member); "
                                 "implies grouping.")
    size: int = Field(20, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(None, max_length=1000)
    facets: bool = False
    explain: bool = False
    languages: list[str] | None = Field(None, max_length=10, description="The languages whose text the query "
                                        "searches: en (the main text fields), de, fr (each analysed in its own "
                                        "way); default all.")
    lang: str | None = Field(None, max_length=35, description="The user's language: each hit's title is the "
                             "document's title in it when there is one (`titles` has them all).")
    exclude_patents: list[str] = Field(default_factory=list, max_length=MAX_EXCLUDED, description=(
        "Publication numbers left out of the results (any spelling; without a kind code every kind), e.g. the "
        "patent of a more-like-this figure."))
    exclude_families: list[str] = Field(default_factory=list, max_length=MAX_EXCLUDED, description=(
        "Patent family ids (a hit's family_id) whose members are left out of the results."))
    image_figure_ids: list[str] = Field(default_factory=list, max_length=7, description=(
        "Several views of one design (up to 7 indexed figures) in one query, fused per patent; several uploaded "
        "image files do the same."))
    vectors: list[list[float]] | None = Field(None, max_length=7, description=(
        "Several query vectors (views) in one query, fused per patent (what several uploads are encoded to)."))
    crop: Crop | None = Field(None, description=(
        "Search with part of the drawing: a box on the uploaded image or on image_figure_id's figure, in "
        "fractions of its width and height."))
    exclude_figures: list[str] = Field(default_factory=list, max_length=MAX_EXCLUDED, description=(
        "Figure ids left out of the results (the patent's other figures stay), e.g. the figure of a "
        "more-like-this query, so its sister sheets show."))
    split_views: bool | None = Field(None, description=(
        "An uploaded sheet that is clearly several figures (whitespace gutters, comparable sizes) is searched "
        "as those figures (views, fused per patent) plus the whole sheet; false: always as one drawing; "
        "default: the deployment's PRISM_SEARCH_SPLIT_VIEWS. The response's query_views names the boxes."))

    @field_validator("text")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is not None and "\x00" in v:
            raise ValueError("must not contain NUL characters")
        v = v.strip() or None if v is not None else None
        if v:
            from backend.search.query_language import QueryError, parse
            from backend.search.query_language.long_text import as_plain_words

            v = as_plain_words(v)

            try:
                parse(v)
            except QueryError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("exclude_patents")
    @classmethod
    def _excluded_patents(cls, v: list[str]) -> list[str]:
        out = []
        for raw in v:
            number = normalise_lenient(raw) if isinstance(raw, str) and "\x00" not in raw else ""
            if not number:
                raise ValueError(f"{raw!r} is not a publication number")
            out.append(number)
        return list(dict.fromkeys(out))

    @field_validator("exclude_families")
    @classmethod
    def _excluded_families(cls, v: list[str]) -> list[str]:
        out = []
        for raw in v:
            family = raw.strip()
            if not family or len(family) > 200 or "\x00" in family:
                raise ValueError(f"{raw[:40]!r} is not a family id (1 to 200 characters)")
            out.append(family)
        return list(dict.fromkeys(out))

    @field_validator("image_figure_ids")
    @classmethod
    def _figure_ids(cls, v: list[str]) -> list[str]:
        out = [f.strip() for f in v]
        if any(not f or len(f) > 200 for f in out):
            raise ValueError("each figure id must have 1 to 200 characters")
        return out

    @field_validator("vectors")
    @classmethod
    def _vectors(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        for i, values in enumerate(v or []):
            try:
                unit_vector(values)
            except ValueError as exc:
                raise ValueError(f"view {i}: {exc}") from None
        return v or None

    @field_validator("exclude_figures")
    @classmethod
    def _excluded_figures(cls, v: list[str]) -> list[str]:
        out = []
        for raw in v:
            fid = raw.strip()
            if not fid or len(fid) > 200 or "\x00" in fid:
                raise ValueError(f"{raw[:40]!r} is not a figure id (1 to 200 characters)")
            out.append(fid)
        return list(dict.fromkeys(out))

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: list[str] | None) -> list[str] | None:
        from backend.search.text.languages import check_languages

        return None if v is None else check_languages(v)

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        from backend.search.text.languages import LANGUAGES

        code = (v or "").strip().split("-")[0].lower() or None
        if code is not None and code not in LANGUAGES:
            raise ValueError(f"unknown language {v!r} (documents have titles in: {', '.join(LANGUAGES)})")
        return code

    @field_validator("image_figure_id")
    @classmethod
    def _figure(cls, v: str | None) -> str | None:
        return (v.strip() or None) if v is not None else None

    @field_validator("vector")
    @classmethod
    def _vector(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return None
        unit_vector(v)
        return v

    @model_validator(mode="after")
    def _something_to_search(self):
        if not (self.text or self.image_figure_id or self.vector or self.vectors or self.image_figure_ids):
            raise ValueError("give text, image_figure_id, an image or a vector to search with")
        drawings = [n for n, v in (("vector", self.vector), ("vectors", self.vectors),
                                   ("image_figure_ids", self.image_figure_ids)) if v]
        if self.image_figure_id and not (self.crop and drawings == ["vector"]):   # a crop's vector: service.py
            drawings.append("image_figure_id")
        if len(drawings) > 1:
            raise ValueError(f"send one of {', '.join(drawings)}, not several")
        if self.crop is not None and (self.vectors or self.image_figure_ids):
            raise ValueError("crop: a part query takes one drawing, not several views")
        if self.text and self.languages is not None and "en" not in self.languages:
            from backend.search.query_language.plain_query import is_plain_words

            if not is_plain_words(self.text):
                raise ValueError("languages: the query language (operators, fields, phrases, truncation) searches "
                                 "the English text only; include \"en\" or search German/French with plain words")
        return self

    def fingerprint_payload(self) -> dict[str, Any]:
        """What identifies the result list (not the page): everything but cursor, size, facets, explain and
        the display language."""
        return self.model_dump(mode="json", exclude={"cursor", "size", "facets", "explain", "lang"})
