"""End to end in headless Chromium against the real app and a real ingested corpus (IMPACT design
patents): upload a drawing, see results, filter by Locarno class with autocomplete, open a patent,
"more like this", export CSV, save a watch; error and empty states. Screenshots: artifacts/ui/."""
from __future__ import annotations

import csv
import io
import re

import pytest
from PIL import Image

from backend.settings import SHARED_DATA

pytestmark = [pytest.mark.browser, pytest.mark.shared_data, pytest.mark.slow]

QUERY_DRAWING = SHARED_DATA / "impact" / "USD0917866-20210504" / "USD0917866-20210504-D00001.TIF"
#: browsers log every non-2xx response as a console error; the tests provoke some on purpose
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of (400|404)")


def _digits(symbol: str) -> str:
    return re.sub(r"\D", "", symbol)


def _png_drawing(tmp_path):
    path = tmp_path / "query-shoe.png"
    with Image.open(QUERY_DRAWING) as img:
        img.convert("L").save(path)
    return path


def _card_numbers(page) -> list[str]:
    return page.eval_on_selector_all("#results .card", "els => els.map(e => e.dataset.publicationNumber)")


def _wait_search_done(page):
    page.wait_for_function("document.body.dataset.searchState !== undefined && "
                           "!document.body.classList.contains('busy')")


def _thumbnails_loaded(page) -> bool:
    return page.evaluate("""() => [...document.querySelectorAll('#results .thumb img')]
        .every(img => img.complete && img.naturalWidth > 0)""")


