"""Which figures a drawing sheet holds (backend/ingest/sheet_figures.py): the description-of-drawings
figures mapped onto USPTO sheets, labels read on the sheets pinning them (OCR), the order filling the rest."""
from __future__ import annotations

import pytest

from backend.ingest import ocr
from backend.ingest.parsers.discover import discover
from backend.ingest.parsers.load import load_source
from backend.ingest.sheet_figures import described_figures, map_sheets, needs_reading

ELEVEN = ["FIG. 1 shows a phase.", "FIG. 2 shows an elevator.", "FIGS. 3-6 show details.", "FIGS. 7 and 8 show more.",
          "FIG. 9 shows the top.", "FIG. 10 shows the middle.", "FIG. 11 shows the pit."]


def test_described_figures_spell_out_letters_and_ranges():
    keys = [d.key for d in described_figures([
        "The drawings on 5 sheets. FIG. 1A is a top view; FIG. 1B is a side view.",
        "FIGS. 3A-3D are drawings of wings,", "FIG. 7(a) to FIG. 7(c) are views of a control."])]
    assert keys == ["1A", "1B", "3A", "3B", "3C", "3D", "7A", "7B", "7C"]


def test_labels_read_pin_sheets_and_the_order_fills_the_unread_ones():
    described = described_figures(ELEVEN)
    assert needs_reading(described, 6)
    read = [["1", "2"], [], ["7"], [], ["10"], []]
    assert map_sheets(described, 6, read) == [["1", "2"], ["3", "4", "5", "6"], ["7"], ["8", "9"], ["10"], ["11"]]
    # nothing read: one description sentence a sheet when that fits, else spread in order
    assert map_sheets(described, 7) == [["1"], ["2"], ["3", "4", "5", "6"], ["7", "8"], ["9"], ["10"], ["11"]]
    assert map_sheets(described, 6) == [["1", "2"], ["3", "4"], ["5", "6"], ["7", "8"], ["9", "10"], ["11"]]
    # a label read out of order (OCR noise) does not move figures backwards
    assert map_sheets(described, 3, [["5"], ["2"], ["9"]])[0] == ["1", "2", "3", "4", "5"]


def test_as_many_sheets_as_figures_need_no_reading():
    described = described_figures(["FIG. 1 is a view.", "FIG. 2 is a view."])
    assert not needs_reading(described, 2) and map_sheets(described, 2) == [["1"], ["2"]]
    letters = described_figures(["FIGS. 1A and 1B are views.", "FIG. 2 is a view."])   # one number a sheet
    assert not needs_reading(letters, 2) and map_sheets(letters, 2) == [["1A", "1B"], ["2"]]


# what the sheets of the nine shared grants hold (looked at on the TIFFs)
EXPECTED = {
    "US12448249B2": ["FIGS. 1 and 2", "FIGS. 3, 4, 5 and 6", "FIGS. 7 and 8", "FIG. 9", "FIG. 10", "FIG. 11"],
    "US12448749B2": ["FIG. 1A", "FIG. 1B", "FIG. 2", "FIGS. 3A and 3B", "FIGS. 3C and 3D", "FIG. 4", "FIG. 5A",
                     "FIG. 5B", "FIG. 6", "FIG. 7", "FIGS. 8A, 8B and 8C", "FIG. 9"],
    "US12448895B2": ["FIGS. 1, 2, 3 and 4", "FIG. 5"],
    "US12448730B2": ["FIG. 1", "FIG. 2"],
    "US12448385B2": ["FIG. 1"],
}


@pytest.mark.skipif(not ocr.available(), reason=ocr.missing_reason())
def test_the_nine_grants_sheets_hold_their_figures(shared_data, make_settings):
    make_settings(ingest_sheet_ocr=True)
    folder = shared_data / "uspto_grants_2025"
    records = {r.publication_number: r for r in (load_source(i.locator) for i in discover([folder]))}
    if len(records) != 9:
        pytest.skip(f"expected the 9 USPTO grant ZIPs in {folder}")
    assert sum(len(r.figures) for r in records.values()) == 43   # one figure per drawing sheet
    for number, labels in EXPECTED.items():
        assert [f.label for f in records[number].figures] == labels, number
    sheet4 = records["US12448749B2"].figures[3]
    assert sheet4.description.startswith("FIGS. 3A-3D are principle drawings of wings")
    sheet2 = records["US12448249B2"].figures[1]
    assert "FIG. 3 illustrates" in sheet2.description and "FIG. 6 illustrates" in sheet2.description
    assert all(not r.notes for r in records.values())


def test_without_reading_the_guess_is_said(shared_data, make_settings):
    make_settings(ingest_sheet_ocr=False)
    zip_path = shared_data / "uspto_grants_2025" / "US12448249-20251021.ZIP"
    if not zip_path.is_file():
        pytest.skip(f"{zip_path} not found")
    (item,) = list(discover([zip_path]))
    record = load_source(item.locator)
    assert len(record.figures) == 6 and record.figures[0].label == "FIGS. 1 and 2"
    assert record.notes and "11 described figures on 6 sheets" in record.notes[0]
