"""Dataset parsing: IMPACT (USPTO XML + G4 TIFF), DeepPatent2 JSON, JSONL manifests, class keys."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from PIL import Image

from backend.training import datasets as D
from backend.training.captions import texts_for


@pytest.mark.shared_data
def test_impact_folder_parses_every_patent(shared_data):
    records = D.load_uspto_dir(shared_data / "impact")
    patents = {r.patent for r in records}
    assert len(patents) == 50
    first = [r for r in records if r.patent == "USD0907292"]
    assert [r.figure for r in first] == list(range(1, 9))  # D00000 (front page) is skipped
    fig1 = first[0]
    assert fig1.title == "Shaving blade cartridge"
    assert fig1.locarno == "28-03" and fig1.class_label("locarno_class") == "28"
    assert fig1.cpc == "B26B"
    assert fig1.description.startswith("FIG. 1 is a front perspective view")
    assert fig1.viewpoint == "front perspective"
    assert "shaving blade cartridge" in fig1.object_name
    fig2 = first[1]
    assert fig2.viewpoint == "bottom" and "thereof" in fig2.description
    im = fig1.load_image()  # bilevel CCITT G4 TIFF
    assert im.mode == "1" and min(im.size) > 100
    locarno = Counter(r.class_label("locarno") for r in records)
    assert locarno["21-01"] > locarno["28-03"] > 0  # long-tailed
    # captions name the object even where the description says "thereof"
    caps = texts_for(fig2, "captions")
    assert caps[0] == fig2.description and any("shaving blade cartridge" in c.lower() for c in caps[1:])


def test_manifest_roundtrip_and_errors(tmp_path):
    img = tmp_path / "a.png"
    Image.new("L", (32, 32), 255).save(img)
    good = tmp_path / "m.jsonl"
    good.write_text(json.dumps({"image": "a.png", "patent": "P1", "class": "06-01", "text": "a chair"}) + "\n\n"
                    + json.dumps({"image": str(img), "patent": "P2", "class": "07-01", "texts": ["x", "y"]}) + "\n")
    recs = D.load_manifest(good)
    assert [r.patent for r in recs] == ["P1", "P2"]
    assert recs[0].image_path == img and recs[0].texts == ["a chair"] and recs[1].texts == ["x", "y"]
    assert recs[0].class_label("label") == "06-01"
    out = D.write_manifest(recs, tmp_path / "out.jsonl")
    again = D.load_manifest(out)
    assert [(r.patent, r.class_label("label"), r.texts) for r in again] == [("P1", "06-01", ["a chair"]),
                                                                           ("P2", "07-01", ["x", "y"])]
    cases = {
        "not JSON": "{nope\n",
        "missing 'image'": json.dumps({"patent": "P"}) + "\n",
        "image not found": json.dumps({"image": "zzz.png", "patent": "P"}) + "\n",
        "'texts' must be a list": json.dumps({"image": "a.png", "patent": "P", "texts": "x"}) + "\n",
    }
    for message, body in cases.items():
        bad = tmp_path / "bad.jsonl"
        bad.write_text(body)
        with pytest.raises(D.DatasetError, match=message):
            D.load_manifest(bad)
    with pytest.raises(D.DatasetError, match="unknown class key"):
        recs[0].class_label("nope")


def test_deeppatent2_json(tmp_path):
    (tmp_path / "img").mkdir()
    Image.new("L", (40, 40), 255).save(tmp_path / "img" / "USD0836880-20190101-D00001_1.png")
    Image.new("L", (40, 40), 255).save(tmp_path / "img" / "USD0836880-20190101-D00002.png")
    entries = [
        {"id": 1, "patentID": "USD0836880-20190101", "figid": "1", "caption": "Fig. 1 is a front view of a pet treat;",
         "object": "pet treat", "aspect": "front", "figure_file": "USD0836880-20190101-D00001.png",
         "subfigure_file": "USD0836880-20190101-D00001_1.png", "object_title": "Pet treat"},
        {"id": 2, "patentID": "USD0836880-20190101", "figid": "2", "caption": "Fig. 2 is a top view thereof;",
         "object": "pet treat", "aspect": "top", "figure_file": "USD0836880-20190101-D00002.png",
         "subfigure_file": "", "object_title": "Pet treat"},
        {"id": 3, "patentID": "USD0836880-20190101", "figid": "3", "figure_file": "missing.png"},
    ]
    path = tmp_path / "dp2.json"
    path.write_text(json.dumps(entries))
    recs = D.load_deeppatent2(path, tmp_path / "img")
    assert [(r.patent, r.figure, r.viewpoint, r.class_label("object")) for r in recs] == [
        ("USD0836880", 1, "front", "pet treat"), ("USD0836880", 2, "top", "pet treat")]
    assert recs[0].image_path.name.endswith("_1.png")  # segmented sub-figure preferred
    assert D.load_source(str(path), tmp_path / "img")[0].title == "Pet treat"
    path.write_text(json.dumps([{"figid": 1}]))
    with pytest.raises(D.DatasetError, match="no patentID"):
        D.load_deeppatent2(path)


def test_load_source_dispatch_errors(tmp_path):
    with pytest.raises(D.DatasetError, match="not found"):
        D.load_source(str(tmp_path / "nothing.jsonl"))
    with pytest.raises(D.DatasetError, match="synthetic:<number"):
        D.load_source("synthetic:many")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(D.DatasetError, match="unknown dataset type"):
        D.load_source(str(tmp_path / "x.csv"))
    with pytest.raises(D.DatasetError, match="no grant XML"):
        D.load_source(str(tmp_path))


def test_normalisers():
    assert D.normalise_locarno("2803") == "28-03"
    assert D.normalise_locarno("28-03") == "28-03"
    assert D.normalise_locarno("28") is None
    assert D.normalise_object("An ornamental design for a Shoe") == "shoe"
