"""The web UI in a real browser: Debian's headless Chromium, driven by selenium, against the real otelsink with
traces and logs stored through OTLP/HTTP (webui_data.py). Each step asserts on what the page shows, fails on any
console error (a Content-Security-Policy violation is one), and saves a screenshot to the artifacts directory
($OTELSINK_TEST_ARTIFACTS, else .build/test-artifacts/web-ui)."""

from __future__ import annotations

import base64
import gzip
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO_ROOT, ServerFactory
from webui_data import EMOJI_NAME, HOSTILE_NAME, HOSTILE_VALUE, LONG_NAME, RTL_NAME, seed, seed_large, seed_text_cases

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")

ARTIFACTS = Path(os.environ.get("OTELSINK_TEST_ARTIFACTS") or REPO_ROOT / ".build" / "test-artifacts") / "web-ui"
WAIT = 15


@pytest.fixture(scope="module")
def ui(otelsink_bin, tmp_path_factory):
    factory = ServerFactory(otelsink_bin, tmp_path_factory.mktemp("web-ui"))
    server = factory(query=True, logs_exporters="[sqlite]")
    seeded = seed(server.http_url)
    yield server, seeded
    factory.teardown()


class Page:
    """The browser on one otelsink: opens paths, waits for conditions, and collects console errors."""

    def __init__(self, driver, base: str):
        self.d = driver
        self.base = base

    def open(self, path: str):
        self.d.get(self.base + path)

    def js(self, script: str, *args):
        return self.d.execute_script(script, *args)

    def wait(self, script: str, *args, what: str = ""):
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.d, WAIT).until(lambda d: d.execute_script(script, *args))
        except Exception:
            self.shot("failed-wait")
            raise AssertionError(f"waited {WAIT}s for {what or script}; page text:\n{self.text()[:3000]}")

    def text(self, selector: str = "#app") -> str:
        return self.js("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", selector)

    def click(self, selector: str):
        self.d.find_element("css selector", selector).click()

    def shot(self, name: str):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.d.save_screenshot(str(ARTIFACTS / f"{name}.png"))

    def console_errors(self, allowed: tuple[str, ...] = ()) -> list[str]:
        return [e["message"] for e in self.d.get_log("browser")
                if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]

    def rows(self) -> list[dict]:
        return self.js("""return [...document.querySelectorAll('.wf-spacer .row')].map(r => ({
            id: r.dataset.spanId, op: r.querySelector('.op').textContent, svc: r.querySelector('.svc-name').textContent,
            selected: r.classList.contains('selected'), match: r.classList.contains('match')}))""")


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-proxy-server",
                "--disable-background-networking", "--window-size=1280,800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    d.set_script_timeout(20)
    d.set_page_load_timeout(20)
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture
def page(driver, ui, request):
    server, _ = ui
    driver.set_window_size(1280, 800)
    p = Page(driver, server.query_url)
    p.d.get_log("browser")  # start clean
    yield p
    p.shot(request.node.name)
    errors = p.console_errors()
    assert not errors, f"console errors: {errors}"


def test_console_errors_are_seen(page):
    """The check every test ends with can fail: an error logged by the page is collected."""
    page.open("/search")
    page.wait("return document.querySelector('.search-form') !== null")
    page.js("console.error('probe of the console check')")
    assert any("probe of the console check" in m for m in page.console_errors())


