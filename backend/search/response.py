"""The search response (docs/contracts.md): hits with their explanation, facets, warnings."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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
    #: a figure cut from a sheet of several: its place in reading order (0: the whole sheet) and its box
    #: (left, top, right, bottom as shares of the sheet)
    figure_region: int = 0
    figure_box: list[float] | None = None
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