def test_search_by_drawing_filter_open_more_like_this_export_watch(corpus_server, page_factory, tmp_path,
                                                                   artifacts):
    page = page_factory(corpus_server.url)
    page.shots("home")

    # 1. upload a drawing (a shoe from the corpus) and search
    drawing = _png_drawing(tmp_path)
    page.set_input_files("#image-input", str(drawing))
    page.wait_for_selector("#image-preview:not([hidden])")
    assert "query-shoe.png" in page.inner_text("#image-preview-name")
    with page.expect_response(lambda r: r.url.endswith("/search") and r.request.method == "POST") as info:
        page.click("#search-button")
    response = info.value
    assert response.status == 200, response.text()
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    data = response.json()
    _wait_search_done(page)
    assert data["hits"], "an image search over the corpus returned nothing"
    numbers = _card_numbers(page)
    expected = list(dict.fromkeys(h["publication_number"] for h in data["hits"]))
    assert numbers == expected, "one card per patent, in rank order"
    page.wait_for_function("""() => [...document.querySelectorAll('#results .thumb img')]
        .every(img => img.dataset.state === 'loaded' || img.dataset.state === 'broken')""")
    assert _thumbnails_loaded(page), "every result thumbnail is a real image"
    first = page.locator("#results .card").first
    top = data["hits"][0]
    assert first.locator(".card-title a").inner_text() == (top["title"] or top["publication_number"])
    assert data["hits"][0]["publication_number"] in first.locator(".bib").inner_text()
    assert first.locator(".reason-label").inner_text().strip(), "each hit shows why it is here"
    assert re.match(r"\d+ patents?", page.inner_text("#status"))
    assert not page.is_disabled("#export-button")
    page.shots("results-by-drawing")

    # 2. Locarno filter with autocomplete from the class titles: shoes are 02-04
    page.select_option("#cls-scheme", "locarno")
    with page.expect_response(lambda r: "/classifications/suggest" in r.url) as suggest_info:
        page.fill("#cls-input", "02-04")
    assert suggest_info.value.status == 200, suggest_info.value.text()
    page.wait_for_selector("#cls-listbox:not([hidden]) [role=option]")
    option_text = page.inner_text("#cls-listbox [role=option] >> nth=0")
    assert "02" in option_text and "04" in option_text
    page.shots("locarno-autocomplete")
    page.keyboard.press("ArrowDown")
    assert page.get_attribute("#cls-input", "aria-activedescendant") == "cls-listbox-opt-0"
    with page.expect_response(lambda r: r.url.endswith("/search")) as filtered_info:
        page.keyboard.press("Enter")  # picks the option and re-runs the search
    filtered = filtered_info.value.json()
    request_body = filtered_info.value.request
    _wait_search_done(page)
    chip = page.locator("#cls-chips .chip").first
    assert "Locarno" in chip.inner_text()
    assert filtered["hits"], "the shoes in the corpus match Locarno 02-04"
    for hit in filtered["hits"]:
        assert any(_digits(s).startswith("0204") for s in hit["locarno"]), hit
    if any(not any(_digits(s).startswith("0204") for s in h["locarno"]) for h in data["hits"]):
        assert len(_card_numbers(page)) < len(expected), "the filter removed the patents of other classes"
    assert set(_card_numbers(page)) == {h["publication_number"] for h in filtered["hits"]}
    assert request_body.headers["content-type"].startswith("multipart/form-data"), "the drawing is still sent"
    page.shots("filtered-locarno-02-04")

    # 3. open a patent: all its figures
    target = _card_numbers(page)[0]
    page.locator("#results .card").first.locator(".card-title a").click()
    page.wait_for_url(f"**/ui/patents/{target}")
    page.wait_for_selector("#patent-title")
    api_patent = corpus_server.http.get(f"{corpus_server.url}/patents/{target}", timeout=30).json()
    figures = api_patent.get("figures") or []
    assert figures, api_patent
    assert page.locator(".patent-figure").count() == len(figures)
    page.wait_for_function("""() => [...document.querySelectorAll('.patent-figure img')]
        .every(img => img.dataset.state === 'loaded' || img.dataset.state === 'broken')""")
    assert page.evaluate("[...document.querySelectorAll('.patent-figure img')]"
                         ".every(i => i.naturalWidth > 0)")
    assert page.evaluate("document.activeElement.id") == "patent-title"
    assert page.inner_text("#figures-heading").startswith(f"Figures ({len(figures)})")   # then "· n matched"
    page.shots("patent-page")

    # the figure opens full size
    page.locator(".patent-figure .thumb-button").first.click()
    page.wait_for_selector("#figure-dialog[open]")
    page.wait_for_function("document.getElementById('figure-dialog-img').naturalWidth > 0")
    page.shots("figure-full-size")
    page.keyboard.press("Escape")

    # 4. more like this from the second figure (or the first when there is one)
    figure_index = 1 if len(figures) > 1 else 0
    figure_id = page.locator(".patent-figure").nth(figure_index).get_attribute("data-figure-id")
    with page.expect_response(lambda r: r.url.endswith("/search")) as mlt_info:
        page.locator(".patent-figure").nth(figure_index).locator("button.mlt").click()
    mlt = mlt_info.value
    assert mlt.status == 200, mlt.text()
    assert mlt.request.post_data_json["image_figure_id"] == figure_id
    assert "text" not in mlt.request.post_data_json
    # the click navigates: wait for the new page (the search's own address) before polling it
    page.wait_for_url(lambda url: url.startswith(corpus_server.url + "/?") and "fig=" in url)
    page.wait_for_load_state("load")
    _wait_search_done(page)
    assert page.is_visible("#similar-to")
    assert figure_id == page.get_attribute("#similar-to", "data-figure-id")
    mlt_hits = mlt.json()["hits"]
    assert mlt_hits and _card_numbers(page) == list(dict.fromkeys(h["publication_number"] for h in mlt_hits))
    page.shots("more-like-this")

    # 5. export the results as CSV
    with page.expect_download() as download_info:
        page.click("#export-button")
    download = download_info.value
    csv_path = artifacts / (download.suggested_filename or "results.csv")
    download.save_as(csv_path)
    assert csv_path.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert rows and "publication_number" in rows[0], rows[:1]
    total = mlt.json()["total"]
    assert len(rows) == min(total, 1000), (len(rows), total)
    exported = [row["publication_number"] for row in rows]
    shown = _card_numbers(page)
    assert exported[:len(shown)] == shown, "the CSV lists the hits in the same order"
    page.wait_for_selector("#notice:not([hidden])")
    assert page.inner_text("#notice") == (f"Exported {len(rows)} result{'s' if len(rows) != 1 else ''} "
                                          f"to {download.suggested_filename}.")
    page.shots("exported")

    # 6. save the search as a watch
    page.click("#watch-button")
    page.wait_for_selector("#watch-dialog[open]")
    assert figure_id in page.input_value("#watch-name")
    page.fill("#watch-name", "Shoes like this")
    page.shots("watch-dialog")
    with page.expect_response(lambda r: r.url.endswith("/watches")) as watch_info:
        page.click("#watch-save")
    assert watch_info.value.status == 201, watch_info.value.text()
    page.wait_for_selector("#notice:has-text('Saved watch')")
    watches = corpus_server.http.get(f"{corpus_server.url}/watches", timeout=30).json()
    items = watches.get("items", watches) if isinstance(watches, dict) else watches
    saved = [w for w in items if w["name"] == "Shoes like this"]
    assert saved and saved[0]["query"]["image_figure_id"] == figure_id
    assert saved[0]["query"]["filters"]["locarno"]["include"], "the filter is part of the watch"
    page.shots("watch-saved")

    # 7. back and forward through the browser history
    page.go_back()
    page.wait_for_selector("#patent-view:not([hidden])")
    page.go_forward()
    page.wait_for_selector("#search-view:not([hidden])")

    unexpected = [e for e in page.console_errors if not EXPECTED_CONSOLE.search(e)]
    assert unexpected == []


