"""The examiner's workflow in headless Chromium against the real app (keys required, the default) and the
ingested IMPACT subset: compare / overlay / blink with an uploaded drawing (keys on, and once with keys
off), compare on a text-only search, the search kept in the URL (reload, Back/Forward, a bookmark, a
watch opened as its search), field terms beside plain words, a pasted claim, a malformed query explained
with a corrected one, the focus after a search. Screenshots: artifacts/ui/<test>/ and, when
PRISM_UI_SHOTS names a folder, the review screenshots there too."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image

from backend.settings import SHARED_DATA

pytestmark = [pytest.mark.browser, pytest.mark.shared_data, pytest.mark.slow]

QUERY_DRAWING = SHARED_DATA / "impact" / "USD0917866-20210504" / "USD0917866-20210504-D00001.TIF"
VIEWPORT = (1360, 800)


def _png_drawing(tmp_path) -> Path:
    path = tmp_path / "query-shoe.png"
    with Image.open(QUERY_DRAWING) as img:
        img.convert("L").save(path)
    return path


def _until(page, expression: str):
    page.wait_for_function(f"() => ({expression})")


def _search(page, action):
    """Run ``action`` and wait until the search it starts is on screen; the /search response."""
    with page.expect_response(lambda r: r.url.endswith("/search") and r.request.method == "POST") as info:
        action()
    _until(page, "['done', 'error'].includes(document.body.dataset.searchState) && "
                 "!document.body.classList.contains('busy')")
    return info.value


def _pane_loaded(page, which: str):
    _until(page, f"""(() => {{ const img = document.querySelector('#compare-{which} img');
        return img.dataset.state === 'loaded' && img.complete && img.naturalWidth > 0; }})()""")


def _shot_copy(page, name: str):
    """A window screenshot kept with the test's artifacts and, when PRISM_UI_SHOTS is set, there too."""
    page.shots.n += 1
    path = page.shots.folder / f"{page.shots.n:02d}-{name}.png"
    page.screenshot(path=str(path))
    extra = os.environ.get("PRISM_UI_SHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(extra) / f"{name}.png"))
    return path


def _no_csp_or_fetch_errors(page):
    bad = [e for e in page.console_errors if "Content Security Policy" in e or "Fetch API" in e
           or "pageerror" in e or "blob:" in e]
    assert bad == [], bad


@pytest.mark.parametrize("keys", ["on", "off"])
def test_compare_overlay_and_blink_show_the_uploaded_drawing(corpus_server, keys_off_server, page_factory,
                                                            tmp_path, keys):
    server = corpus_server if keys == "on" else keys_off_server
    assert bool(server.key) == (keys == "on") and server.settings.auth_required == (keys == "on")
    page = page_factory(server.url, viewport=VIEWPORT)
    refused = []
    page.on("requestfailed", lambda r: refused.append(r.url))
    page.set_input_files("#image-input", str(_png_drawing(tmp_path)))
    page.wait_for_selector("#image-preview-img[data-state=loaded]")
    response = _search(page, lambda: page.click("#search-button"))
    assert response.status == 200, response.text()
    if keys == "on":
        assert response.request.headers["authorization"] == f"Bearer {server.key}"

    page.locator("#results article .compare-button").first.click()
    page.wait_for_selector("#compare-dialog[open]")
    _pane_loaded(page, "query")
    _pane_loaded(page, "hit")
    assert page.get_attribute("#compare-dialog", "data-query") == "upload"
    if keys == "on":
        _shot_copy(page, "compare-upload-side-by-side")
    for mode, key in (("overlay", "o"), ("blink", "b")):
        page.keyboard.press(key)
        page.wait_for_selector(f"#compare-panes.mode-{mode}")
        _pane_loaded(page, "query")
        _pane_loaded(page, "hit")
        if mode == "overlay" and keys == "on":
            _shot_copy(page, "compare-upload-overlay")
        page.keyboard.press(key)
    _until(page, "document.getElementById('compare-panes').classList.contains('mode-side')")
    assert not [u for u in refused if u.startswith("blob:")], refused
    _no_csp_or_fetch_errors(page)


def test_compare_on_a_text_search_asks_for_nothing_it_has_not(corpus_server, page_factory):
    page = page_factory(corpus_server.url, viewport=VIEWPORT)
    asked = []
    page.on("request", lambda r: asked.append(urlparse(r.url).path))
    page.fill("#q-text", "shoe")
    _search(page, lambda: page.keyboard.press("Enter"))
    page.locator("#results article .compare-button").first.click()
    page.wait_for_selector("#compare-dialog[open]")
    _pane_loaded(page, "hit")
    assert page.get_attribute("#compare-dialog", "data-query") == "none"
    assert page.get_attribute("#compare-query img", "data-state") == "empty"
    assert "No query drawing" in page.inner_text("#compare-query-caption")
    assert not [p for p in asked if p in ("/null", "/undefined") or p.endswith("/null")], asked
    _no_csp_or_fetch_errors(page)
