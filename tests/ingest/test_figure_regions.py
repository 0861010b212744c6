"""The figure regions of a drawing sheet (backend/ingest/figure_regions.py): synthetic sheets whose figures
are known, and real multi-figure USPTO sheets from ../shared/data."""
from __future__ import annotations

import zipfile

import pytest
from PIL import Image, ImageDraw

from backend.ingest.figure_regions import Box, crop, split_sheet


def _sheet(figures: list[tuple[int, int, int, int]], size=(1700, 2200), frame=False, label=None) -> Image.Image:
    im = Image.new("1", size, 1)
    d = ImageDraw.Draw(im)
    for left, top, right, bottom in figures:      # a line drawing: an outline, a diagonal, a circle
        d.rectangle((left, top, right, bottom), outline=0, width=2)
        d.line((left, top, right, bottom), fill=0, width=2)
        d.ellipse((left + 20, top + 20, (left + right) // 2, (top + bottom) // 2), outline=0, width=2)
    if frame:
        d.rectangle((10, 10, size[0] - 11, size[1] - 11), outline=0, width=4)
    if label:
        d.text(label, "FIG. 1", fill=0)
    return im


def _inside(box: Box, figure) -> bool:
    left, top, right, bottom = figure
    return box.left <= left and box.top <= top and box.right >= right and box.bottom >= bottom


def test_two_figures_one_above_the_other_give_two_boxes_in_reading_order():
    figures = [(300, 150, 1400, 900), (200, 1200, 1500, 2000)]
    boxes = split_sheet(_sheet(figures))
    assert len(boxes) == 2
    assert _inside(boxes[0], figures[0]) and _inside(boxes[1], figures[1])
    assert boxes[0].bottom < boxes[1].top            # whitespace between them stays out of both boxes


def test_a_row_of_figures_reads_left_to_right_and_a_frame_and_label_are_not_figures():
    figures = [(900, 300, 1500, 900), (150, 320, 750, 880), (150, 1200, 1500, 2000)]
    boxes = split_sheet(_sheet(figures, frame=True, label=(800, 2100)))
    assert len(boxes) == 3
    assert _inside(boxes[0], figures[1]) and _inside(boxes[1], figures[0]) and _inside(boxes[2], figures[2])
    assert all(b.width < 1650 for b in boxes)       # the frame around the sheet is in none of them


def test_expected_count_merges_the_closest_regions():
    figures = [(150, 300, 750, 900), (900, 300, 1500, 900), (150, 1400, 1500, 2000)]
    boxes = split_sheet(_sheet(figures), expected=2)
    assert len(boxes) == 2
    assert _inside(boxes[0], figures[0]) and _inside(boxes[0], figures[1]) and _inside(boxes[1], figures[2])
    assert len(split_sheet(_sheet(figures), expected=5)) == 3     # never split further than the ink allows


def test_one_drawing_is_one_box_a_blank_sheet_none():
    boxes = split_sheet(_sheet([(300, 300, 1400, 1900)]).convert("L"))
    assert len(boxes) == 1 and _inside(boxes[0], (300, 300, 1400, 1900))
    assert split_sheet(Image.new("L", (800, 600), 255)) == []
    region = crop(_sheet([(300, 300, 1400, 1900)]), boxes[0])
    assert region.size == (boxes[0].width, boxes[0].height)
    assert boxes[0].normalised(1700, 2200)[2] <= 1.0


def _grant_sheet(shared_data, number: str, sheet: int) -> Image.Image:
    path = shared_data / "uspto_grants_2025" / f"{number}-20251021.ZIP"
    if not path.is_file():
        pytest.skip(f"{path} not in the shared data")
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(f"-D{sheet:05d}.TIF"))
        with zf.open(name) as fh:
            im = Image.open(fh)
            im.load()
    return im


def test_real_sheets_with_several_figures_split_into_them(shared_data):
    # FIGS. 3A and 3B, one above the other
    boxes = split_sheet(_grant_sheet(shared_data, "US12448749", 4))
    assert len(boxes) == 2 and boxes[0].bottom < boxes[1].top
    # FIGS. 1 to 4 in two rows of two
    boxes = split_sheet(_grant_sheet(shared_data, "US12448895", 1))
    assert len(boxes) == 4
    assert boxes[0].left < boxes[1].left and boxes[2].left < boxes[3].left
    assert max(boxes[0].bottom, boxes[1].bottom) < min(boxes[2].top, boxes[3].top)
    # FIG. 6 alone on its sheet
    assert len(split_sheet(_grant_sheet(shared_data, "US12448749", 9))) == 1


def test_real_design_drawings_with_two_views(shared_data):
    base = shared_data / "usdesign2007" / "images"
    if not base.is_dir():
        pytest.skip(f"{base} not in the shared data")
    # two views of a shoe side by side / a chair twice
    for name in ("USD0534341.png", "USD0534364.png"):
        assert len(split_sheet(Image.open(base / name))) == 2, name
