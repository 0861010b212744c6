"""Fixtures for the UI tests: headless Chromium (Debian's package, driven by Playwright's Python
driver), the real app served by werkzeug in a thread, and a corpus ingested through the ingest
service. Screenshots go to artifacts/ui/ (git-ignored).

Every server here runs with the default settings: API keys required. Each gets a key (scope "search")
that the pages find in their localStorage (``page_factory`` looks it up by the server's URL) and that
``server.http`` (a requests.Session) sends; a test passes ``auth_required=False`` to ``live_server`` for
the keys-off run, or ``api_key=None`` to ``page_factory`` to start without a stored key.

Chromium is a required service like Elasticsearch: when /usr/bin/chromium is missing the browser
tests FAIL with the reason (run tests/ui/install_browser.sh), unless PRISM_TEST_SKIP_SERVICES=1.
"""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.settings import REPO_ROOT, SHARED_DATA, Settings, reset_settings_cache
from tests.conftest import OPT_OUT, settings_env

CHROMIUM = os.environ.get("PRISM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO_ROOT / "artifacts" / "ui"
KEY_STORAGE = "prism.apiKey"
#: server URL -> the API key its pages are opened with (None: keys off)
SERVER_KEYS: dict[str, str | None] = {}
_STORED = object()

#: a small IMPACT subset spanning four Locarno classes (shoes 02-04, wheels 12-16, razors 28-03,
#: water filters 23-01) so that a classification filter visibly changes the results
IMPACT_SUBSET = [
    "USD0917866-20210504", "USD0917867-20210504", "USD0923318-20210629", "USD0938702-20211221",
    "USD0929296-20210831", "USD0929297-20210831", "USD0930528-20210907",
    "USD0907292-20210105", "USD0907293-20210105",
    "USD0921834-20210615", "USD0921835-20210615",
]


# -- the browser -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Playwright Browser) shared by the session."""
    if OPT_OUT:
        pytest.skip("Chromium: skipped because PRISM_TEST_SKIP_SERVICES=1")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run 'bash tests/ui/install_browser.sh' "
                    "(apt-get install chromium) or set PRISM_TEST_SKIP_SERVICES=1 to skip browser tests",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as exc:  # a broken install is a failure with the reason, not a skip
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
        yield browser
        browser.close()


@pytest.fixture
def artifacts(request) -> Path:
    """artifacts/ui/<test name>/ (emptied first); screenshots and downloads of one test."""
    folder = ARTIFACTS / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


class Shots:
    """Numbered full-page screenshots: 01-home.png, 02-results.png, ..."""

    def __init__(self, page, folder: Path):
        self.page, self.folder, self.n, self.paths = page, folder, 0, []

    def __call__(self, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.paths.append(path)
        return path


def _polled_from_python(page, interval_ms: int = 50):
    """``page.wait_for_function`` polled with ``page.evaluate`` from here: Playwright's own polling compiles the
    predicate inside the page, which the app's CSP (script-src 'self', no eval) refuses now and then with an
    EvalError; ``evaluate`` goes through the DevTools protocol, which the CSP does not govern."""
    import time

    def wait_for_function(expression: str, arg=None, timeout: float | None = None, **_ignored):
        deadline = time.monotonic() + (60_000 if timeout is None else timeout) / 1000
        while True:
            if page.evaluate(expression, arg):
                return True
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression!r}")
            page.wait_for_timeout(interval_ms)

    return wait_for_function


@pytest.fixture
def page_factory(chromium, artifacts):
    """Open a page (own context: own localStorage) that records console errors and failed requests."""
    contexts = []

    def _open(base_url: str, path: str = "/", *, viewport=(1360, 900), api_key=_STORED):
        key = SERVER_KEYS.get(base_url) if api_key is _STORED else api_key
        storage = {"cookies": [], "origins": [{"origin": base_url,
                                               "localStorage": [{"name": KEY_STORAGE, "value": key}]}] if key else []}
        context = chromium.new_context(base_url=base_url, accept_downloads=True, storage_state=storage,
                                       viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.wait_for_function = _polled_from_python(page)
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.on("pageerror", lambda e: page.console_errors.append(f"pageerror: {e}"))
        page.shots = Shots(page, artifacts)
        page.goto(path)
        page.wait_for_selector("body[data-ready=true]")
        return page

    yield _open
    for context in contexts:
        context.close()


# -- the app, served for real ------------------------------------------------------------------------
@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: object
    key: str | None = None
    http: object = None     # a requests.Session sending the key


def _with_key(settings: Settings, url: str, app) -> LiveServer:
    """The server's key (made when keys are required), remembered for its pages and its HTTP session."""
    import requests

    key = None
    if settings.auth_required:
        from backend.auth.keys import create_key
        from backend.db.session import session_scope

        with session_scope(settings.resolved_database_url) as session:
            _, key = create_key(session, "ui-test-examiner", "search")
    SERVER_KEYS[url] = key
    http = requests.Session()
    if key:
        http.headers["Authorization"] = f"Bearer {key}"
    return LiveServer(url, settings, app, key, http)


def _serve(app) -> tuple[str, callable]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="prism-ui-test-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"

    def stop():
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()

    return url, stop


def _build_app(settings: Settings):
    from backend.app import create_app
    from backend.cli_db import upgrade_database

    upgrade_database(settings.resolved_database_url)
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def live_server(make_settings) -> Iterator:
    """Factory: serve a fresh app (embedded backend in tmp_path) built with these settings overrides."""
    stops = []

    def _start(**overrides) -> LiveServer:
        settings = make_settings(**{"auth_required": True, **overrides})
        app = _build_app(settings)
        url, stop = _serve(app)
        stops.append(stop)
        return _with_key(settings, url, app)

    yield _start
    for stop in stops:
        stop()


#: the API the page calls (docs/contracts.md); a missing one fails the flow tests naming it
UI_ENDPOINTS = ("/search", "/search/export", "/search/embed", "/patents/<", "/figures/<",
                "/classifications/suggest", "/watches", "/alerts")


def _require_search_core():
    """The browser flow needs the search and ingest areas; fail naming what is missing."""
    import importlib

    missing = []
    for module, name in (("backend.search", "get_backend"), ("backend.ingest.bulk", "ingest_paths")):
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{module}.{name} ({exc})")
    if missing:
        pytest.fail("the UI flow needs the search API and the ingest service; missing: " + ", ".join(missing),
                    pytrace=False)


def _require_endpoints(app):
    rules = [rule.rule for rule in app.url_map.iter_rules()]
    missing = [e for e in UI_ENDPOINTS
               if not any(r == e or (e.endswith("<") and r.startswith(e)) for r in rules)]
    if missing:
        pytest.fail(f"the app serves none of these API endpoints the page calls: {', '.join(missing)}",
                    pytrace=False)


@pytest.fixture(scope="module")
def corpus_server(chromium, tmp_path_factory) -> Iterator[LiveServer]:
    """The real app (keys required) with the IMPACT subset ingested through backend.ingest.bulk (once
    per module). Asks for ``chromium`` first so that a missing browser is reported before any ingest work."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (../shared/data beside the repo)")
    _require_search_core()
    from backend.ingest.bulk import ingest_paths

    root = tmp_path_factory.mktemp("ui-corpus")
    settings = Settings(data_dir=root / "var", auth_required=True, search_backend="embedded",
                        task_mode="eager")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in settings_env(settings).items():
            mp.setenv(key, value)
        reset_settings_cache()
        impact = SHARED_DATA / "impact"
        paths = [impact / name for name in IMPACT_SUBSET if (impact / name).is_dir()]
        assert len(paths) >= 8, f"IMPACT sample incomplete at {impact}"
        app = _build_app(settings)
        _require_endpoints(app)
        summary = ingest_paths(paths, settings, progress=False)
        assert not getattr(summary, "failed", 0), f"ingest failed: {summary}"
        done = getattr(summary, "ingested", 0) + getattr(summary, "updated", 0)
        assert done == len(paths), f"ingested {done} of {len(paths)} patents: {summary}"
        url, stop = _serve(app)
        try:
            yield _with_key(settings, url, app)
        finally:
            stop()
            reset_settings_cache()


@pytest.fixture(scope="module")
def keys_off_server(corpus_server) -> Iterator[LiveServer]:
    """The same corpus served with keys off (``PRISM_AUTH_REQUIRED=false``): the one keys-off run."""
    settings = corpus_server.settings.model_copy(update={"auth_required": False})
    app = _build_app(settings)
    url, stop = _serve(app)
    try:
        yield _with_key(settings, url, app)
    finally:
        stop()