def test_a_watch_keeps_an_uploaded_drawing_as_its_vector(corpus_server, page_factory, tmp_path):
    """Saving a drawing-only search as a watch: the page asks /search/embed for the drawing's vector and
    the watch stores it; re-running the watch's query finds the same patents as the upload did."""
    page = page_factory(corpus_server.url)
    page.set_input_files("#image-input", str(_png_drawing(tmp_path)))
    with page.expect_response(lambda r: r.url.endswith("/search") and r.request.method == "POST") as info:
        page.click("#search-button")
    searched = info.value.json()
    _wait_search_done(page)
    page.click("#watch-button")
    page.wait_for_selector("#watch-dialog[open]")
    page.fill("#watch-name", "Shoe drawing")
    with page.expect_response(lambda r: r.url.endswith("/search/embed")) as embed_info, \
            page.expect_response(lambda r: r.url.endswith("/watches")) as watch_info:
        page.click("#watch-save")
    assert embed_info.value.status == 200, embed_info.value.text()
    assert watch_info.value.status == 201, watch_info.value.text()
    page.wait_for_selector("#notice:has-text('kept with the watch')")
    page.shots("watch-from-upload")
    vector = embed_info.value.json()["vector"]
    watches = corpus_server.http.get(f"{corpus_server.url}/watches", timeout=30).json()
    items = watches.get("items", watches) if isinstance(watches, dict) else watches
    saved = [w for w in items if w["name"] == "Shoe drawing"]
    assert saved and saved[0]["query"]["vector"] == pytest.approx(vector)
    rerun = corpus_server.http.post(f"{corpus_server.url}/search", json={**saved[0]["query"], "size": 5}, timeout=60).json()
    assert [h["publication_number"] for h in rerun["hits"]] == \
        [h["publication_number"] for h in searched["hits"]][:len(rerun["hits"])]
    assert [e for e in page.console_errors if not EXPECTED_CONSOLE.search(e)] == []


def test_problem_detail_and_empty_state_are_shown(corpus_server, page_factory):
    page = page_factory(corpus_server.url)
    # an unknown CPC symbol: the API answers 400 problem+json naming it; the page shows the detail
    page.fill("#cls-input", "ZZ99")
    page.keyboard.press("Enter")
    page.fill("#q-text", "shoe")
    with page.expect_response(lambda r: r.url.endswith("/search")) as info:
        page.keyboard.press("Enter")
    assert info.value.status == 400
    detail = info.value.json()["detail"]
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == detail
    assert "ZZ99" in detail
    assert page.inner_text("#status") == "Search failed"
    page.shots("error-unknown-class")

    # remove it; an impossible date range leaves nothing: the empty state says what to try
    page.click("#cls-chips .chip-remove")
    _wait_search_done(page)
    page.fill("#date-from", "1900-01-01")
    page.fill("#date-to", "1900-12-31")
    page.focus("#q-text")
    with page.expect_response(lambda r: r.url.endswith("/search")) as info:
        page.keyboard.press("Enter")
    assert info.value.status == 200 and info.value.json()["hits"] == []
    _wait_search_done(page)
    assert page.is_hidden("#error")
    assert page.inner_text("#status") == "No results"
    assert "No patents match" in page.inner_text("#empty")
    assert "active filter" in page.inner_text("#empty")
    assert page.is_disabled("#export-button")
    page.shots("empty-state")


def test_text_search_and_load_more(corpus_server, page_factory):
    page = page_factory(corpus_server.url)
    page.click("details.advanced summary")
    page.select_option("#page-size", "10")
    page.fill("#q-text", "shoe")
    with page.expect_response(lambda r: r.url.endswith("/search")) as info:
        page.keyboard.press("Enter")
    first = info.value.json()
    assert info.value.request.headers["content-type"] == "application/json"
    _wait_search_done(page)
    assert first["hits"]
    assert page.locator("#results .card").count() == len({h["publication_number"] for h in first["hits"]})
    text_reasons = page.locator("#results .reason-label").all_inner_texts()
    assert any("text" in r.lower() for r in text_reasons), text_reasons
    if first.get("next_cursor"):
        before = page.locator("#results .card").count()
        with page.expect_response(lambda r: r.url.endswith("/search")) as more:
            page.click("#more-button")
        assert more.value.request.post_data_json["cursor"] == first["next_cursor"]
        _wait_search_done(page)
        assert page.locator("#results .card").count() > before
    else:
        assert page.is_hidden("#more-button")
    page.shots("text-search")


