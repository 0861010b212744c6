"""Drawing sheets in headless Chromium against the real app (keys required, the default): a sheet printed
sideways shown upright (patent page, filmstrip, cards, compare), the link to the original publication, a
part of an indexed figure searched from the compare view (image_figure_id + crop, mapped back onto the
drawing as stored), and the box of a figure cut from a sheet of several. Screenshots: artifacts/ui/<test>/
and, when PRISM_UI_SHOTS names a folder, there too."""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from backend.ingest import orientation
from tests.drawings import labelled_sheet

pytestmark = [pytest.mark.browser]

NUMBER = "USD0000011"
VIEWPORT = (1360, 860)
needs_tesseract = pytest.mark.skipif(not orientation.available(),
                                     reason="tesseract with its osd model is not installed (`make ocr`)")


def _drawing(label: str) -> Image.Image:
    """A portrait sheet filled by its drawing (a frame near the edges) with the printed label below it."""
    return labelled_sheet(label, framed=True)


def _encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _index(server, docs_and_images, **patent):
    """Store each figure's drawing (original, display image and thumbnail as ingest does) and index it."""
    from backend.ingest import blobstore
    from backend.search import get_backend
    from tests.search.conftest import figure

    store = blobstore.get_blob_store(server.settings)
    docs = []
    for n, (image, fields) in enumerate(docs_and_images, 1):
        original = _encoded(image.convert("1"), "TIFF", compression="group4")
        digest = hashlib.sha256(original).hexdigest()
        store.put(blobstore.figure_key(digest), _encoded(image, "PNG"), "image/png")
        thumb = image.copy()
        thumb.thumbnail((256, 256))
        store.put(blobstore.thumb_key(digest), _encoded(thumb, "PNG"), "image/png")
        store.put(blobstore.original_key(digest, "tif"), original)
        docs.append(figure(patent.get("publication_number", NUMBER), n, None,
                           image_key=blobstore.figure_key(digest), thumb_key=blobstore.thumb_key(digest),
                           **{**{k: v for k, v in patent.items() if k != "publication_number"}, **fields}))
    get_backend(server.settings).index_figures(docs)
    return docs


def _sideways_patent(server):
    title = "Lamp housing with a hinged shade"
    return _index(server, [(_drawing("FIG. 1").rotate(90, expand=True, fillcolor=255), {}),
                           (_drawing("FIG. 2"), {})], title=title, locarno=["26-05"])


def _until(page, expression: str):
    page.wait_for_function(f"() => ({expression})")


