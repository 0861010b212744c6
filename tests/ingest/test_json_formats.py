import json

import pytest

from backend.ingest.parsers.discover import discover
from backend.ingest.parsers.load import load_source
from backend.ingest.records import ParseError

from .helpers import image_bytes


def test_deeppatent2_annotations(tmp_path):
    (tmp_path / "images").mkdir()
    for name in ("USD0860626-20190924-D00001.png", "USD0860626-20190924-D00002.png", "USD0860627-20190924-D00001.png"):
        (tmp_path / "images" / name).write_bytes(image_bytes("PNG"))
    entries = [
        {"patentID": "USD0860626-20190924", "pub_date": "20190924", "subfigurefile": "USD0860626-20190924-D00001.png",
         "figid": "FIG. 1", "origreftext": "FIG. 1 is a perspective view of a chair;", "aspect": "perspective",
         "object": "chair"},
        {"patentID": "USD0860626-20190924", "subfigurefile": "USD0860626-20190924-D00002.png", "figid": 2,
         "origreftext": "FIG. 2 is a top plan view thereof;"},
        {"patentID": "USD0860627-20190924", "subfigurefile": "USD0860627-20190924-D00001.png", "figid": 1,
         "origreftext": "FIG. 1 is a front view of a lamp."},
    ]
    path = tmp_path / "design2019.json"
    path.write_text(json.dumps({"annotations": entries}))
    items = list(discover([path]))
    assert [i.origin.rsplit(":", 1)[1] for i in items] == ["USD0860626-20190924", "USD0860627-20190924"]
    rec = load_source(items[0].locator)
    assert rec.publication_number == "USD0860626" and rec.publication_date == "2019-09-24" and rec.kind == "S1"
    assert [(f.number, f.viewpoint, f.object_name) for f in rec.figures] == [(1, "perspective", "chair"),
                                                                           (2, "top plan", None)]
    assert rec.figures[1].image.path == str(tmp_path / "images" / "USD0860626-20190924-D00002.png")


def test_manifest(tmp_path):
    (tmp_path / "a.png").write_bytes(image_bytes("PNG"))
    lines = [
        {"publication_number": "EP1234567A1", "title": "Bottle", "cpc": ["B65D1/02"], "filing_date": "20200101",
         "figures": [{"number": 1, "description": "FIG. 1 is a side view of a bottle.", "image": "a.png"}]},
        {"publication_number": "US1", "title": "x", "colour": "red"},
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n# comment\nnot json\n")
    items = list(discover([path]))
    assert len(items) == 3 and "not JSON" in items[2].error
    rec = load_source(items[0].locator)
    assert rec.publication_number == "EP1234567A1" and rec.country == "EP" and rec.filing_date == "2020-01-01"
    assert rec.figures[0].viewpoint == "side" and rec.figures[0].image.path == str(tmp_path / "a.png")
    with pytest.raises(ParseError, match="unknown metadata field.*colour"):
        load_source(items[1].locator)
