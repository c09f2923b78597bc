#!/usr/bin/env python3
"""The web UI in headless Chromium (issue 18): how soon a 10,000-span trace's waterfall is painted after
navigation, what one draw of the rows costs while scrolling it, how soon 20 search results are painted after the
API's answer, and the size of all the UI's files.

Starts the given otelsink binary on 127.0.0.1 with ephemeral ports and a fresh database, stores one 10,000-span
trace and 20 traces of 50 spans (OTLP/HTTP JSON, Tests/interop/webui_data.py), then for --runs runs: opens the trace
page in a fresh tab and reads the page's `otelsink:waterfall-painted` mark (milliseconds since navigation; the mark
is set two animation frames after the rows are in the page, so after their first paint), scrolls the waterfall
through 60 steps of 10 rows reading `otelsink:rows` (the cost of the last draw), and opens the search page reading
`otelsink:search-painted` − `otelsink:search-answered`. Prints median and range of each (JSON with --json). Needs
Debian's chromium and chromium-driver and Python's selenium (scripts/test.sh installs them). Stops by itself.

    swift build -c release --scratch-path .build-release --product otelsink
    .venv/bin/python bench/webui_latency.py --bin .build-release/release/otelsink --runs 10
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "interop"))
from webui_data import _post, _resource_spans, _span, seed_large  # noqa: E402

import bench_server  # noqa: E402

def start(binary: str, work: str, logs: bool = False):
    """Starts otelsink (with a logs pipeline too when `logs`); the process, its OTLP/HTTP and its query URL."""
    proc, http_addr, query_addr = bench_server.start(binary, work, bench_server.config(os.path.join(work, "traces.db"), logs=logs))
    return proc, f"http://{http_addr}", f"http://{query_addr}"


def seed_search(http_url: str, traces: int = 20, spans: int = 50):
    t0 = time.time_ns() - 120_000_000_000
    for n in range(traces):
        trace = os.urandom(16).hex()
        root = os.urandom(8).hex()
        out = [_span(trace, root, "", "GET /home", 2, t0 + n * 1_000_000_000, 80)]
        for i in range(spans - 1):
            out.append(_span(trace, os.urandom(8).hex(), root, f"step-{i}", 1, t0 + n * 1_000_000_000 + i * 1_000_000, 1))
        _post(http_url + "/v1/traces", {"resourceSpans": [_resource_spans("bench-web", out)]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    work = tempfile.mkdtemp(prefix="otelsink-webui-bench-")
    proc, http_url, query_url = start(args.bin, work)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        big = seed_large(http_url)
        seed_search(http_url)
        mark = "return performance.getEntriesByName(arguments[0])[0]?.startTime ?? null"
        waterfall, draws, search = [], [], []
        for _ in range(args.runs):
            driver.get("about:blank")
            driver.get(f"{query_url}/trace/{big}")
            waterfall.append(WebDriverWait(driver, 30).until(lambda d: d.execute_script(mark, "otelsink:waterfall-painted")))
            for step in range(60):
                driver.execute_script("document.querySelector('.wf-body').scrollTop = arguments[0]", (step + 1) * 260)
                draws.append(WebDriverWait(driver, 10).until(lambda d: d.execute_script(
                    "return new Promise(done => requestAnimationFrame(() => done(performance.getEntriesByName('otelsink:rows')[0]?.duration ?? null)))")))
            driver.get("about:blank")
            driver.get(f"{query_url}/search?service=bench-web&lookback=1h&limit=20")
            painted = WebDriverWait(driver, 30).until(lambda d: d.execute_script(mark, "otelsink:search-painted"))
            answered = driver.execute_script(mark, "otelsink:search-answered")
            assert driver.execute_script("return document.querySelectorAll('.trace-item').length") == 20
            search.append(painted - answered)
        assets = sum(p.stat().st_size for p in (REPO / "webui").iterdir())
        results = {
            "10,000-span trace: waterfall painted after navigation (ms)": bench_server.summary(waterfall),
            "10,000-span trace: one draw of the rows while scrolling (ms)": {**bench_server.summary(draws), "p95": round(sorted(draws)[int(len(draws) * 0.95)], 1)},
            "20 search results painted after the API's answer (ms)": bench_server.summary(search),
            "all web UI files (bytes, uncompressed)": assets,
        }
    finally:
        driver.quit()
        proc.terminate()
        proc.wait(timeout=30)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for k, v in results.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
