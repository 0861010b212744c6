"""Figures, not sheets (backend/ingest/figure_split.py): a sheet with two figures is ingested as two figures,
each with its own image, vector and verification features, the sheet kept with each figure's box."""
from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from backend.db.models import Figure
from backend.db.session import session_scope
from backend.ingest import blobstore
from backend.ingest.bulk import ingest_paths

from .conftest import faked_pipeline
from .helpers import grant_xml


def _two_figure_sheet() -> bytes:
    """FIG. 2A above FIG. 2B, whitespace between them."""
    im = Image.new("L", (1200, 1600), 255)
    d = ImageDraw.Draw(im)
    d.rectangle((200, 100, 1000, 650), outline=0, width=4)
    d.line((200, 100, 1000, 650), fill=0, width=4)
    d.ellipse((300, 950, 900, 1500), outline=0, width=4)
    d.line((600, 950, 600, 1500), fill=0, width=4)
    buf = io.BytesIO()
    im.convert("1").save(buf, "TIFF", compression="group4")
    return buf.getvalue()


def _one_figure_sheet() -> bytes:
    im = Image.new("L", (1200, 1600), 255)
    ImageDraw.Draw(im).rectangle((300, 300, 900, 1300), outline=0, width=4)
    buf = io.BytesIO()
    im.convert("1").save(buf, "TIFF", compression="group4")
    return buf.getvalue()


def _write(root, number="D0999101", lettered=True) -> None:
    """Three sheets; sheet 2 holds two figures, described as FIGS. 2A and 2B (``lettered``) or as FIG. 2."""
    folder = root / f"US{number}-20210105"
    folder.mkdir(parents=True)
    xml = grant_xml(number, "Chair", figures=3).decode()
    if lettered:
        described = '<figref idref="DRAWINGS">FIG. 2</figref> is a top plan view thereof;'
        assert described in xml
        xml = xml.replace(described, '<figref idref="DRAWINGS">FIGS. 2A and 2B</figref> are top plan views thereof;')
    (folder / f"US{number}-20210105.XML").write_text(xml)
    (folder / f"US{number}-20210105-D00000.TIF").write_bytes(_one_figure_sheet())
    (folder / f"US{number}-20210105-D00001.TIF").write_bytes(_one_figure_sheet())
    (folder / f"US{number}-20210105-D00002.TIF").write_bytes(_two_figure_sheet())
    (folder / f"US{number}-20210105-D00003.TIF").write_bytes(_one_figure_sheet())


def test_a_sheet_with_two_figures_is_indexed_as_two_figures_with_their_boxes(make_settings, tmp_path):
    _write(tmp_path / "data")
    with faked_pipeline(make_settings) as (settings, pipe):
        summary = ingest_paths([tmp_path / "data"], settings, progress=False)
        assert summary.ingested == 1, summary.failures
        docs = pipe.backend.docs
        assert sorted(docs) == ["USD0999101-F1", "USD0999101-F2.1", "USD0999101-F2.2", "USD0999101-F3"]
        top, bottom = docs["USD0999101-F2.1"], docs["USD0999101-F2.2"]
        sheet = docs["USD0999101-F1"]
        assert "figure_region" not in sheet and "figure_box" not in sheet
        assert (top["figure_region"], bottom["figure_region"]) == (1, 2)
        assert top["figure_number"] == bottom["figure_number"] == 2
        # the boxes lie on the sheet's display image, one above the other, whitespace between them
        assert top["sheet_key"] == bottom["sheet_key"] and top["sheet_key"].startswith("figures/")
        assert top["figure_box"][3] < bottom["figure_box"][1]
        assert all(0 <= v <= 1 for v in top["figure_box"] + bottom["figure_box"])
        # each figure its own image, vector and verification features; the sheet stays in the blob store
        assert len({top["image_key"], bottom["image_key"], top["sheet_key"]}) == 3
        assert top["image_vector"] != bottom["image_vector"]
        store = blobstore.get_blob_store(settings)
        for doc in (top, bottom):
            assert store.exists(blobstore.features_key(blobstore.hash_of_key(doc["image_key"])))
        assert store.exists(top["sheet_key"])
        with session_scope(settings.resolved_database_url) as s:
            rows = s.execute(select(Figure.figure_id, Figure.number, Figure.region, Figure.box, Figure.sheet_key)
                             .order_by(Figure.number, Figure.region)).all()
        assert [(r.figure_id, r.number, r.region) for r in rows] == [
            ("USD0999101-F1", 1, 0), ("USD0999101-F2.1", 2, 1), ("USD0999101-F2.2", 2, 2), ("USD0999101-F3", 3, 0)]
        assert rows[1].box == top["figure_box"] and rows[1].sheet_key == top["sheet_key"]

        # re-ingest replaces the regions, never duplicates them
        again = ingest_paths([tmp_path / "data"], settings, progress=False, resume=False)
        assert again.updated == 1 and len(pipe.backend.docs) == 4


