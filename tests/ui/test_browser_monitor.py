"""The "Watches and alerts" view in headless Chromium: watches saved earlier raise alerts when new IMPACT
filings are ingested and the watches run; the examiner sees the unread count, opens the list, marks an
alert read, filters to unread, opens the patent, and deletes a watch. Screenshots: artifacts/ui/."""
from __future__ import annotations

import pytest

from backend.monitoring import runner
from backend.settings import SHARED_DATA

pytestmark = [pytest.mark.browser, pytest.mark.shared_data, pytest.mark.slow]

NEW_SHOE, NEW_GOLF = "USD0938703", "USD0930095"     # not in the served corpus until this test ingests them


def _items(page, list_id: str, attr: str) -> list[str]:
    return page.eval_on_selector_all(f"#{list_id} li", f"els => els.map(e => e.dataset.{attr})")


def _alert_numbers(page) -> list[str]:
    return page.eval_on_selector_all("#alerts-list a.alert-patent", "els => els.map(e => e.textContent)")


def test_alerts_and_watches_view(corpus_server, page_factory):
    from backend.ingest.bulk import ingest_paths

    url, settings = corpus_server.url, corpus_server.settings
    made = {}
    for name, text in (("Shoes", "shoe"), ("Golf clubs", "golf club")):
        resp = corpus_server.http.post(f"{url}/watches", json={"name": name, "query": {"text": text}, "schedule_s": 86400},
                             timeout=30)
        assert resp.status_code == 201, resp.text
        made[name] = resp.json()["id"]
    impact = SHARED_DATA / "impact"
    summary = ingest_paths([next(impact.glob(f"{pub}-*")) for pub in (NEW_SHOE, NEW_GOLF)], settings, progress=False)
    assert summary.ingested == 2, summary
    for watch_id in made.values():
        assert runner.run_watch(watch_id, settings, force=True).status == "done"

    page = page_factory(url)
    page.wait_for_selector("#alerts-badge:not([hidden])")
    assert page.inner_text("#alerts-badge") == "2"
    page.click("#watches-link")
    page.wait_for_url("**/ui/watches")
    page.wait_for_selector("#alerts-list li")
    assert sorted(_alert_numbers(page)) == sorted([NEW_SHOE, NEW_GOLF])
    assert page.locator("#alerts-list li.unread").count() == 2
    # each alert shows the drawing that matched and its score
    _until_thumbs = "[...document.querySelectorAll('#alerts-list img.alert-thumb')].every(i => i.dataset.state === 'loaded')"
    page.wait_for_function(f"() => {_until_thumbs}")
    assert page.locator("#alerts-list img.alert-thumb").count() == 2
    assert all("score " in t for t in page.eval_on_selector_all("#alerts-list li .monitor-meta",
                                                                "els => els.map(e => e.textContent)"))
    assert page.locator("#watches-list li").count() >= 2
    assert "“shoe”" in page.inner_text(f"#watches-list li[data-watch-id='{made['Shoes']}']")
    page.shots("alerts-and-watches")

    # mark the shoe alert read: one unread left, in the badge too
    page.click(f"#alerts-list li:has(a:text-is('{NEW_SHOE}')) button")
    page.wait_for_selector(f"#alerts-list li:not(.unread):has(a:text-is('{NEW_SHOE}'))")
    page.wait_for_function("() => document.getElementById('alerts-badge').textContent === '1'")
    page.check("#alerts-unread")
    page.wait_for_function(f"() => [...document.querySelectorAll('#alerts-list a.alert-patent')]"
                           f".map(a => a.textContent).join() === '{NEW_GOLF}'")
    page.shots("unread-only")

    # open the patent from its alert, and come back
    page.click(f"#alerts-list a:text-is('{NEW_GOLF}')")
    page.wait_for_selector("#patent-view:not([hidden]) #patent-title")
    assert NEW_GOLF in page.inner_text("#patent-body")
    page.go_back()
    page.wait_for_selector("#watches-view:not([hidden])")

    # delete a watch (after confirming): it and its alert are gone
    page.uncheck("#alerts-unread")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click(f"#watches-list li[data-watch-id='{made['Golf clubs']}'] button:text-is('Delete')")
    page.wait_for_selector(f"#watches-list li[data-watch-id='{made['Golf clubs']}']", state="detached")
    assert "Deleted the watch “Golf clubs”" in page.inner_text("#watches-notice")
    page.wait_for_function(f"() => ![...document.querySelectorAll('#alerts-list a.alert-patent')]"
                           f".some(a => a.textContent === '{NEW_GOLF}')")
    assert corpus_server.http.get(f"{url}/watches/{made['Golf clubs']}", timeout=30).status_code == 404
    page.shots("watch-deleted")

    # the view has its own address
    direct = page_factory(url, "/ui/watches")
    direct.wait_for_selector("#watches-view:not([hidden]) #alerts-list li")
    assert _alert_numbers(direct) == [NEW_SHOE]
    errors = [e for e in page.console_errors + direct.console_errors if "status of 404" not in e]
    assert errors == []
