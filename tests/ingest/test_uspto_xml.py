import zipfile

import pytest

from backend.ingest.parsers.discover import discover
from backend.ingest.parsers.load import load_source
from backend.ingest.parsers.uspto_xml import parse_document, sniff, split_documents
from backend.ingest.records import ImageRef, ParseError, UnsupportedFormat, normalise_publication_number

from .helpers import grant_xml, image_bytes, write_patent_folder


def test_grant_fields(tmp_path):
    folder = write_patent_folder(tmp_path, "D0999001", "Folding chair", figures=3)
    rec = parse_document(grant_xml("D0999001", "Folding chair"), ImageRef(path=str(folder)))
    assert rec.publication_number == "USD0999001" and rec.kind == "S1" and rec.country == "US"
    assert (rec.filing_date, rec.publication_date, rec.priority_date) == ("2019-02-20", "2021-01-05", "2018-03-01")
    assert rec.applicants == ["Acme Corp", "Jane Doe"] and rec.inventors == ["Rich Roe"]
    assert rec.cpc == ["A47C7/62", "A47C1/00"] and rec.ipc == ["A47C7/00"] and rec.locarno == ["06-01"]
    assert rec.title == "Folding chair" and "ornamental folding chair" in rec.abstract
    # D00000 (front page copy) is skipped; figures pair with their drawings
    assert [f.number for f in rec.figures] == [1, 2, 3]
    f1, f2 = rec.figures[0], rec.figures[1]
    assert f1.viewpoint == "front left perspective" and f1.object_name == "folding chair"
    assert f2.viewpoint == "top plan" and f2.object_name == "folding chair"
    assert f1.image.path.endswith("USD0999001-20210105-D00001.TIF")


def test_missing_drawing_files_leave_figures_text_only():
    rec = parse_document(grant_xml("D0999002"), ImageRef(path="/nonexistent"))
    assert len(rec.figures) == 3 and all(f.image is None for f in rec.figures)
    assert rec.figures[0].description.startswith("FIG. 1 is a front left perspective view")


def test_bulk_file_is_split_on_xml_declarations(tmp_path):
    bulk = grant_xml("D0999003", "Lamp") + grant_xml("D0999004", "Table") + grant_xml("9876543", "Widget", "B2")
    assert len(split_documents(bulk)) == 3
    path = tmp_path / "ipgb20990101.xml"
    path.write_bytes(bulk)
    items = list(discover([path]))
    assert [i.origin.rsplit("#", 1)[1] for i in items] == ["1", "2", "3"]
    pubs = [load_source(i.locator).publication_number for i in items]
    assert pubs == ["USD0999003", "USD0999004", "US9876543B2"]


def test_zip_with_drawings_inside(tmp_path):
    path = tmp_path / "USD0999005-20210105.ZIP"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("USD0999005-20210105/USD0999005-20210105.XML", grant_xml("D0999005", figures=2))
        for i in range(3):
            zf.writestr(f"USD0999005-20210105/USD0999005-20210105-D{i:05d}.TIF", image_bytes("TIFF", seed=i))
    (item,) = list(discover([path]))
    rec = load_source(item.locator)
    assert rec.publication_number == "USD0999005"
    assert [f.image.member for f in rec.figures] == [
        "USD0999005-20210105/USD0999005-20210105-D00001.TIF", "USD0999005-20210105/USD0999005-20210105-D00002.TIF"]


def test_formats_are_sniffed_and_the_unsupported_skipped_with_a_reason(tmp_path):
    sgml = b'<?xml version="1.0"?>\n<!DOCTYPE PATDOC SYSTEM "ST32-US-Grant-025xml.dtd" [\n]>\n<PATDOC><SDOBI/></PATDOC>'
    assert sniff(sgml) == "st32"
    assert sniff(b"<?xml version='1.0'?><patent-application-publication/>") == "pap"
    with pytest.raises(UnsupportedFormat, match="Green Book"):
        sniff(b"HHHHHT 1\nPATN\nWKU  039327092\n")     # APS text is read from .txt files, not as XML
    with pytest.raises(ParseError, match="B110"):
        parse_document(sgml)                     # an ST.32 grant without its document number
    (tmp_path / "old.txt").write_bytes(b"PATN\nWKU  039327092\n")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    items = list(discover([tmp_path / "old.txt", tmp_path / "notes.docx", tmp_path / "missing.xml"]))
    assert "unknown file type" in items[1].skip and "no such file" in items[2].error


def test_malformed_xml_is_a_parse_error():
    with pytest.raises(ParseError, match="malformed XML|publication-reference"):
        parse_document(b"<?xml version='1.0'?><us-patent-grant><us-bibliographic-data-grant>")


@pytest.mark.parametrize("raw, kind, expected", [
    ("D0907292", None, "USD0907292"), ("USD907292", None, "USD0907292"), ("08926509", "B2", "US8926509B2"),
    ("RE49123", None, "USRE049123"), ("US 2005/0004437 A1", None, "US20050004437A1"),
])
def test_publication_numbers(raw, kind, expected):
    assert normalise_publication_number(raw, kind=kind) == expected