def test_a_sheet_described_as_one_figure_is_not_split_and_splitting_can_be_off(make_settings, tmp_path):
    # the description says FIG. 2 alone is on sheet 2: its two ink masses are parts of one figure
    _write(tmp_path / "one", "D0999102", lettered=False)
    with faked_pipeline(make_settings) as (settings, pipe):
        assert ingest_paths([tmp_path / "one"], settings, progress=False).ingested == 1
        assert sorted(pipe.backend.docs) == ["USD0999102-F1", "USD0999102-F2", "USD0999102-F3"]
    _write(tmp_path / "off", "D0999103")
    with faked_pipeline(make_settings, ingest_split_figures=False) as (settings, pipe):
        assert ingest_paths([tmp_path / "off"], settings, progress=False).ingested == 1
        assert sorted(pipe.backend.docs) == ["USD0999103-F1", "USD0999103-F2", "USD0999103-F3"]


def test_a_sheet_whose_labels_are_unknown_stays_whole(make_settings, tmp_path):
    # no figure description maps to the sheets: two ink masses on a sheet are not proof of two figures
    _write(tmp_path / "unknown", "D0999104", lettered=False)
    folder = tmp_path / "unknown" / "USD0999104-20210105"
    xml_path = folder / "USD0999104-20210105.XML"
    xml = xml_path.read_text()
    start, end = xml.index("<description-of-drawings>"), xml.index("</description-of-drawings>")
    xml_path.write_text(xml[:start] + xml[end + len("</description-of-drawings>"):])
    with faked_pipeline(make_settings) as (settings, pipe):
        assert ingest_paths([tmp_path / "unknown"], settings, progress=False).ingested == 1
        assert sorted(pipe.backend.docs) == ["USD0999104-F1", "USD0999104-F2", "USD0999104-F3"]


def _drawn(shapes: list[tuple[str, tuple]], size=(1200, 800)) -> Image.Image:
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    for kind, box in shapes:
        (d.ellipse if kind == "ring" else d.rectangle)(box, outline=0, width=5)
    return im


def test_clear_views_only_for_comparable_figures_apart():
    from backend.ingest.figure_regions import clear_views, split_sheet

    # two figures of comparable size, a wide gutter between them: two views, left to right
    views = clear_views(_drawn([("ring", (80, 150, 480, 650)), ("box", (700, 250, 1100, 550))]))
    assert len(views) == 2 and views[0].right < 600 < views[1].left
    # four in two rows of two: four views
    assert len(clear_views(_drawn([("ring", (50, 50, 450, 350)), ("box", (700, 50, 1100, 350)),
                                   ("box", (50, 450, 450, 750)), ("ring", (700, 450, 1100, 750))]))) == 4
    # one drawing: none
    assert clear_views(_drawn([("ring", (300, 100, 900, 700))])) == []
    # each of these the segmenter splits, none is clear: a figure with a small part apart (not comparable),
    # two figures close together (a narrow gutter, as dashed or broken line art falls apart), pieces no
    # straight gutter separates (interleaved like bricks)
    small = [("ring", (80, 100, 680, 700)), ("ring", (850, 400, 1050, 600))]
    narrow = [("ring", (80, 150, 560, 650)), ("ring", (600, 150, 1100, 650))]
    bricks = [("ring", (50, 50, 700, 250)), ("ring", (760, 50, 1150, 450)), ("ring", (50, 310, 450, 750)),
              ("ring", (510, 510, 1150, 750))]
    for shapes in (small, narrow, bricks):
        assert len(split_sheet(_drawn(shapes))) == len(shapes)
        assert clear_views(_drawn(shapes)) == [], shapes


def test_clear_views_on_real_design_drawings(shared_data):
    from backend.ingest.figure_regions import clear_views

    base = shared_data / "usdesign2007" / "images"
    if not base.is_dir():
        pytest.skip(f"{base} not in the shared data")
    shoe = clear_views(Image.open(base / "USD0534341.png"))          # a shoe drawn twice, one above the other
    assert len(shoe) == 2 and shoe[0].bottom < shoe[1].top
    assert clear_views(Image.open(base / "USD0534335.png")) == []    # one drawing
