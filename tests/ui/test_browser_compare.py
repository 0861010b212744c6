"""In headless Chromium against the real app and the ingested IMPACT subset: a TIFF upload
shown (rendered by the server) and kept in view while scrolling; the compare view (query beside each hit at
full height, synchronised or independent zoom and pan, rotate, flip, overlay and blink, stepping through the
hits with the keyboard, the original image); the zoom dialog stepping through figures with remembered
rotations; keyboard work on the results (j/k, Enter, c, x, ?) and the shortlist exported as CSV.
Screenshots: artifacts/ui/<test>/."""
from __future__ import annotations

import csv
import io

import pytest
from PIL import Image

from backend.settings import SHARED_DATA

pytestmark = [pytest.mark.browser, pytest.mark.shared_data, pytest.mark.slow]

QUERY_TIFF = SHARED_DATA / "impact" / "USD0917866-20210504" / "USD0917866-20210504-D00001.TIF"
VIEWPORT = (1360, 760)


def _until(page, expression: str):
    """Wait until the JavaScript expression is true (polled as a function: the page's CSP forbids eval)."""
    page.wait_for_function(f"() => ({expression})")


def _search_done(page):
    _until(page, "document.body.dataset.searchState === 'done' && "
                           "!document.body.classList.contains('busy')")


def _upload_and_search(page, path=QUERY_TIFF):
    page.set_input_files("#image-input", str(path))
    page.wait_for_selector("#image-preview-img[data-state=loaded]")
    with page.expect_response(lambda r: r.url.endswith("/search") and r.request.method == "POST") as info:
        page.click("#search-button")
    assert info.value.status == 200, info.value.text()
    _search_done(page)
    return info.value.json()


def _view_shot(page, name: str):
    """A screenshot of the window only (a dialog fills it), numbered with the page's full-page shots."""
    page.shots.n += 1
    path = page.shots.folder / f"{page.shots.n:02d}-{name}.png"
    page.screenshot(path=str(path))
    page.shots.paths.append(path)


def _figure_shown(page, figure_id: str):
    _until(page, f"document.getElementById('figure-dialog').dataset.figureId === {figure_id!r} && "
                 "document.getElementById('figure-dialog-img').dataset.state === 'loaded'")


def _blur(page):
    page.evaluate("document.activeElement && document.activeElement.blur()")


def _visible_figure_ids(page) -> list[str]:
    """Figures with a drawing in page order (what the compare view steps through)."""
    return page.evaluate("""() => [...new Set(
        [...document.querySelectorAll('#results .thumb:not(.thumb-text)')]
        .map(e => e.dataset.figureId))]""")


def _pane(page, which: str) -> dict:
    return page.evaluate(f"""() => {{
        const root = document.getElementById('compare-{which}');
        const img = root.querySelector('img');
        const stage = root.querySelector('.viewer-stage').getBoundingClientRect();
        return {{...root.dataset, state: img.dataset.state, src: img.src, natural: img.naturalWidth,
                 stageHeight: stage.height, stageWidth: stage.width}};
    }}""")


def _wait_pane_loaded(page, which: str, figure_id: str | None = None):
    extra = f" && root.dataset.figureId === {figure_id!r}" if figure_id else ""
    page.wait_for_function(f"""() => {{ const root = document.getElementById('compare-{which}');
        const img = root.querySelector('img');
        return img.dataset.state === 'loaded' && img.naturalWidth > 0{extra}; }}""")


def test_tiff_upload_is_shown_and_stays_in_view(corpus_server, page_factory):
    page = page_factory(corpus_server.url, viewport=VIEWPORT)
    with page.expect_response(lambda r: "/search/preview" in r.url) as preview:
        page.set_input_files("#image-input", str(QUERY_TIFF))
    assert preview.value.status == 200 and preview.value.headers["content-type"] == "image/png"
    page.wait_for_selector("#image-preview-img[data-state=loaded]")
    size = page.evaluate("(() => { const i = document.getElementById('image-preview-img');"
                         " return [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight]; })()")
    with Image.open(QUERY_TIFF) as tiff:
        assert tiff.format == "TIFF"
        assert 0 < max(size[:2]) <= max(tiff.size), "the TIFF drawing itself, not enlarged"
    assert size[2] > 60 and size[3] > 60, f"the preview is shown at a readable size: {size}"
    page.shots("tiff-preview")
    _search_done_after_click(page)
    # scrolled to the bottom of the results, the query drawing is still on screen
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    _until(page, "window.scrollY > 100")
    box = page.evaluate("(() => { const r = document.getElementById('image-preview-img')"
                        ".getBoundingClientRect();"
                        " return [r.top, r.bottom, window.innerHeight]; })()")
    assert box[0] >= 0 and box[1] <= box[2], f"the query drawing scrolled away: {box}"
    page.shots("scrolled-query-still-visible")
    assert page.console_errors == []