# -- the real samples ---------------------------------------------------------------------------------
@pytest.mark.shared_data
def test_impact_sample(shared_data):
    items = list(discover([shared_data / "impact"]))
    assert len(items) == 50 and not any(i.skip or i.error for i in items)
    records = [load_source(i.locator) for i in items]
    figures = [f for r in records for f in r.figures]
    assert len({r.publication_number for r in records}) == 50
    assert all(r.locarno and r.publication_date and r.filing_date and r.applicants for r in records)
    assert all(f.image is not None for f in figures)
    with_viewpoint = sum(1 for f in figures if f.viewpoint)
    assert with_viewpoint / len(figures) > 0.9, f"{with_viewpoint}/{len(figures)} figures have a viewpoint"
    rec = next(r for r in records if r.publication_number == "USD0907292")
    assert rec.priority_date == "2013-09-25" and rec.locarno == ["28-03"] and rec.applicants == ["BIC-VIOLEX SA"]
    assert rec.figures[0].viewpoint == "front perspective" and rec.figures[0].object_name == "shaving blade cartridge"


@pytest.mark.shared_data
def test_uspto_samples(shared_data):
    items = list(discover([shared_data / "uspto_samples"]))
    skipped = {i.origin.split("/uspto_samples/")[1].split("/")[0] for i in items if i.skip}
    assert {"cpcScheme", "cpcMaster", "xml4ip"} <= skipped and not {"sgml", "pap", "greenbook"} & skipped
    parsed = {load_source(i.locator).publication_number: load_source(i.locator) for i in items if i.locator}
    assert {"US8926509B2", "US8927118B2", "US7272630B2", "US6859910B2", "US20050004437A1"} <= set(parsed)
    assert {"US6336130B1", "US6337117B1", "USD0435854",                         # 2001 ST.32 grants
            "US20010000044A1", "US20010000943A1", "US20010009014A1",   # 2001 pre-grant (PAP)
            "US3932709", "US3937375", "US4347903"} <= set(parsed)       # 1976-1982 Green Book (APS)
    rec = parsed["US8926509B2"]
    assert rec.cpc[0] == "A61B5/0205" and "A61B5/0024" in rec.cpc and rec.ipc
    assert parsed["US6859910B2"].ipc[0] == "G06F15/00"           # v4.0 classification-ipc
    assert parsed["US20050004437A1"].priority_date == "2001-10-26"


@pytest.mark.shared_data
def test_uspto_weekly_bulk_zips(shared_data):
    items = list(discover(sorted((shared_data / "uspto_bulk").rglob("*.zip"))))
    records = [load_source(i.locator) for i in items if i.locator]
    assert len(records) == 14
    kinds = {r.kind for r in records}
    assert {"S1", "B2", "P2", "E1"} <= kinds
    assert all(r.title and r.applicants for r in records)
    # these excerpts carry neither drawings nor figure descriptions: text-only, no invented figure 0
    assert all(f.number > 0 for r in records for f in r.figures)
    assert any(r.abstract for r in records) and any(r.cpc for r in records)


@pytest.mark.shared_data
def test_st32_design_grant_of_2001(shared_data):
    """USD435854 (2001, ST.32 DTD 2.4): Locarno 14-02 from B511, fourteen figures described in one
    paragraph, four drawing sheets named in SDODR."""
    rec = parse_document((shared_data / "uspto_samples" / "sgml" / "USD435854S1.xml").read_bytes())
    assert (rec.publication_number, rec.kind, rec.publication_date, rec.filing_date) == \
        ("USD0435854", "S", "2001-01-02", "1999-01-06")
    assert rec.title == "Disc cartridge" and rec.locarno == ["14-02"] and rec.ipc == []
    assert rec.applicants[0] == "Hitachi Maxell, Ltd." and rec.inventors[0] == "Hiroyoshi Takagi"
    assert rec.claims == "The ornamental design for a disc cartridge, as shown and described."
    assert [f.number for f in rec.figures] == [1, 2, 3, 4] and rec.source == "uspto-st32-2.4"
    first, third = rec.figures[0], rec.figures[2]
    assert first.viewpoint == "front top right side perspective" and first.object_name == "disc cartridge"
    assert third.label == "FIG. 3" and third.viewpoint == "top plan" and third.object_name == "disc cartridge"