def _shot(page, name: str):
    page.shots.n += 1
    page.screenshot(path=str(page.shots.folder / f"{page.shots.n:02d}-{name}.png"))
    extra = os.environ.get("PRISM_UI_SHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(extra) / f"{name}.png"))


def _natural(page, selector: str) -> dict:
    return page.evaluate(f"""(() => {{ const img = document.querySelector({selector!r});
        return {{w: img.naturalWidth, h: img.naturalHeight, state: img.dataset.state, turn: img.dataset.turn}}; }})()""")


def _loaded(selector: str) -> str:
    return (f"(() => {{ const i = document.querySelector({selector!r}); "
            "return i && i.dataset.state === 'loaded' && i.complete && i.naturalWidth > 0; })()")


def _text_search(page, words: str):
    page.fill("#q-text", words)
    with page.expect_response(lambda r: r.url.endswith("/search") and r.request.method == "POST") as info:
        page.click("#search-button")
    _until(page, "document.body.dataset.searchState === 'done' && !document.body.classList.contains('busy')")
    assert info.value.status == 200, info.value.text()
    return info.value.json()


@needs_tesseract
def test_a_sideways_sheet_is_shown_upright(live_server, page_factory):
    server = live_server()
    _sideways_patent(server)
    page = page_factory(server.url, f"/ui/patents/{NUMBER}", viewport=VIEWPORT)
    sideways = f".patent-figure[data-figure-id='{NUMBER}-F1'] img"
    _until(page, _loaded(sideways))
    shown = _natural(page, sideways)
    assert shown["h"] > shown["w"], f"the sheet is printed landscape; shown upright it is portrait: {shown}"
    upright = _natural(page, f".patent-figure[data-figure-id='{NUMBER}-F2'] img")
    assert upright["h"] > upright["w"]
    # the filmstrip's thumbnail (the sheet as scanned) gives way to the upright rendition
    strip = f"#filmstrip .filmstrip-item[data-figure-id='{NUMBER}-F1'] img"
    _until(page, f"document.querySelector({strip!r}).dataset.turn === '90' && " + _loaded(strip))
    assert _natural(page, strip)["h"] > _natural(page, strip)["w"]
    assert page.evaluate(f"localStorage.getItem('prism.turn.{NUMBER}-F1')") == "90"
    _shot(page, "sideways-sheet-upright-on-the-patent-page")
    # the results: the card shows it upright too (its turn is known now), and so does the compare view
    page.goto("/")
    page.wait_for_selector("body[data-ready=true]")
    _text_search(page, "lamp housing")
    card = f"#results figure.thumb[data-figure-id='{NUMBER}-F1'] img"
    _until(page, f"document.querySelector({card!r}).dataset.turn === '90' && " + _loaded(card))
    assert _natural(page, card)["h"] > _natural(page, card)["w"]
    page.click(f"#results figure.thumb[data-figure-id='{NUMBER}-F1'] .thumb-button")
    page.wait_for_selector("#figure-dialog[open]")
    page.keyboard.press("Escape")
    page.locator(f"article[data-publication-number='{NUMBER}'] .compare-button").click()
    page.wait_for_selector("#compare-dialog[open]")
    _until(page, _loaded("#compare-hit img"))
    hit = page.evaluate("(() => { const i = document.querySelector('#compare-hit img'); "
                        "return {w: i.naturalWidth, h: i.naturalHeight, id: document.getElementById('compare-hit')"
                        ".dataset.figureId}; })()")
    if hit["id"] == f"{NUMBER}-F1":
        assert hit["h"] > hit["w"]
    assert [e for e in page.console_errors if "pageerror" in e or "Content Security Policy" in e] == []


def test_the_patent_page_links_to_the_original_publication(live_server, page_factory):
    server = live_server()
    _index(server, [(_drawing("FIG. 1"), {})], title="Lamp housing")
    _index(server, [(_drawing("FIG. 1"), {})], publication_number="IMPACT-17", title="A collection's own number")
    page = page_factory(server.url, f"/ui/patents/{NUMBER}", viewport=VIEWPORT)
    page.wait_for_selector("#patent-title")
    link = page.locator("#patent-source")
    assert link.get_attribute("href") == "https://patents.google.com/patent/USD11/en"
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    assert "Google Patents" in link.inner_text()
    _shot(page, "patent-page-link-to-the-original")
    # a number that is not a publication number has no public page: no link
    page.goto("/ui/patents/IMPACT-17")
    page.wait_for_selector("#patent-title")
    assert page.inner_text("#patent-title") == "A collection's own number"
    assert page.locator("#patent-source").count() == 0


RECORD_JSON = """() => {
    window.__bodies = [];
    const send = window.fetch;
    window.fetch = (url, options = {}) => {
        if (String(url).endsWith("/search") && typeof options.body === "string") window.__bodies.push(options.body);
        return send(url, options);
    };
}"""


def _drag(page, box, a, b):
    page.mouse.move(box["x"] + box["width"] * a[0], box["y"] + box["height"] * a[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * b[0], box["y"] + box["height"] * b[1], steps=6)
    page.mouse.up()


@needs_tesseract
def test_a_box_drawn_on_the_hit_in_compare_searches_that_part(live_server, page_factory):
    server = live_server()
    _sideways_patent(server)
    page = page_factory(server.url, "/", viewport=VIEWPORT)
    _text_search(page, "lamp housing")
    page.evaluate(RECORD_JSON)
    page.locator(f"article[data-publication-number='{NUMBER}'] .compare-button").click()
    page.wait_for_selector("#compare-dialog[open]")
    # step to the sideways sheet: the box is drawn on it upright and sent on the drawing as stored
    for _ in range(4):
        if page.evaluate("document.getElementById('compare-hit').dataset.figureId") == f"{NUMBER}-F1":
            break
        page.click("#compare-next")
    assert page.evaluate("document.getElementById('compare-hit').dataset.figureId") == f"{NUMBER}-F1"
    _until(page, _loaded("#compare-hit img") + " && localStorage.getItem('prism.turn." + NUMBER + "-F1') === '90'")
    page.click("#compare-part")
    assert page.get_attribute("#compare-part", "aria-pressed") == "true"
    _shot(page, "compare-part-mode")
    img = page.locator("#compare-hit img").bounding_box()
    # the upper left quarter of the upright drawing: on the stored (turned) sheet, its lower left quarter
    with page.expect_response(lambda r: r.url.endswith("/search") and r.request.method == "POST") as info:
        _drag(page, img, (0.02, 0.02), (0.5, 0.5))
    _until(page, "['done', 'error'].includes(document.body.dataset.searchState) && "
                 "!document.body.classList.contains('busy')")
    body = json.loads(page.evaluate("window.__bodies.pop()"))
    assert body["image_figure_id"] == f"{NUMBER}-F1"
    crop = body["crop"]
    assert abs(crop["x"] - 0.02) < 0.04 and abs(crop["y"] - 0.5) < 0.04, crop
    assert abs(crop["width"] - 0.48) < 0.04 and abs(crop["height"] - 0.48) < 0.04, crop
    assert info.value.status in (200, 400, 422), info.value.text()
    assert not page.evaluate("document.getElementById('compare-dialog').open")
    # the query box says so: more like that figure, with the part's box on it
    assert page.is_visible("#similar-to") and page.is_visible("#similar-to .part-box")
    _shot(page, "part-search-from-compare")


def test_a_figure_cut_from_a_sheet_shows_its_box(live_server, page_factory):
    server = live_server()
    sheet = {"sheet_key": "figures/" + "a" * 2 + "/" + "a" * 64 + ".png", "figure_region": 1,
             "figure_box": [0.1, 0.0, 0.9, 0.45]}
    docs = _index(server, [(_drawing("FIG. 1"), sheet), (_drawing("FIG. 2"), {})], title="Lamp housing")
    assert docs[0]["figure_box"] == [0.1, 0.0, 0.9, 0.45]
    page = page_factory(server.url, f"/ui/patents/{NUMBER}", viewport=VIEWPORT)
    page.wait_for_selector(".patent-figure")
    for n in (1, 2):
        _until(page, _loaded(f".patent-figure[data-figure-id='{NUMBER}-F{n}'] img"))
    locator = page.locator(f".patent-figure[data-figure-id='{NUMBER}-F1'] .sheet-locator")
    assert locator.count() == 1 and locator.get_attribute("data-figure-box") == "0.1,0,0.9,0.45"
    outline = page.evaluate(f"""(() => {{
        const frame = document.querySelector(".patent-figure[data-figure-id='{NUMBER}-F1'] .sheet-locator")
            .getBoundingClientRect();
        const box = document.querySelector(".patent-figure[data-figure-id='{NUMBER}-F1'] .sheet-box")
            .getBoundingClientRect();
        return {{left: (box.left - frame.left) / frame.width, right: (box.right - frame.left) / frame.width,
                 top: (box.top - frame.top) / frame.height, bottom: (box.bottom - frame.top) / frame.height}}; }})()""")
    assert abs(outline["left"] - 0.1) < 0.1 and abs(outline["right"] - 0.9) < 0.1
    assert outline["top"] < 0.1 and abs(outline["bottom"] - 0.45) < 0.1
    assert page.locator(f".patent-figure[data-figure-id='{NUMBER}-F2'] .sheet-locator").count() == 0
    _shot(page, "figure-box-on-its-sheet")
