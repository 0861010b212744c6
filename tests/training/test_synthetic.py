"""The procedural patent-drawing generator."""
from __future__ import annotations

import numpy as np

from backend.training import synthetic as S


def test_every_class_renders_line_art_with_patent_descriptions():
    for label in S.CATALOGUE:
        p = S.make_patent(label, 0, seed=3, size=96)
        assert p.label == label and 3 <= len(p.figures) <= 6
        assert p.figures[0].description.startswith("FIG. 1 is a front perspective view of ")
        assert p.object_name in p.figures[0].description
        for n, f in enumerate(p.figures, start=1):
            assert f.description.startswith(f"FIG. {n} is a ")
            assert f.viewpoint in S.VIEWS
            arr = np.asarray(f.image)
            assert f.image.mode == "L" and arr.shape == (96, 96)
            ink = (arr < 200).mean()
            assert 0.002 < ink < 0.5, (label, f.viewpoint, ink)  # lines, not blank and not filled


def test_views_differ_and_generation_is_deterministic():
    a = S.make_patent("chair", 1, seed=0, size=64)
    b = S.make_patent("chair", 1, seed=0, size=64)
    c = S.make_patent("chair", 2, seed=0, size=64)
    assert [f.description for f in a.figures] == [f.description for f in b.figures]
    assert all(np.array_equal(np.asarray(x.image), np.asarray(y.image)) for x, y in zip(a.figures, b.figures))
    assert not np.array_equal(np.asarray(a.figures[0].image), np.asarray(c.figures[0].image))
    assert not np.array_equal(np.asarray(a.figures[0].image), np.asarray(a.figures[1].image))


def test_long_tailed_class_counts():
    counts = S.class_counts(200)
    values = list(counts.values())
    assert values == sorted(values, reverse=True)
    assert values[0] >= 5 * values[-1] and min(values) >= 2
    assert sum(values) >= 200
    patents = S.generate(30, seed=1, size=48)
    assert len({p.patent for p in patents}) == len(patents)


def test_hidden_lines_are_removed():
    # a box in front of a larger box: in the front view the near box hides part of the far box's edges
    far = S.box(2, 0.2, 2, (0, 1, 0))
    near = S.box(1, 0.2, 1, (0, -1, 0))
    img = np.asarray(S.render([far, near], S.VIEWS["front elevational"], size=100, supersample=1, margin=0.1))
    # the far box's outline is the image border region; its interior (behind the near box) is white except near edges
    center = img[45:55, 45:55]
    assert (center > 200).all()