def test_search_form_finds_the_traces_and_the_url_reloads_the_search(page, ui):
    _, t = ui
    page.open("/")
    page.wait("return [...document.querySelectorAll('select[name=service] option')].some(o => o.value === 'frontend')",
              what="the service list")
    from selenium.webdriver.support.ui import Select

    Select(page.d.find_element("css selector", "select[name=service]")).select_by_value("frontend")
    page.click(".search-form button[type=submit]")
    page.wait("return document.querySelectorAll('.trace-item').length === 2", what="two results")
    assert "service=frontend" in page.d.current_url and "lookback=1h" in page.d.current_url
    items = page.js("return [...document.querySelectorAll('.trace-item')].map(e => [e.dataset.traceId, e.innerText])")
    assert [i[0] for i in items] == [t.a, t.b]  # newest first
    for _, text in items:
        assert "frontend: GET /checkout" in text and "7 spans" in text
        assert "frontend (3)" in text and "checkout (2)" in text and "payment (2)" in text
    assert "1 error" in items[0][1] and "error" not in items[1][1]
    assert page.js("return document.querySelectorAll('.scatter circle.dot').length") == 2
    assert page.js("return document.querySelectorAll('.scatter circle.dot.error').length") == 1

    page.d.refresh()  # the URL holds the whole search
    page.wait("return document.querySelectorAll('.trace-item').length === 2", what="results after a reload")
    assert page.js("return document.querySelector('select[name=service]').value") == "frontend"

    # Tags as key=value pairs: only A's payment span has attempt 2.
    page.open("/search?service=payment&tags=payment.provider%3Dacme+payment.attempt%3D2&lookback=1h")
    page.wait("return document.querySelectorAll('.trace-item').length === 1", what="one tagged result")
    assert page.js("return document.querySelector('.trace-item').dataset.traceId") == t.a
    assert page.js("return document.querySelector('input[name=tags]').value") == "payment.provider=acme payment.attempt=2"

    # A click on a dot opens its trace.
    page.js("document.querySelector('.scatter circle.dot').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    page.wait("return location.pathname === arguments[0]", f"/trace/{t.a}", what="the trace page")


def test_trace_page_draws_the_tree_escapes_span_text_and_collapses(page, ui):
    _, t = ui
    page.open(f"/trace/{t.a}")
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 7", what="seven rows")
    head = page.text(".trace-head")
    assert "frontend: GET /checkout" in head and t.a in head
    assert "SPANS\n7" in head.upper().replace("\t", "\n") or "7" in head
    rows = page.rows()
    assert [r["op"] for r in rows] == ["GET /checkout", "load cart", HOSTILE_NAME, "POST /api/checkout", "reserve items",
                                       "charge card", "SELECT accounts"]
    assert [r["svc"] for r in rows][:3] == ["frontend"] * 3
    # The hostile name is text: no image was made of it, no script ran.
    assert page.js("return document.querySelectorAll('#app img').length") == 0
    assert page.js("return document.querySelectorAll('script').length") == 1
    # Errors and the critical path are marked.
    assert page.js("return document.querySelector('.row[data-span-id=\"%s\"]').classList.contains('error')" % t.a_payment)
    assert page.js("return document.querySelectorAll('.cp-seg').length") > 0
    assert "Critical path:" in page.text(".critical-summary")
    assert page.js("return document.querySelector('.row[data-span-id=\"%s\"] .badge.info').textContent" % t.a_payment) == "logs 1"

    page.click(f'.row[data-span-id="{t.a_root}"] .toggle')
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 1", what="the tree collapsed")
    page.click(f'.row[data-span-id="{t.a_root}"] .toggle')
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 7", what="the tree expanded")
    page.click(".wf-tools button:nth-of-type(2)")  # collapse all: the root's children stay in view
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 4", what="collapse all")
    page.click(".wf-tools button:nth-of-type(1)")
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 7", what="expand all")


def test_span_detail_shows_typed_attributes_events_logs_and_status(page, ui):
    _, t = ui
    page.open(f"/trace/{t.a}")
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 7")
    page.click(f'.row[data-span-id="{t.a_payment}"] .op')
    page.wait("return document.querySelector('.detail h2')?.textContent === 'charge card'", what="the payment span's detail")
    detail = page.text(".detail")
    assert "payment" in detail and "server" in detail
    assert "error" in detail and "card declined" in detail
    assert t.a_payment in detail
    attrs = page.js("""return Object.fromEntries([...document.querySelectorAll('.detail .attrs tr')].map(r =>
        [r.querySelector('th').textContent, [r.querySelector('.type')?.textContent, r.querySelector('.value')?.textContent]]))""")
    assert attrs["payment.provider"] == ["string", "acme"]
    assert attrs["payment.attempt"] == ["int", "2"]
    assert attrs["service.name"] == ["string", "payment"]  # resource
    assert "Events (1)" in detail and "retry" in detail
    assert "Logs (1)" in detail
    assert page.js("return document.querySelector('.detail .log-body').textContent") == "card declined by acme " + HOSTILE_VALUE
    assert "webui-test" in detail  # scope
    assert page.js("return document.querySelector('.row.selected').dataset.spanId") == t.a_payment

    # The parent's ID selects the parent in place.
    page.click(".detail a.span-link")
    page.wait("return document.querySelector('.detail h2')?.textContent === 'POST /api/checkout'", what="the parent's detail")

    page.click(f'.row[data-span-id="{t.a_hostile}"] .op')
    page.wait("return document.querySelector('.detail h2 .op')?.textContent === arguments[0]", HOSTILE_NAME)
    values = page.js("return [...document.querySelectorAll('.detail .attrs .value')].map(v => v.textContent)")
    assert HOSTILE_VALUE in values and "0.5" in values and "true" in values
    assert page.js("return document.querySelectorAll('script').length") == 1


def test_rtl_marks_emoji_and_very_long_names_are_shown_whole_and_contained(page, ui):
    server, _ = ui
    trace, names = seed_text_cases(server.http_url)
    page.open(f"/trace/{trace}")
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 4", what="four rows")
    assert [r["op"] for r in page.rows()] == names
    assert page.js("return document.documentElement.scrollWidth <= window.innerWidth + 1"), "a long name widened the page"
    # Each name is isolated: the override cannot reorder the row's other text.
    assert page.js("return getComputedStyle(document.querySelector('.row .op')).unicodeBidi") == "isolate"
    for name in names[1:]:
        page.js("[...document.querySelectorAll('.row')].find(r => r.querySelector('.op').textContent === arguments[0]).click()", name)
        page.wait("return document.querySelector('.detail h2 .op')?.textContent === arguments[0]", name, what=name[:40])
        assert page.js("return document.querySelector('.detail').scrollWidth <= document.querySelector('.detail').clientWidth + 1")
        assert RTL_NAME + " " + EMOJI_NAME in page.js("return [...document.querySelectorAll('.detail .attrs .value')].map(v => v.textContent)")
    assert LONG_NAME in page.text(".detail")


def test_a_10000_span_trace_loads_and_scrolls_drawing_only_the_rows_in_view(page, ui):
    server, _ = ui
    trace = seed_large(server.http_url)
    page.open(f"/trace/{trace}")
    page.wait("return document.querySelectorAll('.wf-spacer .row').length > 0", what="the waterfall")
    assert "10000" in page.text(".trace-head")
    drawn = page.js("return document.querySelectorAll('.wf-spacer .row').length")
    assert 10 < drawn < 100, drawn
    page.js("const b = document.querySelector('.wf-body'); b.scrollTop = b.scrollHeight")
    page.wait("return document.querySelector('.wf-spacer .row:last-child .op')?.textContent === 'op-49'",
              what="the last span in view")  # the last of the 10,000 in start order is op-9999 % 50
    assert page.js("return document.querySelectorAll('.wf-spacer .row').length") < 100
    page.js("document.querySelector('.wf-body').scrollTop = 0")
    page.wait("return document.querySelector('.wf-spacer .row .op')?.textContent === 'op-0'", what="back at the top")


def test_keyboard_moves_the_selection_and_slash_finds(page, ui):
    _, t = ui
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page.open(f"/trace/{t.a}")
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 7")
    page.click(f'.row[data-span-id="{t.a_root}"] .op')
    ActionChains(page.d).send_keys(Keys.ARROW_DOWN).perform()
    page.wait("return document.querySelector('.row.selected')?.dataset.spanId === arguments[0]", t.a_cart, what="down")
    ActionChains(page.d).send_keys(Keys.ARROW_UP).send_keys(Keys.ARROW_LEFT).perform()
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 1", what="left collapses the root")
    ActionChains(page.d).send_keys(Keys.ARROW_RIGHT).perform()
    page.wait("return document.querySelectorAll('.wf-spacer .row').length === 7", what="right expands it")
    ActionChains(page.d).send_keys("/").perform()
    assert page.js("return document.activeElement.classList.contains('find')")
    ActionChains(page.d).send_keys("select").perform()
    page.wait("return document.querySelector('.find-count').textContent === '1 match'", what="one match")
    assert [r["op"] for r in page.rows() if r["match"]] == ["SELECT accounts"]
    ActionChains(page.d).send_keys(Keys.ENTER).perform()
    page.wait("return document.querySelector('.detail h2')?.textContent === 'SELECT accounts'", what="enter selects the match")


def test_a_link_opens_the_linked_trace_at_its_span(page, ui):
    _, t = ui
    page.open(f"/trace/{t.a}?span={t.a_cart}")
    page.wait("return document.querySelector('.detail h2')?.textContent === 'load cart'", what="the span from the URL")
    assert "Links (1)" in page.text(".detail") and "previous attempt" in page.text(".detail")
    assert "cart loaded with 3 items" in page.text(".detail")
    page.click(".detail a.trace-link")
    page.wait("return location.pathname === arguments[0] && document.querySelectorAll('.wf-spacer .row').length === 7",
              f"/trace/{t.b}", what="trace B")
    assert t.b in page.text(".trace-head")
    page.wait("return document.querySelector('.row.selected')?.dataset.spanId === arguments[0]", t.b_root,
              what="B's root selected")
    page.d.back()
    page.wait("return location.pathname === arguments[0] && document.querySelector('.detail h2')?.textContent === 'load cart'",
              f"/trace/{t.a}", what="back to A")


def test_compare_from_the_search_results(page, ui):
    _, t = ui
    page.open("/search?service=frontend&lookback=1h")
    page.wait("return document.querySelectorAll('.trace-item').length === 2")
    for box in page.d.find_elements("css selector", ".trace-item input[type=checkbox]"):
        box.click()
    page.click(".results-head button")
    page.wait("return location.pathname === '/compare' && document.querySelectorAll('.cmp-item').length > 0",
              what="the comparison")
    assert f"a={t.a}" in page.d.current_url and f"b={t.b}" in page.d.current_url
    text = page.text(".compare-result")
    assert "Changed (" in text and "charge card" in text
    assert "status error → ok" in text
    assert "http.response.status_code" in text and "500" in text and "200" in text
    assert "Only in A (0)" in text and "Only in B (0)" in text
    assert "−140ms" in text  # B is 140 ms faster at the root


def test_service_map_draws_calls_with_error_rates(page):
    page.open("/map")
    page.wait("return document.querySelectorAll('.service-map .service').length >= 3", what="the services")
    services = page.js("return [...document.querySelectorAll('.service-map .service')].map(g => g.dataset.service)")
    assert {"checkout", "frontend", "payment"} <= set(services)  # (other tests' traces may add more)
    edges = page.js("""return [...document.querySelectorAll('table.edges tbody tr')].map(r =>
        [...r.querySelectorAll('td')].map(td => td.textContent))""")
    assert ["checkout", "payment", "2", "1", "50.0%"] in edges
    assert ["frontend", "checkout", "2", "0", "0.0%"] in edges
    assert page.js("return document.querySelectorAll('.service-map .edge.failing').length") == 1
    page.js("document.querySelector('.service-map .service[data-service=payment] a').dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))")
    page.wait("return location.pathname === '/search' && document.querySelectorAll('.trace-item').length === 2",
              what="the payment service's traces")


def test_narrow_window_and_dark_mode(page, ui):
    _, t = ui
    page.d.set_window_size(480, 900)
    page.open(f"/trace/{t.a}?span={t.a_payment}")
    page.wait("return document.querySelector('.detail h2')?.textContent === 'charge card'")
    assert page.js("return document.documentElement.scrollWidth <= window.innerWidth + 1"), "the page scrolls sideways"
    page.shot("trace-narrow")
    light = page.js("return getComputedStyle(document.body).backgroundColor")
    page.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    try:
        page.d.set_window_size(1280, 800)
        page.wait("return getComputedStyle(document.body).backgroundColor !== arguments[0]", light, what="dark colours")
        assert page.js("return getComputedStyle(document.body).backgroundColor") == "rgb(21, 24, 29)"
        page.shot("trace-dark")
    finally:
        page.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_files_come_with_validators_gzip_and_the_security_policy(ui):
    server, _ = ui

    def get(path, headers=None):
        req = urllib.request.Request(server.query_url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    status, headers, index = get("/")
    assert status == 200 and b'<script type="module" src="/static/app.js">' in index
    assert "script-src 'self'" in headers["Content-Security-Policy"] and "unsafe-inline" not in headers["Content-Security-Policy"]
    status, headers, body = get("/static/trace.js", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    plain = gzip.decompress(body)
    assert plain == (REPO_ROOT / "webui" / "trace.js").read_bytes()
    status, _, body = get("/static/trace.js", {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    assert get("/static/missing.js")[0] == 404


BASIC_CONFIG = """extensions:
  basicauth/query:
    htpasswd:
      inline: |
        viewer:{hash}
  query:
    endpoint: 127.0.0.1:0
    storage: sqlite
    auth:
      authenticator: basicauth/query
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  sqlite:
    path: {db}
service:
  extensions: [basicauth/query, query]
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [sqlite]
    logs:
      receivers: [otlp]
      exporters: [sqlite]
"""


def test_with_basic_auth_the_page_asks_for_credentials_and_then_searches(otelsink_bin, tmp_path, driver):
    import bcrypt

    factory = ServerFactory(otelsink_bin, tmp_path)
    try:
        hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
        server = factory(config_text=BASIC_CONFIG.format(hash=hashed, db=tmp_path / "auth.db"), db_path=tmp_path / "auth.db")
        t = seed(server.http_url)
        try:
            urllib.request.urlopen(server.query_url + "/api/services", timeout=10)
            raise AssertionError("the API answered without credentials")
        except urllib.error.HTTPError as e:
            assert e.code == 401
        p = Page(driver, server.query_url)
        driver.set_window_size(1280, 800)
        p.d.get_log("browser")
        p.open("/search?service=frontend&lookback=1h")
        p.wait("return document.querySelector('dialog.sign-in-dialog[open]') !== null", what="the sign-in dialog")
        p.shot("sign-in")
        p.d.find_element("css selector", "dialog input[name=user]").send_keys("viewer")
        p.d.find_element("css selector", "dialog input[name=password]").send_keys("s3cret")
        p.click("dialog button[type=submit]")
        p.wait("return document.querySelectorAll('.trace-item').length === 2", what="results after signing in")
        assert p.js("return document.querySelector('.trace-item').dataset.traceId") == t.a
        expected_basic = "Basic " + base64.b64encode(b"viewer:s3cret").decode()
        assert p.js("return sessionStorage.getItem('otelsink.authorization')") == expected_basic
        # The first requests were refused (401) before the sign-in: that is the only console error allowed.
        assert not p.console_errors(allowed=("401",))
        p.js("sessionStorage.clear()")
    finally:
        factory.teardown()
