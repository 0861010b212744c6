"""GET /classifications/suggest: autocomplete of CPC symbols and Locarno classes with their titles."""
from __future__ import annotations

from apiflask import APIBlueprint

from backend.api.search_schemas import SuggestQuery
from backend.app import app_settings
from backend.search import service

bp = APIBlueprint("classifications", __name__, tag="classifications")


@bp.get("/classifications/suggest")
@bp.input(SuggestQuery, location="query", arg_name="params")
@bp.doc(summary="Classification autocomplete with titles",
        description="`q` is a symbol prefix (`A47C`, `H01L 21/0`, `06-`) or words of a title.")
def suggest(params: SuggestQuery) -> dict:
    items = service.suggest(params.q, params.scheme, app_settings(), params.limit)
    return {"scheme": params.scheme, "q": params.q, "items": items}