@pytest.mark.shared_data
def test_st32_utility_grant_and_pap_publication(shared_data):
    samples = shared_data / "uspto_samples"
    grant = parse_document((samples / "sgml" / "US06336130.xml").read_bytes())
    assert grant.publication_number == "US6336130B1" and grant.ipc == ["G06F15/16", "G06F13/00"]
    assert grant.priority_date == "1997-04-08" and grant.applicants == ["Telefonaktiebolaget LM Ericsson (publ)"]
    assert grant.abstract and grant.claims and grant.figures[0].viewpoint == "block diagram"
    pap = parse_document((samples / "pap" / "US20010009014A1.xml").read_bytes())
    assert (pap.publication_number, pap.kind, pap.publication_date, pap.filing_date) == \
        ("US20010009014A1", "A1", "2001-07-19", "2001-02-05")
    assert pap.ipc == ["G06F15/16"] and pap.inventors[:2] == ["James Savage", "Sophie Muller"]
    assert pap.title == "Facilitating real-time, multi-point communications over the internet"
    assert not pap.claims.startswith("[") and pap.claims.startswith("1. A method")
    assert [f.number for f in pap.figures][:5] == [1, 2, 3, 4, 5]
    assert pap.figures[0].viewpoint == "simplified block diagram" and pap.figures[0].label == "FIG. 1"
    glued = parse_document((samples / "pap" / "US20010000044A1.xml").read_bytes())
    assert glued.figures[0].label == "FIG. 1" and glued.figures[0].description.startswith("FIG. 1 is a flow-chart")


@pytest.mark.parametrize("raw, expected", [("G06F 1516", "G06F15/16"), ("G06F 1300", "G06F13/00"),
                                           ("H01L 2102", "H01L21/02"), ("B32B  302", "B32B3/02"),
                                           ("G06F015/16", "G06F15/16")])
def test_ipc7_as_st32_writes_it(raw, expected):
    from backend.ingest.parsers.uspto_sgml import ipc7_symbol

    assert ipc7_symbol(raw) == expected


@pytest.mark.shared_data
def test_st32_grant_with_its_drawings_is_ingested_and_found(shared_data, make_settings, tmp_path):
    """The 2001 design grant, with drawing sheets next to it (the sample ships the XML only; the sheets
    here are generated), goes through the real pipeline and is found by text within its Locarno class."""
    import re

    from backend.cli_db import upgrade_database
    from backend.ingest.bulk import ingest_paths
    from backend.search import get_backend

    xml = (shared_data / "uspto_samples" / "sgml" / "USD435854S1.xml").read_bytes()
    folder = tmp_path / "USD0435854-20010102"
    folder.mkdir()
    (folder / "USD0435854-20010102.XML").write_bytes(xml)
    for i, name in enumerate(sorted(set(re.findall(rb'FILE="([^"]+\.TIF)"', xml)))):
        (folder / name.decode()).write_bytes(image_bytes("TIFF", seed=40 + i))
    settings = make_settings(task_mode="eager")
    upgrade_database(settings.resolved_database_url)
    summary = ingest_paths([folder], settings, progress=False)
    assert (summary.ingested, summary.failed, summary.figures) == (1, 0, 4), summary.failures
    backend = get_backend(settings)
    figures = backend.get_patent_figures("USD0435854")
    assert all(f["image_vector"] and f["thumb_key"] for f in figures)
    hits = backend.search({"text": "disc cartridge", "filters": {"locarno": {"include": ["14-02"]}}}).hits
    assert hits and hits[0].publication_number == "USD0435854"


@pytest.mark.shared_data
def test_green_book_text_single_and_weekly(shared_data, tmp_path):
    """APS (1976-2001): the three samples, and a weekly-style file that concatenates them after an
    ``HHHHHT`` header - one document each, found by discover, parsed by load_source."""
    folder = shared_data / "uspto_samples" / "greenbook"
    rec = load_source(next(i for i in discover([folder / "US03932709.greenbook"])).locator)
    assert (rec.publication_number, rec.filing_date, rec.publication_date) == ("US3932709", "1974-03-07", "1976-01-13")
    assert rec.title == "Electronic business telephone" and rec.ipc == ["H04M11/00"]
    assert rec.inventors[:2] == ["Don G. Hoff", "Patrick Young"] and rec.applicants == ["General Teletronics Incorporated"]
    assert rec.abstract.startswith("An electronic business telephone") and rec.claims.startswith("1. An electronic")
    assert rec.figures[0].label == "FIG. 1" and rec.figures[2].viewpoint == "block diagram"
    assert all(f.image is None for f in rec.figures) and rec.source == "uspto-aps"
    boat = load_source(next(i for i in discover([folder / "US03937375.greenbook"])).locator)
    assert boat.figures[1].viewpoint == "side elevation" and boat.ipc == ["B60R9/00"]
    balance = load_source(next(i for i in discover([folder / "US04347903.greenbook"])).locator)
    assert balance.priority_date == "1978-07-10" < balance.filing_date   # PRIR/APD
    weekly = tmp_path / "pftaps19760113_wk02.txt"
    weekly.write_bytes(b"HHHHHT  APS1  Week 02\n" + b"".join(p.read_bytes() for p in sorted(folder.glob("*.greenbook"))))
    items = list(discover([weekly]))
    assert [i.origin.rsplit("#", 1)[1] for i in items] == ["1", "2", "3"]
    assert [load_source(i.locator).publication_number for i in items] == ["US3932709", "US3937375", "US4347903"]