def test_with_keys_required_the_pasted_key_is_used_for_search_and_drawings(corpus_server, page_factory):
    """A browser without a key: the page asks for one; thumbnails (which an <img> cannot fetch with a
    header) still load; a wrong key shows the server's problem detail."""
    token = corpus_server.key
    page = page_factory(corpus_server.url, api_key=None)
    assert page.is_visible("#key-banner")
    page.fill("#q-text", "shoe")
    page.keyboard.press("Enter")
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#key-input", "prism_00000000_wrong")
    with page.expect_response(lambda r: r.url.endswith("/search")) as info:
        page.keyboard.press("Enter")  # submits the key dialog, then the search runs
    assert info.value.status == 401
    page.wait_for_selector("#error:not([hidden])")
    assert info.value.json()["detail"] in page.inner_text("#error")
    page.wait_for_selector("#key-dialog[open]")  # asked again
    page.shots("wrong-key")

    page.fill("#key-input", token)
    with page.expect_response(lambda r: r.url.endswith("/search")) as info:
        page.click("#key-save")
    assert info.value.status == 200, info.value.text()
    assert info.value.request.headers["authorization"] == f"Bearer {token}"
    _wait_search_done(page)
    assert page.locator("#results .card").count() >= 1
    page.wait_for_function("""() => [...document.querySelectorAll('#results .thumb img')]
        .every(img => img.dataset.state === 'loaded' || img.dataset.state === 'broken')""")
    assert _thumbnails_loaded(page), "thumbnails are fetched with the key"
    assert page.evaluate("[...document.querySelectorAll('#results .thumb img')]"
                         ".every(i => i.src.startsWith('blob:'))")
    page.shots("results-with-key")


def test_ungrouped_results_are_a_grid_of_figures_each_with_its_reason(corpus_server, page_factory):
    page = page_factory(corpus_server.url)
    page.click("details.advanced summary")
    page.uncheck("#group-by-patent")
    page.fill("#q-text", "shoe")
    with page.expect_response(lambda r: r.url.endswith("/search")) as info:
        page.keyboard.press("Enter")
    assert info.value.request.post_data_json["group_by_patent"] is False
    hits = info.value.json()["hits"]
    _wait_search_done(page)
    tiles = page.locator("#results article.figure-card")
    assert tiles.evaluate_all("els => els.map(e => e.dataset.figureId)") == [h["figure_id"] for h in hits]
    assert page.locator("#results .thumb").count() == len(hits), "one figure per tile"
    assert page.locator("#results article .reason-label").count() == len(hits), "each figure has its own reason"
    widths = tiles.evaluate_all("els => els.map(e => Math.round(e.getBoundingClientRect().width))")
    assert len(set(widths)) == 1, f"a regular grid: every tile as wide as the others ({widths})"
    total = info.value.json()["total"]
    status = page.inner_text("#status")
    assert re.fullmatch(rf"{total} figures?( · showing {len(hits)})?", status), status
    page.shots("figures-grid")


def test_query_language_shows_parsed_query_snippets_and_syntax_errors(corpus_server, page_factory):
    page = page_factory(corpus_server.url)
    page.fill("#q-text", "shoe OR sole")
    with page.expect_response(lambda r: r.url.endswith("/search")) as info:
        page.keyboard.press("Enter")
    data = info.value.json()
    _wait_search_done(page)
    assert data["hits"] and data["parsed_query"] == "shoe OR sole"
    assert page.inner_text("#parsed-query") == "Query: shoe OR sole"
    with_snippet = [h for h in data["hits"] if set(h.get("snippets") or {}) - {"title"}]
    assert with_snippet, "a text search gives snippets of the fields it matched"
    card = page.locator(f'#results .card[data-publication-number="{with_snippet[0]["publication_number"]}"]')
    assert card.locator(".snippet mark").count() >= 1
    assert card.locator(".snippet").inner_html().count("<mark>") == card.locator(".snippet mark").count()
    page.shots("query-language-snippets")

    page.fill("#q-text", "(shoe AND sole")
    with page.expect_response(lambda r: r.url.endswith("/search")) as info:
        page.keyboard.press("Enter")
    assert info.value.status == 400
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error").startswith(info.value.json()["detail"])   # then where, and a mended query
    assert "unbalanced parenthesis" in page.inner_text("#error") and "position 1" in page.inner_text("#error")