def _search_done_after_click(page):
    with page.expect_response(lambda r: r.url.endswith("/search") and r.request.method == "POST") as info:
        page.click("#search-button")
    assert info.value.status == 200, info.value.text()
    _search_done(page)
    return info.value.json()


def test_unreadable_upload_says_why(corpus_server, page_factory, tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 this is not really a TIFF")
    page = page_factory(corpus_server.url)
    with page.expect_response(lambda r: "/search/preview" in r.url) as preview:
        page.set_input_files("#image-input", str(bad))
    assert preview.value.status == 400
    page.wait_for_selector("#error:not([hidden])")
    assert "cannot be shown" in page.inner_text("#error") and "image" in page.inner_text("#error")
    assert page.get_attribute("#image-preview-img", "data-state") == "broken"


def test_compare_each_hit_with_the_uploaded_tiff(corpus_server, page_factory, artifacts):
    page = page_factory(corpus_server.url, viewport=VIEWPORT)
    data = _upload_and_search(page)
    assert len(data["hits"]) >= 3
    figures = _visible_figure_ids(page)
    assert len(figures) >= 3

    # c on the first card: the uploaded TIFF (as PNG) beside the card's best figure, both at full height
    _blur(page)
    page.keyboard.press("j")
    first_card = page.locator("#results article").first
    assert first_card.get_attribute("data-current") == "true"
    page.keyboard.press("c")
    page.wait_for_selector("#compare-dialog[open]")
    _wait_pane_loaded(page, "query")
    _wait_pane_loaded(page, "hit", figures[0])
    query, hit = _pane(page, "query"), _pane(page, "hit")
    assert page.get_attribute("#compare-dialog", "data-query") == "upload"
    assert query["src"].startswith("blob:"), "the query pane shows the server's rendering of the upload"
    for pane in (query, hit):
        assert pane["stageHeight"] > 0.75 * VIEWPORT[1], f"a pane is not at full height: {pane}"
        assert pane["stageWidth"] > 0.4 * VIEWPORT[0]
    assert "1 of" in page.inner_text("#compare-position")
    _view_shot(page, "compare-side-by-side")

    # → and j step through the hits; ← and k step back; the query stays
    page.keyboard.press("ArrowRight")
    _wait_pane_loaded(page, "hit", figures[1])
    page.keyboard.press("j")
    _wait_pane_loaded(page, "hit", figures[2])
    page.keyboard.press("k")
    _wait_pane_loaded(page, "hit", figures[1])
    page.keyboard.press("ArrowLeft")
    _wait_pane_loaded(page, "hit", figures[0])
    assert _pane(page, "query")["src"] == query["src"], "stepping through hits kept the query drawing"

    # rotate the hit 90° (remembered for that figure), flip it; the query keeps its own orientation
    page.keyboard.press("r")
    _until(page, "document.getElementById('compare-hit').dataset.rotation === '90'")
    stored = page.evaluate(f"localStorage.getItem('prism.view.{figures[0]}')")
    assert stored and '"rotation":90' in stored
    page.keyboard.press("ArrowRight")
    _wait_pane_loaded(page, "hit", figures[1])
    assert _pane(page, "hit")["rotation"] == "0", "another figure is shown as filed"
    page.keyboard.press("ArrowLeft")
    _wait_pane_loaded(page, "hit", figures[0])
    assert _pane(page, "hit")["rotation"] == "90", "the rotation of the sideways sheet was remembered"
    assert _pane(page, "query")["rotation"] == "0"
    page.click("#compare-hit [data-act=flip]")
    assert _pane(page, "hit")["flip"] == "true"
    page.click("#compare-hit [data-act=flip]")
    _view_shot(page, "compare-rotated-hit")

    # synchronised zoom: the wheel over the query zooms both; then independent zoom
    box = page.locator("#compare-query .viewer-stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    shown = _pane(page, "hit")
    page.mouse.wheel(0, -1200)
    if shown["size"] != "full" and int(shown["naturalWidth"]) >= int(shown["size"]):
        # a large zoom shows a sharper rendition of the hit (fetched, or the full one the Original link holds)
        _until(page, f"""(() => {{ const root = document.getElementById('compare-hit');
            const img = root.querySelector('img');
            return root.dataset.size !== {shown["size"]!r} && img.dataset.state === 'loaded'
                && Number(root.dataset.naturalWidth) > {int(shown["naturalWidth"])}; }})()""")
    # else the rendition on screen is the original's full resolution already: nothing sharper to show
    _until(page, "Number(document.getElementById('compare-query').dataset.zoom) > 2")
    query, hit = _pane(page, "query"), _pane(page, "hit")
    assert hit["zoom"] == query["zoom"] and hit["tx"] == query["tx"], (query, hit)
    page.click("#compare-sync")
    assert not page.is_checked("#compare-sync")
    hbox = page.locator("#compare-hit .viewer-stage").bounding_box()
    page.mouse.move(hbox["x"] + hbox["width"] / 2, hbox["y"] + hbox["height"] / 2)
    page.mouse.down()
    page.mouse.move(hbox["x"] + hbox["width"] / 2 + 80, hbox["y"] + hbox["height"] / 2 + 40, steps=4)
    page.mouse.up()
    _until(page, "Number(document.getElementById('compare-hit').dataset.tx) > "
                           f"{float(hit['tx']) + 40}")
    assert _pane(page, "query")["tx"] == query["tx"], "independent: the query did not move with the hit"
    page.click("#compare-hit [data-act=fit]")
    _until(page, "document.getElementById('compare-hit').dataset.zoom === '1.000'")
    assert _pane(page, "query")["zoom"] == query["zoom"]
    page.click("#compare-sync")
    page.click("#compare-query [data-act=fit]")
    _until(page, "document.getElementById('compare-hit').dataset.zoom === '1.000' && "
                           "document.getElementById('compare-query').dataset.zoom === '1.000'")

    # the original at full resolution, from the hit pane's link
    href = page.get_attribute("#compare-hit .viewer-original", "data-source")
    assert href.endswith(f"/figures/{figures[0]}/rendition?w=full")
    original = corpus_server.http.get(corpus_server.url + href, timeout=30)
    assert original.status_code == 200 and original.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(original.content)) as full:
        assert max(full.size) >= int(_pane(page, "hit")["naturalWidth"])

    # overlay (query red, hit blue, shared lines dark) and blink; the query turned like the hit
    page.click("#compare-query [data-act=rotate]")
    assert _pane(page, "query")["rotation"] == "90"
    page.keyboard.press("o")
    page.wait_for_selector("#compare-panes.mode-overlay")
    q, h = (page.locator(f"#compare-{w} .viewer-stage").bounding_box() for w in ("query", "hit"))
    assert abs(q["x"] - h["x"]) < 1 and abs(q["y"] - h["y"]) < 1, "overlay: the panes are stacked"
    _view_shot(page, "compare-overlay")
    page.keyboard.press("b")
    page.wait_for_selector("#compare-panes.mode-blink")
    _until(page, "document.getElementById('compare-panes').dataset.showing === 'query'")
    _until(page, "document.getElementById('compare-panes').dataset.showing === 'hit'")
    page.keyboard.press("b")
    page.wait_for_selector("#compare-panes.mode-side")

    # Escape closes and gives the focus back to the card of the hit on screen
    page.keyboard.press("Escape")
    page.wait_for_selector("#compare-dialog", state="hidden")
    assert page.evaluate("document.activeElement.closest('article') === "
                         "document.querySelector('#results article')")
    assert page.console_errors == []


def test_keyboard_on_results_and_the_shortlist(corpus_server, page_factory, artifacts):
    page = page_factory(corpus_server.url, viewport=VIEWPORT)
    _upload_and_search(page)
    cards = page.eval_on_selector_all("#results article", "els => els.map(e => e.dataset.publicationNumber)")
    assert len(cards) >= 3

    # typing in a field never triggers the keys
    page.fill("#q-text", "")
    page.focus("#q-text")
    page.keyboard.type("jxc?k")
    assert page.input_value("#q-text") == "jxc?k"
    assert not page.is_visible("#keys-dialog") and not page.is_visible("#compare-dialog")
    assert page.locator("#results article[data-current]").count() == 0
    page.fill("#q-text", "")
    page.click("details.advanced > summary")   # a slider keeps its arrow keys
    page.focus("#w-text")
    page.keyboard.press("ArrowDown")
    assert page.input_value("#w-text") == "0.9"
    assert page.locator("#results article[data-current]").count() == 0
    page.click("details.advanced > summary")

    # j / ↓ / k / ↑ move between hits
    _blur(page)
    current = lambda: page.evaluate(  # noqa: E731
        "document.querySelector('#results article[data-current=true]')?.dataset.publicationNumber")
    page.keyboard.press("j")
    assert current() == cards[0]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("j")
    assert current() == cards[2]
    page.keyboard.press("k")
    assert current() == cards[1]
    page.keyboard.press("ArrowUp")
    assert current() == cards[0]
    assert page.evaluate("document.activeElement.closest('article')?.dataset.publicationNumber") == cards[0]

    # x toggles the shortlist
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("x")   # and off again
    page.wait_for_selector("#shortlist-bar:not([hidden])")
    assert page.inner_text("#shortlist-count") == "2"
    assert page.eval_on_selector_all("#results article.shortlisted",
                                     "els => els.map(e => e.dataset.publicationNumber)") == cards[:2]
    # the examiner's category (X / Y / A) and a note on each, written into the CSV
    page.select_option(f".shortlist-category[data-publication-number='{cards[0]}']", "X")
    page.select_option(f".shortlist-category[data-publication-number='{cards[1]}']", "A")
    page.fill(f".shortlist-note[data-publication-number='{cards[0]}']", "=same sole pattern")
    page.shots("shortlist")
    with page.expect_download() as info:
        page.click("#shortlist-export")
    path = artifacts / "shortlist.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [r["publication_number"] for r in rows] == cards[:2]
    assert all(r["title"] and r["figure_id"] and r["filing_date"] for r in rows), rows
    assert [r["category"] for r in rows] == ["X", "A"]
    assert rows[0]["note"] == "'=same sole pattern", "the note is written inert (no formula)"
    assert rows[0]["patent_url"] == f"{corpus_server.url}/ui/patents/{cards[0]}"

    # saved with a watch: the dialog offers it, the watch keeps it, the watches page lists it
    page.click("#watch-button")
    page.wait_for_selector("#watch-dialog[open]")
    assert page.is_visible("#watch-shortlist-row") and page.is_checked("#watch-shortlist")
    assert "2 patents" in page.inner_text("#watch-shortlist-row")
    page.fill("#watch-name", "shoes shortlist")
    with page.expect_response(lambda r: r.url.endswith("/watches") and r.request.method == "POST") as saved:
        page.click("#watch-save")
    assert saved.value.status == 201, saved.value.text()
    assert saved.value.request.post_data_json["shortlist"] == cards[:2]
    assert saved.value.json()["shortlist"] == cards[:2]
    page.wait_for_selector("#notice:not([hidden])")
    assert "shortlist (2)" in page.inner_text("#notice")
    page.click("#watches-link")
    page.wait_for_selector("#watches-items .watch-shortlist")
    assert all(n in page.inner_text("#watches-items .watch-shortlist") for n in cards[:2])
    page.go_back()
    page.wait_for_selector("#search-view:not([hidden])")

    # the shortlist survives a reload (this browser's storage)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#shortlist-bar:not([hidden])")
    assert page.inner_text("#shortlist-count") == "2"

    # ? lists the keys
    _upload_and_search(page)
    _blur(page)
    page.keyboard.press("?")
    page.wait_for_selector("#keys-dialog[open]")
    keys_text = page.inner_text("#keys-dialog")
    for needle in ("next hit", "compare", "shortlist", "open"):
        assert needle in keys_text
    page.shots("keys")
    page.keyboard.press("Escape")
    page.wait_for_selector("#keys-dialog", state="hidden")

    # Enter opens the current hit
    _blur(page)
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/patents/{cards[1]}")
    page.wait_for_selector("#patent-title")
    assert page.console_errors == []


def test_zoom_dialog_steps_through_figures_and_remembers_rotation(corpus_server, page_factory):
    number = "USD0917866"
    api = corpus_server.http.get(f"{corpus_server.url}/patents/{number}", timeout=30)
    assert api.status_code == 200, api.text
    figure_ids = [f["figure_id"] for f in api.json()["figures"] if f.get("has_image", True)]
    assert len(figure_ids) >= 3
    page = page_factory(corpus_server.url, f"/ui/patents/{number}", viewport=VIEWPORT)
    page.wait_for_selector("#patent-title")
    with page.expect_response(lambda r: "/rendition?w=" in r.url) as rendition:
        page.locator(".patent-figure .thumb-button").first.click()
    assert rendition.value.status == 200
    page.wait_for_selector("#figure-dialog[open]")
    _until(page, "document.getElementById('figure-dialog-img').naturalWidth > 0")
    stage = page.locator("#figure-viewer .viewer-stage").bounding_box()
    assert stage["height"] > 0.6 * VIEWPORT[1], f"the zoom dialog uses the window: {stage}"
    assert page.get_attribute("#figure-dialog", "data-figure-id") == figure_ids[0]
    page.keyboard.press("ArrowRight")
    _figure_shown(page, figure_ids[1])
    assert "2 of" in page.inner_text("#figure-dialog-position")
    page.keyboard.press("r")
    _until(page, "document.getElementById('figure-viewer').dataset.rotation === '90'")
    page.click("#figure-viewer [data-act=zoom-in]")
    _until(page, "Number(document.getElementById('figure-viewer').dataset.zoom) > 1.4 && "
                 "document.getElementById('figure-dialog-img').dataset.state === 'loaded'")
    _view_shot(page, "zoom-dialog-rotated")
    page.keyboard.press("ArrowLeft")
    _figure_shown(page, figure_ids[0])
    assert page.get_attribute("#figure-viewer", "data-rotation") == "0"
    assert page.get_attribute("#figure-viewer", "data-zoom") == "1.000", "a new figure starts fitted"
    page.keyboard.press("Escape")
    page.wait_for_selector("#figure-dialog", state="hidden")

    # after a reload, the rotated figure opens rotated
    page.reload()
    page.wait_for_selector("#patent-title")
    page.locator(".patent-figure .thumb-button").nth(1).click()
    page.wait_for_selector("#figure-dialog[open]")
    _until(page, "document.getElementById('figure-dialog-img').naturalWidth > 0")
    assert page.get_attribute("#figure-viewer", "data-rotation") == "90"
    page.click("#figure-viewer [data-act=rotate]")
    page.click("#figure-viewer [data-act=rotate]")
    page.click("#figure-viewer [data-act=rotate]")
    assert page.get_attribute("#figure-viewer", "data-rotation") == "0"
    assert page.evaluate(f"localStorage.getItem('prism.view.{figure_ids[1]}')") is None
    assert page.console_errors == []


def test_cards_on_a_high_density_screen_get_sharper_drawings(corpus_server, chromium, artifacts):
    """At 2 device pixels per CSS pixel a 256 px thumbnail would be enlarged in a 170 px card: the cards
    load the 400 px rendition instead; at 1, the thumbnail."""
    results = {}
    for scale in (1, 2):
        storage = {"cookies": [], "origins": [{"origin": corpus_server.url, "localStorage": [
            {"name": "prism.apiKey", "value": corpus_server.key}]}]}
        context = chromium.new_context(base_url=corpus_server.url, viewport={"width": 1360, "height": 900},
                                       device_scale_factor=scale, storage_state=storage)
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto("/")
            page.wait_for_selector("body[data-ready=true]")
            page.fill("#q-text", "shoe")
            with page.expect_response(lambda r: r.url.endswith("/search")):
                page.click("#search-button")
            _search_done(page)
            images = "[...document.querySelectorAll('#results .thumb:not(.thumb-text) img')]"
            _until(page, f"{images}.every(img => img.dataset.state === 'loaded')")
            # with a key the drawings are fetched (blob: URLs on screen): data-source names what was asked for
            results[scale] = page.evaluate(
                f"() => {images}.map(img => [img.dataset.source, img.naturalWidth, img.naturalHeight])")
            if scale == 2:
                page.screenshot(path=str(artifacts / "cards-at-2x.png"))
        finally:
            context.close()
    assert results[1] and all("/thumbnail" in src for src, *_ in results[1])
    assert results[2] and all("/rendition?w=400" in src for src, *_ in results[2])
    assert max(max(w, h) for _, w, h in results[2]) > max(max(w, h) for _, w, h in results[1])


def test_more_like_this_figure_is_the_query_in_compare(corpus_server, page_factory):
    page = page_factory(corpus_server.url, viewport=VIEWPORT)
    _upload_and_search(page)
    figure_id = page.locator("#results .thumb:not(.thumb-text)").first.get_attribute("data-figure-id")
    with page.expect_response(lambda r: r.url.endswith("/search")):
        page.locator("#results .thumb:not(.thumb-text)").first.locator("button.mlt").click()
    _search_done(page)
    _until(page, f"document.getElementById('similar-to').dataset.figureId === {figure_id!r}")
    page.locator("#results article .compare-button").nth(1).click()
    page.wait_for_selector("#compare-dialog[open]")
    _wait_pane_loaded(page, "query", figure_id)
    assert page.get_attribute("#compare-dialog", "data-query") == "figure"
    assert "more like" in page.inner_text("#compare-query-caption")
    _wait_pane_loaded(page, "hit")
    _view_shot(page, "compare-more-like-this")
    assert page.console_errors == []
