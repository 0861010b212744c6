"""EPO publications (``ep-patent-document`` DTD 1.0 - 1.5.1): backend/ingest/parsers/epo.py."""
from __future__ import annotations

from backend.ingest.bulk import ingest_paths
from backend.ingest.parsers.discover import discover
from backend.ingest.parsers.epo import designated_states, titles
from backend.ingest.parsers.load import load_source
from backend.ingest.parsers.uspto_xml import parse_xml

EPO = "epo_samples"


def _records(shared_data):
    items = list(discover([shared_data / EPO]))
    assert [i for i in items if not i.locator] == []
    return {"/".join(i.origin.rsplit("/", 2)[-2:]): load_source(i.locator) for i in items}


def test_every_dtd_version_parses_with_its_bibliography(shared_data):
    records = _records(shared_data)
    assert len(records) == 33
    for name, rec in records.items():
        assert rec.publication_number.startswith("EP") and rec.kind in ("A1", "A2", "B1", "B2"), name
        assert rec.publication_number.endswith(rec.kind) and rec.publication_date and rec.filing_date, name
        assert rec.title and rec.applicants and rec.inventors and rec.ipc, name
    rec = records["grant/v1-5-B1.xml"]
    assert rec.publication_number == "EP3404678B1"
    assert (rec.application_number, rec.filing_date, rec.publication_date) == ("17171508.9", "2017-05-17",
                                                                                "2021-06-30")
    assert rec.applicants == ["General Electric Technology GmbH"] and "HARTHUM, Jörg" in rec.inventors
    assert rec.ipc[:2] == ["H01F27/14", "H01F27/40"] and rec.source == "epo-v1-5"
    old = records["application/v1-0-A1.xml"]      # DTD 1.0: IPC 7 in B511/B512 with the edition digit
    assert old.publication_number == "EP1325900A1" and old.ipc == ["C07C29/44", "C07C31/38"]
    assert old.priority_date == "2000-09-08" and old.family_id == "JP2000273711"
    assert records["application/v1-1-A1.xml"].publication_number == "EP0000002A1"


def test_claims_of_every_language_and_the_english_title(shared_data):
    records = _records(shared_data)
    german = records["grant/v1-5-B2.xml"]        # a German-language grant with de/en/fr claim sets
    assert german.title == "Printing machine with cladding"
    sets = german.claims.split("\n\n")      # the document's language first
    assert [c[:14] for c in sets] == ["Druckmaschine ", "Printing machi", "Machine d'impr"]
    doc = (shared_data / EPO / "grant" / "v1-5-B2.xml").read_bytes()
    sdobi = parse_xml(doc, "v1-5-B2", ".//SDOBI").find("SDOBI")
    assert set(titles(sdobi)) == {"de", "en", "fr"} and "DE" in designated_states(sdobi)
    # per language: title, abstract and claims in that language, and the document's own language
    assert german.language == "de" and set(german.texts) == {"de", "en", "fr"}
    assert german.texts["de"]["title"] == "Druckmaschine mit Verkleidung"
    assert [german.texts[lang]["claims"][:14] for lang in ("de", "en", "fr")] == [c[:14] for c in sets]
    application = records["application/v1-2-A2.xml"]    # German application: abstract and claims in German only
    assert application.language == "de" and sorted(application.texts["de"]) == ["abstract", "claims", "title"]
    assert application.texts["en"] == {"title": "Chipboard screw"}


def test_figures_from_the_brief_description_without_images(shared_data):
    rec = _records(shared_data)["application/v1-3-A2.xml"]
    assert [f.number for f in rec.figures] == [1, 2, 3, 4]
    assert rec.figures[0].description.startswith("Fig. 1 is a front view of a controller")
    assert all(f.image is None for f in rec.figures)   # the samples ship without their TIFFs


def test_all_33_ingest(fake_pipeline, shared_data):
    settings, pipe = fake_pipeline
    summary = ingest_paths([shared_data / EPO], settings, progress=False)
    assert (summary.ingested, summary.failed, summary.skipped) == (33, 0, 0), summary.failures
    assert "EP3404678B1" in summary.publication_numbers
    # stored per language on the patent row, and indexed with the English text in the main fields only
    from sqlalchemy import select

    from backend.db.models import Patent
    from backend.db.session import session_scope

    with session_scope(settings.resolved_database_url) as session:
        row = session.scalar(select(Patent).where(Patent.publication_number == "EP1873405A2"))
        assert row.language == "de" and row.texts["de"]["title"] == "Spanplattenschraube"
    doc = next(d for d in pipe.backend.docs.values() if d["publication_number"] == "EP1873405A2")
    assert doc["language"] == "de" and doc["texts"]["de"]["claims"].startswith(row.texts["de"]["claims"][:40])
    assert doc["abstract"] == "" and doc["claims"] == "" and doc["title"] == "Chipboard screw"
    figure = next(d for d in pipe.backend.docs.values() if d["publication_number"] == "EP2007181A2")
    assert figure["language"] == "en" and figure["description"].startswith("Fig. 1 is a front view")
