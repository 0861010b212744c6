import pytest

from backend.ingest.figure_text import parse_descriptions, parse_figure_text


@pytest.mark.parametrize("text, numbers, viewpoint, obj", [
    ("FIG. 1 is a front left perspective view of an ornamental design for a shaving blade cartridge according "
     "to the present invention;", [1], "front left perspective", "shaving blade cartridge"),
    ("FIG. 3 is a top view perspective view thereof;", [3], "top perspective", None),
    ("FIG. 2 is a bottom plan view of a camera with a view finder", [2], "bottom plan", "camera with a view finder"),
    ("FIGS. 4-6 are side views of the chair.", [4, 5, 6], "side", "chair"),
    ("FIG. 1A is a block diagram of a wireless monitoring system.", [1], "block diagram",
     "wireless monitoring system"),
    ("FIG. 7 is a cross-sectional view taken along line 7-7 of FIG. 6;", [7], "cross-sectional", None),
    ("FIG. 3 is a front elevational of the game housing of FIG. 2", [3], "front elevation", "game housing"),
    ("FIG. 1 is a front, bottom, right-side perspective view of a keyboard.", [1],
     "front bottom right-side perspective", "keyboard"),
    ("The FIGURE is a front view of a display screen with a graphical user interface.", [1], "front",
     "display screen with a graphical user interface"),
])
def test_parse_figure_text(text, numbers, viewpoint, obj):
    parsed = parse_figure_text(text)
    assert parsed is not None
    assert parsed.numbers == numbers
    assert parsed.viewpoint == viewpoint
    if obj is None:
        assert parsed.object_name is None or "FIG" not in parsed.object_name
    else:
        assert parsed.object_name == obj


def test_not_a_figure_description():
    assert parse_figure_text("The broken lines illustrate the environment.") is None
    assert parse_figure_text("") is None


def test_thereof_inherits_the_object_and_hague_style():
    parsed = parse_descriptions(["FIG. 1 is a front view of a chair;", "FIG. 2 is a rear view thereof;",
                                 "Broken lines form no part of the design."])
    assert sorted(parsed) == [1, 2]
    assert parsed[2].object_name == "chair" and parsed[2].viewpoint == "rear"
    hague = parse_descriptions(["1. Belt buckle", "1.1 : Perspective", "1.2 : Front"])
    assert hague[1].object_name == "belt buckle" and hague[1].viewpoint == "perspective"
    assert hague[2].viewpoint == "front" and hague[2].labels == ["1.2"]
