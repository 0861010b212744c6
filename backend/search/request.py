"""The search request and response (docs/contracts.md), validated with pydantic.

Classification symbols are normalised while validating (``H01L0021020000`` -> ``H01L21/02``); a
malformed symbol, or a CPC symbol missing from the official title list, fails validation with a
message naming it. ``vector`` is a query vector in the encoder's space (what an uploaded image is
encoded to; clients may also send one).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from backend.classification import SymbolError, validate
from backend.patent_numbers import normalise_lenient
from backend.search.index.documents import normalise_applicant, normalise_code

MAX_PAGE_SIZE = 100
MAX_EXPORT = 10_000
MAX_EXCLUDED = 1000


def unit_vector(values):
    """``values`` scaled to length 1 (float64 throughout, so 1e20 or 1e-300 components are as good as any),
    then float32; ValueError for an empty, non-finite or all-zero vector. /search, /search/export and watches
    accept and normalise query vectors with this one function."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or not v.size or not np.isfinite(v).all():
        raise ValueError("must be a non-empty list of finite numbers")
    peak = float(np.abs(v).max())
    if peak == 0:
        raise ValueError("must not be all zeros")
    v = v / peak                     # no overflow in the norm, whatever the scale
    return (v / np.linalg.norm(v)).astype(np.float32)


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


MIN_CROP_PIXELS = 16


class Crop(_Strict):
    """A box on a drawing in fractions of its width and height (0 to 1, from the top left)."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    width: float = Field(gt=0, le=1)
    height: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _inside(self):
        if self.x + self.width > 1 + 1e-9 or self.y + self.height > 1 + 1e-9:
            raise ValueError("the box reaches past the drawing (x + width and y + height must be at most 1)")
        return self

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) on an image of this size; ValueError when under MIN_CROP_PIXELS a side."""
        box = (round(self.x * width), round(self.y * height), round((self.x + self.width) * width),
               round((self.y + self.height) * height))
        if box[2] - box[0] < MIN_CROP_PIXELS or box[3] - box[1] < MIN_CROP_PIXELS:
            raise ValueError(f"the box is {box[2] - box[0]} x {box[3] - box[1]} pixels of the {width} x {height} "
                             f"drawing; at least {MIN_CROP_PIXELS} pixels a side")
        return box


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
    #: the figures an uploaded sheet was split into (service.parse_request -> the response's query_views)
    _query_views: Any = PrivateAttr(default=None)
    #: the uploaded query drawing's local features (service.parse_request), for geometric verification
    _query_drawing: Any = PrivateAttr(default=None)
    _turned_vectors: Any = PrivateAttr(default=None)

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


class BM25Explain(BaseModel):
    rank: int
    score: float


class VectorExplain(BaseModel):
    rank: int
    similarity: float
    # class consensus (class_consensus.py): the share of the query's nearest figures carrying this figure's
    # class, and that class ("subclass:A47C", "locarno:06-01"); absent when none of them carries one of its classes
    class_consensus: float | None = None
    consensus_class: str | None = None
    patent_consensus: float | None = None    # the share of the query's nearest figures from this figure's patent
    #: why the consensus moved this hit from its place by similarity, in plain words (absent: it did not)
    reason: str | None = None


class VerificationExplain(BaseModel):
    inliers: int     # keypoint matches that fit one similarity transform (RANSAC)
    cells: int       # cells of an 8 x 8 grid over the figure's keypoints holding an inlier
    score: float     # calibrated in [0, 1]: near 1 the same drawing re-published, near 0 unrelated


class ViewMatch(BaseModel):
    view: int                      # the query's view, from 1
    figure_id: str | None = None   # the hit's figure closest to it (None: not among that view's nearest)
    similarity: float | None = None


class Explain(BaseModel):
    bm25: BM25Explain | None = None
    vector: VectorExplain | None = None
    dense: VectorExplain | None = None     # the MiniLM text-vector list (PRISM_SEARCH_DENSE_TEXT)
    fused: float
    text_share: float
    image_share: float
    verification: VerificationExplain | None = None   # geometric check against the query drawing
    views: list[ViewMatch] | None = None   # multi-view queries: which figure of the hit matched each view
    matched_fields: list[str] | None = None   # text fields the query matched in (query language, snippets)
    matched_words: list[str] | None = None    # the words marked in the snippets, as written in the text


class Hit(BaseModel):
    figure_id: str
    publication_number: str
    figure_number: int | None = None
    title: str = ""          # in the request's ``lang`` when the document has a title in it
    titles: dict[str, str] | None = None    # language -> title, for documents published with several
    description: str = ""
    kind: str | None = None
    country: str | None = None
    publication_date: str | None = None
    filing_date: str | None = None
    priority_date: str | None = None
    cpc: list[str] = Field(default_factory=list)
    locarno: list[str] = Field(default_factory=list)
    applicants: list[str] = Field(default_factory=list)
    score: float
    image_url: str
    thumbnail_url: str
    #: drawing queries: the geometric verification score of this figure against the query drawing, in [0, 1]
    #: (near 1: the same drawing re-published; near 0: unrelated); null when it was not checked
    match_score: float | None = None
    family_id: str | None = None
    has_image: bool = True          # false: a text-only hit (no drawing stored; the URLs answer 404)
    explain: Explain | None = None
    snippets: dict[str, str] | None = None    # field -> text with the matched words in <mark>, HTML-escaped


class FacetBucket(BaseModel):
    key: str
    count: int
    title: str | None = None     # the class's official title (Locarno class heading, CPC subclass title)


class SearchResponse(BaseModel):
    total: int
    total_relation: Literal["eq", "gte"] = "eq"     # "gte": total is a lower bound
    next_cursor: str | None = None
    hits: list[Hit] = Field(default_factory=list)
    facets: dict[str, list[FacetBucket]] | None = None
    parsed_query: str | None = None           # the text query as understood (query language, normalised)
    #: what the client should know about the request, e.g. a filter on a scheme no document carries
    warnings: list[str] | None = None
    #: Elasticsearch answered from some shards only (a node down, a timeout): matches may be missing
    partial: bool = False
    #: the shard counts when ``partial`` (total, successful, skipped, failed, timed_out, failure_reasons)
    shards: dict | None = None

    def to_json(self) -> dict:
        data = self.model_dump(mode="json")
        for hit in data["hits"]:
            if hit.get("explain") is None:
                hit.pop("explain", None)
            if hit.get("snippets") is None:
                hit.pop("snippets", None)
            if hit.get("titles") is None:
                hit.pop("titles", None)
        if data.get("facets") is None:
            data.pop("facets", None)
        if data.get("parsed_query") is None:
            data.pop("parsed_query", None)
        if not data.get("warnings"):
            data.pop("warnings", None)
        if data.get("shards") is None:
            data.pop("shards", None)
        return data
