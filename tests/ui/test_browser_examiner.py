"""The examiner's workflow in headless Chromium against the real app (keys required, the default) and the
ingested IMPACT subset: compare / overlay / blink with an uploaded drawing (keys on, and once with keys
off), compare on a text-only search, the search kept in the URL (reload, Back/Forward, a bookmark, a
watch opened as its search), field terms beside plain words, a pasted claim, a malformed query explained
with a corrected one, the focus after a search. Screenshots: artifacts/ui/<test>/ and, when
PRISM_UI_SHOTS names a folder, the review screenshots there too."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

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


def _query(page) -> dict:
    return {k: v for k, v in parse_qs(urlparse(page.url).query).items()}


def _numbers(page) -> list[str]:
    return page.eval_on_selector_all("#results article[data-publication-number]",
                                     "els => els.map(e => e.dataset.publicationNumber)")


def test_the_search_lives_in_the_url(corpus_server, page_factory, tmp_path):
    page = page_factory(corpus_server.url)
    page.fill("#q-text", "shoe")
    _search(page, lambda: page.keyboard.press("Enter"))
    assert _query(page) == {"q": ["shoe"]}
    first = _numbers(page)
    assert first

    # a filter: a new search, a new history entry
    page.fill("#date-from", "2021-06-01")
    _search(page, lambda: page.click("#search-button"))
    assert _query(page) == {"q": ["shoe"], "from": ["2021-06-01"]}
    filtered = _numbers(page)
    assert filtered and filtered != first

    # reload: the same search, form and results
    _search(page, lambda: page.reload())
    assert page.input_value("#q-text") == "shoe" and page.input_value("#date-from") == "2021-06-01"
    assert _numbers(page) == filtered

    # Back and Forward
    _search(page, lambda: page.go_back())
    assert _query(page) == {"q": ["shoe"]} and page.input_value("#date-from") == ""
    assert _numbers(page) == first
    _search(page, lambda: page.go_forward())
    assert _numbers(page) == filtered

    # a bookmark (another browser context, same key): classification, ungrouped figures, pages of 10, page 2
    link = "/?q=shoe%20wheel%20razor%20filter&cls=locarno:02-04&group=0&size=10"
    other = page_factory(corpus_server.url, "/")
    _search(other, lambda: other.goto(link))
    assert other.locator("#cls-chips [data-symbol='02-04']").count() == 1
    assert not other.is_checked("#group-by-patent") and other.input_value("#page-size") == "10"
    response = other.evaluate("document.getElementById('status').textContent")
    assert "figure" in response
    if other.is_visible("#more-button"):
        _search(other, lambda: other.click("#more-button"))
        assert _query(other)["page"] == ["2"]
        shown = other.locator("#results article").count()
        _search(other, lambda: other.reload())
        _until(other, f"document.querySelectorAll('#results article').length === {shown}")

    # an uploaded drawing: the URL names it, a reload brings it back and searches with it again
    page.set_input_files("#image-input", str(_png_drawing(tmp_path)))
    page.wait_for_selector("#image-preview-img[data-state=loaded]")
    _search(page, lambda: page.click("#search-button"))
    upload = _query(page)["upload"][0]
    drawn = _numbers(page)
    response = _search(page, lambda: page.reload())
    assert "multipart/form-data" in response.request.headers["content-type"]
    assert _query(page)["upload"] == [upload]
    assert page.is_visible("#image-preview") and _numbers(page) == drawn
    # the same link in another browser: the drawing is not there, it says so
    stranger = page_factory(corpus_server.url, f"/?upload={upload}")
    stranger.wait_for_selector("#error:not([hidden])")
    assert "uploaded in another browser" in stranger.inner_text("#error")
    assert page.console_errors == []


def test_a_watch_opens_as_its_search(corpus_server, page_factory):
    created = corpus_server.http.post(f"{corpus_server.url}/watches", timeout=30, json={
        "name": "Shoes from June 2021", "schedule_s": 86400,
        "query": {"text": "shoe", "filters": {"locarno": {"include": ["02-04"]},
                                             "dates": {"publication": {"gte": "2021-06-01"}}}}})
    assert created.status_code == 201, created.text
    wid = created.json()["id"]
    page = page_factory(corpus_server.url, "/ui/watches")
    link = page.locator(f"#watches-list li[data-watch-id='{wid}'] a.watch-open")
    _search(page, lambda: link.click())
    assert _query(page) == {"q": ["shoe"], "cls": ["locarno:02-04"], "from": ["2021-06-01"], "edit": [str(wid)]}
    assert page.input_value("#q-text") == "shoe"
    numbers = _numbers(page)
    assert numbers and "USD0917866-20210504" not in numbers

    # its filters changed on the search page and saved back into the watch
    page.fill("#date-from", "2021-01-01")
    _search(page, lambda: page.click("#search-button"))
    assert _query(page)["edit"] == [str(wid)]
    page.click("#watch-button")
    page.wait_for_selector("#watch-dialog[open]")
    assert page.is_visible("#watch-update-row") and page.is_checked("#watch-update")
    assert page.input_value("#watch-name") == "Shoes from June 2021"
    with page.expect_response(lambda r: r.url.endswith(f"/watches/{wid}") and r.request.method == "PATCH") as info:
        page.click("#watch-save")
    assert info.value.status == 200, info.value.text()
    saved = corpus_server.http.get(f"{corpus_server.url}/watches/{wid}", timeout=30).json()
    assert saved["query"]["filters"]["dates"] == {"publication": {"gte": "2021-01-01"}}
    assert saved["query"]["filters"]["locarno"]["include"] == ["02-04"]
    assert "Updated watch" in page.inner_text("#notice")


def test_field_terms_restrict_and_a_claim_is_plain_words(corpus_server, page_factory):
    page = page_factory(corpus_server.url)
    page.fill("#q-text", "pd:>=2021-06-01 shoe")
    response = _search(page, lambda: page.keyboard.press("Enter"))
    hits = response.json()["hits"]
    assert hits, "shoes published from June 2021"
    assert all(h["publication_date"] >= "2021-06-01" for h in hits), [h["publication_date"] for h in hits]
    assert "USD0917866-20210504" not in _numbers(page)
    facet = page.locator("#facets button", has_text="02").first
    assert "Articles of clothing" in facet.inner_text(), "facets carry their class titles"
    # applicant, country and year facets with counts; a year narrows the dates
    assert page.locator("#facets [data-facet=country] button", has_text="US").count() == 1
    assert page.locator("#facets [data-facet=applicant] button").count() >= 1
    year = page.locator("#facets [data-facet=year] button", has_text="2021")
    response = _search(page, lambda: year.click())
    assert response.request.post_data_json["filters"]["dates"] == {"publication": {"gte": "2021-01-01",
                                                                                   "lte": "2021-12-31"}}
    assert _query(page)["to"] == ["2021-12-31"]

    claim = ("1. An ornamental design for a shoe, comprising: (a) an upper; (b) a sole attached to the upper "
             "with a \"heel\" portion; wherein the sole: has a tread. ") * 160
    assert len(claim) >= 20_000
    page.fill("#q-text", claim)
    response = _search(page, lambda: page.click("#search-button"))
    assert response.status == 200, response.text()
    assert page.get_attribute("body", "data-search-state") == "done" and _numbers(page)


def test_a_malformed_query_is_explained_and_mended_and_clears_the_results(corpus_server, page_factory):
    page = page_factory(corpus_server.url)
    page.fill("#q-text", "shoe")
    _search(page, lambda: page.keyboard.press("Enter"))
    assert _numbers(page) and page.is_enabled("#watch-button")

    page.fill("#q-text", '"shoe sole')
    response = _search(page, lambda: page.keyboard.press("Enter"))
    assert response.status == 400
    assert "unterminated quote" in page.inner_text("#error") and "position 1" in page.inner_text("#error")
    assert page.inner_text("#error .query-position mark") == '"'
    assert page.inner_text("#query-fix") == '"shoe sole"'
    assert _numbers(page) == [], "the previous results are gone"
    assert page.is_disabled("#watch-button") and page.is_disabled("#export-button")
    assert page.is_hidden("#parsed-query")
    response = _search(page, lambda: page.click("#query-fix"))
    assert response.status == 200 and page.input_value("#q-text") == '"shoe sole"'

    page.fill("#q-text", "shoe AND")
    _search(page, lambda: page.keyboard.press("Enter"))
    assert page.inner_text("#query-fix") == "shoe"
    page.fill("#q-text", "colour:red shoe")
    _search(page, lambda: page.keyboard.press("Enter"))
    assert "unknown field" in page.inner_text("#error") and page.inner_text("#query-fix") == "colour red shoe"


def test_the_focus_leaves_the_query_box_after_a_search(corpus_server, page_factory):
    page = page_factory(corpus_server.url)
    page.fill("#q-text", "shoe")
    page.focus("#q-text")
    _search(page, lambda: page.keyboard.press("Enter"))
    assert page.evaluate("document.activeElement.id") != "q-text"
    page.keyboard.press("j")
    assert page.locator("#results article").first.get_attribute("data-current") == "true"
    assert page.input_value("#q-text") == "shoe", "j went to the results, not into the box"
    page.focus("#q-text")
    page.keyboard.press("Escape")
    assert page.input_value("#q-text") == "shoe", "Esc leaves the box without wiping it"
    assert page.evaluate("document.activeElement.id") != "q-text"
    page.keyboard.press("x")
    assert page.input_value("#q-text") == "shoe"


def _columns(page) -> int:
    tops = page.eval_on_selector_all("#results article", "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
    return tops.count(tops[0]) if tops else 0


def test_a_wide_screen_shows_a_dense_grid(corpus_server, page_factory):
    page = page_factory(corpus_server.url, "/?q=shoe%20wheel%20razor%20filter&group=0&size=50", viewport=(1920, 1080))
    _until(page, "document.body.dataset.searchState === 'done' && !document.body.classList.contains('busy')")
    _shot_copy(page, "dense-grid-1920")
    width = page.evaluate("document.getElementById('results').getBoundingClientRect().width")
    assert width > 1500, f"the results use the screen's width, not a 1,440 px column: {width}"
    assert _columns(page) >= 7, _columns(page)
    on_screen = page.evaluate("[...document.querySelectorAll('#results article')]"
                              ".filter(e => e.getBoundingClientRect().top < innerHeight - 200).length")
    assert on_screen >= 16, f"{on_screen} cards on the first screen (about 8 before)"


def test_a_390_px_screen_is_usable(corpus_server, page_factory):
    page = page_factory(corpus_server.url, viewport=(390, 844))
    assert page.is_hidden("#filters") and page.is_visible("#filters-toggle")
    page.fill("#q-text", "shoe")
    _search(page, lambda: page.keyboard.press("Enter"))
    top = page.evaluate("document.querySelector('#results article').getBoundingClientRect().top + scrollY")
    assert top < 700, f"the first result starts {top} px down"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
    _shot_copy(page, "layout-390")
    page.click("#filters-toggle")
    assert page.is_visible("#filters") and page.get_attribute("#filters-toggle", "aria-expanded") == "true"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_patent_page_has_a_filmstrip_shortlist_and_compare(corpus_server, page_factory):
    counts = {}
    hits = corpus_server.http.post(f"{corpus_server.url}/search", timeout=60,
                                   json={"text": "shoe wheel razor filter", "size": 20}).json()["hits"]
    for number in {h["publication_number"] for h in hits}:
        found = corpus_server.http.get(f"{corpus_server.url}/patents/{number}", timeout=30)
        assert found.status_code == 200, found.text
        counts[number] = len(found.json().get("figures") or [])
    number = max(counts, key=counts.get)
    assert counts[number] >= 2
    page = page_factory(corpus_server.url, f"/ui/patents/{number}", viewport=(1920, 1080))
    page.wait_for_selector("#filmstrip")
    assert page.locator("#filmstrip .filmstrip-item").count() == counts[number]
    _until(page, "[...document.querySelectorAll('#filmstrip img')].every(i => i.dataset.state === 'loaded')")
    last = page.locator("#filmstrip .filmstrip-item").last
    figure_id = last.get_attribute("data-figure-id")
    last.click()
    _until(page, f"""(() => {{ const r = document.querySelector('.patent-figure[data-figure-id="{figure_id}"]')
        .getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }})()""")
    _shot_copy(page, "patent-filmstrip")
    # the patent joins the shortlist from its page; compare opens on its drawings
    page.click(".patent-actions .shortlist-toggle")
    assert page.inner_text(".patent-actions .shortlist-toggle") == "★ Shortlisted"
    assert number in page.evaluate("localStorage.getItem('prism.shortlist')")
    page.click("#patent-compare")
    page.wait_for_selector("#compare-dialog[open]")
    _pane_loaded(page, "hit")
    assert page.console_errors == []


@pytest.mark.parametrize("scheme, words, wanted", [("locarno", "shoe", "02-04"), ("locarno", "sofa", "06-01"),
                                                   ("ipc", "shoe", "A43B"), ("cpc", "chair", "A47C")])
def test_classification_suggestions_by_everyday_words(corpus_server, page_factory, scheme, words, wanted):
    page = page_factory(corpus_server.url)
    page.select_option("#cls-scheme", scheme)
    page.fill("#cls-input", words)
    page.wait_for_selector("#cls-listbox:not([hidden]) [role=option]")
    options = page.eval_on_selector_all("#cls-listbox [role=option]", "els => els.map(e => e.textContent)")
    assert any(o.startswith(wanted) for o in options[:8]), options
