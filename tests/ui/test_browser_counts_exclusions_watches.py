"""In headless Chromium against the real app and the ingested IMPACT subset: the status
count, what Load more reaches and the exported CSV agree (text, drawing, more like this); exclude a
patent / family; Locarno subclass titles and a warning for a filter on a scheme nobody carries; removing
the drawing does not leave its results; the patent page marks the matched figures; watches: run now,
pause, edit. Screenshots in artifacts/ui/<test>/."""
from __future__ import annotations

import csv
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from backend.settings import SHARED_DATA

pytestmark = [pytest.mark.browser, pytest.mark.shared_data, pytest.mark.slow]

QUERY_DRAWING = SHARED_DATA / "impact" / "USD0917866-20210504" / "USD0917866-20210504-D00001.TIF"


def _png_drawing(tmp_path):
    path = tmp_path / "query-shoe.png"
    with Image.open(QUERY_DRAWING) as img:
        img.convert("L").save(path)
    return path


def _search(page, action):
    """Run ``action`` (a click or a key) and wait for the search it starts to be on screen."""
    with page.expect_response(lambda r: r.url.endswith("/search") and r.request.method == "POST") as info:
        action()
    page.wait_for_selector("body[data-search-state]:not(.busy)")
    return info.value.json()


def _status_total(page) -> int:
    return int(re.match(r"(\d+) (patents?|figures?)", page.inner_text("#status")).group(1))


def _load_all(page) -> int:
    while page.is_visible("#more-button"):
        before = page.locator("#results article").count()
        _search(page, lambda: page.click("#more-button"))
        page.locator("#results article").nth(before).wait_for()
    return page.locator("#results article").count()


def _export_rows(page, artifacts, name) -> list[dict]:
    with page.expect_download() as info:
        page.click("#export-button")
    path = artifacts / f"{name}.csv"
    info.value.save_as(path)
    page.wait_for_selector("#notice:not([hidden])")
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _check_counts(page, artifacts, name):
    total = _status_total(page)
    reached = _load_all(page)
    rows = _export_rows(page, artifacts, name)
    cards = page.eval_on_selector_all("#results article", "els => els.map(e => e.dataset.publicationNumber)")
    assert total == reached == len(rows), f"{name}: status {total}, load more {reached}, export {len(rows)}"
    assert [r["publication_number"] for r in rows] == cards, f"{name}: the export is the list on screen"
    assert page.inner_text("#status").startswith(f"{total} ")


def test_status_load_more_and_export_agree(corpus_server, page_factory, tmp_path, artifacts):
    page = page_factory(corpus_server.url)
    page.click("details.advanced summary")
    page.select_option("#page-size", "10")   # small pages: Load more has work to do
    # text
    page.fill("#q-text", "shoe OR wheel OR razor OR filter OR view")
    _search(page, lambda: page.keyboard.press("Enter"))
    _check_counts(page, artifacts, "text")
    # drawing
    page.fill("#q-text", "")
    page.set_input_files("#image-input", str(_png_drawing(tmp_path)))
    page.wait_for_selector("#image-preview:not([hidden])")
    _search(page, lambda: page.click("#search-button"))
    _check_counts(page, artifacts, "drawing")
    page.shots("drawing-all-loaded")
    # hybrid
    page.fill("#q-text", "shoe")
    _search(page, lambda: page.click("#search-button"))
    _check_counts(page, artifacts, "hybrid")
    # more like this
    _search(page, lambda: page.locator("#results .mlt").first.click())
    _check_counts(page, artifacts, "more-like-this")
    page.shots("more-like-this-all-loaded")


def test_more_like_this_can_exclude_its_patent_and_family(corpus_server, page_factory):
    page = page_factory(corpus_server.url)
    page.fill("#q-text", "shoe")
    _search(page, lambda: page.keyboard.press("Enter"))
    card = page.locator("#results article").first
    own = card.get_attribute("data-publication-number")
    data = _search(page, lambda: card.locator(".mlt").first.click())
    # the query box clears the text on more like this; the figure's own patent ranks first
    assert data["hits"][0]["publication_number"] == own
    page.wait_for_selector("#similar-exclude-patent")
    assert page.locator("#results .exclude-patent").count() > 0, "drawing queries offer exclusion on each hit"
    data = _search(page, lambda: page.click("#similar-exclude-patent"))
    assert own not in {h["publication_number"] for h in data["hits"]}
    assert own not in page.eval_on_selector_all("#results article", "els => els.map(e => e.dataset.publicationNumber)")
    chip = page.locator("#cls-chips .chip-exclusion")
    assert chip.inner_text().startswith(f"not patent {own}")
    page.shots("own-patent-excluded")
    # exclude the family of the (new) first hit
    first = page.locator("#results article").first
    number = first.get_attribute("data-publication-number")
    sent = None
    with page.expect_request(lambda r: r.url.endswith("/search") and r.method == "POST") as req:
        first.locator(".exclude-family").click()
    sent = req.value.post_data_json
    assert sent["exclude_patents"] == [own] and len(sent["exclude_families"]) == 1
    page.locator(f"#results article[data-publication-number='{number}']").first.wait_for(state="detached")
    page.wait_for_selector("body[data-search-state]:not(.busy)")
    # removing the chip brings the patent back
    _search(page, lambda: page.locator("#cls-chips .chip-exclusion .chip-remove").first.click())
    assert own in page.eval_on_selector_all("#results article", "els => els.map(e => e.dataset.publicationNumber)")


