"""The OpenAPI document (/openapi.json): valid OpenAPI 3.1, and the search operations described by the
pydantic models the service validates with (backend.search), field for field, nested models included, so
the documentation cannot drift from the request and response."""
from __future__ import annotations

import types
import typing

import pytest
from pydantic import BaseModel

from backend.api.search_schemas import EmbedResponse, ExportQuery, SuggestQuery
from backend.search import SearchResponse
from backend.search.request import SearchRequest


@pytest.fixture
def spec(client) -> dict:
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def _resolve(spec: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    name = ref.removeprefix("#/components/schemas/")
    assert name in spec["components"]["schemas"], f"{ref} does not resolve"
    return _resolve(spec, spec["components"]["schemas"][name])


def _models_in(annotation) -> list[type[BaseModel]]:
    """The pydantic models inside a field's annotation (``X``, ``X | None``, ``list[X]``, ``dict[str, list[X]]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _schemas_in(spec: dict, schema: dict) -> list[dict]:
    """The object schemas a property schema leads to (through $ref, anyOf, items, additionalProperties)."""
    schema = _resolve(spec, schema)
    if "properties" in schema:
        return [schema]
    out = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            out += _schemas_in(spec, option)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out += _schemas_in(spec, schema[key])
    return out


def _assert_documents(spec: dict, schema: dict, model: type[BaseModel], where: str) -> None:
    """``schema`` has exactly ``model``'s fields, and so on down every nested model."""
    schema = _resolve(spec, schema)
    assert set(schema.get("properties", {})) == set(model.model_fields), where
    for name, field in model.model_fields.items():
        nested = _models_in(field.annotation)
        if not nested:
            continue
        documented = _schemas_in(spec, schema["properties"][name])
        assert len(documented) == len(nested), f"{where}.{name}"
        for sub_schema, sub_model in zip(documented, nested):
            _assert_documents(spec, sub_schema, sub_model, f"{where}.{name}")


def test_the_document_is_valid_openapi(spec):
    from openapi_spec_validator import validate

    assert spec["openapi"].startswith("3.1")
    validate(spec)


@pytest.mark.parametrize("path", ["/search", "/search/export"])
def test_the_search_request_is_the_pydantic_model(spec, path):
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(_resolve(spec, body)["properties"]) == set(SearchRequest.model_fields)
    _assert_documents(spec, body, SearchRequest, path)


def test_the_search_response_is_the_pydantic_model(spec):
    answer = spec["paths"]["/search"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    _assert_documents(spec, answer, SearchResponse, "/search 200")
    hit = _resolve(spec, _resolve(spec, answer)["properties"]["hits"]["items"])
    assert {"figure_id", "publication_number", "score", "image_url"} <= set(hit["properties"])


def test_the_other_search_operations(spec):
    embed = spec["paths"]["/search/embed"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    _assert_documents(spec, embed, EmbedResponse, "/search/embed 200")
    for path, method, model in (("/classifications/suggest", "get", SuggestQuery),
                                ("/search/export", "post", ExportQuery)):
        params = spec["paths"][path][method]["parameters"]
        assert {p["name"] for p in params if p["in"] == "query"} == set(model.model_fields), path
    suggest = {p["name"]: p for p in spec["paths"]["/classifications/suggest"]["get"]["parameters"]}
    assert suggest["q"]["required"] and suggest["scheme"]["schema"]["enum"] == ["cpc", "ipc", "locarno"]


def test_the_search_answer_is_the_services_json(client):
    """The response model documents /search; the answer is not re-serialised through it (keys that
    SearchResponse.to_json leaves out stay out)."""
    resp = client.post("/search", json={"vector": [1.0, 0.0, 0.0, 0.0], "facets": False})
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    assert data["total"] == 0 and data["hits"] == []
    assert "facets" not in data and "shards" not in data and "warnings" not in data


def test_bad_query_parameters_are_400_problems_naming_them(client):
    for url, field in (("/classifications/suggest?q=A47C&limit=0", "query.limit"),
                       ("/classifications/suggest?q=A47C&scheme=wipo", "query.scheme"),
                       ("/classifications/suggest", "query.q")):
        resp = client.get(url)
        assert resp.status_code == 400 and resp.mimetype == "application/problem+json", url
        assert resp.get_json()["detail"].startswith(f"{field}: "), resp.get_json()
    resp = client.post("/search/export?limit=10001", json={"text": "chair"})
    assert resp.status_code == 400 and resp.get_json()["detail"].startswith("query.limit: ")
