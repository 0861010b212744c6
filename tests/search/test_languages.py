"""EPO documents in English, German and French, searched per language on both backends.

The 33 EPO samples of the shared data are parsed and indexed as ingest indexes them (one text-only
document per patent, pipeline.figure_documents); German and French text is analysed in Python
(backend/search/text/lang_analysis.py) into per-language fields.
"""
from __future__ import annotations

import pytest

from backend.api.problems import status_of
from backend.ingest.parsers.discover import discover
from backend.ingest.parsers.load import load_source
from backend.ingest.pipeline import PreparedJob, figure_documents
from backend.search.errors import SearchError
from backend.search.text import lang_analysis

EPO = "epo_samples"
CHIPBOARD_SCREW = "EP1873405A2"     # German-language application "Spanplattenschraube" (de abstract + claims)
PRINTER = "EP2743087B2"             # German-language grant, claims in de/en/fr


@pytest.fixture
def epo_index(backend, shared_data):
    records = [load_source(item.locator) for item in discover([shared_data / EPO])]
    assert len(records) == 33
    docs = [doc for rec in records for doc in figure_documents(PreparedJob(rec.publication_number, rec, []), 1)]
    backend.index_figures(docs)
    backend.refresh()
    return {rec.publication_number: rec for rec in records}


def _pubs(backend, **request) -> list[str]:
    return [h.publication_number for h in backend.search({"size": 50, **request}).hits]


def test_german_query_finds_the_german_document_by_a_compound_part(backend, epo_index):
    german = epo_index[CHIPBOARD_SCREW].texts["de"]
    words = lang_analysis.words(" ".join(german.values()), "de")
    # "Kopf" (head) occurs in the document only inside "Schraubenkopf" (screw head)
    assert "schraubenkopf" in words and "kopf" not in words and "köpfe" not in words
    found = _pubs(backend, text="Kopf", languages=["de"])
    assert found[0] == CHIPBOARD_SCREW
    assert _pubs(backend, text="Kopf")[0] == CHIPBOARD_SCREW            # default: every language
    # the other German text with "Kopf" has it inside a compound too (Druckkopf: print head)
    for pub in found[1:]:
        assert "kopf" not in lang_analysis.words(epo_index[pub].texts["de"].get("claims", ""), "de")
    # a compound in the query is split too: "Kreisfläche" finds the document's "Kreisform" by "Kreis"
    assert CHIPBOARD_SCREW in _pubs(backend, text="Kreisfläche", languages=["de"])
    # and the whole compound, inflected (Schraubenköpfe -> schraubenkopf)
    assert _pubs(backend, text="Schraubenköpfe", languages=["de"])[0] == CHIPBOARD_SCREW


def test_french_query_with_an_inflected_form(backend, epo_index):
    french = lang_analysis.words(epo_index[PRINTER].texts["fr"]["claims"], "fr")
    assert "capotage" in french and "capotages" not in french
    assert _pubs(backend, text="capotages", languages=["fr"]) == [PRINTER]
    assert "imprimante" not in french                # only the French title says "Imprimante"
    assert PRINTER in _pubs(backend, text="imprimantes", languages=["fr"])


def test_language_restriction(backend, epo_index):
    assert _pubs(backend, text="Kopf", languages=["fr"]) == []
    assert _pubs(backend, text="Kopf", languages=["en"]) == []
    assert _pubs(backend, text="capotages", languages=["de", "en"]) == []
    # "chipboard" is in the English title of the German application only
    assert _pubs(backend, text="chipboard", languages=["en"]) == [CHIPBOARD_SCREW]
    assert _pubs(backend, text="chipboard", languages=["de", "fr"]) == []
    # German claims of an English grant (its "Hochspannungsanordnung") are found in German, not in English
    assert "EP3404678B1" in _pubs(backend, text="Spannung", languages=["de"])
    assert "EP3404678B1" not in _pubs(backend, text="Spannung", languages=["en"])


def test_title_in_the_users_language(backend, epo_index):
    hit = backend.search({"text": "Kopf", "languages": ["de"], "lang": "de"}).hits[0]
    assert hit.publication_number == CHIPBOARD_SCREW and hit.title == "Spanplattenschraube"
    assert set(hit.titles) == {"de", "en", "fr"}
    english = backend.search({"text": "Kopf", "languages": ["de"]}).hits[0]
    assert english.title == hit.titles["en"] and english.title != hit.title
    french = backend.search({"text": "Kopf", "languages": ["de"], "lang": "fr-CH"}).hits[0]
    assert french.title == hit.titles["fr"]


def test_epo_numbers_are_normalised(backend, epo_index):
    assert backend.get_patent_figures("EP 3404678 B1")[0]["publication_number"] == "EP3404678B1"
    figure = backend.get_patent_figures("EP3404678B1")[0]
    assert figure["language"] == "en" and set(figure["texts"]) == {"de", "en", "fr"}