def test_locarno_subclass_titles_and_a_warning_for_an_absent_scheme(corpus_server, page_factory):
    page = page_factory(corpus_server.url)
    page.select_option("#cls-scheme", "locarno")
    page.fill("#cls-input", "footwear")
    page.wait_for_selector("#cls-listbox:not([hidden]) [role=option]")
    option = page.inner_text("#cls-listbox [role=option] >> nth=0")
    assert "02-04" in option and "Footwear, socks and stockings" in option
    page.shots("locarno-footwear")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    chip = page.locator("#cls-chips .chip").first
    assert "Footwear, socks and stockings" in chip.inner_text()
    assert chip.locator(".chip-text").evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the title is not cut"
    # CPC on a design-only corpus: the page says no document carries CPC
    page.locator("#cls-chips .chip-remove").first.click()
    page.select_option("#cls-scheme", "cpc")
    page.fill("#cls-input", "A43B")
    page.keyboard.press("Escape")
    page.fill("#q-text", "shoe")
    _search(page, lambda: page.keyboard.press("Enter"))
    page.fill("#cls-input", "A43B")
    data = _search(page, lambda: page.keyboard.press("Enter"))
    assert data["total"] == 0 and data["warnings"]
    empty = page.inner_text("#empty")
    assert "no document in this index carries a CPC classification" in empty, empty
    page.shots("cpc-absent-warning")


def test_removing_the_drawing_does_not_leave_its_results(corpus_server, page_factory, tmp_path):
    page = page_factory(corpus_server.url)
    page.set_input_files("#image-input", str(_png_drawing(tmp_path)))
    page.wait_for_selector("#image-preview:not([hidden])")
    _search(page, lambda: page.click("#search-button"))
    assert page.locator("#results article").count() > 0
    page.click("#image-clear")
    page.wait_for_selector("#results:empty", state="attached")
    assert "drawing was removed" in page.inner_text("#empty")
    assert page.is_disabled("#export-button")
    # with text typed, removing the drawing searches the text instead
    page.set_input_files("#image-input", str(_png_drawing(tmp_path)))
    page.wait_for_selector("#image-preview:not([hidden])")
    page.fill("#q-text", "wheel")
    _search(page, lambda: page.click("#search-button"))
    with page.expect_request(lambda r: r.url.endswith("/search") and r.method == "POST") as req:
        page.click("#image-clear")
    assert req.value.headers["content-type"].startswith("application/json"), "no drawing is sent any more"
    assert req.value.post_data_json["text"] == "wheel"


def test_patent_page_marks_the_matched_figures(corpus_server, page_factory):
    page = page_factory(corpus_server.url, viewport=(1200, 700))
    page.click("details.advanced summary")
    page.uncheck("#group-by-patent")
    page.fill("#q-text", "shoe")
    data = _search(page, lambda: page.keyboard.press("Enter"))
    number = data["hits"][0]["publication_number"]
    matched = [h["figure_id"] for h in data["hits"] if h["publication_number"] == number]
    page.locator("#results article").first.locator(".card-title a").click()
    page.wait_for_selector(".patent-figure.matched")
    marked = page.eval_on_selector_all(".patent-figure.matched", "els => els.map(e => e.dataset.figureId)")
    assert sorted(marked) == sorted(matched)
    best = page.locator(f".patent-figure[data-figure-id='{matched[0]}']")
    assert "Best match" in best.inner_text()
    expect(best).to_be_in_viewport()
    page.shots("patent-matched-figures")


def test_watches_run_now_pause_and_edit(corpus_server, page_factory):
    created = corpus_server.http.post(f"{corpus_server.url}/watches", timeout=30, json={
        "name": "shoes", "query": {"text": "shoe"}, "schedule_s": 86400})
    assert created.status_code == 201, created.text
    wid = created.json()["id"]
    page = page_factory(corpus_server.url, "/ui/watches")
    item = page.locator(f"#watches-list li[data-watch-id='{wid}']")
    item.wait_for()
    item.locator(".watch-run").click()
    page.wait_for_selector("#watches-notice:not([hidden])")
    assert re.search(r"Ran “shoes”: \d+ new filings? checked, \d+ new alerts?", page.inner_text("#watches-notice"))
    item.locator(".watch-pause").click()
    page.wait_for_selector(f"#watches-list li.paused[data-watch-id='{wid}']")
    assert "Paused" in page.inner_text("#watches-notice") and item.locator(".watch-pause").inner_text() == "Resume"
    assert corpus_server.http.get(f"{corpus_server.url}/watches/{wid}", timeout=30).json()["active"] is False
    item.locator(".watch-edit-button").click()
    page.fill(f"#watch-{wid}-text", "wheel rim")
    page.select_option(f"#watch-{wid}-schedule", "3600")
    page.fill(f"#watch-{wid}-webhook", "ftp://hooks.example.org/prism")
    page.click(f"#watch-{wid}-text")
    page.locator(".watch-edit button[type=submit]").click()
    page.wait_for_selector(".watch-edit .error:not([hidden])")
    assert "webhook_url" in page.inner_text(".watch-edit .error")
    page.shots("watch-edit-error")
    page.fill(f"#watch-{wid}-webhook", "https://hooks.example.org/prism")
    page.locator(".watch-edit button[type=submit]").click()
    page.wait_for_selector("#watches-notice:has-text('Saved the watch')")
    saved = corpus_server.http.get(f"{corpus_server.url}/watches/{wid}", timeout=30).json()
    assert (saved["query"]["text"], saved["schedule_s"], saved["webhook_url"]) == (
        "wheel rim", 3600, "https://hooks.example.org/prism")
    assert "wheel rim" in page.locator(f"#watches-list li[data-watch-id='{wid}']").inner_text()
    page.shots("watch-edited")
