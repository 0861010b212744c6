"""German and French analysis in Python (backend/search/text/lang_analysis.py, german_compounds.py); no services."""
from __future__ import annotations

import pytest

from backend.search.text import german_compounds, lang_analysis, languages


@pytest.mark.parametrize("word, parts", [
    ("Befestigungsschraube", ["befestigung", "schraube"]),          # linking s
    ("Maschinengehäuse", ["maschine", "gehäuse"]),                    # linking n
    ("Steuerungseinrichtung", ["steuerung", "einrichtung"]),         # not steuerung + sein + richtung
    ("Steuerungseinrichtungsgehäuse", ["steuerung", "einrichtung", "gehäuse"]),
    ("Hochspannungsanordnung", ["hoch", "spannung", "anordnung"]),
    ("Verkleidung", []), ("Vorrichtung", []), ("Zeichnung", []),     # not compounds of dictionary words
    ("Kopf", []), ("1234567890", []),
])
def test_german_compounds(word, parts):
    assert german_compounds.split(word) == parts


def test_german_analysis_keeps_the_word_and_its_parts():
    assert lang_analysis.analyse("Die Schraubenköpfe der Druckmaschine", "de") == [
        "schraubenkopf", "schraub", "kopf", "druckmaschin", "druck", "maschin"]
    assert lang_analysis.query_tokens("Kopf Köpfe", "de") == ["kopf"]          # stemmed and folded, once
    assert lang_analysis.analyse("Fußstütze", "de")[0] == lang_analysis.analyse("Fussstütze", "de")[0]


def test_french_analysis():
    assert lang_analysis.analyse("L'imprimante et les capotages d'impression", "fr") == [
        "imprim", "capotag", "impress"]
    assert lang_analysis.analyse("revêtements", "fr") == lang_analysis.analyse("revetement", "fr")
    with pytest.raises(ValueError, match="no analysis for language 'en'"):
        lang_analysis.analyse("text", "en")


def test_document_texts_are_checked_and_derived():
    texts = languages.check_texts({"DE": {"title": "Spanplattenschraube", "claims": ""}, "en": {}}, "figure X")
    assert texts == {"de": {"title": "Spanplattenschraube"}}
    derived = languages.derived(texts)
    assert derived["titles"] == {"de": "Spanplattenschraube"}
    assert derived["de_title"] == "spanplattenschraub span platt schraub" and derived["fr_claims"] == ""
    with pytest.raises(ValueError, match="figure X: texts has unknown language 'es'"):
        languages.check_texts({"es": {"title": "x"}}, "figure X")
    with pytest.raises(ValueError, match="figure X: texts.de has unknown part"):
        languages.check_texts({"de": {"summary": "x"}}, "figure X")


@pytest.mark.parametrize("header, lang", [
    ("fr-CH, fr;q=0.9, en;q=0.8", "fr"), ("es, de;q=0.5, en;q=0.7", "en"), ("es, it", None), ("", None),
    ("de;q=0, fr;q=0.1", "fr"), ("*", None),
])
def test_accept_language(header, lang):
    assert languages.from_accept_language(header) == lang