def test_bad_languages_are_a_400_naming_the_problem(backend, epo_index):
    for request, detail in (
            ({"text": "Kopf", "languages": ["xx"]}, "languages: unknown language 'xx' (known: en, de, fr)"),
            ({"text": "Kopf", "languages": []}, "languages: name at least one language"),
            ({"text": "Kopf", "lang": "klingon"}, "lang: unknown language 'klingon'"),
            ({"text": "ti:Kopf", "languages": ["de"]}, "request: languages: the query language (operators, fields, "
                                                       "phrases, truncation) searches the English text only")):
        with pytest.raises(SearchError) as err:
            backend.search(request)
        assert status_of(err.value) == 400 and err.value.detail.startswith(detail), err.value.detail
    # the query language with English among the languages is fine
    assert backend.search({"text": "ti:chipboard", "languages": ["de", "en"]}).hits[0].publication_number \
        == CHIPBOARD_SCREW


def test_cli_lang_option(backend, epo_index):
    import json

    from click.testing import CliRunner

    from backend.cli import _register, cli

    _register()
    out = CliRunner().invoke(cli, ["search", "Kopf", "--lang", "de", "--json"])
    assert out.exit_code == 0, out.output
    hit = json.loads(out.stdout)["hits"][0]
    assert hit["publication_number"] == CHIPBOARD_SCREW and hit["title"] == "Spanplattenschraube"
    out = CliRunner().invoke(cli, ["search", "Kopf", "--lang", "fr,en"])
    assert out.exit_code == 0 and "0 results" in out.output
    out = CliRunner().invoke(cli, ["search", "Kopf", "--lang", "xx"])
    assert out.exit_code == 2
    assert out.output.strip().splitlines() == ["prism search: languages: unknown language 'xx' (known: en, de, fr)"]


def test_api_title_from_accept_language(app, client, shared_data):
    from backend.app import app_settings
    from backend.search import get_backend

    with app.app_context():
        backend = get_backend(app_settings(app))
    rec = next(load_source(i.locator) for i in discover([shared_data / EPO / "application" / "v1-2-A2.xml"]))
    backend.index_figures(figure_documents(PreparedJob("j", rec, []), 1))
    resp = client.post("/search", json={"text": "Kopf", "languages": ["de"]},
                       headers={"Accept-Language": "fr-CH, de;q=0.9, en;q=0.8"})
    assert resp.status_code == 200, resp.get_json()
    hit = resp.get_json()["hits"][0]
    assert hit["publication_number"] == CHIPBOARD_SCREW and hit["title"] == rec.texts["fr"]["title"]
    assert hit["titles"]["de"] == "Spanplattenschraube"
    resp = client.post("/search", json={"text": "Kopf", "lang": "de"}, headers={"Accept-Language": "fr"})
    assert resp.get_json()["hits"][0]["title"] == "Spanplattenschraube"      # the body wins
    resp = client.post("/search/export", json={"text": "Kopf", "languages": ["de"]}, headers={"Accept-Language": "de"})
    assert resp.status_code == 200 and "Spanplattenschraube" in resp.get_data(as_text=True)
    resp = client.post("/search", json={"text": "Kopf", "languages": ["de", "es"]})
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    assert resp.get_json()["detail"] == "languages: unknown language 'es' (known: en, de, fr)"


def test_an_older_es_index_without_language_fields_says_so(make_settings, es_url):
    import uuid

    from backend.search.backends.elasticsearch.es_backend import ElasticsearchBackend
    from backend.search.index import index_admin
    from backend.search.text import languages
    from tests.search.conftest import DIMS, figure

    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index_prefix=prefix)
    es = index_admin.make_client(settings)
    body = index_admin.definition_for(es, DIMS)
    for name in (*languages.FIELDS, "language", "texts", "titles"):
        del body["mappings"]["properties"][name]
    es.indices.create(index=index_admin.new_index_name(prefix), settings=body["settings"],
                      mappings=body["mappings"], aliases={index_admin.alias_name(prefix): {"is_write_index": True}})
    try:
        backend = ElasticsearchBackend(settings, es)
        # ingest still works: the fields this index lacks are left out of the writes
        backend.index_figures([figure("EP1B1", 1, None, title="Chipboard screw", language="de",
                                      texts={"de": {"title": "Spanplattenschraube"}})])
        backend.refresh()
        assert [h.publication_number for h in backend.search({"text": "chipboard"}).hits] == ["EP0000001B1"]
        assert backend.search({"text": "chipboard"}).warnings is None
        response = backend.search({"text": "Schraube", "languages": ["de"]})
        assert response.total == 0 and response.warnings == [
            "languages: this index was created before the German/French fields, so de finds nothing; run "
            "`prism index reindex` and ingest the EPO documents again"]
    finally:
        index_admin.delete_all(es, prefix)
