"""The query box: a rectangle dragged on the query drawing becomes the request's ``crop`` (a part query), and
several dropped or picked files go as several ``image`` parts (a multi-view query)."""
from __future__ import annotations

import json

from PIL import Image


def _png(path, shade: int):
    im = Image.new("L", (300, 200), 255)
    im.paste(shade, (40, 40, 260, 160))
    im.save(path)
    return str(path)


RECORD_FORMS = """() => {
    window.__forms = [];
    const send = window.fetch;
    window.fetch = (url, options = {}) => {
        if (String(url).endsWith("/search") && options.body instanceof FormData) {
            window.__forms.push([...options.body.entries()].map(([k, v]) => [k, typeof v === "string" ? v : v.name]));
        }
        return send(url, options);
    };
}"""


def _sent(page) -> tuple[dict, list[str]]:
    """(the request JSON, the names of the image files) of the last POST /search form the page sent."""
    page.wait_for_function("window.__forms.length > 0")
    fields = page.evaluate("window.__forms.pop()")
    return json.loads(dict(fields)["request"]), [v for k, v in fields if k == "image"]


def test_a_dragged_box_is_sent_as_crop_and_cleared_again(live_server, page_factory, tmp_path):
    page = page_factory(live_server().url)
    page.evaluate(RECORD_FORMS)
    page.set_input_files("#image-input", _png(tmp_path / "shoe.png", 0))
    page.wait_for_selector("#image-preview-img[data-state=loaded]")
    box = page.locator("#image-preview-img").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=5)
    page.mouse.up()
    assert page.is_visible(".part-box") and page.is_visible(".part-clear")
    page.click("#search-button")
    crop = _sent(page)[0]["crop"]
    assert abs(crop["x"] - 0.25) < 0.03 and abs(crop["y"] - 0.5) < 0.03
    assert abs(crop["width"] - 0.35) < 0.03 and abs(crop["height"] - 0.2) < 0.03
    page.click(".part-clear")
    assert page.is_hidden(".part-box")
    page.click("#search-button")
    assert "crop" not in _sent(page)[0]


def test_several_files_are_sent_as_views(live_server, page_factory, tmp_path):
    page = page_factory(live_server().url)
    page.evaluate(RECORD_FORMS)
    page.set_input_files("#image-input", [_png(tmp_path / "front.png", 0), _png(tmp_path / "side.png", 90)])
    page.wait_for_selector("#image-preview:not([hidden])")
    assert "+ 1 more view" in page.inner_text("#image-preview-name")
    page.click("#search-button")
    body, images = _sent(page)
    assert images == ["front.png", "side.png"] and "crop" not in body
