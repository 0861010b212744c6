"""The search API's own parameters and answers, as pydantic models (APIFlask validates and documents
them). The search request and response themselves are the search core's models
(:class:`backend.search.request.SearchRequest`, :class:`backend.search.SearchResponse`)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.search.request import MAX_EXPORT


class SuggestQuery(BaseModel):
    q: str = Field(description="A symbol prefix (A47C, H01L 21/0) or title words.")
    scheme: Literal["cpc", "ipc", "locarno"] = "cpc"
    limit: int = Field(20, ge=1, le=100)


class ExportQuery(BaseModel):
    limit: int = Field(1000, ge=1, le=MAX_EXPORT, description="rows to export (default 1,000, at most 10,000)")


class EmbedResponse(BaseModel):
    vector: list[float] = Field(description="unit-length query vector of the drawing")
    dims: int
    model: str | None = Field(None, description="encoder that made it (config@checkpoint)")
