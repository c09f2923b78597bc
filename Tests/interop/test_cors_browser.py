"""CORS on the OTLP/HTTP receiver, with a real browser: Debian's headless Chromium (driven by selenium) loads a page
from one origin that exports a span with `fetch` (as the OpenTelemetry JavaScript web SDK's exporter does:
`POST /v1/traces`, `Content-Type: application/json`, so the browser sends a preflight first) to otelsink on another
origin. An allowed origin's export is answered and stored; a page from an origin that is not allowed is stopped by
the browser and nothing reaches the store."""

import http.server
import shutil
import threading
import time
import urllib.request

import pytest

from otlp_util import new_span_id, new_trace_id, stored_span_ids

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")

PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>exporting</title></head><body><script>
async function exportSpan(url, body) {
  try {
    const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: body});
    return {ok: r.ok, status: r.status, text: await r.text()};
  } catch (e) {
    return {ok: false, error: String(e)};
  }
}
</script></body></html>"""


def config_text(db_path) -> str:
    return f"""receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        cors:
          allowed_origins: ["http://localhost:*"]
          max_age: 600
exporters:
  sqlite:
    path: {db_path}
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [sqlite]
"""


class PageServer:
    """Serves PAGE on 127.0.0.1:<port>; reached as http://localhost:<port> (allowed) or http://127.0.0.1:<port>."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(PAGE)))
                self.end_headers()
                self.wfile.write(PAGE)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-proxy-server",
                "--disable-background-networking"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(20)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def span_json(trace_id: bytes, span_id: bytes) -> str:
    now = time.time_ns()
    return ('{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web-page"}}]},'
            '"scopeSpans":[{"scope":{"name":"browser"},"spans":[{"traceId":"%s","spanId":"%s","name":"click",'
            '"kind":1,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}') % (trace_id.hex(), span_id.hex(), now - 5_000_000, now)


def export_from(browser, page_url: str, target: str, body: str) -> dict:
    browser.get(page_url)
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; exportSpan(arguments[0], arguments[1]).then(done);", target, body)


def test_a_page_from_an_allowed_origin_exports_and_one_from_another_origin_is_stopped(server_factory, tmp_path, browser):
    db = tmp_path / "cors.db"
    server = server_factory(config_text=config_text(db), db_path=db)
    pages = PageServer()
    try:
        allowed_trace, allowed_span = new_trace_id(), new_span_id()
        result = export_from(browser, f"http://localhost:{pages.port}/", server.url("/v1/traces"), span_json(allowed_trace, allowed_span))
        assert result.get("ok") and result.get("status") == 200, result

        denied_trace, denied_span = new_trace_id(), new_span_id()
        result = export_from(browser, f"http://127.0.0.1:{pages.port}/", server.url("/v1/traces"), span_json(denied_trace, denied_span))
        assert not result.get("ok") and "Failed to fetch" in result.get("error", ""), result
    finally:
        pages.close()

    # The preflight the browser sent for the denied page got no CORS headers, so the POST never left the browser.
    req = urllib.request.Request(server.url("/v1/traces"), method="OPTIONS", headers={
        "Origin": f"http://127.0.0.1:{pages.port}", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 204 and r.headers.get("Access-Control-Allow-Origin") is None

    assert server.stop() == 0
    stored = stored_span_ids(db)
    assert stored.get(allowed_trace) == {allowed_span}
    assert denied_trace not in stored
