"""The page in headless Chromium without a corpus: first visit, keyboard, validation, the API key,
and the page's own request-building modules (imported in the browser, as the page uses them)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_first_visit_shows_how_to_start_and_focuses_the_query(live_server, page_factory):
    server = live_server()
    page = page_factory(server.url)
    assert page.title().startswith("Prism")
    assert page.is_visible("#welcome")
    assert "Drop a drawing" in page.inner_text("#dropzone")
    assert page.evaluate("document.activeElement.id") == "q-text"
    assert not page.is_visible("#key-banner"), "no key banner when the browser holds a key"
    assert page.is_disabled("#watch-button") and page.is_disabled("#export-button")
    page.shots("first-visit")

    # Enter with nothing to search for: a clear message, no request
    requests = []
    page.on("request", lambda r: "/search" in r.url and requests.append(r))
    page.keyboard.press("Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "Type a description or add a drawing to search."
    assert page.get_attribute("#error", "role") == "alert"
    assert requests == []
    page.shots("nothing-to-search")
    assert page.console_errors == []


def test_focus_order_and_visible_focus(live_server, page_factory):
    page = page_factory(live_server().url)
    page.focus("#image-input")
    # the drop zone shows focus when its (visually hidden) file input is focused
    outline = page.eval_on_selector("#dropzone", "el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if order[-1] == "search-button":  # keyboard focus is visible on the button
            style = page.eval_on_selector("#search-button", "el => getComputedStyle(el).outlineStyle")
            assert style == "solid"
    assert order == ["q-text", "search-button", "cls-scheme", "cls-mode", "cls-input"], order


def test_date_range_must_not_be_reversed(live_server, page_factory):
    page = page_factory(live_server().url)
    page.fill("#q-text", "shoe")
    page.select_option("#date-type", "filing")
    page.fill("#date-from", "2021-12-31")
    page.fill("#date-to", "2021-01-01")
    page.click("#search-button")
    page.wait_for_selector("#error:not([hidden])")
    assert "date range is reversed" in page.inner_text("#error")


def test_request_building_follows_the_contract(live_server, page_factory):
    page = page_factory(live_server().url)
    body = page.evaluate("""async () => {
        const q = await import('/ui/static/query.js');
        const state = {text: ' folding chair ', imageFile: null, imageFigureId: 'USD0907292-F3',
            classifications: [{scheme: 'cpc', symbol: 'A47C', mode: 'include'},
                              {scheme: 'cpc', symbol: 'A47C7/62', mode: 'exclude'},
                              {scheme: 'locarno', symbol: '06-01', mode: 'include'}],
            dateType: 'filing', dateFrom: '2019-01-01', dateTo: '2021-12-31',
            applicants: 'Acme Corp; Beta Inc',
            countries: 'us, ep', kinds: 's1', weightText: '1.5', weightImage: '0.5', fusion: 'weighted',
            groupByPatent: true, size: '20'};
        const upload = {...state, text: '', imageFile: new File(['x'], 'a.png')};
        return {request: q.buildRequest(state), watch: q.watchQuery(state),
                uploadOnly: q.watchQuery(upload), uploadWithVector: q.watchQuery(upload, [0.6, 0.8])};
    }""")
    request = body["request"]
    assert request["text"] == "folding chair"
    assert request["image_figure_id"] == "USD0907292-F3"
    assert request["weights"] == {"text": 1.5, "image": 0.5}
    assert request["fusion"] == "weighted"
    assert request["filters"]["cpc"] == {"include": ["A47C"], "exclude": ["A47C7/62"]}
    assert request["filters"]["locarno"] == {"include": ["06-01"], "exclude": []}
    assert request["filters"]["dates"] == {"filing": {"gte": "2019-01-01", "lte": "2021-12-31"}}
    assert request["filters"]["applicants"] == ["Acme Corp", "Beta Inc"]
    assert request["filters"]["countries"] == ["US", "EP"]
    assert request["filters"]["kinds"] == ["S1"]
    assert request["group_by_patent"] is True and request["size"] == 20 and request["cursor"] is None
    assert request["explain"] is True and request["facets"] is True
    watch = body["watch"]["query"]
    assert watch["text"] == "folding chair" and "cursor" not in watch and "size" not in watch
    assert body["watch"]["needsVector"] is False
    assert body["uploadOnly"]["needsVector"] is True and "vector" not in body["uploadOnly"]["query"]
    kept = body["uploadWithVector"]
    assert kept["needsVector"] is False and kept["query"]["vector"] == [0.6, 0.8]
    assert "image_figure_id" not in kept["query"], "the upload, not the earlier figure, is the watch's drawing"


def test_reason_wording_from_explain(live_server, page_factory):
    page = page_factory(live_server().url)
    reasons = page.evaluate("""async () => {
        const f = await import('/ui/static/format.js');
        return [
          f.reason({bm25: {rank: 1, score: 7.1}, vector: {rank: 3, similarity: 0.81}, fused: 0.032,
                    text_share: 0.6, image_share: 0.4}),
          f.reason({bm25: {rank: 2, score: 3}, vector: null, text_share: 1, image_share: 0,
                    matched_words: ["Shoe", "sole"], matched_fields: ["title", "claims"]}),
          f.reason({bm25: null, vector: {rank: 1, similarity: 0.9}, text_share: 0, image_share: 1}),
          f.reason({bm25: null, dense: {rank: 1, similarity: 0.7}, text_share: 1, image_share: 0}),
          f.reason({vector: {rank: 2, similarity: 0.8, class_consensus: 0.4, consensus_class: "locarno:02-04"},
                    text_share: 0, image_share: 1}),
        ];
    }""")
    # plain words, no list ranks (the card's number is the only rank)
    assert reasons[0]["label"] == "Text 60% · drawing 40%"
    assert reasons[0]["detail"] == "the query's words are in its text · drawing 81% similar"
    assert reasons[1]["label"] == "Matched on text"
    assert reasons[1]["detail"] == "words “Shoe”, “sole” in the title, claims"
    assert reasons[2]["label"] == "Matched on drawing" and reasons[2]["detail"] == "drawing 90% similar"
    assert reasons[3]["label"] == "Similar in meaning"
    assert reasons[3]["detail"] == "found by meaning: none of the query's words are in its text"
    assert reasons[4]["detail"] == ("drawing 80% similar · re-ranked by class: 40% of the most similar drawings "
                                    "are Locarno 02-04")
    assert "rank" not in " ".join(r["detail"] for r in reasons[:4])


def test_api_key_is_asked_for_kept_and_sent(live_server, page_factory):
    server = live_server()
    page = page_factory(server.url, api_key=None)
    assert page.is_visible("#key-banner")
    assert page.inner_text("#key-status") == "No API key"
    page.shots("key-needed")

    # searching without a key opens the key dialog instead of sending a request that must fail
    page.fill("#q-text", "shoe")
    page.keyboard.press("Enter")
    page.wait_for_selector("#key-dialog[open]")
    assert page.evaluate("document.activeElement.id") == "key-input"
    page.shots("key-dialog")
    page.fill("#key-input", "prism_0123abcd_not-a-real-key")
    with page.expect_request("**/search") as sent:
        page.click("#key-save")
    assert sent.value.headers.get("authorization") == "Bearer prism_0123abcd_not-a-real-key"
    assert page.evaluate("localStorage.getItem('prism.apiKey')") == "prism_0123abcd_not-a-real-key"
    assert not page.is_visible("#key-banner")
    assert page.inner_text("#key-status").startswith("Key prism_0123abc")
    # whatever the server answered (an unknown key → 401), the page shows the problem's detail
    page.wait_for_selector("body[data-search-state]")
    if page.get_attribute("body", "data-search-state") == "error":
        assert page.inner_text("#error").strip() != ""

    # the key survives a reload (localStorage) and can be forgotten
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert not page.is_visible("#key-banner")
    page.click("#key-button")
    page.click("#key-forget")
    assert page.evaluate("localStorage.getItem('prism.apiKey')") is None
    assert page.is_visible("#key-banner")


def test_not_an_image_is_refused_with_a_reason(live_server, page_factory, tmp_path):
    page = page_factory(live_server().url)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a drawing")
    page.set_input_files("#image-input", str(bogus))
    page.wait_for_selector("#error:not([hidden])")
    assert "“notes.txt” is not an image" in page.inner_text("#error")
    assert page.is_hidden("#image-preview")
