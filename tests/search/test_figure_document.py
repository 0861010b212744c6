"""The figure document's one definition (backend/search/index/documents.py: FIGURE_DOCUMENT) against the
Elasticsearch mapping the code expects (es_mappings/figures/figures-v<MAPPING_VERSION>.json), against what
:func:`documents.prepare` stores, and its projections against the models that use them. No server."""
from __future__ import annotations

import json
import typing

import pytest

from backend.search.index import documents
from backend.search.index.index_admin import MAPPING_VERSION, mapping_path


@pytest.fixture(scope="module")
def mapped() -> dict[str, dict]:
    """The mapping's properties, by field name."""
    return json.loads(mapping_path(MAPPING_VERSION).read_text(encoding="utf-8"))["mappings"]["properties"]


def test_every_defined_field_is_mapped(mapped):
    missing = [f.name for f in documents.FIGURE_DOCUMENT if f.name not in mapped]
    assert not missing, f"defined in documents.FIGURE_DOCUMENT, absent from {mapping_path().name}: {missing}"


def test_every_mapped_field_is_defined(mapped):
    extra = sorted(set(mapped) - set(documents.FIELDS))
    assert not extra, f"mapped in {mapping_path().name}, absent from documents.FIGURE_DOCUMENT: {extra}"


def test_the_types_agree(mapped):
    wrong = {f.name: (f.es_type, mapped[f.name].get("type", "object"))
             for f in documents.FIGURE_DOCUMENT if f.name in mapped
             and f.es_type != mapped[f.name].get("type", "object")}
    assert not wrong, f"field: (defined type, mapped type): {wrong}"


def test_vector_dimensions_agree(mapped):
    for field in documents.FIGURE_DOCUMENT:
        if field.es_type != "dense_vector":
            assert field.dims is None, field.name
            continue
        # the encoder's dimension is filled in when the index is made (index_admin.load_definition)
        assert mapped[field.name]["dims"] == (field.dims if field.dims is not None else "__DIMS__"), field.name


def test_the_definition_is_what_prepare_stores():
    dims = 4
    contract = {name: None for name in documents.CONTRACT_FIELDS}
    contract.update(figure_id="USD0000001-F1", publication_number="USD0000001", figure_number=1,
                    cpc=["A47C 4/02"], ipc=["A47C 4/02"], locarno=["06-01"], applicants=["Acme Corp."],
                    image_vector=[1.0, 0, 0, 0], texts={"de": {"title": "Stuhl"}})
    stored = documents.prepare(contract, dims=dims)
    assert list(stored) and set(stored) == set(documents.STORED_FIELDS)
    assert set(documents.public(stored)) == set(documents.CONTRACT_FIELDS)


def test_a_field_outside_the_contract_is_refused():
    derived = next(f.name for f in documents.FIGURE_DOCUMENT if f.derived)
    with pytest.raises(documents.InvalidDocument, match=derived):
        documents.prepare({"figure_id": "F1", "publication_number": "USD0000001", derived: ["x"]})


def test_the_language_fields_are_the_ones_the_text_module_makes():
    from backend.search.text import languages

    assert set(documents.LANGUAGE_FIELDS) == set(languages.FIELDS)
    assert set(languages.derived({})) <= set(documents.STORED_FIELDS)


def test_projections_name_defined_fields_only():
    with pytest.raises(ValueError, match="orientation"):
        documents.projection("figure_id", "orientation")
    for name in ("TEXT_FIELDS", "VECTOR_FIELDS", "HIT_FIELDS", "FAMILY_FIELDS", "PATENT_FIELDS", "FIGURE_FIELDS",
                 "EXPORT_FIELDS"):
        assert set(getattr(documents, name)) <= set(documents.FIELDS), name
    assert set(documents.DATE_FIELDS.values()) <= set(documents.FIELDS)


def _hit_model() -> type:
    from backend.search import SearchResponse

    (hit,) = typing.get_args(SearchResponse.model_fields["hits"].annotation)
    return hit


def test_the_hit_fetches_every_document_field_a_hit_shows():
    """A field of the document on the response's Hit model must be in the hit projection (what the backends
    read for a hit), or every hit would show its default."""
    shown = set(_hit_model().model_fields) & set(documents.FIELDS)
    assert shown and shown <= set(documents.HIT_FIELDS), sorted(shown - set(documents.HIT_FIELDS))


def test_the_export_writes_hit_fields():
    hit_fields = set(_hit_model().model_fields)
    assert set(documents.EXPORT_FIELDS) <= hit_fields & set(documents.HIT_FIELDS)
    assert {"score", "image_url"} <= hit_fields     # what the CSV adds after the document fields
    assert documents.EXPORT_COLUMNS[0] == "rank" and documents.EXPORT_COLUMNS[-1] == "patent_url"
